"""What run records cost: the same runs with records on and off.

``records-startup``: a local execution of ``true`` recorded in SQLite
(ours) against the same run with ``OTF_RUNS_DB=off OTF_LOCK=0`` (limit);
target: < 10 ms more. ``records-batch``: a batch of 20 dependent ``true``
steps, recorded against not; target: < 5 ms more per step.
"""

from __future__ import annotations

from benchlib.context import BATCH_ENV, Context
from benchlib.core import Case, Workload, extra_time_target
from benchlib.local import CHAIN_LEN, _batch_verifier, exec_task

OFF = {"OTF_RUNS_DB": "off", "OTF_LOCK": "0"}


def _case(ctx: Context, label: str, task_id: str, env: dict, steps: int) -> Case:
    def verify(sample: object) -> str | None:
        if steps:
            return _batch_verifier(ctx, label, steps)(sample)
        return None

    return Case(
        ctx.task_run(task_id),
        env=ctx.env_for(label, env),
        cwd=ctx.root,
        prepare=lambda: ctx.wipe_logs(label),
        verify=verify,
        timeout=600,
    )


def records_startup(ctx: Context) -> Workload:
    """One recorded run of ``true`` against the same run unrecorded."""
    tid = exec_task(ctx, "records-true", "true")
    on = {"OTF_RUNS_DB": str(ctx.root / "runs.sqlite3")}
    return Workload(
        "records-startup",
        _case(ctx, "records-startup-on", tid, on, 0),
        _case(ctx, "records-startup-off", tid, OFF, 0),
        extra_time_target(10.0, 1),
    )


def records_batch(ctx: Context) -> Workload:
    """A 20-step chain recorded against unrecorded."""
    true_id = exec_task(ctx, "exec-true", "true")
    chain = [
        {
            "order_id": i,
            "task_id": true_id,
            **({"dependencies": [i - 1]} if i > 1 else {}),
        }
        for i in range(1, CHAIN_LEN + 1)
    ]
    tid = ctx.task("records-chain", {"type": "batch", "tasks": chain})
    on = {**BATCH_ENV, "OTF_RUNS_DB": str(ctx.root / "runs.sqlite3")}
    return Workload(
        "records-batch",
        _case(ctx, "records-batch-on", tid, on, CHAIN_LEN),
        _case(ctx, "records-batch-off", tid, {**BATCH_ENV, **OFF}, CHAIN_LEN),
        extra_time_target(5.0, CHAIN_LEN, " per step"),
    )
