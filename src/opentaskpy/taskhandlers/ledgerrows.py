"""Delivery ledger rows: building one, and writing them in batches.

The row half of :class:`~opentaskpy.taskhandlers.ledgering.DeliveryLedger`.
Recording never breaks a transfer: a store error is logged once as a
warning and recording stops for the run.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from opentaskpy.runs import ledger as store_ledger
from opentaskpy.taskhandlers.ledgerhash import (
    BATCH_ROWS,
    BATCH_SECONDS,
    dest_identity,
    one_line_or_none,
)


class LedgerRows:
    """Builds ledger rows and writes them to the run store in batches."""

    logger: logging.Logger
    task_id: str
    record: dict[str, Any] | None
    store: Any
    source_host: str
    files: dict
    source_spec: dict
    _warned: bool
    _pending: list[dict[str, Any]]
    _pending_since: float
    _queue_lock: threading.Lock

    def _row(
        self,
        index: int,
        spec: dict,
        mechanism: str,
        path: str,
        outcome: str,
        started: float,
        reason: str | None = None,
        sha: str | None = None,
        ended: float | None = None,
    ) -> dict[str, Any]:
        record = self.record or {}
        meta = self.files.get(path) or {}
        host, where = dest_identity(spec)
        return {
            "id": store_ledger.new_row_id(str(record.get("id"))),
            "record_id": record.get("id"),
            "run_id": record.get("run_id"),
            "task_id": self.task_id,
            "definition_sha256": record.get("definition_sha256"),
            "source_host": self.source_host,
            "source_path": store_ledger.path_text(path),
            "source_size": meta.get("size"),
            "source_mtime": meta.get("modified_time"),
            "sha256": sha,
            "dest_index": index,
            "dest_host": host,
            "dest_dir": store_ledger.path_text(where),
            "mechanism": mechanism or None,
            "started_at": started,
            "ended_at": ended if ended is not None else started,
            "outcome": outcome,
            "reason": one_line_or_none(reason),
        }

    def _write(self, rows: list[dict[str, Any]]) -> None:
        """Queue rows; write them once enough rows or time have gathered.

        One transaction per file would cost more than the copy of a small
        file. A run killed before a flush loses at most the last batch of
        rows: the rerun sends those files again, and each replaces itself
        atomically under its final name. ``deliverOnce`` promises never to
        send twice, so its rows are written at once.
        """
        if self.store is None or not rows:
            return
        with self._queue_lock:
            if not self._pending:
                self._pending_since = store_ledger.now()
            self._pending.extend(rows)
            due = (
                self.source_spec.get("deliverOnce")
                or len(self._pending) >= BATCH_ROWS
                or store_ledger.now() - self._pending_since >= BATCH_SECONDS
            )
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the queued rows (one transaction)."""
        with self._queue_lock:
            rows, self._pending = self._pending, []
        if self.store is None or not rows:
            return
        try:
            store_ledger.insert(self.store, rows)
        except Exception as exc:  # noqa: BLE001 - recording never breaks a run
            self._warn(exc)

    def _warn(self, exc: BaseException) -> None:
        self.store = None  # recording never breaks a transfer
        if not self._warned:
            self._warned = True
            self.logger.warning(f"Delivery ledger not recorded: {exc}")
