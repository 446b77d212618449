"""Builders for the hardening tests of source listings (odd names, links, regexes).

A test names an end by kind: ``local`` (a directory on the worker) or one of
the test servers (``ssh1``, ``ssh2``, ``sftp``, see :mod:`support.sshd`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from support.helpers import write_json
from support.ssh_helpers import remote_dest, remote_source
from support.sshd import SSHTestEnv


def source_end(env: SSHTestEnv, kind: str, directory: Path, regex: str, **extra):
    """A transfer source of ``kind`` reading ``directory``."""
    if kind == "local":
        return {
            "directory": str(directory),
            "fileRegex": regex,
            "protocol": {"name": "local"},
            **extra,
        }
    return remote_source(env, kind, directory, regex, **extra)


def destination_end(env: SSHTestEnv, kind: str, directory: Path, **extra) -> dict:
    """A transfer destination of ``kind`` writing into ``directory``."""
    if kind == "local":
        return {"directory": str(directory), "protocol": {"name": "local"}, **extra}
    return remote_dest(env, kind, directory, **extra)


def run_task(
    task_run: Callable[..., subprocess.CompletedProcess],
    cfg_dir: Path,
    env: dict,
    task_id: str,
    definition: dict,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Write ``definition`` as transfer ``task_id`` and run it with ``task-run``."""
    write_json(cfg_dir / "transfers" / f"{task_id}.json", definition)
    return task_run("-t", task_id, "-c", cfg_dir, env=env, timeout=timeout)


def byte_names(directory: Path) -> dict[bytes, bytes]:
    """``{name: content}`` of the files in ``directory``, names as bytes."""
    raw = os.fsencode(directory)
    return {
        name: Path(os.fsdecode(os.path.join(raw, name))).read_bytes()
        for name in os.listdir(raw)
    }


def last_line(text: str) -> str:
    """The last non-empty line of ``text`` (what a user sees last on stderr)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
