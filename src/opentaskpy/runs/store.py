"""The run store interface, shared by the SQLite and PostgreSQL engines.

Engines implement four primitives (:meth:`Store._write`, :meth:`Store._read`,
:meth:`Store._migrate` and :meth:`Store.close`); every query is written here
once, with ``?`` placeholders that the PostgreSQL engine rewrites.
"""

from __future__ import annotations

import threading

from opentaskpy.runs import RunsError, settings
from opentaskpy.runs.schema import (
    END_COLUMNS,
    READ_COLUMNS,
    READER_VERSION,
    RUNNING,
    START_COLUMNS,
)

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

    Statement = tuple[str, tuple[Any, ...]]
else:
    Statement = tuple  # the alias only matters to type checkers


def select_sql(
    columns: tuple[str, ...] | list[str],
    table: str,
    where: list[str],
    order: str,
    limit: int | None = None,
) -> str:
    """Build ``SELECT columns FROM table WHERE a AND b ORDER BY ... LIMIT n``."""
    sql = f"SELECT {', '.join(columns)} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order}"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return sql


class StoreUnavailable(RunsError):
    """The store cannot be opened or used; the message is one line."""


class Store:
    """One open run store. Thread safe: calls are serialised by a lock."""

    #: Whether other hosts may share this store (kill requests, fleet locks).
    shared = False

    def __init__(self, where: str) -> None:
        self.where = where
        self._mutex = threading.Lock()
        self._closed = False

    # -- engine primitives ------------------------------------------------

    def _write(self, statements: list[Statement]) -> None:
        """Run ``statements`` in one transaction."""
        raise NotImplementedError

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        """Return the rows of one query."""
        raise NotImplementedError

    def _close(self) -> None:
        """Close the connection."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the store; later calls raise :class:`StoreUnavailable`."""
        with self._mutex:
            if not self._closed:
                self._closed = True
                self._close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable(f"run store {settings.display(self.where)}: closed")

    def lock(self, key: str, holder: dict[str, Any], wait: float) -> Any:
        """Take the overlap lock for ``key`` (see :mod:`opentaskpy.runs.lock`)."""
        raise NotImplementedError

    # -- shared checks ----------------------------------------------------

    def _check_reader(self, meta: dict[str, str]) -> None:
        """Refuse a database that this release would misread."""
        wanted = int(meta.get("min_reader_version", "1"))
        if wanted > READER_VERSION:
            raise StoreUnavailable(
                f"run store {settings.display(self.where)}: needs a newer "
                f"opentaskpy (schema reader version {wanted}, this release "
                f"reads {READER_VERSION})"
            )

    # -- writes -----------------------------------------------------------

    def begin(self, rows: list[dict[str, Any]]) -> None:
        """Record runs that started (one transaction for all of them)."""
        names = ", ".join(START_COLUMNS)
        marks = ", ".join("?" for _ in START_COLUMNS)
        sql = f"INSERT INTO otf_runs ({names}) VALUES ({marks})"
        self._locked_write(
            [(sql, tuple(row.get(c) for c in START_COLUMNS)) for row in rows]
        )

    def finish(self, record_id: str, fields: dict[str, Any]) -> None:
        """Record the end of a run."""
        self.finish_many([(record_id, fields)])

    def finish_many(self, ends: list[tuple[str, dict[str, Any]]]) -> None:
        """Record the end of several runs in one transaction."""
        sets = ", ".join(f"{c} = ?" for c in END_COLUMNS)
        sql = f"UPDATE otf_runs SET {sets} WHERE id = ?"
        self._locked_write(
            [
                (sql, (*(fields.get(c) for c in END_COLUMNS), record_id))
                for record_id, fields in ends
            ]
        )

    def record_complete(self, row: dict[str, Any]) -> None:
        """Record a run that ended before it could be recorded as started."""
        columns = list(dict.fromkeys((*START_COLUMNS, *END_COLUMNS)))
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO otf_runs ({names}) VALUES ({marks})"
        self._locked_write([(sql, tuple(row.get(c) for c in columns))])

    def beat(self, root_id: str, now: float, progress_at: float, progress: str) -> None:
        """Heartbeat: the root run's progress, and every open run of it."""
        self._locked_write(
            [
                (
                    "UPDATE otf_runs SET heartbeat_at = ?, progress_at = ?, "
                    "progress = ? WHERE id = ?",
                    (now, progress_at, progress, root_id),
                ),
                (
                    "UPDATE otf_runs SET heartbeat_at = ?, progress_at = ? "
                    "WHERE root_id = ? AND id <> ? AND outcome = ?",
                    (now, progress_at, root_id, root_id, RUNNING),
                ),
            ]
        )

    def request_kill(self, record_id: str, now: float, by: str) -> None:
        """Ask the process running ``record_id`` to stop."""
        self._locked_write(
            [
                (
                    "UPDATE otf_runs SET kill_requested_at = ?, "
                    "kill_requested_by = ? WHERE id = ?",
                    (now, by, record_id),
                )
            ]
        )

    def prune(self, before: float) -> int:
        """Delete finished runs (and their steps) that started before ``before``."""
        with self._mutex:
            old = self._read(
                "SELECT id FROM otf_runs WHERE parent_id IS NULL AND "
                "started_at < ? AND outcome <> ?",
                (before, RUNNING),
            )
            ids = [row[0] for row in old]
            statements: list[Statement] = []
            for i in ids:
                statements.append(("DELETE FROM otf_runs WHERE root_id = ?", (i,)))
                statements.append(
                    (
                        "DELETE FROM otf_files WHERE record_id = ? OR record_id LIKE ?",
                        (i, f"{i}.%"),
                    )
                )
            self._write(statements)
        return len(ids)

    def write(self, statements: list[Statement]) -> None:
        """Run ``statements`` (``?`` placeholders) in one transaction."""
        self._locked_write(statements)

    def select(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        """Return the rows of one query (``?`` placeholders)."""
        with self._mutex:
            self._check_open()
            return self._read(sql, params)

    def _locked_write(self, statements: list[Statement]) -> None:
        with self._mutex:
            self._check_open()
            self._write(statements)

    # -- reads ------------------------------------------------------------

    def kill_request(self, record_id: str) -> str | None:
        """Who asked ``record_id`` to stop, if anyone did."""
        with self._mutex:
            self._check_open()
            rows = self._read(
                "SELECT kill_requested_at, kill_requested_by FROM otf_runs "
                "WHERE id = ?",
                (record_id,),
            )
        if rows and rows[0][0] is not None:
            return str(rows[0][1] or "otf-runs kill")
        return None

    def runs(
        self, where: list[str], params: list[Any], limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Return the runs matching every condition of ``where``, newest first."""
        sql = select_sql(READ_COLUMNS, "otf_runs", where, "started_at DESC", limit)
        with self._mutex:
            self._check_open()
            rows = self._read(sql, tuple(params))
        return [dict(zip(READ_COLUMNS, row, strict=True)) for row in rows]

    def find(self, ref: str) -> dict[str, Any] | None:
        """Return run ``ref`` by record id, else the newest with that run id."""
        found = self.runs(["id = ?"], [ref], 1) or self.runs(
            ["run_id = ?", "parent_id IS NULL"], [ref], 1
        )
        return found[0] if found else None

    def steps(self, record_id: str) -> list[dict[str, Any]]:
        """Return the runs recorded under ``record_id`` (batch steps), oldest first."""
        rows = self.runs(["root_id = ?", "id <> ?"], [record_id, record_id])
        return sorted(rows, key=lambda row: row["started_at"])
