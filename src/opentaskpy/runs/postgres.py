"""The PostgreSQL engine: one database shared by every host of a fleet.

History, status, kill requests and overlap locks are shared. The overlap
lock is a session advisory lock held by a connection of its own, so the
server frees it when the process (or its host) dies. psycopg 3 is imported
only when such a store is opened (``pip install 'opentaskpy[postgres]'``).
"""

from __future__ import annotations

import time
from typing import Any

from opentaskpy.runs import settings
from opentaskpy.runs.lock import POLL_SECONDS, locked_error
from opentaskpy.runs.schema import META_TABLE, MIGRATIONS, SCHEMA_VERSION
from opentaskpy.runs.store import Statement, Store, StoreUnavailable

CONNECT_TIMEOUT = 5
STATEMENT_TIMEOUT_MS = 15000
#: Advisory lock key that serialises schema upgrades.
_MIGRATION_LOCK = 0x07F5_0001


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PostgresStore(Store):
    """A run store in a PostgreSQL database."""

    shared = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        try:
            import psycopg
        except ImportError:
            raise StoreUnavailable(
                f"run store {settings.display(url)}: psycopg is not installed "
                "(pip install 'opentaskpy[postgres]')"
            ) from None
        self._psycopg = psycopg
        self._conn = self._connect()
        try:
            self._prepare()
        except psycopg.Error as exc:
            self._conn.close()
            raise self._unavailable(exc) from None

    def _connect(self) -> Any:
        try:
            # A hung server must not hang the run: every statement is bounded.
            return self._psycopg.connect(
                self.where,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            )
        except self._psycopg.Error as exc:
            raise self._unavailable(exc, "cannot connect: ") from None

    def _unavailable(self, exc: BaseException, what: str = "") -> StoreUnavailable:
        return StoreUnavailable(
            f"run store {settings.display(self.where)}: {what}{_first_line(exc)}"
        )

    def _meta(self) -> dict[str, str] | None:
        rows = self._conn.execute("SELECT to_regclass('otf_meta')").fetchall()
        if rows[0][0] is None:
            return None
        rows = self._conn.execute("SELECT key, value FROM otf_meta").fetchall()
        return {str(k): str(v) for k, v in rows}

    def _prepare(self) -> None:
        meta = self._meta()
        if meta is None or int(meta.get("schema_version", 0)) < SCHEMA_VERSION:
            with self._conn.transaction():
                self._conn.execute(
                    "SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,)
                )
                self._conn.execute(META_TABLE)
                meta = self._meta() or {}
                current = int(meta.get("schema_version", 0))
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS[version]:
                        self._conn.execute(statement)
                if current < SCHEMA_VERSION:
                    self._conn.execute(
                        "INSERT INTO otf_meta VALUES ('schema_version', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        (str(SCHEMA_VERSION),),
                    )
                    self._conn.execute(
                        "INSERT INTO otf_meta VALUES ('min_reader_version', '1') "
                        "ON CONFLICT (key) DO NOTHING"
                    )
            meta = self._meta() or {}
        self._check_reader(meta)

    def _write(self, statements: list[Statement]) -> None:
        try:
            with self._conn.transaction():
                for sql, params in statements:
                    self._conn.execute(sql.replace("?", "%s"), params)
        except self._psycopg.Error as exc:
            raise self._unavailable(exc) from None

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        try:
            return list(self._conn.execute(sql.replace("?", "%s"), params).fetchall())
        except self._psycopg.Error as exc:
            raise self._unavailable(exc) from None

    def _close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def lock(self, key: str, holder: dict[str, Any], wait: float) -> AdvisoryLock:
        """Take the session advisory lock for ``key`` on a connection of its own."""
        conn = self._connect()
        number = int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True)
        deadline = time.monotonic() + wait
        try:
            while not conn.execute(
                "SELECT pg_try_advisory_lock(%s)", (number,)
            ).fetchone()[0]:
                if time.monotonic() >= deadline:
                    row = conn.execute(
                        "SELECT host, pid, run_id, started_at FROM otf_locks "
                        "WHERE lock_key = %s",
                        (key,),
                    ).fetchone()
                    conn.close()
                    names = ("host", "pid", "run_id", "started_at")
                    found = dict(zip(names, row, strict=True)) if row else None
                    raise locked_error(str(holder.get("task_id")), found)
                time.sleep(POLL_SECONDS)
            conn.execute(
                "INSERT INTO otf_locks (lock_key, task_id, record_id, run_id, host, "
                "pid, started_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (lock_key) DO UPDATE SET task_id = EXCLUDED.task_id, "
                "record_id = EXCLUDED.record_id, run_id = EXCLUDED.run_id, "
                "host = EXCLUDED.host, pid = EXCLUDED.pid, "
                "started_at = EXCLUDED.started_at",
                (
                    key,
                    holder["task_id"],
                    holder["record_id"],
                    holder["run_id"],
                    holder["host"],
                    holder["pid"],
                    holder["started_at"],
                ),
            )
        except self._psycopg.Error as exc:
            conn.close()
            raise self._unavailable(exc) from None
        return AdvisoryLock(conn)


class AdvisoryLock:
    """A held advisory lock: its connection stays open until released."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def release(self) -> None:
        """Close the lock's connection, which frees the lock."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
