"""``otf-runs``: look at and control recorded runs.

Commands: ``status``, ``history``, ``show RUN``, ``files``, ``kill RUN``,
``prune --older-than AGE``. Every command takes ``--json``. RUN is a record
id or a run id (the newest run with that id). Errors are one line on stderr
and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from typing import Any

from opentaskpy.runs import RunsError, filescli, present, settings
from opentaskpy.runs.schema import RUNNING
from opentaskpy.runs.status import is_alive, live_status

PROG = "otf-runs"
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Recorded task runs: what ran, what is running, stop one.",
        epilog=(
            "The store is chosen by OTF_RUNS_DB (an SQLite file, a postgresql:// "
            "URL, or off; see docs/runs.md). OTF_RUNS_HOST and OTF_RUNS_HEARTBEAT "
            "must match the task-run side's to tell live runs from dead ones."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="runs that are running now")
    status.add_argument("--task", help="only this task id")
    history = sub.add_parser("history", help="past and present runs, newest first")
    history.add_argument("--task", help="only this task id")
    history.add_argument("--since", help="age (30m, 12h, 7d) or date (YYYY-MM-DD)")
    history.add_argument("--outcome", choices=["success", "failed", "killed", RUNNING])
    history.add_argument("--host", help="only runs recorded on this host")
    history.add_argument("--limit", type=int, default=20, help="most rows (20)")
    history.add_argument("--steps", action="store_true", help="include batch steps")
    show = sub.add_parser("show", help="one run with its steps")
    show.add_argument("run", help="record id or run id")
    kill = sub.add_parser("kill", help="stop a running run")
    kill.add_argument("run", help="record id or run id")
    kill.add_argument(
        "--wait", type=float, default=0, help="seconds to wait for it to end"
    )
    prune = sub.add_parser("prune", help="delete old finished runs")
    prune.add_argument("--older-than", required=True, help="age: 30d, 12h, 90m")
    files = filescli.add_parser(sub)
    for command in (status, history, show, files, kill, prune):
        command.add_argument("--json", action="store_true", help="JSON output")
    return parser


def age_seconds(text: str) -> float:
    """Parse an age such as ``30m``, ``12h`` or ``7d``."""
    match = _AGE.match(text.strip())
    if not match:
        raise RunsError(f"age {text!r}: expected a number and s, m, h, d or w")
    return float(match.group(1)) * _UNITS[match.group(2)]


def since_epoch(text: str) -> float:
    """``--since``: an age before now, or a local date/time."""
    if _AGE.match(text.strip()):
        return time.time() - age_seconds(text)
    layouts = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
    for layout in layouts:
        try:
            return time.mktime(time.strptime(text.strip(), layout))
        except ValueError:
            continue
    raise RunsError(
        f"--since {text!r}: expected an age (12h, 7d) or YYYY-MM-DD[ HH:MM]"
    )


def main(argv: list[str] | None = None) -> None:
    """Run one ``otf-runs`` command; exit 1 with one line on any error."""
    args = _parser().parse_args(argv)
    try:
        settings.check()
        where = settings.target()
        if where is None:
            raise RunsError("run records are off (OTF_RUNS_DB=off)")
        from opentaskpy.runs.engines import open_store

        store = open_store(where)
        try:
            code = _COMMANDS[args.command](store, args)
        finally:
            store.close()
    except RunsError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        sys.exit(1)
    sys.exit(code)


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2))
    elif text:
        print(text)


def _run_table(records: list[dict[str, Any]], with_outcome: bool) -> str:
    headers = ["TASK", "RUN ID", "HOST", "PID", "STATUS", "STARTED", "DURATION"]
    headers.append("ERROR" if with_outcome else "PROGRESS")
    rows = []
    for rec in records:
        extra = (
            (rec["reason"] or "-")
            if with_outcome
            else present.progress_text(rec["progress"])
        )
        rows.append(
            [
                rec["task_id"] + (f" #{rec['order_id']}" if rec["order_id"] else ""),
                rec["run_id"],
                rec["host"],
                str(rec["pid"]),
                rec["status"],
                present.local_time(_epoch(rec["started"])),
                present.duration_text(rec["duration"]),
                extra,
            ]
        )
    return present.table(headers, rows, headers[-1]) if rows else "no runs"


def _epoch(iso_text: str | None) -> float | None:
    if iso_text is None:
        return None
    import calendar

    return float(calendar.timegm(time.strptime(iso_text, "%Y-%m-%dT%H:%M:%SZ")))


def _status(store: Any, args: argparse.Namespace) -> int:
    where = ["outcome = ?", "parent_id IS NULL"]
    params: list[Any] = [RUNNING]
    if args.task:
        where.append("task_id = ?")
        params.append(args.task)
    records = [present.as_json(r) for r in store.runs(where, params)]
    _emit(args, records, _run_table(records, with_outcome=False))
    return 0


def _history(store: Any, args: argparse.Namespace) -> int:
    where: list[str] = [] if args.steps else ["parent_id IS NULL"]
    params: list[Any] = []
    for column, value in (
        ("task_id", args.task),
        ("outcome", args.outcome),
        ("host", args.host),
    ):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if args.since:
        where.append("started_at >= ?")
        params.append(since_epoch(args.since))
    records = [present.as_json(r) for r in store.runs(where, params, args.limit)]
    _emit(args, records, _run_table(records, with_outcome=True))
    return 0


def _find(store: Any, ref: str) -> dict[str, Any]:
    row = store.find(ref)
    if row is None:
        raise RunsError(f"no run with id {ref!r}")
    return dict(row)


def _show(store: Any, args: argparse.Namespace) -> int:
    row = _find(store, args.run)
    record = present.as_json(row)
    record["steps"] = [present.as_json(s) for s in store.steps(row["id"])]
    record["files"] = filescli.run_files(store, row["id"])
    lines = [
        f"{k}: {v}"
        for k, v in record.items()
        if k not in ("steps", "progress", "files") and v is not None
    ]
    lines.append(f"progress: {present.progress_text(record['progress'])}")
    if record["steps"]:
        lines.append("")
        lines.append(_steps_table(record["steps"]))
    if record["files"]:
        lines.append("")
        lines.append(_show_files(record["files"]))
    _emit(args, record, "\n".join(lines))
    return 0


def _show_files(files: list[dict[str, Any]]) -> str:
    """Each file x destination of a run with its full sha256."""
    headers = ["FILE", "DESTINATION", "OUTCOME", "SHA256"]
    rows = [
        [
            f["source_path"].rsplit("/", 1)[-1],
            f["dest_path"] or f"{f['dest_host']}:{f['dest_dir']}",
            f["outcome"] + (" (verified)" if f["verified"] else ""),
            f["sha256"] or "-",
        ]
        for f in files
    ]
    return present.table(headers, rows, "FILE")


def _files(store: Any, args: argparse.Namespace) -> int:
    records, text = filescli.files_command(store, args, since_epoch, _find)
    _emit(args, records, text)
    return 0


def _steps_table(steps: list[dict[str, Any]]) -> str:
    headers = ["STEP", "TASK", "STATUS", "DURATION", "ERROR"]
    rows = [
        [
            step["id"].split(".", 1)[-1],
            step["task_id"],
            step["status"],
            present.duration_text(step["duration"]),
            step["reason"] or "-",
        ]
        for step in steps
    ]
    return present.table(headers, rows, "ERROR")


def _kill(store: Any, args: argparse.Namespace) -> int:
    row = _find(store, args.run)
    if row["root_id"] != row["id"]:  # a batch step: stop its whole task-run
        row = _find(store, row["root_id"])
    if row["outcome"] != RUNNING:
        raise RunsError(f"run {row['id']} already ended ({row['outcome']})")
    if not is_alive(row):
        raise RunsError(f"run {row['id']} is dead: its process is gone")
    here = settings.host()
    by = f"{os.environ.get('USER') or 'otf-runs'}@{here}"
    store.request_kill(row["id"], time.time(), by)
    how = "kill requested (honoured within 2 s)"
    if row["host"] == here:
        try:
            os.kill(int(row["pid"]), signal.SIGTERM)
            how = f"SIGTERM sent to pid {row['pid']}"
        except ProcessLookupError:
            raise RunsError(f"run {row['id']} is dead: its process is gone") from None
        except PermissionError:
            pass  # another user's process: the stored request stops it
    final = _wait_end(store, row["id"], args.wait) if args.wait else None
    result = {"id": row["id"], "run_id": row["run_id"], "action": how}
    if final is not None:
        result["outcome"] = final
    _emit(args, result, f"{row['id']}: {how}" + (f"; ended: {final}" if final else ""))
    return 0 if final in (None, "killed", "failed", "success") else 1


def _wait_end(store: Any, record_id: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        row = store.find(record_id)
        status = live_status(row) if row else "dead"
        if row is None or row["outcome"] != RUNNING or status == "dead":
            return str(row["outcome"] if row and row["outcome"] != RUNNING else status)
        if time.monotonic() >= deadline:
            return "still running"
        time.sleep(0.2)


def _prune(store: Any, args: argparse.Namespace) -> int:
    count = store.prune(time.time() - age_seconds(args.older_than))
    _emit(args, {"deleted": count}, f"deleted {count} run(s)")
    return 0


_COMMANDS = {
    "status": _status,
    "history": _history,
    "show": _show,
    "files": _files,
    "kill": _kill,
    "prune": _prune,
}


def console_main() -> None:
    """Console-script entry point."""
    try:
        try:
            main()
        finally:
            sys.stdout.flush()
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (``otf-runs history | head``): stop quietly,
        # as other command-line tools do, with the SIGPIPE status.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(128 + signal.SIGPIPE)


if __name__ == "__main__":
    console_main()
