#!/usr/bin/env python3
"""opentaskpy benchmark suite: our CLI against the physical limits.

Usage::

    .venv/bin/python benchmarks/run.py --quick   # iteration (64 MiB, 2 runs)
    .venv/bin/python benchmarks/run.py --full    # figures (64 MiB + 1 GiB, 3 runs)
    .venv/bin/python benchmarks/run.py --smoke   # CI proof the harness works

See benchmarks/README.md. Exit status: 0 when every run was verified (a MISS
of a target is reported, not an error), 1 when any run FAILED, 2 on usage
errors. ``--no-ssh`` drops the sshd workloads; without it, an unavailable
sshd makes them NOT RUN rows and the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from benchlib import (  # noqa: E402
    context,
    flow,
    ledger,
    listing,
    local,
    records,
    remote,
    remote_scale,
    scale,
)
from benchlib.context import BATCH_ENV, Context, Mode  # noqa: E402
from benchlib.core import Verdict, Workload, run_workload, stderr_log  # noqa: E402
from benchlib.data import DataFile, ManyFiles, MiB  # noqa: E402
from benchlib.listing import BigDirectory  # noqa: E402
from benchlib.report import (  # noqa: E402
    build_rows,
    environment_info,
    text_table,
    write_results,
)
from benchlib.scale import Scale  # noqa: E402

MODES = {
    "smoke": Mode(
        "smoke", 1, [1 * MiB], 20, 4096, 0.2, fast_reps=1, scale=Scale(50, 10, 20, 1000)
    ),
    "quick": Mode(
        "quick",
        2,
        [64 * MiB],
        1000,
        4096,
        0.5,
        fast_reps=3,
        scale=Scale(2000, 50, 100, 20_000),
    ),
    "full": Mode(
        "full",
        3,
        [64 * MiB, 1024 * MiB],
        1000,
        4096,
        0.5,
        fast_reps=7,
        scale=Scale(10_000, 200, 500, 100_000),
    ),
}
SCALE_LOCAL_KEYS = ["local-many", "batch-scale", "batch-rss", "listing-local"]
SCALE_REMOTE_KEYS = ["sftp-many-scale", "listing-sftp"]
LOCAL_KEYS = [
    "startup",
    "batch-chain",
    "batch-fan",
    "batch-chain-flow",
    "batch-fan-flow",
    "local-big",
    "records",
    *SCALE_LOCAL_KEYS,
    "ledger",
]
REMOTE_KEYS = [
    "ssh-exec",
    "ssh-batch",
    "sftp-many",
    "sftp-big",
    "ssh-big",
    *SCALE_REMOTE_KEYS,
    "ledger-remote",
]
# Smoke mode proves the harness quickly: scale rows only when asked (--only).
SMOKE_SKIPS = set(SCALE_LOCAL_KEYS + SCALE_REMOTE_KEYS)
# The delivery ledger's cost (the big transfers 4 times over, 10,000 files):
# only when named with --only, in every mode.
NAMED_ONLY = {"ledger", "ledger-remote"}
# Workloads whose runs take about a second or less (see Mode.fast_reps).
FAST_PREFIXES = (
    "startup",
    "batch-",
    "local-big",
    "ssh-exec",
    "ssh-batch",
    "records-",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    for name in MODES:
        group.add_argument(f"--{name}", dest="mode", action="store_const", const=name)
    parser.add_argument(
        "--only",
        help="comma-separated workloads: " + ",".join(LOCAL_KEYS + REMOTE_KEYS),
    )
    parser.add_argument("--reps", type=int, help="override the repetitions")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("OTF_BENCH_CACHE", "/tmp/otf-bench-data")),
        help="where generated input data is kept between runs",
    )
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--no-ssh", action="store_true", help="skip sshd workloads")
    parser.add_argument(
        "--src",
        type=Path,
        help="run the CLI from this source dir (A/B a patched copy of src/)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also run our side from this source dir (e.g. main's src/), "
        "interleaved in the same run: a before/after on the same machine state",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--json", action="store_true", help="print JSON, not text")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, run each workload once under py-spy and print hotspots",
    )
    args = parser.parse_args(argv)
    known = set(LOCAL_KEYS + REMOTE_KEYS)
    if args.only:
        args.keys = args.only.split(",")
    else:
        skips = (SMOKE_SKIPS if args.mode == "smoke" else set()) | NAMED_ONLY
        args.keys = [k for k in LOCAL_KEYS + REMOTE_KEYS if k not in skips]
    unknown = set(args.keys) - known
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    if args.no_ssh:
        args.keys = [k for k in args.keys if k not in REMOTE_KEYS]
    return args


def _not_run(name: str, reason: str) -> Workload:
    """A placeholder row for workloads that could not run at all."""
    from benchlib.core import Case

    def evaluate(_: Workload) -> Verdict:
        return Verdict(None, "", "-", None, f"NOT RUN: {reason}")

    return Workload(name, Case(["true"]), Case(["true"]), evaluate, runnable=False)


def _per_file(wl: Workload, count: int) -> Workload:
    wl.evaluate = scale.with_per_unit_note(wl.evaluate, "file", count)
    return wl


def _scale_factories(
    ctx: Context, sc: Scale, ssh_env: object
) -> dict[str, Callable[[], list[Workload]]]:
    """The scale rows (benchlib/scale.py) at the mode's counts."""
    mode = ctx.mode

    def many() -> ManyFiles:
        return ManyFiles(ctx.cache, sc.files, mode.many_size)

    def dirs(base: Path) -> tuple[BigDirectory, BigDirectory]:
        # The big directory and one holding only the matches.
        return (
            BigDirectory(base, sc.entries, sc.matches),
            BigDirectory(base, sc.matches, sc.matches),
        )

    factories: dict[str, Callable[[], list[Workload]]] = {
        "local-many": lambda: [scale.local_many(ctx, many())],
        "batch-scale": lambda: [
            scale.batch_chain_scale(ctx, sc.steps),
            scale.batch_fan_scale(ctx, sc.steps),
        ],
        "batch-rss": lambda: [scale.batch_rss(ctx, sc.rss_steps)],
        "listing-local": lambda: [listing.listing_local(ctx, *dirs(ctx.cache))],
    }
    if ssh_env is not None:
        factories["sftp-many-scale"] = lambda: [
            _per_file(remote.sftp_many(ctx, ssh_env, many()), sc.files)
        ]
        factories["listing-sftp"] = lambda: [
            remote_scale.listing_sftp(
                ctx,
                ssh_env,
                # The cache may be unreadable for the test user: its home.
                *dirs(ssh_env.make_dir("listing")),  # type: ignore[attr-defined]
            )
        ]
    return factories


def build_workloads(
    ctx: Context, keys: list[str], ssh_env: object, ssh_error: str
) -> list[Workload]:
    mode = ctx.mode
    big = DataFile(ctx.cache, mode.big_sizes[-1])
    factories: dict[str, Callable[[], list[Workload]]] = {
        "startup": lambda: [
            local.startup(ctx, 3),
            local.startup(ctx, 3, cache=False),
            local.startup(ctx, 5000),
            local.startup_sftp(ctx),
            local.startup_sftp(ctx, cold=True),
        ],
        "batch-chain": lambda: [local.batch_chain(ctx)],
        "batch-fan": lambda: [local.batch_fan(ctx, mode.fan_sleep)],
        "batch-chain-flow": lambda: [flow.batch_chain_flow(ctx)],
        "batch-fan-flow": lambda: [flow.batch_fan_flow(ctx)],
        "local-big": lambda: [local.local_big(ctx, big)],
        "records": lambda: [records.records_startup(ctx), records.records_batch(ctx)],
        "ledger": lambda: [
            *ledger.variants(local.local_big(ctx, big), "local-big"),
            ledger.many_files(ctx),
        ],
    }
    sc = mode.scale
    if sc is not None:
        factories.update(_scale_factories(ctx, sc, ssh_env))
    if ssh_env is not None:
        remote.ensure_host_aliases(ssh_env)
        many = ManyFiles(ctx.cache, mode.many_count, mode.many_size)
        factories.update(
            {
                "ssh-exec": lambda: [remote.ssh_exec(ctx, ssh_env)],
                "ssh-batch": lambda: [remote.ssh_batch(ctx, ssh_env)],
                "sftp-many": lambda: [remote.sftp_many(ctx, ssh_env, many)],
                "sftp-big": lambda: [
                    remote.sftp_big(ctx, ssh_env, DataFile(ctx.cache, s))
                    for s in mode.big_sizes
                ],
                "ssh-big": lambda: [remote.ssh_big(ctx, ssh_env, big)],
                "ledger-remote": lambda: [
                    *ledger.variants(remote.sftp_big(ctx, ssh_env, big), "sftp-big"),
                    *ledger.variants(remote.ssh_big(ctx, ssh_env, big), "ssh-big"),
                ],
            }
        )
    workloads: list[Workload] = []
    for key in keys:
        if key in factories:
            made = factories[key]()
            for wl in made:
                wl.scale = key in SMOKE_SKIPS
            workloads += made
        else:
            workloads.append(_not_run(key, ssh_error))
    return workloads


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = MODES[args.mode]
    if args.src or args.baseline:
        # With a baseline both sides start the same way (python -m).
        context.SRC_OVERRIDE = str((args.src or HERE.parent / "src").resolve())
    reps = args.reps or mode.reps
    root = Path(tempfile.mkdtemp(prefix="otf-bench-"))
    root.chmod(0o755)
    ssh_env = None
    ssh_error = ""
    wants_ssh = any(k in REMOTE_KEYS for k in args.keys)
    try:
        if wants_ssh:
            from support.sshd import SSHUnavailable, start_environment

            try:
                (root / "sshd").mkdir()
                ssh_env = start_environment(root / "sshd")
            except SSHUnavailable as exc:
                ssh_error = f"sshd unavailable: {exc}"
                stderr_log(ssh_error)
        if ssh_env is not None and not ssh_env.can_host_to_host:
            stderr_log("note: not root, host-to-host scp (ssh-big) may fail")
        ctx = Context(root, args.cache, mode)
        stderr_log(f"compiled bytecode of {context.compile_sources()}")
        fast = "" if args.reps else f" ({mode.fast_reps} for fast workloads)"
        stderr_log(f"mode {mode.name}: {reps} repetition(s){fast}, work dir {root}")
        workloads = build_workloads(ctx, args.keys, ssh_env, ssh_error)
        if args.baseline:
            stderr_log(f"baseline: compiled {context.compile_sources(args.baseline)}")
            for wl in workloads:
                context.add_baseline(wl, args.baseline.resolve())
        for wl in workloads:
            if not wl.runnable:
                continue
            stderr_log(f"{wl.name}:")
            wl_reps = reps
            if not args.reps and wl.name.startswith(FAST_PREFIXES) and not wl.scale:
                wl_reps = max(reps, mode.fast_reps)
            run_workload(wl, wl_reps, stderr_log, warmup=mode.name != "smoke")
        rows = build_rows(workloads)
        settings = dict(BATCH_ENV)
        if args.src:
            settings["src"] = str(args.src)
        if args.baseline:
            settings["baseline"] = str(args.baseline)
        info = environment_info(mode.name, reps, settings)
        if not args.reps:
            info["repetitions (fast workloads)"] = max(reps, mode.fast_reps)
        md_path, json_path = write_results(args.results, rows, info)
        if args.json:
            print(json.dumps({"info": info, "rows": rows}, indent=2))
        else:
            print(text_table(rows))
            print(f"\nwritten: {md_path} and {json_path}")
        if args.profile:
            from benchlib.profiling import run_profiles

            print("\n" + run_profiles(workloads, args.results / "profiles"))
        return 1 if any(r["verdict"] in ("FAILED", "NOT RUN") for r in rows) else 0
    finally:
        if ssh_env is not None:
            from support.sshd import stop_environment

            stop_environment(ssh_env)
        if args.keep:
            stderr_log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
