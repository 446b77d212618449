#!/usr/bin/env python3
"""Where the time of one ``task-run`` goes: a timestamped timeline.

Usage (the parent records the launch time, the child reports against it)::

    .venv/bin/python benchmarks/ssh_timeline.py -- -t TASK -c CFG_DIR
    .venv/bin/python benchmarks/ssh_timeline.py --ssh-exec 3   # the ssh-exec row
    .venv/bin/python benchmarks/ssh_timeline.py --ssh-batch 1  # the ssh-batch row

runs ``task-run`` in a child interpreter whose milestones are printed in
milliseconds since the launch: interpreter up, CLI imported, then every
paramiko DEBUG record (key exchange, new keys, authentication, channel
open/exec/EOF/close, with the thread that logged it), the end, and the
process's CPU time (user + system; close to the wall time means the
run was CPU-bound, and on a busy machine serialised on the interpreter
lock). A diagnostic tool for the ssh-exec row; it changes nothing in how
the task runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

_ENV = "OTF_TIMELINE_T0"


def _child(argv: list[str]) -> None:
    t0 = float(os.environ[_ENV])
    marks: list[tuple[float, str, str]] = []

    def mark(what: str, thread: str = "main") -> None:
        marks.append(((time.time() - t0) * 1000, thread, what))

    mark("interpreter up")
    import threading

    watched = {"paramiko", "cryptography", "nacl", "jsonschema", "jinja2", "psutil"}

    def audit(event: str, args: tuple) -> None:
        # Runtime milestones logging does not show: heavy imports, TCP connects.
        if event == "import" and args[0].split(".")[0] in watched:
            watched.discard(args[0].split(".")[0])
            mark(f"import {args[0]} starts", threading.current_thread().name)
        elif event == "socket.connect":
            mark(f"TCP connect {args[1]}", threading.current_thread().name)

    sys.addaudithook(audit)
    import logging

    from opentaskpy.cli import task_run

    mark("opentaskpy.cli.task_run imported")

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage().splitlines()[0][:90]
            marks.append(((record.created - t0) * 1000, record.threadName, text))

    paramiko_log = logging.getLogger("paramiko")
    paramiko_log.setLevel(logging.DEBUG)
    paramiko_log.addHandler(Recorder())
    # Our own INFO records (task start, host keys, results) at their level.
    logging.getLogger("opentaskpy").addHandler(Recorder())
    sys.argv = ["task-run", *argv]
    code = 0
    try:
        task_run.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    mark(f"task-run returned {code}")
    cpu = os.times()
    for ms, thread, what in sorted(marks):
        print(f"{ms:8.1f} ms  {thread[:22]:22}  {what}")
    print(f"CPU user {cpu.user * 1000:.0f} ms, system {cpu.system * 1000:.0f} ms")


def timeline(args: list[str], env: dict[str, str] | None = None) -> int:
    """Run ``task-run ARGS`` in a child that prints its timeline."""
    env = dict(env or os.environ, **{_ENV: repr(time.time())})
    # The task's own stderr logging (with paramiko's DEBUG) is not wanted.
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    return proc.returncode


def ssh_exec_timelines(reps: int, row: str = "ssh-exec") -> int:
    """Start the benchmark's sshd hosts, then time the ``row``'s task.

    ``row`` is ``ssh-exec`` or ``ssh-batch``. Each repetition prints our
    timeline, then the wall time of the row's limit (for ssh-exec two
    ``ssh host true`` in parallel) measured right after it.
    """
    import shutil
    import tempfile
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here), str(here.parent / "tests")]
    from benchlib.context import Context
    from benchlib.measure import run_measured
    from benchlib.remote import ensure_host_aliases, ssh_batch, ssh_exec
    from run import MODES

    from support.sshd import start_environment, stop_environment

    root = Path(tempfile.mkdtemp(prefix="otf-timeline-"))
    root.chmod(0o755)
    (root / "sshd").mkdir()
    env = start_environment(root / "sshd")
    try:
        ensure_host_aliases(env)
        ctx = Context(root, root / "cache", MODES["smoke"])
        wl = (ssh_batch if row == "ssh-batch" else ssh_exec)(ctx, env)
        ours = wl.ours
        flags = ours.argv[ours.argv.index("-t") :]
        run_measured(ours.argv, env=ours.env)  # warm-up: validation cache, TOFU
        worst = 0
        for rep in range(1, reps + 1):
            print(f"--- run {rep}: ours")
            worst = max(worst, timeline(flags, ours.env))
            limit = run_measured(wl.limit.argv, env=wl.limit.env)
            print(f"--- run {rep}: limit {limit.wall * 1000:.1f} ms")
        return worst
    finally:
        stop_environment(env)
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    """``--child ARGS`` (internal), ``--ssh-exec [N]``, ``--ssh-batch [N]`` or
    ``-- ARGS``."""
    args = sys.argv[1:]
    if args and args[0] == "--child":
        _child(args[1:])
        return 0
    if args and args[0] in ("--ssh-exec", "--ssh-batch"):
        reps = int(args[1]) if len(args) > 1 else 3
        return ssh_exec_timelines(reps, args[0][2:])
    if args and args[0] == "--":
        args = args[1:]
    return timeline(args)


if __name__ == "__main__":
    sys.exit(main())
