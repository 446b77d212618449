"""What the delivery ledger costs: hashing in the stream, verification, rows.

``ledger-hash X``: workload X (local-big, sftp-big, ssh-big) recorded with
in-stream sha256 (ours, the default) against the same run with
``OTF_LEDGER_HASH=0`` (limit); target: under 5 % throughput loss.
``ledger-verify X``: ``OTF_VERIFY=1`` (ours) against the default (limit);
the cost is reported (the destination copy is read back or hashed where it
lands, and for host-to-host and kernel copies the source is hashed too).
``ledger-10k``: 10,000 files local to local, ledger on against records off;
the time the ledger adds per file (target: under 1 ms).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from benchlib.context import Context
from benchlib.core import (
    Case,
    Verdict,
    Workload,
    extra_time_target,
    on_medians,
    throughput_target,
)
from benchlib.data import ManyFiles, reset_dir

OFF = {"OTF_RUNS_DB": "off", "OTF_LOCK": "0"}
MANY = 10_000
#: What the ledger may add per file (records, lock and ledger rows together).
PER_FILE_MS = 1.0


def _with_env(case: Case, extra: dict[str, str]) -> Case:
    return dataclasses.replace(case, env={**(case.env or {}), **extra})


# No target: the cost is reported (verification reads every copy again).
_cost = on_medians(
    "report",
    lambda mo, mb: Verdict(mo / mb, "time ratio", "report", True, f"{mo - mb:+.2f} s"),
)


def variants(base: Workload, label: str) -> list[Workload]:
    """Hashing on against off, and verification on against off, for ``base``."""
    on = _with_env(base.ours, {})
    off = _with_env(base.ours, {"OTF_LEDGER_HASH": "0"})
    verify = _with_env(base.ours, {"OTF_VERIFY": "1"})
    return [
        Workload(
            f"ledger-hash {label}",
            on,
            off,
            throughput_target(0.95),
            payload_bytes=base.payload_bytes,
        ),
        Workload(
            f"ledger-verify {label}",
            verify,
            on,
            _cost,
            payload_bytes=base.payload_bytes,
        ),
    ]


def many_files(ctx: Context) -> Workload:
    """10,000 small files local to local: 10,000 ledger rows against none."""
    many = ManyFiles(ctx.cache, MANY, 1024)
    base = ctx.root / "ledger-10k"
    src = base / "src"
    many.place(src)
    dst = base / "dst"
    tid = ctx.task(
        "ledger-10k",
        {
            "type": "transfer",
            "source": {
                "directory": str(src),
                "fileRegex": r"^small_\d+\.dat$",
                "protocol": {"name": "local"},
            },
            "destination": [{"directory": str(dst), "protocol": {"name": "local"}}],
        },
    )

    def case(label: str, env: dict[str, str]) -> Case:
        def prepare() -> None:
            reset_dir(dst)
            ctx.wipe_logs(label)

        def verify(_: object) -> str | None:
            count = sum(1 for _ in Path(dst).iterdir())
            return None if count == MANY else f"{count} files delivered, not {MANY}"

        return Case(
            ctx.task_run(tid),
            env=ctx.env_for(label, env),
            cwd=ctx.root,
            prepare=prepare,
            verify=verify,
            timeout=1800,
        )

    return Workload(
        "ledger-10k",
        case("ledger-10k-on", {}),
        case("ledger-10k-off", OFF),
        extra_time_target(PER_FILE_MS, MANY, " per file", digits=3),
    )
