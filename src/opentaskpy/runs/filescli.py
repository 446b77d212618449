"""``otf-runs files`` and the files of ``otf-runs show``: the delivery ledger."""

from __future__ import annotations

import argparse
from typing import Any

from opentaskpy.runs import ledger, present


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``files`` command to the ``otf-runs`` sub-parsers."""
    files = sub.add_parser("files", help="files delivered (the ledger), newest first")
    files.add_argument("--task", help="only this task id")
    files.add_argument("--run", help="only this run (record id or run id)")
    files.add_argument(
        "--destination", help="only destinations whose host:directory contains this"
    )
    files.add_argument("--name", help="only source files whose name contains this")
    files.add_argument("--since", help="age (30m, 12h, 7d) or date (YYYY-MM-DD)")
    files.add_argument("--outcome", choices=["delivered", "failed", "skipped"])
    files.add_argument("--limit", type=int, default=100, help="most rows (100)")
    return files


def file_json(row: dict[str, Any]) -> dict[str, Any]:
    """One ledger row as the documented JSON object."""
    verified = row.get("verified")
    return {
        "record_id": row["record_id"],
        "run_id": row.get("run_id"),
        "task_id": row["task_id"],
        "source_host": row.get("source_host"),
        "source_path": row["source_path"],
        "size": row.get("source_size"),
        "mtime": present.iso(row.get("source_mtime")),
        "sha256": row.get("sha256"),
        "destination": row.get("dest_index"),
        "dest_host": row.get("dest_host"),
        "dest_dir": row.get("dest_dir"),
        "dest_path": row.get("dest_path"),
        "mechanism": row.get("mechanism"),
        "bytes": row.get("bytes"),
        "started": present.iso(row.get("started_at")),
        "ended": present.iso(row.get("ended_at")),
        "outcome": row["outcome"],
        "verified": None if verified is None else bool(verified),
        "dest_sha256": row.get("dest_sha256"),
        "reason": row.get("reason"),
    }


def files_table(records: list[dict[str, Any]]) -> str:
    """Lay out ledger rows as a table sized to the terminal."""
    headers = ["FILE", "DESTINATION", "OUTCOME", "BYTES", "SHA256", "ENDED"]
    rows = [
        [
            rec["source_path"],
            rec["dest_path"] or f"{rec['dest_host']}:{rec['dest_dir']}",
            rec["outcome"] + (" (verified)" if rec["verified"] else ""),
            "-" if rec["bytes"] is None else str(rec["bytes"]),
            (rec["sha256"] or "-")[:16],
            present.local_time(_epoch(rec["ended"])),
        ]
        for rec in records
    ]
    return present.table(headers, rows, "FILE") if rows else "no files"


def _epoch(text: str | None) -> float | None:
    if text is None:
        return None
    import calendar
    import time

    return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))


def run_files(store: Any, record_id: str) -> list[dict[str, Any]]:
    """Return the ledger rows of one run and its batch steps (JSON objects)."""
    rows = ledger.files(
        store, ["(record_id = ? OR record_id LIKE ?)"], [record_id, f"{record_id}.%"]
    )
    rows.sort(key=lambda r: (r["started_at"], r["dest_index"] or 0))
    return [file_json(r) for r in rows]


def files_command(store: Any, args: argparse.Namespace, since: Any, find: Any) -> Any:
    """Select the rows ``otf-runs files`` shows (``since``/``find`` from cli)."""
    where: list[str] = []
    params: list[Any] = []
    if args.task:
        where.append("task_id = ?")
        params.append(args.task)
    if args.run:
        record_id = find(store, args.run)["id"]
        where.append("(record_id = ? OR record_id LIKE ?)")
        params += [record_id, f"{record_id}.%"]
    if args.destination:
        where.append("(dest_host || ':' || dest_dir) LIKE ?")
        params.append(f"%{args.destination}%")
    if args.name:
        where.append("source_path LIKE ?")
        params.append(f"%{args.name}%")
    if args.outcome:
        where.append("outcome = ?")
        params.append(args.outcome)
    if args.since:
        where.append("started_at >= ?")
        params.append(since(args.since))
    records = [file_json(r) for r in ledger.files(store, where, params, args.limit)]
    return records, files_table(records)
