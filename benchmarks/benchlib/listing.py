"""Listing rows: a directory of many entries of which a few match.

See :func:`listing_eval` for how the listing cost is separated from the
rest of the job.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path

from benchlib.context import Context
from benchlib.core import Case, Verdict, Workload, both_medians
from benchlib.data import reset_dir

MATCH_SIZE = 4096


def listing_eval(entries: int) -> Callable[[Workload], Verdict]:
    """Listing cost per 1,000 entries: big directory minus the small one.

    The ``small-dir`` extra cases run the same job on a directory holding
    only the matching files, so the difference is what the other entries
    cost (start-up, connection and copying cancel out).
    """

    def evaluate(wl: Workload) -> Verdict:
        target = "reported (no target)"
        small, small_limit = wl.stats("small-dir"), wl.stats("small-dir-limit")
        both = both_medians(wl)
        if both is None or not (small.ok and small_limit.ok):
            return Verdict(None, "time ratio", target, None, "a side FAILED")
        mo, ml = both
        ms, msl = small.median(), small_limit.median()
        assert ms is not None and msl is not None
        per_k = 1_000_000 / entries
        note = (
            f"listing {(mo - ms) * per_k:.2f} ms/1000 entries "
            f"(limit {(ml - msl) * per_k:.2f}); small dir {ms:.3f} s "
            f"(limit {msl:.3f} s)"
        )
        return Verdict(mo / ml, "time ratio", target, True, note)

    return evaluate


class BigDirectory:
    """``entries`` names in one directory, ``matches`` of them selected.

    The non-matching entries are empty files (inodes only); the matching
    ones hold :data:`MATCH_SIZE` bytes and are spread through the names.
    Built once into the cache dir and reused between runs.
    """

    def __init__(self, cache: Path, entries: int, matches: int) -> None:
        self.entries, self.matches = entries, matches
        self.dir = cache / f"listing_{entries}_{matches}"
        step = entries // matches
        self.names = [f"match_{i * step:07d}.dat" for i in range(matches)]
        self.regex = r"^match_[0-9]+\.dat$"
        self.glob = "match_*.dat"
        done = self.dir / ".complete"
        if done.exists():
            return
        reset_dir(self.dir)
        wanted = {i * step for i in range(matches)}
        for i in range(entries):
            if i in wanted:
                (self.dir / f"match_{i:07d}.dat").write_bytes(b"m" * MATCH_SIZE)
            else:
                os.close(os.open(self.dir / f"entry_{i:07d}.dat", os.O_CREAT, 0o644))
        done.touch()

    def verify(self, directory: Path) -> str | None:
        """Failure reason unless ``directory`` holds exactly the matches."""
        if not directory.is_dir():
            return f"{directory} missing"
        present = sorted(p.name for p in directory.iterdir())
        if present != self.names:
            return f"{len(present)} files in {directory}, expected {self.matches}"
        for name in present:
            if (directory / name).stat().st_size != MATCH_SIZE:
                return f"{name} has the wrong size"
        return None


def _listing_cases(ctx: Context, tag: str, big: BigDirectory) -> tuple[Case, Case]:
    """Our local transfer of the matches, and ``ls -f | grep -E | xargs cp``."""
    dst_ours, dst_limit = ctx.root / tag / "dst-ours", ctx.root / tag / "dst-limit"
    tid = ctx.task(
        tag,
        {
            "type": "transfer",
            "source": {
                "directory": str(big.dir),
                "fileRegex": big.regex,
                "protocol": {"name": "local"},
            },
            "destination": [
                {"directory": str(dst_ours), "protocol": {"name": "local"}}
            ],
        },
    )
    script = (
        f"cd {shlex.quote(str(big.dir))} && ls -f | grep -E {shlex.quote(big.regex)}"
        f" | xargs cp -t {shlex.quote(str(dst_limit))}"
    )
    return ctx.transfer_vs_shell(tid, tag, (dst_ours, dst_limit), script, big.verify)


def listing_workload(
    kind: str,
    big: BigDirectory,
    small: BigDirectory,
    cases: Callable[[str, BigDirectory], tuple[Case, Case]],
) -> Workload:
    """The ``listing-<kind>`` row: ``cases`` on ``big``, and on ``small`` as extras."""
    ours, limit = cases(f"listing-{kind}", big)
    small_ours, small_limit = cases(f"listing-{kind}-small", small)
    return Workload(
        f"listing-{kind} {big.entries}/{big.matches}",
        ours,
        limit,
        listing_eval(big.entries),
        extras={"small-dir": small_ours, "small-dir-limit": small_limit},
    )


def listing_local(ctx: Context, big: BigDirectory, small: BigDirectory) -> Workload:
    """Local transfer of the few matches among ``big.entries`` names."""
    return listing_workload(
        "local", big, small, lambda tag, d: _listing_cases(ctx, tag, d)
    )
