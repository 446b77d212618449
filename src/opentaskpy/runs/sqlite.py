"""The embedded SQLite engine (one file per host, WAL mode).

Many ``task-run`` processes write to one file at once: WAL lets readers go
on while one writer commits, every write transaction starts with ``BEGIN
IMMEDIATE`` (so it waits in the busy handler for the write lock instead of
failing on an upgraded read lock), and ``busy_timeout`` is generous. The
overlap lock is an OS file lock next to the database (see ``lock.py``).
"""

from __future__ import annotations

import os
import time

from opentaskpy.runs import settings
from opentaskpy.runs.lock import FileLock
from opentaskpy.runs.schema import META_TABLE, MIGRATIONS, SCHEMA_VERSION
from opentaskpy.runs.store import Statement, Store, StoreUnavailable

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

_RETRIES = 3


class SQLiteStore(Store):
    """A run store in one SQLite file."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        import sqlite3

        self._sqlite3 = sqlite3
        self.path = path
        busy_ms = int(settings.busy_seconds() * 1000)
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self._conn = sqlite3.connect(
                path,
                timeout=busy_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as exc:
            raise self._unavailable(exc) from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._prepare()
        except sqlite3.Error as exc:
            self._conn.close()
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, self._sqlite3.DatabaseError) and "not a database" in reason:
            reason += " (corrupt or not an SQLite file: move it away to start anew)"
        return StoreUnavailable(f"run store {self.path}: {reason}")

    def _meta(self) -> dict[str, str] | None:
        try:
            rows = self._conn.execute("SELECT key, value FROM otf_meta").fetchall()
        except self._sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return {str(k): str(v) for k, v in rows}

    def _prepare(self) -> None:
        meta = self._meta()
        if meta is not None and int(meta.get("schema_version", 0)) >= SCHEMA_VERSION:
            self._check_reader(meta)
            return
        # WAL is a property of the file: set once, before the first table.
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._retry(self._migrate)

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(META_TABLE)
            meta = self._meta() or {}
            current = int(meta.get("schema_version", 0))
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
            if current < SCHEMA_VERSION:
                conn.execute(
                    "INSERT OR REPLACE INTO otf_meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                conn.execute(
                    "INSERT OR IGNORE INTO otf_meta VALUES ('min_reader_version', '1')"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._check_reader(self._meta() or {})

    def _retry(self, action: Any) -> Any:
        """Run ``action``; retry when SQLite still says busy after its timeout."""
        for attempt in range(_RETRIES):
            try:
                return action()
            except self._sqlite3.OperationalError as exc:
                text = str(exc)
                busy = "locked" in text or "busy" in text
                if not busy or attempt == _RETRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        return None  # pragma: no cover - the loop returns or raises

    def _write(self, statements: list[Statement]) -> None:
        def transaction() -> None:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    conn.execute(sql, params)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        try:
            self._retry(transaction)
        except self._sqlite3.Error as exc:
            raise self._unavailable(exc) from None

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        try:
            return list(self._retry(lambda: self._conn.execute(sql, params).fetchall()))
        except self._sqlite3.Error as exc:
            raise self._unavailable(exc) from None

    def _close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def lock(self, key: str, holder: dict[str, Any], wait: float) -> FileLock:
        """Take the OS file lock for ``key`` next to the database file."""
        directory = os.path.abspath(self.path) + ".locks"
        return FileLock.acquire(directory, key, holder, wait)


def file_lock_only(key: str, holder: dict[str, Any], wait: float) -> FileLock:
    """Take the overlap lock when the SQLite store itself cannot be opened."""
    where = settings.target()
    base = where if where and not settings.is_postgres(where) else None
    directory = (
        os.path.abspath(base) + ".locks"
        if base
        else os.path.join(settings.state_dir(), "locks")
    )
    return FileLock.acquire(directory, key, holder, wait)
