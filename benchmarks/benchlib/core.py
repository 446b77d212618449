"""Workload model and the repetition loop.

A :class:`Workload` has an ``ours`` case (the real ``task-run`` CLI), a
``limit`` case (the same job done by the plain tool that bounds it) and
optional extra cases it needs for its verdict. Every case prepares its
inputs untimed, runs once timed, then verifies the result untimed; a run whose
verification fails is recorded as FAILED and never contributes a time.
Cases are interleaved per repetition (ours, limit, ours, limit, ...) so slow
drift of the machine affects both sides alike.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchlib.measure import Sample, run_measured


@dataclass
class Case:
    """One timed command with its untimed preparation and verification."""

    argv: list[str]
    env: dict[str, str] | None = None
    cwd: Path | None = None
    prepare: Callable[[], None] = lambda: None
    # Returns a failure reason, or None when the run really did the work.
    verify: Callable[[Sample], str | None] = lambda s: None
    timeout: float = 1800


@dataclass
class CaseStats:
    """The samples of one case and their summary."""

    samples: list[Sample] = field(default_factory=list)

    @property
    def good(self) -> list[Sample]:
        """Runs that were verified."""
        return [s for s in self.samples if s.ok]

    @property
    def failures(self) -> list[Sample]:
        """Runs that did not do the work."""
        return [s for s in self.samples if not s.ok]

    @property
    def ok(self) -> bool:
        """True when every run was verified."""
        return bool(self.samples) and not self.failures

    def median(self) -> float | None:
        """Median wall time of verified runs."""
        walls = [s.wall for s in self.good]
        return statistics.median(walls) if walls else None

    def min(self) -> float | None:
        """Fastest verified run."""
        return min((s.wall for s in self.good), default=None)

    def max(self) -> float | None:
        """Slowest verified run."""
        return max((s.wall for s in self.good), default=None)

    def cpu_median(self) -> float | None:
        """Median CPU seconds (user + system) of verified runs."""
        cpus = [s.cpu for s in self.good]
        return statistics.median(cpus) if cpus else None

    def peak_rss(self) -> int | None:
        """Largest peak RSS over verified runs (bytes)."""
        return max((s.peak_rss for s in self.good), default=None)


@dataclass
class Verdict:
    """What a workload's evaluation says."""

    ratio: float | None
    ratio_label: str
    target: str
    passed: bool | None  # None: could not be judged (a side failed)
    note: str = ""


@dataclass
class Workload:
    """A named benchmark: our CLI against its physical limit."""

    name: str
    ours: Case
    limit: Case
    evaluate: Callable[[Workload], Verdict]
    payload_bytes: int | None = None
    extras: dict[str, Case] = field(default_factory=dict)
    # One untimed run of every case first (imports, page cache, .pyc).
    warmup: bool = True
    # False for placeholder rows of workloads that could not be set up.
    runnable: bool = True
    # Scale rows run the mode's normal repetitions even when their names
    # look like a fast workload's (``batch-chain 200``).
    scale: bool = False
    results: dict[str, CaseStats] = field(default_factory=dict)

    def cases(self) -> dict[str, Case]:
        """All cases in run order."""
        return {"ours": self.ours, "limit": self.limit, **self.extras}

    def stats(self, key: str) -> CaseStats:
        """Stats of one case (empty if it never ran)."""
        return self.results.setdefault(key, CaseStats())


def run_case(case: Case) -> Sample:
    """Prepare, run and verify one case."""
    case.prepare()
    sample = run_measured(case.argv, env=case.env, cwd=case.cwd, timeout=case.timeout)
    if sample.ok:
        reason = case.verify(sample)
        if reason:
            sample.ok = False
            sample.reason = reason
    return sample


def run_workload(
    wl: Workload, reps: int, log: Callable[[str], None], warmup: bool = True
) -> None:
    """Run every case of ``wl`` ``reps`` times, interleaved."""
    if warmup and wl.warmup:
        for key, case in wl.cases().items():
            sample = run_case(case)
            if not sample.ok:
                log(f"  {wl.name} [{key}] warm-up FAILED: {sample.reason}")
    for rep in range(1, reps + 1):
        for key, case in wl.cases().items():
            sample = run_case(case)
            wl.stats(key).samples.append(sample)
            state = "ok" if sample.ok else f"FAILED ({sample.reason})"
            log(
                f"  {wl.name} [{key}] run {rep}/{reps}: {sample.wall:.3f} s, "
                f"CPU {sample.cpu:.3f} s, peak RSS {sample.peak_rss / 1e6:.1f} MB, "
                f"{state}"
            )


def stderr_log(msg: str) -> None:
    """Progress output goes to stderr so stdout stays the table."""
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- evaluations


def both_medians(wl: Workload) -> tuple[float, float] | None:
    """(ours, limit) median wall times, or ``None`` if a side failed."""
    ours, limit = wl.stats("ours"), wl.stats("limit")
    if not ours.ok or not limit.ok:
        return None
    mo, ml = ours.median(), limit.median()
    assert mo is not None and ml is not None
    return mo, ml


def throughput_target(minimum: float, max_rss_mb: float | None = None) -> Callable:
    """Ours must reach ``minimum`` × the limit's throughput (and an RSS cap)."""

    def evaluate(wl: Workload) -> Verdict:
        target = f">= {minimum:g}x limit throughput"
        if max_rss_mb is not None:
            target += f", RSS < {max_rss_mb:g} MB"
        both = both_medians(wl)
        if both is None:
            return Verdict(None, "throughput ratio", target, None, "a side FAILED")
        mo, ml = both
        ratio = ml / mo
        passed = ratio >= minimum
        notes = []
        if not passed:
            notes.append(f"throughput {ratio:.2f}x < {minimum:g}x")
        if max_rss_mb is not None:
            rss = (wl.stats("ours").peak_rss() or 0) / 1e6
            if rss >= max_rss_mb:
                passed = False
                notes.append(f"RSS {rss:.0f} MB >= {max_rss_mb:g} MB")
        return Verdict(ratio, "throughput ratio", target, passed, "; ".join(notes))

    return evaluate


def on_medians(target: str, judge: Callable[[float, float], Verdict]) -> Callable:
    """An evaluator: ``judge(ours, limit)`` of the median wall times.

    A failed side gives the FAILED verdict under ``target`` instead.
    """

    def evaluate(wl: Workload) -> Verdict:
        both = both_medians(wl)
        if both is None:
            return Verdict(None, "time ratio", target, None, "a side FAILED")
        return judge(*both)

    return evaluate


def time_ratio_target(maximum: float) -> Callable:
    """Ours must take less than ``maximum`` × the limit's wall time."""
    target = f"< {maximum:g}x limit time"
    return on_medians(
        target, lambda mo, ml: Verdict(mo / ml, "time ratio", target, mo / ml < maximum)
    )


def extra_time_target(
    limit_ms: float, per: int, what: str = "", digits: int = 1
) -> Callable:
    """Ours may take less than ``limit_ms`` more than the limit per unit.

    ``per`` units (files, steps) run in one sample; ``what`` names the unit
    in the target and the note (" per file").
    """
    target = f"< {limit_ms:g} ms more{what}"

    def judge(mo: float, ml: float) -> Verdict:
        extra_ms = (mo - ml) * 1000 / per
        note = f"{extra_ms:+.{digits}f} ms{what}"
        return Verdict(mo / ml, "time ratio", target, extra_ms < limit_ms, note)

    return on_medians(target, judge)


def absolute_target(seconds: float) -> Callable:
    """Ours must finish under ``seconds`` (the limit is shown for scale)."""
    target = f"< {seconds:g} s"
    return on_medians(
        target, lambda mo, ml: Verdict(mo / ml, "time ratio", target, mo < seconds)
    )
