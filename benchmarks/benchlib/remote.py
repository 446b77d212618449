"""Workloads against real loopback ``sshd`` hosts (tests/support/sshd.py).

Hosts: ``ssh1`` (127.0.0.1, full shell), ``ssh2`` (127.0.0.2, full shell),
``sftp`` (127.0.0.3, SFTP only). All run as one dedicated test user whose
home directory is shared (same machine), so each workload uses its own
sub-directories and results are verified straight from the filesystem.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlib.context import Context
from benchlib.core import (
    Case,
    Verdict,
    Workload,
    throughput_target,
    time_ratio_target,
)
from benchlib.data import DataFile, ManyFiles, size_label
from benchlib.local import batch_case
from benchlib.scale import with_per_unit_note


def _ssh_opts(env: Any) -> list[str]:
    return [
        "-i",
        str(env.client_key),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
    ]


def ensure_host_aliases(env: Any) -> None:
    """Let host-to-host ``scp`` reach each server's port.

    The ssh-protocol direct push runs ``scp ... user@host:dir`` on the source
    host without a port (the reference's way), so the test user's ssh client
    config must map each loopback address to its server's port. Only written
    when tests/support/sshd.py has not already provided one.
    """
    config = env.home / ".ssh" / "config"
    if config.exists():
        return
    lines = []
    for host in env.hosts.values():
        lines += [f"Host {host.address}", f"  Port {host.port}", ""]
    env.write_file(config, "\n".join(lines))
    config.chmod(0o600)


def _sftp_proto(env: Any, host: str) -> dict:
    proto = env.protocol(host)
    proto["name"] = "sftp"
    return proto


def _clean(env: Any, directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    env.make_dir(*directory.relative_to(env.home).parts)


def sftp_big(ctx: Context, env: Any, data: DataFile) -> Workload:
    """ssh1 → sftp host through the worker with SFTP; limit ``scp -3``."""
    tag = f"sftp-big-{size_label(data.size)}"
    src = env.make_dir(tag, "src")
    data.place(src, "big.bin")
    dst_ours = env.make_dir(tag, "dst-ours")
    dst_limit = env.make_dir(tag, "dst-limit")
    s1, sf = env.hosts["ssh1"], env.hosts["sftp"]
    tid = ctx.task(
        tag,
        {
            "type": "transfer",
            "source": {
                "hostname": s1.address,
                "directory": str(src),
                "fileRegex": r"^big\.bin$",
                "protocol": _sftp_proto(env, "ssh1"),
            },
            "destination": [
                {
                    "hostname": sf.address,
                    "directory": str(dst_ours),
                    "protocol": _sftp_proto(env, "sftp"),
                }
            ],
        },
    )

    def prep_ours() -> None:
        _clean(env, dst_ours)
        shutil.rmtree(ctx.staging, ignore_errors=True)
        ctx.staging.mkdir()
        ctx.wipe_logs(tag)

    ours = Case(
        ctx.task_run(tid),
        env=ctx.env_for(tag),
        cwd=ctx.root,
        prepare=prep_ours,
        verify=lambda s: data.verify(dst_ours / "big.bin"),
    )
    limit = Case(
        [
            "scp",
            "-3",
            *_ssh_opts(env),
            f"scp://{env.user}@{s1.address}:{s1.port}/{src}/big.bin",
            f"scp://{env.user}@{sf.address}:{sf.port}/{dst_limit}/big.bin",
        ],
        prepare=lambda: _clean(env, dst_limit),
        verify=lambda s: data.verify(dst_limit / "big.bin"),
    )
    return Workload(
        tag.replace("-big-", "-big "),
        ours,
        limit,
        throughput_target(0.8, max_rss_mb=100),
        payload_bytes=data.size,
    )


def ssh_big(ctx: Context, env: Any, data: DataFile) -> Workload:
    """ssh1 → ssh2 direct (scp runs on ssh1); limit: that scp by hand."""
    tag = f"ssh-big-{size_label(data.size)}"
    src = env.make_dir(tag, "src")
    data.place(src, "big.bin")
    dst_ours = env.make_dir(tag, "dst-ours")
    dst_limit = env.make_dir(tag, "dst-limit")
    s1, s2 = env.hosts["ssh1"], env.hosts["ssh2"]
    tid = ctx.task(
        tag,
        {
            "type": "transfer",
            "source": {
                "hostname": s1.address,
                "directory": str(src),
                "fileRegex": r"^big\.bin$",
                "protocol": env.protocol("ssh1"),
            },
            "destination": [
                {
                    "hostname": s2.address,
                    "directory": str(dst_ours),
                    "protocol": env.protocol("ssh2"),
                }
            ],
        },
    )

    def prep_ours() -> None:
        _clean(env, dst_ours)
        ctx.wipe_logs(tag)

    remote_scp = shlex.join(
        [
            "scp",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            f"{src}/big.bin",
            f"{env.user}@{s2.address}:{dst_limit}/",
        ]
    )
    ours = Case(
        ctx.task_run(tid),
        env=ctx.env_for(tag),
        cwd=ctx.root,
        prepare=prep_ours,
        verify=lambda s: data.verify(dst_ours / "big.bin"),
    )
    limit = Case(
        [
            "ssh",
            *_ssh_opts(env),
            "-p",
            str(s1.port),
            f"{env.user}@{s1.address}",
            remote_scp,
        ],
        prepare=lambda: _clean(env, dst_limit),
        verify=lambda s: data.verify(dst_limit / "big.bin"),
    )
    return Workload(
        tag.replace("-big-", "-big "),
        ours,
        limit,
        throughput_target(0.9),
        payload_bytes=data.size,
    )


def sftp_many(ctx: Context, env: Any, many: ManyFiles) -> Workload:
    """Many small files ssh1 → sftp host via SFTP; limit two ``sftp -b``."""
    # One set of directories and files per count: the 1,000-file row and the
    # scale row run in one suite and must not see each other's files.
    tag = f"sftp-many-{many.count}"
    src = env.make_dir(tag, "src")
    for name in many.names:
        (src / name).unlink(missing_ok=True)
    many.place(src)
    env.chown(src)
    dst_ours = env.make_dir(tag, "dst-ours")
    dst_limit = env.make_dir(tag, "dst-limit")
    local_stage = ctx.root / f"{tag}-limit-stage"
    s1, sf = env.hosts["ssh1"], env.hosts["sftp"]
    tid = ctx.task(
        tag,
        {
            "type": "transfer",
            "source": {
                "hostname": s1.address,
                "directory": str(src),
                "fileRegex": r"^small_\d+\.dat$",
                "protocol": _sftp_proto(env, "ssh1"),
            },
            "destination": [
                {
                    "hostname": sf.address,
                    "directory": str(dst_ours),
                    "protocol": _sftp_proto(env, "sftp"),
                }
            ],
        },
    )
    get_batch = ctx.root / f"{tag}-get.batch"
    get_batch.write_text(f"get {src}/small_* {local_stage}/\n")
    put_batch = ctx.root / f"{tag}-put.batch"
    put_batch.write_text(f"put {local_stage}/small_* {dst_limit}/\n")
    opts = shlex.join(_ssh_opts(env))
    script = (
        f"sftp {opts} -P {s1.port} -b {shlex.quote(str(get_batch))} "
        f"{env.user}@{s1.address} >/dev/null && "
        f"sftp {opts} -P {sf.port} -b {shlex.quote(str(put_batch))} "
        f"{env.user}@{sf.address} >/dev/null"
    )

    def prep_ours() -> None:
        _clean(env, dst_ours)
        shutil.rmtree(ctx.staging, ignore_errors=True)
        ctx.staging.mkdir()
        ctx.wipe_logs(tag)

    def prep_limit() -> None:
        _clean(env, dst_limit)
        shutil.rmtree(local_stage, ignore_errors=True)
        local_stage.mkdir()

    ours = Case(
        ctx.task_run(tid),
        env=ctx.env_for(tag),
        cwd=ctx.root,
        prepare=prep_ours,
        verify=lambda s: many.verify(dst_ours),
    )
    limit = Case(
        ["sh", "-c", script],
        prepare=prep_limit,
        verify=lambda s: many.verify(dst_limit),
    )
    # OpenSSH's own host-to-host copy of a directory: scp -3 -r creates the
    # destination directory, so it must not exist before each run.
    dst_scp = dst_limit.parent / "dst-scp3"

    def prep_scp() -> None:
        shutil.rmtree(dst_scp, ignore_errors=True)

    scp3 = Case(
        [
            "scp",
            "-3",
            "-r",
            *_ssh_opts(env),
            f"scp://{env.user}@{s1.address}:{s1.port}/{src}",
            f"scp://{env.user}@{sf.address}:{sf.port}/{dst_scp}",
        ],
        prepare=prep_scp,
        verify=lambda s: many.verify(dst_scp),
    )
    return Workload(
        f"sftp-many {many.count}x{many.size // 1024}KiB",
        ours,
        limit,
        _with_scp3_ratio(throughput_target(0.5)),
        payload_bytes=many.total_bytes,
        extras={"scp3": scp3},
    )


def _with_scp3_ratio(evaluate: Callable[[Workload], Verdict]) -> Callable:
    """Add ours ÷ ``scp -3 -r`` (same files, same hosts) to the verdict's note."""

    def judged(wl: Workload) -> Verdict:
        verdict = evaluate(wl)
        ours, scp3 = wl.stats("ours").median(), wl.stats("scp3").median()
        if ours and scp3:
            ratio = f"scp -3 -r {scp3:.3f} s, ours/scp {ours / scp3:.2f}x (<= 1.0x)"
            verdict.note = "; ".join(n for n in (verdict.note, ratio) if n)
        return verdict

    return judged


def exec_hosts(env: Any) -> list[str]:
    """Two host names reaching shell servers on ONE port.

    An SSH execution has one ``port`` for all its hosts. If ssh1 and ssh2
    listen on the same port they are used; otherwise
    ssh1 is reached twice, as ``127.0.0.1`` and ``localhost`` (two separate
    connections and sessions, which is what the workload measures).
    """
    s1, s2 = env.hosts["ssh1"], env.hosts["ssh2"]
    if s1.port == s2.port:
        return [s1.address, s2.address]
    return [s1.address, "localhost"]


def ssh_exec(ctx: Context, env: Any) -> Workload:
    """``true`` on two SSH hosts; limit two parallel ``ssh host true``."""
    tag = "ssh-exec"
    hosts = exec_hosts(env)
    port = env.hosts["ssh1"].port
    tid = ctx.task(
        tag,
        {
            "type": "execution",
            "hosts": hosts,
            "directory": str(env.home),
            "command": "true",
            "protocol": env.protocol("ssh1"),
        },
    )

    def verify(sample: Any) -> str | None:
        text = ctx.log_text(tag) + sample.stderr
        found = [h for h in hosts if f"[{h}] Execution returned True" in text]
        if len(found) != len(hosts):
            return f"'Execution returned True' logged for {found}, expected {hosts}"
        return None

    opts = shlex.join(_ssh_opts(env))
    one = [f"ssh {opts} -p {port} {env.user}@{h} true" for h in hosts]
    script = (
        f"{one[0]} & p1=$!; {one[1]} & p2=$!; "
        "wait $p1; r1=$?; wait $p2; r2=$?; [ $r1 = 0 ] && [ $r2 = 0 ]"
    )
    ours = Case(
        ctx.task_run(tid),
        env=ctx.env_for(tag),
        cwd=ctx.root,
        prepare=lambda: ctx.wipe_logs(tag),
        verify=verify,
    )
    limit = Case(["sh", "-c", script])
    return Workload(tag, ours, limit, time_ratio_target(1.5))


#: Steps of the ssh-batch row.
SSH_BATCH_STEPS = 10


def ssh_batch(ctx: Context, env: Any) -> Workload:
    """10 dependent ``true`` executions on one SSH host in one batch.

    Limit: 10 × ``ssh host true`` one after the other (a handshake each). The
    batch's steps share one connection, so each step costs a channel, not
    a handshake.
    """
    tag = "ssh-batch"
    s1 = env.hosts["ssh1"]
    step = ctx.task(
        "ssh-batch-true",
        {
            "type": "execution",
            "hosts": [s1.address],
            "directory": str(env.home),
            "command": "true",
            "protocol": env.protocol("ssh1"),
        },
    )
    chain = [
        {"order_id": i, "task_id": step, **({"dependencies": [i - 1]} if i > 1 else {})}
        for i in range(1, SSH_BATCH_STEPS + 1)
    ]
    one = shlex.join(
        ["ssh", *_ssh_opts(env), "-p", str(s1.port), f"{env.user}@{s1.address}", "true"]
    )
    limit = Case(
        ["sh", "-c", f"for i in $(seq {SSH_BATCH_STEPS}); do {one} || exit 1; done"]
    )
    return Workload(
        tag,
        batch_case(ctx, tag, chain),
        limit,
        with_per_unit_note(time_ratio_target(1.0), "step", SSH_BATCH_STEPS),
    )
