"""Default Jinja filters registered by every config loader.

The loader registers every function object found in this module, so only
the eight filter functions may be defined or imported here (modules are
imported as modules for that reason). ``datetime`` and ``base64`` are
imported by the filters that use them: most runs never call them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; datetime is for annotations
if TYPE_CHECKING:
    import datetime


def now() -> datetime.datetime:
    """Return the current local time, aware, with the current fixed UTC offset."""
    import datetime

    return datetime.datetime.now().astimezone()


def now_localtime() -> datetime.datetime:
    """Alias of :func:`now`."""
    return now()


def now_utc() -> datetime.datetime:
    """Return the current time, aware, in UTC."""
    import datetime

    return datetime.datetime.now(tz=datetime.UTC)


def utc_now() -> datetime.datetime:
    """Alias of :func:`now_utc`."""
    return now_utc()


def delta_days(value: datetime.datetime, days: int) -> datetime.datetime:
    """Return ``value`` shifted by ``days`` days (may be negative)."""
    import datetime

    return value + datetime.timedelta(days=days)


def delta_hours(value: datetime.datetime, hours: int) -> datetime.datetime:
    """Return ``value`` shifted by ``hours`` hours (may be negative)."""
    import datetime

    return value + datetime.timedelta(hours=hours)


def base64_encode(value: str) -> str:
    """Base64 of the UTF-8 bytes of ``value``, as text."""
    import base64

    return base64.b64encode(str(value).encode("utf-8")).decode("utf-8")


def base64_decode(value: str) -> str:
    """Decode base64 text to a UTF-8 string."""
    import base64

    return base64.b64decode(value).decode("utf-8")
