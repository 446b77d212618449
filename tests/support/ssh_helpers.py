"""Definition builders for the SSH/SFTP tests."""

from __future__ import annotations

from pathlib import Path

from support.sshd import SSHTestEnv


def remote_source(
    env: SSHTestEnv, host: str, directory: Path, regex: str, **extra: object
) -> dict:
    server = env.hosts[host]
    return {
        "hostname": server.address,
        "directory": str(directory),
        "fileRegex": regex,
        "protocol": env.protocol(host),
        **extra,
    }


def remote_dest(env: SSHTestEnv, host: str, directory: Path, **extra: object) -> dict:
    server = env.hosts[host]
    return {
        "hostname": server.address,
        "directory": str(directory),
        "protocol": env.protocol(host),
        **extra,
    }


def transfer_def(source: dict, *destinations: dict) -> dict:
    definition: dict = {"type": "transfer", "source": source}
    if destinations:
        definition["destination"] = list(destinations)
    return definition


def log_text(task_id: str) -> str:
    """All log text of a task (cwd is the per-test directory)."""
    return "".join(
        p.read_text() for p in sorted(Path("logs").rglob("*.log")) if task_id in str(p)
    )


def write_json(path: Path, data: object) -> Path:
    """Write ``data`` as JSON, creating parent directories."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path
