r"""File names as they really are: bytes, hostile characters and costly regexes.

* **Bytes, losslessly.** POSIX names are bytes. Inside opentaskpy a name is
  a ``str`` whose undecodable bytes are lone surrogates (``surrogateescape``,
  as :func:`os.fsdecode` does), so ``b"bad\xff.csv"`` travels as
  ``"bad\udcff.csv"`` and is written back as the same bytes:
  :func:`wire` and :func:`from_wire` convert at the SFTP/SSH boundary, where
  paramiko would otherwise encode and decode UTF-8 strictly.
* **Escaped in messages.** :func:`escape_name` applies the log formatter's
  rule (control characters and undecodable bytes as escapes) to names put
  into exception messages, which also reach other outputs.
* **Matched at a bounded cost.** Python's ``re`` backtracks: ``(a+)+$``
  against a 50-character name runs for ever. :class:`NameMatcher` matches
  with the ``regex`` package instead, in its ``re``-compatible mode
  (``VERSION0``), with a time budget per match (``timeout=``): the same
  patterns mean the same thing, the engine avoids some blow-ups outright,
  and the others stop after :data:`MATCH_TIMEOUT` seconds with
  :class:`RegexTimeoutError` naming the regex and the name. A linear-time
  engine (RE2) was not chosen: it rejects back-references and look-arounds
  that existing task files may use.
* **Cheaply when that is safe.** Importing ``regex`` costs ~10 ms of every
  run, so a pattern whose backtracking is provably small is matched with
  ``re``: no quantifier over a quantifier or an alternation, and few enough
  ways to split the text among its quantifiers (:func:`_re_limit`) for the
  text's length. Everything else (and any text too long) goes to ``regex``,
  imported on first use.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from opentaskpy.exceptions import InvalidConfigError
from opentaskpy.otflogging import escape_controls

#: Seconds one name (or log line) may take to match before the run fails.
#: Any sane pattern matches a file name in microseconds.
MATCH_TIMEOUT = 1.0

#: Names are UTF-8 on the wire (SFTP v3 servers send the bytes they have).
WIRE_ENCODING = "utf-8"


def wire(path: str | bytes) -> bytes:
    """Return ``path`` as the bytes to send (undecodable bytes restored)."""
    if isinstance(path, bytes):
        return path
    return path.encode(WIRE_ENCODING, "surrogateescape")


def from_wire(raw: bytes | str) -> str:
    """Return a received name as ``str``; undecodable bytes become surrogates."""
    if isinstance(raw, str):
        return raw
    return raw.decode(WIRE_ENCODING, "surrogateescape")


def escape_name(name: str | bytes) -> str:
    r"""Return ``name`` fit for one log line or error line.

    The rule of every log message (:func:`opentaskpy.otflogging.escape_controls`):
    a newline becomes ``\n``, an undecodable byte ``\xNN``, other control
    characters ``\xNN``; printable text (any script) and backslashes stay.
    Escaping twice changes nothing.
    """
    return escape_controls(from_wire(name))


class RegexTimeoutError(InvalidConfigError):
    """A regex took longer than :data:`MATCH_TIMEOUT` on one name or line."""


class NameMatcher:
    """A compiled pattern whose every match has a bounded cost.

    Args:
        pattern: the regex (``re`` syntax).
        field: the config field it comes from, named in errors.
        timeout: seconds per match (for matches made with ``regex``).
    """

    def __init__(
        self, pattern: str, field: str = "fileRegex", timeout: float = MATCH_TIMEOUT
    ):
        """Compile ``pattern`` (raises ``re.error`` for an invalid one)."""
        self.pattern = pattern
        self.field = field
        self.timeout = timeout
        self._bounded: Any = None  # regex's pattern, compiled on first use
        self._re = _re_compile(pattern)
        if self._re is None:  # regex-only syntax, or re.error as before
            self._bounded = _compile(pattern)
        # Longest text ``re`` may match, per method (-1: never); on first use.
        self._limits: dict[str, int] = {}

    def match(self, name: str) -> bool:
        """Whether ``name`` matches at its start (``re.match``)."""
        return self._run("match", name, None)

    def search(self, text: str, subject: str | None = None) -> bool:
        """Whether ``text`` contains a match (``re.search``).

        Args:
            text: what is searched.
            subject: how an error names ``text`` (default: ``text`` itself).
        """
        return self._run("search", text, subject)

    def _run(self, how: str, text: str, subject: str | None) -> bool:
        if self._re is not None:
            limit = self._limits.get(how)
            if limit is None:
                limit = self._limits[how] = _re_limit(self.pattern, how)
            if len(text) <= limit:
                return getattr(self._re, how)(text) is not None
        if self._bounded is None:
            self._bounded = _compile(self.pattern)
        method = getattr(self._bounded, how)
        if isinstance(self._bounded, re.Pattern):
            return method(text) is not None
        try:
            return method(text, timeout=self.timeout) is not None
        except TimeoutError:
            raise RegexTimeoutError(
                f"{self.field} '{self.pattern}' took more than {self.timeout:g} s "
                f"to match {subject or repr(escape_name(text))}: simplify the regex",
                json_path=self.field,
                cause="regex timeout",
            ) from None


def _re_compile(pattern: str) -> re.Pattern[str] | None:
    """Compile with ``re``; ``None`` if ``re`` rejects the pattern."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _compile(pattern: str) -> Any:
    """Compile with ``regex`` (re-compatible mode); ``re`` if it cannot.

    ``re`` is the fallback for the rare pattern ``regex`` rejects (and when
    the package is missing), so such a pattern still works, unbounded.
    """
    try:
        import regex
    except ImportError:  # pragma: no cover - a declared dependency
        return re.compile(pattern)
    try:
        return regex.compile(pattern, flags=regex.VERSION0)
    except regex.error:
        return re.compile(pattern)


#: Backtracking work ``re`` may do on one text (see :func:`_re_limit`):
#: milliseconds at worst, far below :data:`MATCH_TIMEOUT`.
RE_STEP_BUDGET = 1 << 24
#: Texts longer than this always go to ``regex``.
RE_MAX_LENGTH = 1 << 16


@functools.lru_cache(maxsize=256)  # a file watch lists with one pattern often
def _re_limit(pattern: str, how: str) -> int:
    """Return the longest text ``re`` may match ``pattern`` against (-1: none).

    The work of a backtracking match is at most (ways to split the text
    among the quantifiers) x (text length) per start position, and a search
    tries every start position. The pattern is admitted up to the length
    where that stays within :data:`RE_STEP_BUDGET`; a pattern with a
    quantifier over a quantifier or an alternation (``(a+)+``,
    ``(a|aa)+``: exponential) or an unknown construct never is.
    """
    try:
        from re import _parser  # type: ignore[attr-defined]

        items = _parser.parse(pattern).data
    except Exception:  # noqa: BLE001 - a parser that changed: use regex
        return -1

    def steps(n: int) -> float:
        work = _choices(items, n) * (n + 1)
        return work * (n + 1) if how == "search" else work

    if steps(0) > RE_STEP_BUDGET:
        return -1
    low, high = 0, RE_MAX_LENGTH  # steps() grows with n: bisect the limit
    while low < high:
        mid = (low + high + 1) // 2
        if steps(mid) <= RE_STEP_BUDGET:
            low = mid
        else:
            high = mid - 1
    return low


_INFINITE = float("inf")


def _choices(items: Any, n: int) -> float:
    """Count the ways a parsed pattern can split a text of ``n`` characters.

    Infinite for nested quantifiers, alternations under a quantifier and
    any construct not known here.
    """
    from re import _constants as c  # type: ignore[attr-defined]

    total: float = 1
    for op, av in items:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, body = av
            if _choices(body, RE_MAX_LENGTH) != 1:
                return _INFINITE
            total *= min(high, n) - min(low, n) + 1
        elif op is c.SUBPATTERN:
            total *= _choices(av[3], n)
        elif op is c.ATOMIC_GROUP:
            total *= _choices(av, n)
        elif op in (c.ASSERT, c.ASSERT_NOT):
            total *= _choices(av[1], n)
        elif op is c.BRANCH:
            total *= sum(_choices(branch, n) for branch in av[1])
        elif op is c.GROUPREF_EXISTS:
            total *= _choices(av[1], n) + (_choices(av[2], n) if av[2] else 1)
        elif op is c.GROUPREF:  # compares up to n characters again
            total *= n + 1
        elif op not in (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN, c.AT):
            return _INFINITE
    return total
