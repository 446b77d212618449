"""Turn measured workloads into a table: text, Markdown and JSON."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from benchlib.core import CaseStats, Workload

COLUMNS = [
    ("workload", "Workload"),
    ("runs", "Runs ok"),
    ("median_s", "Median s"),
    ("range_s", "Min–max s"),
    ("mb_s", "MB/s"),
    ("peak_rss_mb", "Peak RSS MB"),
    ("cpu_s", "CPU s"),
    ("limit_median_s", "Limit median s"),
    ("limit_cpu_s", "Limit CPU s"),
    ("limit_mb_s", "Limit MB/s"),
    ("ratio", "Ratio"),
    ("target", "Target"),
    ("verdict", "Verdict"),
    ("note", "Note"),
]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _mbs(payload: int | None, seconds: float | None) -> float | None:
    if not payload or not seconds:
        return None
    return payload / seconds / 1e6


def _failure_note(wl: Workload) -> str:
    for key in wl.cases():
        stats: CaseStats = wl.stats(key)
        if stats.failures:
            first = stats.failures[0]
            return f"[{key}] {len(stats.failures)} run(s) FAILED: {first.reason}"
    return ""


def _baseline_note(wl: Workload) -> str:
    """``before`` figures of a ``--baseline`` run, and after/before ratios."""
    base, ours = wl.stats("baseline"), wl.stats("ours")
    if "baseline" not in wl.extras or not base.ok or not ours.ok:
        return ""
    bw, bc = base.median(), base.cpu_median()
    ow, oc = ours.median(), ours.cpu_median()
    assert bw and bc is not None and ow and oc is not None
    cpu_ratio = f"{oc / bc:.2f}x" if bc else "-"
    return (
        f"baseline {bw:.3f} s, CPU {bc:.3f} s (after/before: wall "
        f"{ow / bw:.2f}x, CPU {cpu_ratio})"
    )


def build_rows(workloads: list[Workload]) -> list[dict[str, Any]]:
    """One row (machine-readable values plus display strings) per workload."""
    rows = []
    for wl in workloads:
        ours, limit = wl.stats("ours"), wl.stats("limit")
        verdict = wl.evaluate(wl)
        fail_note = _failure_note(wl)
        if not wl.runnable:
            state = "NOT RUN"
        elif verdict.passed is None or fail_note:
            state = "FAILED"
        else:
            state = "PASS" if verdict.passed else "MISS"
        rss = ours.peak_rss()
        notes = [n for n in (verdict.note, fail_note, _baseline_note(wl)) if n]
        rows.append(
            {
                "workload": wl.name,
                "runs": f"{len(ours.good)}/{len(ours.samples)}",
                "median_s": ours.median(),
                "min_s": ours.min(),
                "max_s": ours.max(),
                "mb_s": _mbs(wl.payload_bytes, ours.median()),
                "peak_rss_mb": None if rss is None else rss / 1e6,
                "cpu_s": ours.cpu_median(),
                "limit_median_s": limit.median(),
                "limit_cpu_s": limit.cpu_median(),
                "limit_mb_s": _mbs(wl.payload_bytes, limit.median()),
                "ratio": verdict.ratio,
                "ratio_label": verdict.ratio_label,
                "target": verdict.target,
                "verdict": state,
                "note": "; ".join(notes),
                "extras": {
                    key: {
                        "median_s": wl.stats(key).median(),
                        "cpu_s": wl.stats(key).cpu_median(),
                        "runs_ok": len(wl.stats(key).good),
                        "runs": len(wl.stats(key).samples),
                    }
                    for key in wl.extras
                },
            }
        )
    return rows


def _display(row: dict[str, Any]) -> dict[str, str]:
    ratio = row["ratio"]
    return {
        "workload": row["workload"],
        "runs": row["runs"],
        "median_s": _fmt(row["median_s"]),
        "range_s": f"{_fmt(row['min_s'])}–{_fmt(row['max_s'])}",
        "mb_s": _fmt(row["mb_s"], 1),
        "peak_rss_mb": _fmt(row["peak_rss_mb"], 1),
        "cpu_s": _fmt(row["cpu_s"]),
        "limit_median_s": _fmt(row["limit_median_s"]),
        "limit_cpu_s": _fmt(row["limit_cpu_s"]),
        "limit_mb_s": _fmt(row["limit_mb_s"], 1),
        "ratio": "-" if ratio is None else f"{ratio:.3f} ({row['ratio_label']})",
        "target": row["target"],
        "verdict": row["verdict"],
        "note": row["note"],
    }


def text_table(rows: list[dict[str, Any]]) -> str:
    """Fixed-width table for the terminal."""
    cells = [_display(r) for r in rows]
    widths = {
        key: max([len(title)] + [len(c[key]) for c in cells]) for key, title in COLUMNS
    }
    lines = ["  ".join(title.ljust(widths[key]) for key, title in COLUMNS)]
    lines.append("  ".join("-" * widths[key] for key, _ in COLUMNS))
    for c in cells:
        lines.append("  ".join(c[key].ljust(widths[key]) for key, _ in COLUMNS))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """GitHub-flavoured Markdown table."""
    cells = [_display(r) for r in rows]
    out = ["| " + " | ".join(title for _, title in COLUMNS) + " |"]
    out.append("|" + "|".join("---" for _ in COLUMNS) + "|")
    for c in cells:
        out.append(
            "| " + " | ".join(c[key].replace("|", "\\|") for key, _ in COLUMNS) + " |"
        )
    return "\n".join(out)


def environment_info(mode: str, reps: int, settings: dict[str, str]) -> dict:
    """What the figures were measured on."""
    import os

    return {
        "mode": mode,
        "repetitions": reps,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "settings": settings,
    }


def write_results(
    results_dir: Path, rows: list[dict[str, Any]], info: dict
) -> tuple[Path, Path]:
    """Write ``<mode>-<timestamp>.md/.json`` plus ``latest-<mode>.*`` copies."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    header = "\n".join(f"- {k}: {v}" for k, v in info.items())
    md = f"# opentaskpy benchmarks ({info['mode']})\n\n{header}\n\n"
    md += markdown_table(rows) + "\n"
    payload = json.dumps({"info": info, "rows": rows}, indent=2)
    md_path = results_dir / f"{info['mode']}-{stamp}.md"
    json_path = results_dir / f"{info['mode']}-{stamp}.json"
    for path, text in ((md_path, md), (json_path, payload)):
        path.write_text(text)
        (results_dir / f"latest-{info['mode']}{path.suffix}").write_text(text)
    return md_path, json_path
