"""Scale rows: many files, long batches, memory per step (listings: listing.py).

Each row puts a count in the workload name (``local-many 10000x4KiB``,
``batch-chain 200``, ...) and reports the cost per unit (file, step, entry)
in its note, next to the same job done by the plain tool in the same run.
The counts come from the mode's :class:`Scale`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchlib.context import Context
from benchlib.core import Case, Verdict, Workload, both_medians
from benchlib.data import ManyFiles, reset_dir
from benchlib.local import batch_case, chain_steps, exec_task, fan_steps, sh_loop
from benchlib.measure import Sample

RSS_SLOPE_MAX_MB = 0.1
HOP_MAX_S = 0.050


@dataclass
class Scale:
    """The counts of the scale rows in one mode."""

    files: int  # local-many and sftp-many at scale
    steps: int  # batch-chain / batch-fan at scale
    rss_steps: int  # sequential steps whose RSS is recorded one by one
    entries: int  # directory size of the listing rows
    matches: int = 10  # entries of that directory the regex selects


def per_unit_eval(
    unit: str, count: int, minimum_throughput: float | None = None
) -> Callable[[Workload], Verdict]:
    """Time ratio plus ``ms/unit`` for both sides (and a throughput floor)."""

    def evaluate(wl: Workload) -> Verdict:
        target = (
            f">= {minimum_throughput:g}x limit throughput"
            if minimum_throughput
            else "reported (no target)"
        )
        both = both_medians(wl)
        if both is None:
            return Verdict(None, "time ratio", target, None, "a side FAILED")
        mo, ml = both
        note = (
            f"{mo / count * 1000:.3f} ms/{unit} "
            f"(limit {ml / count * 1000:.3f} ms/{unit})"
        )
        passed = True if minimum_throughput is None else ml / mo >= minimum_throughput
        return Verdict(mo / ml, "time ratio", target, passed, note)

    return evaluate


def with_per_unit_note(
    evaluate: Callable[[Workload], Verdict], unit: str, count: int
) -> Callable[[Workload], Verdict]:
    """``evaluate``'s verdict with ``ms/unit`` of both sides added to its note."""

    def wrapped(wl: Workload) -> Verdict:
        verdict = evaluate(wl)
        both = both_medians(wl)
        if both is not None:
            mo, ml = both
            per = f"{mo / count * 1000:.3f} ms/{unit} (limit {ml / count * 1000:.3f})"
            verdict.note = "; ".join(n for n in (verdict.note, per) if n)
        return verdict

    return wrapped


# ------------------------------------------------------------- many files


def local_many(ctx: Context, many: ManyFiles) -> Workload:
    """``count`` small files local → local; limit ``cp -r src/. dst``."""
    tag = "local-many"
    src = ctx.root / tag / "src"
    many.place(src)
    dst_ours, dst_limit = ctx.root / tag / "dst-ours", ctx.root / tag / "dst-limit"
    tid = ctx.task(
        tag,
        {
            "type": "transfer",
            "source": {
                "directory": str(src),
                "fileRegex": r"^small_\d+\.dat$",
                "protocol": {"name": "local"},
            },
            "destination": [
                {"directory": str(dst_ours), "protocol": {"name": "local"}}
            ],
        },
    )

    ours = ctx.transfer_case(tid, tag, dst_ours, lambda s: many.verify(dst_ours))
    limit = Case(
        ["cp", "-r", f"{src}/.", str(dst_limit)],
        prepare=lambda: _fresh(dst_limit),
        verify=lambda s: many.verify(dst_limit),
    )
    return Workload(
        f"local-many {many.count}x{many.size // 1024}KiB",
        ours,
        limit,
        per_unit_eval("file", many.count),
        payload_bytes=many.total_bytes,
    )


def _fresh(directory: Path) -> None:
    # cp -r src/. dst creates dst itself: start from nothing.
    reset_dir(directory)
    directory.rmdir()


# ---------------------------------------------------------------- batches


def batch_chain_scale(ctx: Context, steps: int) -> Workload:
    """``steps`` dependent ``true`` steps; per-hop overhead as batch-chain."""
    chain = chain_steps(exec_task(ctx, "exec-true", "true"), steps)
    label = f"batch-chain-{steps}"
    extras = {"chain-1": batch_case(ctx, f"{label}-one", chain[:1])}

    def evaluate(wl: Workload) -> Verdict:
        target = f"< {HOP_MAX_S * 1000:.0f} ms overhead per hop"
        one = wl.stats("chain-1")
        both = both_medians(wl)
        if both is None or not one.ok:
            return Verdict(None, "time ratio", target, None, "a side FAILED")
        mo, ml = both
        m1 = one.median()
        assert m1 is not None
        hop = (mo - m1) / (steps - 1) - ml / steps
        note = (
            f"{mo / steps * 1000:.1f} ms/step (limit {ml / steps * 1000:.1f}); "
            f"overhead/hop {hop * 1000:.1f} ms"
        )
        return Verdict(mo / ml, "time ratio", target, hop < HOP_MAX_S, note)

    return Workload(
        f"batch-chain {steps}",
        batch_case(ctx, label, chain),
        sh_loop(steps),
        evaluate,
        extras=extras,
    )


def batch_fan_scale(ctx: Context, steps: int) -> Workload:
    """``steps`` independent ``true`` steps; time per step and peak RSS."""
    fan = fan_steps(exec_task(ctx, "exec-true", "true"), steps)
    label = f"batch-fan-{steps}"
    return Workload(
        f"batch-fan {steps}",
        batch_case(ctx, label, fan),
        sh_loop(steps),
        per_unit_eval("step", steps),
    )


# ------------------------------------------------------- RSS per step


def _slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against their index."""
    n = len(values)
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den if den else 0.0


def _rss_records(path: Path) -> list[tuple[int, float]]:
    """``(pid, RSS MB)`` per step, in step order, from the probe's file."""
    out = []
    for line in path.read_text().splitlines():
        pid, kb = line.split()
        out.append((int(pid), int(kb) / 1024))
    return out


def batch_rss(ctx: Context, steps: int) -> Workload:
    """``steps`` sequential steps, each recording ``task-run``'s RSS.

    The step's shell is a child of the ``task-run`` process (local
    executions run ``sh -c``), so ``/proc/$PPID/status`` is the batch's
    own memory after every previous step finished. The verdict is the
    least-squares growth per step over all steps.
    """
    label = f"batch-rss-{steps}"
    probe_file = ctx.root / f"{label}.rss"
    command = (
        "echo \"$PPID $(awk '/^VmRSS:/ {print $2}' /proc/$PPID/status)\" >> "
        + shlex.quote(str(probe_file))
    )
    chain = chain_steps(exec_task(ctx, "exec-rss-probe", command), steps)
    case = batch_case(ctx, label, chain)
    batch_verify = case.verify

    def prepare() -> None:
        ctx.wipe_logs(label)
        probe_file.unlink(missing_ok=True)

    def verify(sample: Sample) -> str | None:
        reason = batch_verify(sample)
        if reason:
            return reason
        records = _rss_records(probe_file)
        if len(records) != steps or len({pid for pid, _ in records}) != 1:
            return f"{len(records)} RSS records from one process, expected {steps}"
        rss = [mb for _, mb in records]
        sample.extra.update(
            slope_mb=_slope(rss),
            slope_late_mb=_slope(rss[steps // 2 :]),
            first_mb=rss[0],
            last_mb=rss[-1],
        )
        return None

    case.prepare, case.verify = prepare, verify

    def evaluate(wl: Workload) -> Verdict:
        target = f"RSS growth < {RSS_SLOPE_MAX_MB:g} MB/step"
        both = both_medians(wl)
        if both is None:
            return Verdict(None, "time ratio", target, None, "a side FAILED")
        mo, ml = both
        good = wl.stats("ours").good
        worst = max(good, key=lambda s: s.extra["slope_mb"])
        slopes = ", ".join(f"{s.extra['slope_mb'] * 1000:.2f}" for s in good)
        note = (
            f"slope {slopes} kB/step (2nd half of worst run "
            f"{worst.extra['slope_late_mb'] * 1000:.2f}); RSS "
            f"{worst.extra['first_mb']:.1f} -> {worst.extra['last_mb']:.1f} MB; "
            f"{mo / steps * 1000:.1f} ms/step"
        )
        passed = worst.extra["slope_mb"] < RSS_SLOPE_MAX_MB
        return Verdict(mo / ml, "time ratio", target, passed, note)

    return Workload(f"batch-rss {steps}", case, sh_loop(steps), evaluate)
