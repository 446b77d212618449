"""Real OpenSSH test servers on loopback, for tests and benchmarks.

Usage (pytest fixture or plain script)::

    from support.sshd import start_environment, stop_environment
    env = start_environment()        # raises SSHUnavailable with a reason
    try:
        env.hosts["ssh1"].port ...
    finally:
        stop_environment(env)

What it builds, without touching the invoking user's ``~/.ssh``:

* a private base directory (``/tmp/otf-sshd-XXXX``, mode 0755 so the test
  user can traverse it);
* when running as root, a dedicated unprivileged user ``otft<hex>`` whose
  home is inside the base directory, with a password, an RSA and an Ed25519
  client key (``~/.ssh/id_rsa`` is what host-to-host ``scp`` uses) and
  ``authorized_keys``; the user is deleted by :func:`stop_environment`.
  Without root the servers run as the current user and only that user can
  log in (``AuthorizedKeysFile`` points into the base directory); password
  authentication and host-to-host copies are then unavailable;
* three ``sshd -D -e`` servers, each with its own host key and port:
  ``ssh1`` (127.0.0.1) and ``ssh2`` (127.0.0.2) on the same port (an
  execution's ``hosts`` share one protocol port), and the SFTP-only ``sftp``
  (127.0.0.3, own port, ``ForceCommand internal-sftp``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


class SSHUnavailable(RuntimeError):
    """The test servers cannot be started here; the message is the reason."""


def _free_port(*addresses: str) -> int:
    """A port free on every address (ssh1/ssh2 share one, as executions need)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind((addresses[0], 0))
            port = int(sock.getsockname()[1])
        try:
            for address in addresses[1:]:
                with socket.socket() as other:
                    other.bind((address, port))
        except OSError:
            continue
        return port
    raise SSHUnavailable("no common free port found")


def _run(*args: str, input_text: str | None = None) -> str:
    result = subprocess.run(
        list(args), capture_output=True, text=True, input=input_text, check=False
    )
    if result.returncode != 0:
        raise SSHUnavailable(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _keygen(path: Path, key_type: str) -> None:
    extra = ["-b", "2048", "-m", "PEM"] if key_type == "rsa" else []
    _run(
        SSH_KEYGEN,
        "-q",
        "-t",
        key_type,
        *extra,
        "-N",
        "",
        "-C",
        "otf-test",
        "-f",
        str(path),
    )


@dataclass
class SSHHost:
    """One running ``sshd``."""

    name: str
    address: str
    port: int
    config: Path
    log: Path
    host_key: Path
    sftp_only: bool = False
    process: subprocess.Popen | None = None

    @property
    def host_key_line(self) -> str:
        """The known_hosts line for this server."""
        key_type, key_b64 = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"[{self.address}]:{self.port} {key_type} {key_b64}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config)],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SSHUnavailable(
                    f"sshd {self.name} exited: {self.log.read_text()[-2000:]}"
                )
            try:
                with socket.create_connection((self.address, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise SSHUnavailable(f"sshd {self.name} did not start listening")

    def log_offset(self) -> int:
        """The server log's current size (for :meth:`logins_since`)."""
        return self.log.stat().st_size

    def logins_since(self, offset: int) -> int:
        """Count the logins (SSH handshakes that authenticated) logged after ``offset``."""
        text = self.log.read_bytes()[offset:].decode(errors="replace")
        return text.count("Accepted publickey for ") + text.count(
            "Accepted password for "
        )

    def kill(self) -> None:
        """Kill the listener and every session process it forked."""
        if self.process is None:
            return
        # Per-connection processes call setsid(), so a group kill misses
        # them: kill the listener's whole tree by PID.
        try:
            import psutil

            children = psutil.Process(self.process.pid).children(recursive=True)
        except Exception:  # noqa: BLE001 - psutil missing or process gone
            children = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(Exception):
                child.kill()
        self.process.wait(timeout=10)
        self.process = None


@dataclass
class SSHTestEnv:
    """The user, keys and servers of one test session."""

    base: Path
    user: str
    home: Path
    uid: int
    gid: int
    password: str | None
    client_key: Path
    client_key_ed25519: Path
    created_user: bool
    hosts: dict[str, SSHHost] = field(default_factory=dict)

    @property
    def can_host_to_host(self) -> bool:
        """Whether remote hosts can scp to each other (needs the test user)."""
        return self.created_user

    def chown(self, path: Path | str) -> None:
        """Give ``path`` to the test user (no-op when not root)."""
        if self.created_user:
            os.chown(path, self.uid, self.gid)

    def make_dir(self, *parts: str) -> Path:
        """Create a directory below the test user's home, owned by the user."""
        path = self.home.joinpath(*parts)
        current = self.home
        for part in path.relative_to(self.home).parts:
            current = current / part
            if not current.exists():
                current.mkdir()
                self.chown(current)
        return path

    def write_file(self, path: Path | str, data: bytes | str = b"") -> Path:
        """Write a file owned by the test user."""
        path = Path(path)
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)
        self.chown(path)
        return path

    def protocol(self, host: str, **extra: object) -> dict:
        """A protocol object for ``host`` using the RSA client key."""
        server = self.hosts[host]
        proto: dict = {
            "name": "sftp" if server.sftp_only else "ssh",
            "port": server.port,
            "credentials": {"username": self.user, "keyFile": str(self.client_key)},
        }
        proto.update(extra)
        return proto


def _write_config(
    env: SSHTestEnv, host: SSHHost, authorized_keys: Path, subsystem: str = ""
) -> None:
    lines = [
        f"Port {host.port}",
        f"ListenAddress {host.address}",
        f"HostKey {host.host_key}",
        f"PidFile {env.base / (host.name + '.pid')}",
        f"AuthorizedKeysFile {authorized_keys}",
        "StrictModes no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        f"PasswordAuthentication {'yes' if env.password else 'no'}",
        "KbdInteractiveAuthentication no",
        f"AllowUsers {env.user}",
        f"Subsystem sftp {subsystem or 'internal-sftp'}",
        "LogLevel VERBOSE",
        "MaxStartups 200:30:400",
        "MaxSessions 200",
        "UseDNS no",
        "PermitRootLogin no",
    ]
    if host.sftp_only:
        lines.append("ForceCommand internal-sftp")
    host.config.write_text("\n".join(lines) + "\n")


def start_environment(base: Path | None = None) -> SSHTestEnv:
    """Create the user, keys and servers; raise :class:`SSHUnavailable` if impossible."""
    if not os.path.exists(SSHD):
        raise SSHUnavailable(f"{SSHD} not installed (apt-get install openssh-server)")
    if not os.path.exists(SSH_KEYGEN):
        raise SSHUnavailable("ssh-keygen not installed")
    base = Path(base or tempfile.mkdtemp(prefix="otf-sshd-"))
    base.chmod(0o755)
    is_root = os.geteuid() == 0
    if is_root:
        user = f"otft{secrets.token_hex(4)}"
        home = base / "home"
        _run("useradd", "-m", "-d", str(home), "-s", "/bin/sh", "-K", "UMASK=022", user)
        password: str | None = f"Pw-{secrets.token_hex(8)}"
        _run("chpasswd", input_text=f"{user}:{password}\n")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    else:
        user = pwd.getpwuid(os.geteuid()).pw_name
        home = base / "home"
        home.mkdir()
        password = None
    info = pwd.getpwnam(user)
    env = SSHTestEnv(
        base=base,
        user=user,
        home=home,
        uid=info.pw_uid,
        gid=info.pw_gid,
        password=password,
        client_key=base / "client_rsa",
        client_key_ed25519=base / "client_ed25519",
        created_user=is_root,
    )
    try:
        _keygen(env.client_key, "rsa")
        _keygen(env.client_key_ed25519, "ed25519")
        authorized = base / "authorized_keys"
        authorized.write_text(
            Path(f"{env.client_key}.pub").read_text()
            + Path(f"{env.client_key_ed25519}.pub").read_text()
        )
        if is_root:
            ssh_dir = env.make_dir(".ssh")
            ssh_dir.chmod(0o700)
            shutil.copy(env.client_key, ssh_dir / "id_rsa")
            shutil.copy(f"{env.client_key}.pub", ssh_dir / "id_rsa.pub")
            shutil.copy(authorized, ssh_dir / "authorized_keys")
            for name in ("id_rsa", "id_rsa.pub", "authorized_keys"):
                (ssh_dir / name).chmod(0o600)
                env.chown(ssh_dir / name)
        shared_port = _free_port("127.0.0.1", "127.0.0.2")
        for index, (name, sftp_only) in enumerate(
            (("ssh1", False), ("ssh2", False), ("sftp", True)), start=1
        ):
            address = f"127.0.0.{index}"
            host = SSHHost(
                name=name,
                address=address,
                port=_free_port(address) if sftp_only else shared_port,
                config=base / f"sshd_{name}.conf",
                log=base / f"sshd_{name}.log",
                host_key=base / f"host_{name}_ed25519",
                sftp_only=sftp_only,
            )
            _keygen(host.host_key, "ed25519")
            _write_config(env, host, authorized)
            host.start()
            env.hosts[name] = host
    except BaseException:
        stop_environment(env)
        raise
    return env


def stop_environment(env: SSHTestEnv) -> None:
    """Stop every server, remove the test user (if created) and the base dir."""
    for host in env.hosts.values():
        host.kill()
    if env.created_user:
        _kill_user_processes(env.uid)
        subprocess.run(["userdel", "-f", env.user], capture_output=True, check=False)
    shutil.rmtree(env.base, ignore_errors=True)


def _kill_user_processes(uid: int) -> None:
    """Kill leftover processes owned by the (dedicated) test user, by PID."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a test dependency
        return
    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real == uid:
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


if __name__ == "__main__":  # manual check: python tests/support/sshd.py
    environment = start_environment()
    try:
        for h in environment.hosts.values():
            print(h.name, h.address, h.port)
    finally:
        stop_environment(environment)


def start_extra_host(
    env: SSHTestEnv, name: str, address: str, subsystem: str
) -> SSHHost:
    """Start one more (non-SFTP-only) server whose SFTP subsystem is ``subsystem``.

    The host is added to ``env.hosts`` under ``name``; stop it with
    :func:`stop_extra_host`.
    """
    host = SSHHost(
        name=name,
        address=address,
        port=_free_port(address),
        config=env.base / f"sshd_{name}.conf",
        log=env.base / f"sshd_{name}.log",
        host_key=env.base / f"host_{name}_ed25519",
    )
    # A host of the same name started earlier in the session left its key.
    for stale in (host.host_key, Path(f"{host.host_key}.pub")):
        stale.unlink(missing_ok=True)
    _keygen(host.host_key, "ed25519")
    _write_config(env, host, env.base / "authorized_keys", subsystem)
    host.start()
    env.hosts[name] = host
    return host


def stop_extra_host(env: SSHTestEnv, name: str) -> None:
    """Stop a server started by :func:`start_extra_host`."""
    host = env.hosts.pop(name, None)
    if host is not None:
        host.kill()
