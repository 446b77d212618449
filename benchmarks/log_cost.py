#!/usr/bin/env python3
"""Micro-benchmark: CPU seconds spent logging INFO lines as a transfer does.

Sets logging up as ``task-run`` does (root stderr handler, task log file),
sends stderr to /dev/null and logs N records of the three kinds a small-file
transfer writes. Each run is a fresh interpreter, so two source trees can be
compared in one call::

    .venv/bin/python benchmarks/log_cost.py --src /work/main/src --src src

Prints the CPU seconds of each run and their median per source tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

_CHILD = r"""
import logging, os, sys, time
from opentaskpy import otflogging
secret = os.environ.get("BENCH_SECRET")
if secret:
    otflogging.register_secret(secret)
logger = otflogging.init_logging(
    "opentaskpy.taskhandlers.transfer", "bench", "T", override_root_logger=True
)
count = int(os.environ["BENCH_COUNT"])
start = time.process_time()
for i in range(count // 3):
    path = f"/data/in/dir{i % 10}/file_{i:05d}.dat"
    logger.info(f" * {path}")
    logger.info(f"Transferring file {path} to /data/out/file_{i:05d}.dat")
    logger.info(f"Copied {path} (4096 bytes)")
print(time.process_time() - start)
"""


def run_once(src: str, count: int, secret: str | None, json_lines: bool) -> float:
    """Run the logging loop once in a fresh interpreter; return CPU seconds."""
    with tempfile.TemporaryDirectory() as logs:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("OTF_", "BENCH"))
        }
        env.update(
            PYTHONPATH=os.path.abspath(src),
            OTF_LOG_DIRECTORY=logs,
            BENCH_COUNT=str(count),
        )
        if secret:
            env["BENCH_SECRET"] = secret
        if json_lines:
            env["OTF_LOG_JSON"] = "1"
        with open(os.devnull, "w") as devnull:
            out = subprocess.run(
                [sys.executable, "-c", _CHILD],
                env=env,
                stdout=subprocess.PIPE,
                stderr=devnull,
                text=True,
                check=True,
            )
    return float(out.stdout)


def main() -> None:
    """Interleave runs of each source tree and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", required=True)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--secret", help="register this secret first")
    parser.add_argument("--json", action="store_true", help="OTF_LOG_JSON=1")
    args = parser.parse_args()
    times: dict[str, list[float]] = {src: [] for src in args.src}
    for _ in range(args.runs):
        for src in args.src:
            times[src].append(run_once(src, args.count, args.secret, args.json))
    for src, values in times.items():
        runs = " ".join(f"{v:.3f}" for v in values)
        print(f"{src}: median {statistics.median(values):.3f} s CPU ({runs})")


if __name__ == "__main__":
    main()
