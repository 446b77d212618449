"""A real PostgreSQL server for the tests, started from Debian's binaries.

Usage (the ``pg_server`` session fixture in tests/runs/conftest.py wraps
it)::

    server = start_server()          # raises PostgresUnavailable with a reason
    try:
        url = server.create_database()
    finally:
        stop_server(server)

``initdb`` runs in a private temporary directory as an unprivileged user: a
dedicated ``otfpg<hex>`` user when the tests run as root (PostgreSQL refuses
to run as root; the user is deleted again by :func:`stop_server`), else the
current user. The server listens only on a unix socket inside that
directory (no TCP port at all), with ``trust`` authentication for its one
superuser ``otf``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "otf"


class PostgresUnavailable(RuntimeError):
    """The test server cannot be started here; the message is the reason."""


def find_bin_dir() -> Path:
    """Return the newest ``/usr/lib/postgresql/<version>/bin`` with initdb."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name.split(".")[0]),
    )
    if not found:
        raise PostgresUnavailable(
            "initdb not found under /usr/lib/postgresql (apt-get install postgresql)"
        )
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    """One running test server."""

    base: Path
    bin_dir: Path
    user: str | None  # the dedicated user, when created

    @property
    def data(self) -> Path:
        """The data directory."""
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        """The directory holding the unix socket."""
        return self.base

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL for ``database`` over the unix socket."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def create_database(self) -> str:
        """Create a fresh database and return its URL."""
        import psycopg

        name = f"t{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _as_user(user: str | None, *args: str) -> list[str]:
    return ["runuser", "-u", user, "--", *args] if user else list(args)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PostgresUnavailable(
            f"{' '.join(command)} failed: {(result.stderr or result.stdout).strip()}"
        )


def start_server() -> PostgresServer:
    """Create a cluster in a temporary directory and start its server."""
    bin_dir = find_bin_dir()
    try:
        import psycopg  # noqa: F401 - the tests talk to it with psycopg
    except ImportError:
        raise PostgresUnavailable(
            "psycopg not installed (pip install psycopg)"
        ) from None
    base = Path(tempfile.mkdtemp(prefix="otf-pg-"))
    user = None
    if os.geteuid() == 0:
        user = f"otfpg{secrets.token_hex(3)}"
        _run(["useradd", "-M", "-d", str(base), "-s", "/bin/sh", user])
        shutil.chown(base, user)
    server = PostgresServer(base, bin_dir, user)
    try:
        os.chmod(base, 0o755)  # the socket must be reachable by root's tests
        _run(
            _as_user(
                user,
                str(bin_dir / "initdb"),
                "-D",
                str(server.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            )
        )
        options = f"-k {base} -c listen_addresses='' -F -c max_connections=200"
        _run(
            _as_user(
                user,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(server.data),
                "-l",
                str(base / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            )
        )
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: PostgresServer) -> None:
    """Stop the server (immediately), remove its files and its user."""
    if (server.data / "postmaster.pid").exists():
        subprocess.run(
            _as_user(
                server.user,
                str(server.bin_dir / "pg_ctl"),
                "-D",
                str(server.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ),
            capture_output=True,
            check=False,
        )
    shutil.rmtree(server.base, ignore_errors=True)
    if server.user:
        with contextlib.suppress(OSError):
            subprocess.run(["userdel", "-f", server.user], capture_output=True)
