"""Default Jinja filters registered by every config loader.

The loader registers every function object found in this module, so only
the eight filter functions may be defined or imported here (modules are
imported as modules for that reason). ``base64`` is imported by the two
filters that use it: most runs never call them.
"""

import datetime


def now() -> datetime.datetime:
    """Return the current local time, aware, with the current fixed UTC offset."""
    return datetime.datetime.now().astimezone()


def now_localtime() -> datetime.datetime:
    """Alias of :func:`now`."""
    return now()


def now_utc() -> datetime.datetime:
    """Return the current time, aware, in UTC."""
    return datetime.datetime.now(tz=datetime.UTC)


def utc_now() -> datetime.datetime:
    """Alias of :func:`now_utc`."""
    return now_utc()


def delta_days(value: datetime.datetime, days: int) -> datetime.datetime:
    """Return ``value`` shifted by ``days`` days (may be negative)."""
    return value + datetime.timedelta(days=days)


def delta_hours(value: datetime.datetime, hours: int) -> datetime.datetime:
    """Return ``value`` shifted by ``hours`` hours (may be negative)."""
    return value + datetime.timedelta(hours=hours)


def base64_encode(value: str) -> str:
    """Base64 of the UTF-8 bytes of ``value``, as text."""
    import base64

    return base64.b64encode(str(value).encode("utf-8")).decode("utf-8")


def base64_decode(value: str) -> str:
    """Decode base64 text to a UTF-8 string."""
    import base64

    return base64.b64decode(value).decode("utf-8")
