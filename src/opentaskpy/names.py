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
  that existing task files may use. ``regex`` is imported on first use only.
"""

from __future__ import annotations

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
    """A compiled pattern whose every match has a time budget.

    Args:
        pattern: the regex (``re`` syntax).
        field: the config field it comes from, named in errors.
        timeout: seconds per match.
    """

    def __init__(
        self, pattern: str, field: str = "fileRegex", timeout: float = MATCH_TIMEOUT
    ):
        """Compile ``pattern`` (raises ``re.error`` for an invalid one)."""
        self.pattern = pattern
        self.field = field
        self.timeout = timeout
        self._compiled = _compile(pattern)

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
        method = getattr(self._compiled, how)
        if isinstance(self._compiled, re.Pattern):
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
