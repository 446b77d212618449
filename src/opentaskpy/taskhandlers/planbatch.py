"""The plan of a batch: its steps in start order, and what a resume skips.

Steps start in waves: a step starts once the steps it depends on have
ended, so its wave is one more than the latest of them (steps a resume
skips count as ended before the start; they are listed first). Within a
wave, steps start in ``order_id`` order. What a resume skips comes from
the run records of the previous run (see :mod:`opentaskpy.runs.resume`),
else from the marks of the batch's last failed log, as a run decides it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from opentaskpy.config.batch_spec import dependencies_of
from opentaskpy.otflogging import get_latest_log_file
from opentaskpy.runs.resume import PreviousRun, steps_of
from opentaskpy.taskhandlers import batchsteps
from opentaskpy.taskhandlers.batchresume import marks_from_log


def resume_of(
    planner: Any, task_id: str, sha: str, given: PreviousRun | None = None
) -> tuple[dict[str, Any], set[int], dict[int, set[int]], PreviousRun | None]:
    """Return (description, steps done, instances done, record) for a resume."""
    found = given or planner.records.previous_batch_run(
        task_id, sha, planner.config_dir
    )
    if found is not None:
        about = {"from": "run records", "run": found.record_id}
        about["outcome"] = found.outcome
        if not found.resumable:
            about["note"] = "the previous run succeeded: everything runs"
            return about, set(), {}, found
        return about, set(found.done), dict(found.items_done), found
    try:
        path = get_latest_log_file(task_id, "B")
    except (OSError, ValueError):
        path = None
    if not path:
        return {"from": None, "note": "no previous failed run"}, set(), {}, None
    steps, items = marks_from_log(path)
    done = {order for order, status in steps.items() if status == "COMPLETED"}
    items_done = {
        order: {n for n, status in marks.items() if status == "COMPLETED"}
        for order, marks in items.items()
    }
    return {"from": "log file", "log": path}, done, items_done, None


def _waves(tasks: list[dict], done: set[int]) -> dict[int, int | None]:
    """Wave of every step (``None``: never starts: cycle or unknown step)."""
    deps = {e["order_id"]: [d.order_id for d in dependencies_of(e)] for e in tasks}
    waves: dict[int, int | None] = {}

    def wave(order_id: int, seen: frozenset[int]) -> int | None:
        if order_id in waves:
            return waves[order_id]
        if order_id not in deps or order_id in seen:
            return None
        if order_id in done:
            return -1
        level = 0
        for dependency in deps[order_id]:
            below = wave(dependency, seen | {order_id})
            if below is None:
                waves[order_id] = None
                return None
            level = max(level, below + 1)
        waves[order_id] = level
        return level

    for order_id in deps:
        wave(order_id, frozenset())
    return waves


def plan_batch(
    planner: Any,
    task_id: str,
    definition: dict,
    sha: str,
    given: PreviousRun | None = None,
) -> dict[str, Any]:
    """Plan a batch's steps (each step's own plan included when it would run)."""
    resume, done, items_done, found = resume_of(planner, task_id, sha, given)
    tasks = sorted(definition.get("tasks") or [], key=lambda e: e["order_id"])
    waves = _waves(tasks, {e["order_id"] for e in tasks if _skipped(e, done)})
    variables = dict(planner.global_config) | dict(definition.get("variables") or {})
    steps = []
    for entry in tasks:
        step = _step(planner, entry, waves.get(entry["order_id"]), done, found)
        if "foreach" in entry and not step["skipped_on_resume"]:
            step["instances"] = _instances(planner, entry, variables, items_done)
        steps.append(step)
    steps.sort(key=lambda s: (_rank(s), s["order_id"]))
    return {"resume": resume, "steps": steps}


def _rank(step: dict[str, Any]) -> int:
    """Skipped steps first (done before the start), then waves, never last."""
    if step["skipped_on_resume"]:
        return -1
    return 10**9 if step["wave"] is None else int(step["wave"])


def _skipped(entry: dict, done: set[int]) -> bool:
    return entry["order_id"] in done and not entry.get("retry_on_rerun")


def _step(
    planner: Any,
    entry: dict,
    wave: int | None,
    done: set[int],
    found: PreviousRun | None,
) -> dict[str, Any]:
    order_id = entry["order_id"]
    skipped = _skipped(entry, done)
    step: dict[str, Any] = {
        "order_id": order_id,
        "task_id": entry["task_id"],
        "wave": None if skipped else wave,
        "depends_on": [
            {"order_id": d.order_id, "on": d.on} for d in dependencies_of(entry)
        ],
        "skipped_on_resume": skipped,
    }
    for key in ("skip_if", "check", "retries", "timeout", "continue_on_fail"):
        if key in entry:
            step[key] = entry[key]
    if wave is None and not skipped:
        step["never_starts"] = "a dependency cycle or an unknown dependency"
    if skipped or "foreach" in entry:
        return step
    try:
        definition = planner.load(entry["task_id"])
        nested = _nested_previous(planner, found, order_id)
        step["plan"] = _sub_plan(planner, entry["task_id"], definition, nested)
    except Exception as exc:  # noqa: BLE001 - a plan reports, never raises
        step["error"] = " ".join(str(exc).split()) or type(exc).__name__
    return step


def _sub_plan(
    planner: Any, task_id: str, definition: dict, nested: PreviousRun | None
) -> dict[str, Any]:
    if definition.get("type") == "batch" and nested is not None:
        from opentaskpy.runs.fields import definition_sha256

        sha = definition_sha256(definition)
        head = {"task_id": task_id, "type": "batch", "definition_sha256": sha}
        return head | plan_batch(planner, task_id, definition, sha, nested)
    return dict(planner.plan(task_id, definition))


def _nested_previous(
    planner: Any, found: PreviousRun | None, order_id: int
) -> PreviousRun | None:
    """Return what a nested batch resumes from: its step's previous record."""
    if found is None:
        return None
    step_id = found.step_ids.get(order_id)
    if not found.resumable or step_id is None:
        return PreviousRun(f"{found.record_id}.{order_id}", "not started")
    store = planner.records.store()
    return steps_of(store, step_id, found.outcome) if store is not None else None


def _instances(
    planner: Any, entry: dict, variables: dict, items_done: dict[int, set[int]]
) -> list[dict[str, Any]]:
    try:
        items = batchsteps.foreach_items(SimpleNamespace(variables=variables), entry)
    except Exception as exc:  # noqa: BLE001 - a plan reports, never raises
        return [{"error": " ".join(str(exc).split())}]
    out = []
    finished = items_done.get(entry["order_id"], set())
    for index, item in enumerate(items):
        skipped = index + 1 in finished and not entry.get("retry_on_rerun")
        instance: dict[str, Any] = {
            "item": item,
            "number": index + 1,
            "skipped_on_resume": skipped,
        }
        if not skipped:
            extra = {"item": item, "item_index": index}
            try:
                definition = planner.load(entry["task_id"], extra)
                instance["plan"] = planner.plan(entry["task_id"], definition)
            except Exception as exc:  # noqa: BLE001
                instance["error"] = " ".join(str(exc).split())
        out.append(instance)
    return out
