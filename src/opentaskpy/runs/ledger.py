"""The delivery ledger: one row per file x destination per run (``otf_files``).

Rows are written by the transfer as each file is published (or fails) at a
destination, one transaction per row, so a run killed at any point has
recorded every file it finished. Two questions are asked before sending:

* what did the runs since the last success of the same task and rendered
  definition deliver here? (a rerun after a failure sends only the rest);
* what was ever delivered here for this task? (``deliverOnce``).

A file counts as delivered when the source path, size and modification time
are the same and, where both sides know it, the sha256 too.
"""

from __future__ import annotations

import os
import time
from typing import Any

from opentaskpy.runs.schema import DELIVERED, FILE_COLUMNS, SUCCESS
from opentaskpy.runs.store import Store, select_sql

#: Key of one source file as the ledger compares it.
SourceKey = tuple[str, int, float]


def path_text(path: str | None) -> str | None:
    """Return a path as the store keeps it (undecodable bytes as escapes).

    File names that are not UTF-8 reach Python as surrogate escapes, which
    no database driver accepts; the escaped text is stable, so a rerun
    finds the same key again.
    """
    if path is None:
        return None
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "surrogateescape")
        return raw.decode("utf-8", "backslashreplace")
    return path


def new_row_id(record_id: str) -> str:
    """Make a unique ledger row id under a run record id."""
    return f"{record_id}:{os.urandom(6).hex()}"


def insert(store: Store, rows: list[dict[str, Any]]) -> None:
    """Write ledger rows (one transaction)."""
    names = ", ".join(FILE_COLUMNS)
    marks = ", ".join("?" for _ in FILE_COLUMNS)
    sql = f"INSERT INTO otf_files ({names}) VALUES ({marks})"
    store.write([(sql, tuple(row.get(c) for c in FILE_COLUMNS)) for row in rows])


def last_success_end(store: Store, task_id: str, definition_sha256: str) -> float:
    """When the newest successful run of this task and definition ended (0: never)."""
    rows = store.select(
        "SELECT max(ended_at) FROM otf_runs WHERE task_id = ? AND "
        "definition_sha256 = ? AND outcome = ?",
        (task_id, definition_sha256, SUCCESS),
    )
    return float(rows[0][0]) if rows and rows[0][0] is not None else 0.0


def delivered(
    store: Store,
    task_id: str,
    dest_host: str,
    dest_dir: str,
    since: float = 0.0,
    definition_sha256: str | None = None,
) -> dict[SourceKey, str | None]:
    """Files delivered to one destination: ``(path, size, mtime) -> sha256``.

    Args:
        store: the run store.
        task_id: the transfer's task id.
        dest_host: the destination's host (``LOCALHOST`` for local).
        dest_dir: the destination directory.
        since: only rows that started after this time.
        definition_sha256: only rows of runs of this rendered definition.
    """
    sql = (
        "SELECT source_path, source_size, source_mtime, sha256 FROM otf_files "
        "WHERE task_id = ? AND dest_host = ? AND dest_dir = ? AND outcome = ? "
        "AND started_at > ?"
    )
    params: list[Any] = [task_id, dest_host, path_text(dest_dir), DELIVERED, since]
    if definition_sha256 is not None:
        sql += " AND definition_sha256 = ?"
        params.append(definition_sha256)
    found: dict[SourceKey, str | None] = {}
    for path, size, mtime, sha in store.select(sql, tuple(params)):
        key = (str(path), int(size or 0), float(mtime or 0))
        found[key] = sha or found.get(key)
    return found


def same_file(
    known: dict[SourceKey, str | None], key: SourceKey, sha: str | None
) -> bool:
    """Whether ``key`` (with ``sha`` when known) is among ``known``."""
    if key not in known:
        return False
    recorded = known[key]
    return sha is None or recorded is None or recorded == sha


def files(
    store: Store, where: list[str], params: list[Any], limit: int | None = None
) -> list[dict[str, Any]]:
    """Ledger rows matching every condition of ``where``, newest first."""
    sql = select_sql(
        FILE_COLUMNS,
        "otf_files",
        where,
        "started_at DESC, dest_index, source_path",
        limit,
    )
    rows = store.select(sql, tuple(params))
    return [dict(zip(FILE_COLUMNS, row, strict=True)) for row in rows]


def now() -> float:
    """Return the time ledger rows are stamped with (seconds since the epoch)."""
    return time.time()
