"""What the run store tells a plan: delivered files and where a batch resumes.

A plan only reads the store: it opens an SQLite store only when its file
already exists, records nothing and takes no lock. Every question here
answers "unknown" (``None``) rather than failing the plan.

:func:`delivered_paths` is the one place a plan asks the delivery ledger
which files a destination already has; it uses the ledger's query API
(:mod:`opentaskpy.runs.ledger`) with the same rules as a rerun: files
delivered by runs of the same task and rendered definition since its last
success, plus, with ``deliverOnce``, files ever delivered there.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from opentaskpy.runs import RunsError, settings
from opentaskpy.runs.resume import PreviousRun, previous_run


class PlanRecords:
    """Read-only access to the run store for one plan (opened lazily)."""

    def __init__(self) -> None:
        """Nothing is opened until a question is asked."""
        self._store: Any = None
        self._opened = False
        #: One line per problem met (shown with the plan).
        self.notes: list[str] = []

    def store(self) -> Any:
        """Return the open store, or ``None`` (off, missing or unusable)."""
        if self._opened:
            return self._store
        self._opened = True
        where = settings.target()
        if where is None:
            self.notes.append("run store off (OTF_RUNS_DB=off): no records read")
            return None
        if not settings.is_postgres(where) and not os.path.exists(where):
            self.notes.append(f"run store {where} does not exist yet: no records")
            return None
        from opentaskpy.runs.engines import open_store

        try:
            self._store = open_store(where)
        except RunsError as exc:
            self.notes.append(f"{exc}; no records read")
        return self._store

    def close(self) -> None:
        """Close the store if it was opened."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def previous_batch_run(
        self, task_id: str, sha: str, config_dir: str
    ) -> PreviousRun | None:
        """Return the recorded previous run of a batch (``runs.resume``)."""
        store = self.store()
        if store is None:
            return None
        current = {"id": "", "task_id": task_id, "definition_sha256": sha}
        current["config_dir"] = os.path.abspath(config_dir)
        try:
            return previous_run(store, current)
        except RunsError as exc:
            self.notes.append(str(exc))
            return None

    def delivered_paths(
        self, task_id: str, sha: str, source: dict, dest: dict, files: dict
    ) -> set[str] | None:
        """Return the source paths the ledger shows delivered to ``dest``.

        ``None`` when the ledger cannot say (no store, or a release without
        the ledger). ``OTF_RESEND=1`` (send everything) makes it empty.
        """
        try:
            ledger = importlib.import_module("opentaskpy.runs.ledger")
            hashing = importlib.import_module("opentaskpy.taskhandlers.ledgerhash")
        except ImportError:
            return None
        store = self.store()
        if store is None:
            return None
        if hashing.env_on(hashing.RESEND_ENV):
            return set()
        host, where = hashing.dest_identity(dest)
        try:
            since = ledger.last_success_end(store, task_id, sha)
            known = ledger.delivered(store, task_id, host, where, since, sha)
            ever = (
                ledger.delivered(store, task_id, host, where)
                if source.get("deliverOnce")
                else {}
            )
        except RunsError as exc:
            self.notes.append(str(exc))
            return None
        found = set()
        for path, meta in files.items():
            key = (
                path,
                int(meta.get("size") or 0),
                float(meta.get("modified_time") or 0),
            )
            if key in known or key in ever:
                found.add(path)
        return found
