"""Helpers for the delivery-ledger tests: ledger rows, file states, hashes."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from support.helpers import local_dest, local_transfer, write_json


def ledger_rows(db: Path, **where: Any) -> list[dict[str, Any]]:
    """The ledger rows of an SQLite run store (optionally filtered), oldest first."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        sql = "SELECT * FROM otf_files"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
        rows = conn.execute(sql + " ORDER BY started_at, rowid", tuple(where.values()))
        return [dict(r) for r in rows]
    finally:
        conn.close()


def sha256_of(path: Path) -> str:
    """The sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_states(directory: Path) -> dict[str, tuple[int, int]]:
    """``name -> (inode, mtime_ns)`` of every entry (hidden ones too)."""
    return {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(directory.iterdir())
    }


def make_files(directory: Path, count: int, size: int, owner: Any = None) -> dict:
    """Write ``f0.dat`` .. with distinct content; return ``name -> sha256``."""
    hashes = {}
    for i in range(count):
        data = hashlib.sha256(str(i).encode()).digest() * (size // 32 + 1)
        path = directory / f"f{i}.dat"
        path.write_bytes(data[:size])
        if owner is not None:
            owner(path)
        hashes[path.name] = sha256_of(path)
    return hashes


def listing(directory: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every file under ``directory`` (hidden too).

    Directories themselves are not listed: an empty receiving directory that
    a killed run left is removed by the next delivery to that destination.
    """
    return {
        str(p.relative_to(directory)): sha256_of(p)
        for p in sorted(directory.rglob("*"))
        if not p.is_dir()
    }


def missing_second_destination(
    cfg: Path, base: Path, task: str, count: int, size: int, **first: Any
) -> tuple[Path, Path, dict]:
    """Write transfer ``task``: ``count`` files from ``base/src`` to two dirs.

    ``base/d1`` (with the spec fields ``first``) exists; ``base/d2`` does not,
    so a run fails there until the test creates it. Returns d1, d2 and the
    files' ``name -> sha256``.
    """
    src, d1, d2 = base / "src", base / "d1", base / "d2"
    src.mkdir()
    d1.mkdir()
    hashes = make_files(src, count, size)
    write_json(
        cfg / f"{task}.json",
        local_transfer(src, r"f\d\.dat", local_dest(d1, **first), d2),
    )
    return d1, d2, hashes
