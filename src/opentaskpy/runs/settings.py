"""Where the run store lives and how it behaves, from the environment.

Variables (all optional):

* ``OTF_RUNS_DB``: ``off`` (record nothing), a ``postgresql://`` URL, or the
  path of an SQLite file. Default: ``$XDG_STATE_HOME/opentaskpy/runs.sqlite3``
  else ``~/.local/state/opentaskpy/runs.sqlite3``.
* ``OTF_RUNS_HOST``: the host name recorded and compared (default: the
  node name); lets one machine act as several in tests and containers.
* ``OTF_RUNS_HEARTBEAT``: seconds between heartbeats (default 5).
* ``OTF_RUNS_STALL_SECONDS``: stall limit for every run (default: the
  task's timeout if it has one, else 3600 seconds).
* ``OTF_RUNS_BUSY_SECONDS``: how long an SQLite write waits for another
  process's write to finish before the store counts as locked (default 10).
* ``OTF_LOCK=0``: no overlap lock; ``OTF_LOCK_WAIT``: seconds to wait for a
  held lock before giving up (default 0).
"""

from __future__ import annotations

import os

DEFAULT_STALL_SECONDS = 3600.0
DEFAULT_HEARTBEAT_SECONDS = 5.0
#: A heartbeat older than this many beats means the process is gone (used
#: for runs on other hosts, whose pid cannot be checked).
EXPIRY_BEATS = 6
#: How often the heartbeat thread looks for a kill request (seconds).
KILL_POLL_SECONDS = 1.0


def _number(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        from opentaskpy.runs import RunsError

        raise RunsError(
            f"environment variable {name}={text!r}: must be a number of seconds"
        ) from None
    if value < 0:
        from opentaskpy.runs import RunsError

        raise RunsError(f"environment variable {name}={text!r}: must not be negative")
    return value


def state_dir() -> str:
    """Return the opentaskpy state directory (not created here)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "opentaskpy")


def target() -> str | None:
    """Return the store to use: a PostgreSQL URL, an SQLite path, or ``None`` (off)."""
    value = os.environ.get("OTF_RUNS_DB", "").strip()
    if value.lower() == "off":
        return None
    scheme = value.split("://", 1)[0] if "://" in value else None
    if scheme is not None and not is_postgres(value):
        from opentaskpy.runs import RunsError

        raise RunsError(
            f"environment variable OTF_RUNS_DB={display(value)!r}: unknown scheme "
            f"{scheme!r} (expected an SQLite file path, postgresql://... or off)"
        )
    if value:
        return value
    return os.path.join(state_dir(), "runs.sqlite3")


def is_postgres(where: str) -> bool:
    """Whether ``where`` names a PostgreSQL database."""
    return where.startswith(("postgresql://", "postgres://"))


def display(where: str) -> str:
    """``where`` without a password, for messages."""
    if "://" not in where or "@" not in where:
        return where
    scheme, rest = where.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


def host() -> str:
    """Return the host identity recorded with each run."""
    return os.environ.get("OTF_RUNS_HOST") or os.uname().nodename


def heartbeat_seconds() -> float:
    """Seconds between two heartbeats (at least 0.2)."""
    return max(0.2, _number("OTF_RUNS_HEARTBEAT", DEFAULT_HEARTBEAT_SECONDS))


def stall_seconds(definition: dict | None) -> float:
    """Return the stall limit of a run of ``definition``.

    ``OTF_RUNS_STALL_SECONDS`` when set; else the task's timeout: its
    ``timeout`` (batch steps), or the file/log watch ``timeout`` of a
    transfer's source (a watch is silent by design until it finds
    something); else :data:`DEFAULT_STALL_SECONDS`.
    """
    configured = _number("OTF_RUNS_STALL_SECONDS", 0.0)
    if configured > 0:
        return configured
    definition = definition or {}
    source = definition.get("source")
    candidates = [definition.get("timeout")]
    if isinstance(source, dict):
        for watch in ("fileWatch", "logWatch"):
            if isinstance(source.get(watch), dict):
                candidates.append(source[watch].get("timeout"))
    for timeout in candidates:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            continue
        if timeout > 0:
            return float(timeout)
    return DEFAULT_STALL_SECONDS


def busy_seconds() -> float:
    """Return how long an SQLite write waits for the write lock."""
    return _number("OTF_RUNS_BUSY_SECONDS", 10.0)


_OFF = ("0", "false", "no", "off")
_ON = ("", "1", "true", "yes", "on")


def lock_enabled() -> bool:
    """Whether the overlap lock is on (``OTF_LOCK=0`` turns it off).

    Raises:
        RunsError: ``OTF_LOCK`` is neither on nor off.
    """
    text = os.environ.get("OTF_LOCK", "1")
    if text.strip().lower() in _OFF:
        return False
    if text.strip().lower() in _ON:
        return True
    from opentaskpy.runs import RunsError

    raise RunsError(f"environment variable OTF_LOCK={text!r}: expected 1 or 0")


def lock_wait_seconds() -> float:
    """How long a second run waits for the lock (``OTF_LOCK_WAIT``)."""
    return _number("OTF_LOCK_WAIT", 0.0)


def check() -> None:
    """Read every setting once, so a bad value stops a run before it starts.

    Raises:
        RunsError: one line naming the variable and its value.
    """
    target()
    heartbeat_seconds()
    stall_seconds(None)
    busy_seconds()
    lock_enabled()
    lock_wait_seconds()
