"""Where a batch resumes: the steps that succeeded in its previous run.

*The previous run of a batch* is the newest top-level run recorded with the
same task id, the same sha256 of the rendered definition and the same
config directory, other than the current one, and whose process is no
longer alive (a twin still running with ``OTF_LOCK=0`` is not a previous
run). The batch resumes from it only if it
did not succeed: ``failed``, ``killed``, or still ``running`` in the store
with its process gone (a crash or ``kill -9``: status ``dead``). A step or
foreach instance whose record in that run ended ``success`` is not run
again; the rest run. Dates and log files play no part.

When the store holds no such run (store ``off``, unreachable, or the runs of
an older release), :func:`previous_steps` returns ``None`` and the batch
falls back to the resume marks of its log files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentaskpy.runs import RunsError
from opentaskpy.runs.schema import RUNNING, SUCCESS
from opentaskpy.runs.status import is_alive


@dataclass
class PreviousRun:
    """What the previous run of a batch (or of a nested batch step) left."""

    record_id: str
    outcome: str
    #: ``order_id`` -> True for the steps that succeeded.
    done: set[int] = field(default_factory=set)
    #: ``order_id`` -> the foreach instance numbers (1-based) that succeeded.
    items_done: dict[int, set[int]] = field(default_factory=dict)
    #: ``order_id`` -> record id of the step (nested batches resume under it).
    step_ids: dict[int, str] = field(default_factory=dict)

    @property
    def resumable(self) -> bool:
        """Whether a batch resumes from this run (it did not succeed)."""
        return self.outcome != SUCCESS


def previous_run(store: Any, current: dict[str, Any]) -> PreviousRun | None:
    """Return the previous top-level run of the run ``current`` (a record row).

    Raises:
        RunsError: the store cannot be read.
    """
    rows = store.runs(
        [
            "task_id = ?",
            "definition_sha256 = ?",
            "config_dir = ?",
            "parent_id IS NULL",
            "id <> ?",
        ],
        [
            current["task_id"],
            current.get("definition_sha256") or "",
            current.get("config_dir") or "",
            current["id"],
        ],
        20,
    )
    for row in rows:
        if row["outcome"] == RUNNING and is_alive(row):
            continue  # an overlapping twin (OTF_LOCK=0), not a previous run
        outcome = "dead" if row["outcome"] == RUNNING else str(row["outcome"])
        return steps_of(store, row["id"], outcome)
    return None


def steps_of(store: Any, record_id: str, outcome: str) -> PreviousRun:
    """Read the direct steps (and foreach instances) recorded under ``record_id``."""
    found = PreviousRun(record_id, outcome)
    prefix = f"{record_id}."
    for row in store.runs(["parent_id = ?"], [record_id]):
        suffix = str(row["id"])[len(prefix) :]
        if not str(row["id"]).startswith(prefix) or row.get("order_id") is None:
            continue
        order_id = int(row["order_id"])
        head, _, item = suffix.partition("#")
        if item.isdigit():
            if row["outcome"] == SUCCESS:
                found.items_done.setdefault(order_id, set()).add(int(item))
            continue
        if head.isdigit():
            found.step_ids[order_id] = str(row["id"])
            if row["outcome"] == SUCCESS:
                found.done.add(order_id)
    return found


def previous_steps(store: Any, current: dict[str, Any]) -> PreviousRun | None:
    """Return the previous run to resume from, if recorded and not a success.

    Returns a run with nothing done when the previous run succeeded (a rerun
    after a success starts from scratch), and ``None`` when there is no
    record at all or the store cannot be read (the caller falls back to the
    log files).
    """
    if store is None:
        return None
    try:
        found = previous_run(store, current)
    except RunsError:
        return None
    if found is not None and not found.resumable:
        return PreviousRun(found.record_id, found.outcome)
    return found


__all__ = ["PreviousRun", "previous_run", "previous_steps", "steps_of"]
