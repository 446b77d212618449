r"""Keeping secrets out of logs and error messages.

Two mechanisms work together:

* by key (the reference's rule): in a JSON log message, top-level keys that
  look sensitive (``password``, ``token``, ``key`` ...) get their value masked,
  and private key blocks are masked anywhere;
* by value (ours): every value registered with :func:`register_secret` is
  masked wherever it appears. Task definitions register every value found
  under a sensitive key at any depth, and the loader registers every lookup
  plugin result, so a secret cannot leak through a log line that merely
  mentions it (a paramiko debug line, an exception message, ...).

A value is masked in every form it can take in a log line: raw, JSON-escaped
(``\"``, ``\\``, ``\t``, ``\u00fc``), ``repr``/``ascii`` and URL-encoded.
Values shorter than :data:`MIN_SECRET_LENGTH` are masked only where they stand
alone (as a whole word, or quoted as a JSON/``repr`` value): masking every
``ab`` inside every word would make logs unreadable without hiding more.

Fields that hold paths (``keyFile``, ``knownHostsFile``, ``...Path``) are not
secrets even below ``credentials``: a path tells the reader which file was
used, its contents are the secret. A lookup's result is registered by the
loader whatever field it lands in.
"""

from __future__ import annotations

import json
import logging
import re
import threading

SENSITIVE_KEY_REGEXES = [
    "password",
    "passwd",
    "pass",
    "secret",
    "token",
    "key",
    "private",
    "credentials",
    "authori[sz]ation",
]
SENSITIVE_REGEXES = [
    r"-----BEGIN.*PRIVATE KEY-----.*-----END.*PRIVATE KEY-----",
    r"-----BEGIN.*PRIVATE KEY BLOCK-----.*-----END.*PRIVATE KEY BLOCK-----",
]
REDACT_STRING = "********"

_SENSITIVE_KEY = re.compile("|".join(SENSITIVE_KEY_REGEXES), re.IGNORECASE)
# Identity fields inside a credentials block are not secrets; masking the
# user name everywhere would only make logs harder to read.
_IDENTITY_KEYS = {"username", "transferusername", "user", "name"}
# Names of fields that hold a path: keyFile, knownHostsFile, key_file, keyPath.
_PATH_KEY = re.compile(r"(file|path|filename|dir|directory)$", re.IGNORECASE)
# Values shorter than this are masked only where they stand alone (see the
# module docstring).
MIN_SECRET_LENGTH = 4

# The characters a JSON document can start with (after JSON whitespace): a
# message starting otherwise is not JSON, and most log messages are not, so
# they skip the parse attempt (a raised and caught decode error per record).
_JSON_STARTS = frozenset('{["-0123456789tfnNI')

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def is_secret_key(key: object) -> bool:
    """Whether values under ``key`` are secrets (user names never are)."""
    text = str(key)
    return not is_plain_key(text) and bool(_SENSITIVE_KEY.search(text))


def is_identity_key(key: object) -> bool:
    """Whether ``key`` names an identity (user name), never a secret."""
    return str(key).lower() in _IDENTITY_KEYS


def is_plain_key(key: object) -> bool:
    """Whether values under ``key`` are never secrets (user names, paths)."""
    text = str(key)
    return text.lower() in _IDENTITY_KEYS or bool(_PATH_KEY.search(text))


def secret_values(obj: object, sensitive: bool = False) -> set[str]:
    """Return every value found under a sensitive key at any depth.

    Below a sensitive key every leaf is secret, except user names and paths.
    """
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not is_plain_key(key):
                found |= secret_values(value, sensitive or is_secret_key(key))
    elif isinstance(obj, list):
        for item in obj:
            found |= secret_values(item, sensitive)
    elif sensitive and isinstance(obj, str | int | float) and not isinstance(obj, bool):
        found.add(str(obj))
    return found


def mask_secrets(obj: object, sensitive: bool = False) -> object:
    """Return a copy of ``obj`` with every secret value masked."""
    if isinstance(obj, dict):
        return {
            key: value
            if is_plain_key(key)
            else mask_secrets(value, sensitive or is_secret_key(key))
            for key, value in obj.items()
        }
    if isinstance(obj, list):
        return [mask_secrets(item, sensitive) for item in obj]
    if sensitive and isinstance(obj, str | int | float) and not isinstance(obj, bool):
        return REDACT_STRING
    return obj


def _forms(text: str) -> set[str]:
    """Every form ``text`` can take in a log line (quotes excluded)."""
    from urllib.parse import quote, quote_plus  # only when a secret appears

    json_ascii = json.dumps(text)[1:-1]
    return {
        text,
        json_ascii,
        json.dumps(text, ensure_ascii=False)[1:-1],
        json.dumps(json_ascii)[1:-1],  # a JSON document quoted inside JSON
        repr(text)[1:-1],
        ascii(text)[1:-1],
        quote(text),
        quote(text, safe=""),
        quote_plus(text, safe=""),
    }


def _alternative(form: str) -> str:
    """Return the regex for one form: anywhere if long, standing alone if short.

    Every alternative starts with a literal character (the boundary checks
    come after it), so the regex engine can skip ahead to the characters
    that can start a secret: this runs on every log record.
    """
    if len(form) >= MIN_SECRET_LENGTH:
        return re.escape(form)
    first, rest = re.escape(form[0]), re.escape(form[1:])
    if re.search(r"\w", form):
        return rf"{first}(?<!\w{first}){rest}(?!\w)"
    # Only punctuation: "whole word" means nothing, a quoted value does.
    return "|".join(rf"{first}(?<={q}{first}){rest}(?={q})" for q in ('"', "'"))


def _compile(secrets: set[str]) -> re.Pattern[str]:
    forms: set[str] = set()
    for secret in secrets:
        forms |= _forms(secret)
    forms.discard("")
    # Longest first, so a secret containing another is masked whole.
    ordered = sorted(forms, key=lambda f: (-len(f), f))
    return re.compile("|".join(_alternative(f) for f in ordered))


def register_secret(value: object) -> None:
    """Mask ``value`` (as text, and each of its lines) in every later log line.

    The pattern is compiled here, once per new secret, never per record.
    """
    global _secret_pattern
    if value is None or isinstance(value, bool):
        return
    text = str(value)
    unescaped = text.replace("\\n", "\n")
    candidates = {text, text.strip(), unescaped}
    candidates |= {line.strip() for line in unescaped.splitlines()}
    new = {c for c in candidates if c.strip()} - _secrets
    if not new:
        return
    with _lock:
        _secrets.update(new)
        _secret_pattern = _compile(_secrets)


def forget_secrets() -> None:
    """Forget every registered value (for a process that starts an unrelated run).

    The test suite calls it between tests: a lookup result registered by one
    test must not mask a word in the next one's log.
    """
    global _secret_pattern
    with _lock:
        _secrets.clear()
        _secret_pattern = None


def register_secrets_from(obj: object) -> None:
    """Register every secret value found at any depth of a dict/list."""
    for value in secret_values(obj):
        register_secret(value)


def mask_values(text: str) -> str:
    """Replace every registered secret value in ``text``."""
    pattern = _secret_pattern
    if pattern is None:
        return text
    return pattern.sub(REDACT_STRING, text)


def _mask_json_keys(log_message: str) -> str:
    """Mask the sensitive top-level keys of a message that is a JSON object.

    A message that parses as JSON is re-serialised (the reference's rule);
    one that cannot start a JSON document is returned untouched, unparsed.
    """
    if log_message.lstrip(" \t\n\r")[:1] not in _JSON_STARTS:
        return log_message
    try:
        parsed = json.loads(log_message)
    except (ValueError, TypeError):
        return log_message
    if isinstance(parsed, dict):
        for key in parsed:
            if is_secret_key(key):
                parsed[key] = REDACT_STRING
    return json.dumps(parsed)


def redact(log_message: str) -> str:
    """Mask secrets in a log message.

    JSON objects get their sensitive top-level keys masked (reference
    behaviour); private key blocks and registered secret values are masked
    anywhere in the text.
    """
    log_message = _mask_json_keys(log_message)
    if "-----" in log_message:  # every SENSITIVE_REGEXES match starts so
        for pattern in SENSITIVE_REGEXES:
            log_message = re.sub(
                pattern, REDACT_STRING, log_message, flags=re.IGNORECASE | re.DOTALL
            )
    return mask_values(log_message)


class SensitiveDataFilter(logging.Filter):
    """Redact the message (and string arguments) of every record passing through."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its redacted text; always keep it."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args and _secret_pattern is not None:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                mask_values(a) if isinstance(a, str) else a for a in args
            )
        return True
