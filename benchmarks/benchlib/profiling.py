"""Optional profiling of our side of a workload with py-spy.

``run.py --profile`` runs each workload's ``ours`` case once more under
``py-spy record --format raw`` (all threads, 250 Hz, native stacks off) and
writes the collapsed stacks plus a short hotspot summary next to the results.
py-spy is a developer tool (``.venv/bin/pip install py-spy``), not a project
dependency. ``OTF_BENCH_PROFILE_GIL=1`` samples only the thread holding the
interpreter lock (py-spy ``--gil``): where the CPU goes, not where threads
wait.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path

from benchlib.core import Workload, run_case
from benchlib.measure import Sample

FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]+?)(?::\d+)?\)$")


def py_spy() -> str | None:
    """Path of py-spy, if installed next to the interpreter or on PATH."""
    here = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def _short(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{match['func']}"


def summarise(raw: Path, top: int = 15) -> str:
    """Top functions by self samples and by inclusive samples."""
    self_count: Counter[str] = Counter()
    incl_count: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f.strip()]
        # py-spy's first frame is the thread name ("thread (0x..)"); skip it.
        frames = [
            f for f in frames if not f.startswith(("thread ", "process "))
        ] or frames
        total += count
        self_count[frames[-1]] += count
        for frame in set(frames):
            incl_count[frame] += count
    lines = [f"{raw.name}: {total} samples", "  self:"]
    for frame, count in self_count.most_common(top):
        lines.append(f"    {100 * count / max(total, 1):5.1f}%  {frame}")
    lines.append("  inclusive:")
    for frame, count in incl_count.most_common(top):
        lines.append(f"    {100 * count / max(total, 1):5.1f}%  {frame}")
    return "\n".join(lines)


def profile_workload(wl: Workload, out_dir: Path) -> str:
    """Run ``wl.ours`` once under py-spy; return the hotspot summary."""
    spy = py_spy()
    if spy is None:
        return f"{wl.name}: py-spy not installed (.venv/bin/pip install py-spy)"
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"profile-{wl.name.replace(' ', '-')}.txt"
    case = wl.ours
    original = case.argv
    case.argv = [
        spy,
        "record",
        "--format",
        "raw",
        "--rate",
        "250",
        "--subprocesses",
        *(["--gil"] if os.environ.get("OTF_BENCH_PROFILE_GIL") else []),
        "--output",
        str(raw),
        "--",
        *original,
    ]
    try:
        sample: Sample = run_case(case)
    finally:
        case.argv = original
    if not raw.exists():
        return f"{wl.name}: py-spy produced nothing ({sample.reason})"
    state = "verified" if sample.ok else f"FAILED: {sample.reason}"
    return f"{summarise(raw)}\n  (profiled run {sample.wall:.2f} s, {state})"


def run_profiles(workloads: list[Workload], out_dir: Path) -> str:
    """Profile every runnable workload; return all summaries."""
    parts = [profile_workload(wl, out_dir) for wl in workloads if wl.runnable]
    return "\n\n".join(parts)
