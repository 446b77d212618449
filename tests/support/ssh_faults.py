"""Faults made on the real test hosts: frozen servers, full disks, processes.

* :class:`HostFreezer` stops (SIGSTOP) every ``sshd`` process of one test
  host, from a watcher thread once a condition holds, and continues them
  again (SIGCONT) in :meth:`HostFreezer.thaw`, which tests call in a
  ``finally``;
* :func:`small_tmpfs` mounts a small tmpfs owned by the test user (root
  only) and unmounts it afterwards;
* :func:`user_processes` lists the test user's processes (command lines);
* :func:`silent_server` is a loopback port that accepts connections and
  never answers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

from support.sshd import SSHHost, SSHTestEnv


class HostFreezer:
    """Freeze one host's sshd processes when a condition becomes true."""

    def __init__(self, host: SSHHost):
        """Prepare; nothing is frozen yet."""
        self.host = host
        self.frozen: list[psutil.Process] = []
        self.froze = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def freeze(self) -> None:
        """SIGSTOP the listener and every sshd process below it."""
        assert self.host.process is not None
        listener = psutil.Process(self.host.process.pid)
        processes = [listener, *listener.children(recursive=True)]
        for proc in processes:
            with contextlib.suppress(psutil.Error):
                if "sshd" in proc.name():
                    proc.suspend()
                    self.frozen.append(proc)
        self.froze.set()

    def freeze_when(self, condition: Callable[[], bool], limit: float = 120) -> None:
        """Start a thread that freezes the host once ``condition()`` is true."""

        def watch() -> None:
            deadline = time.monotonic() + limit
            while not self._stop.is_set() and time.monotonic() < deadline:
                if condition():
                    self.freeze()
                    return
                time.sleep(0.01)

        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()

    def thaw(self) -> None:
        """Stop watching and SIGCONT everything frozen (call in ``finally``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for proc in self.frozen:
            with contextlib.suppress(psutil.Error):
                proc.resume()
        self.frozen.clear()


def largest_file_below(*directories: Path) -> int:
    """Size of the largest file anywhere below ``directories`` (0 if none)."""
    largest = 0
    for directory in directories:
        for root, _, names in os.walk(directory):
            for name in names:
                with contextlib.suppress(OSError):
                    largest = max(largest, os.lstat(os.path.join(root, name)).st_size)
    return largest


def files_below(directory: Path) -> list[str]:
    """Every entry below ``directory`` (relative paths, hidden ones included)."""
    found = []
    for root, dirnames, names in os.walk(directory):
        for name in dirnames + names:
            found.append(os.path.relpath(os.path.join(root, name), directory))
    return sorted(found)


def user_processes(uid: int) -> list[str]:
    """Command lines of the processes of ``uid``."""
    lines = []
    for proc in psutil.process_iter(["uids", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["uids"] and proc.info["uids"].real == uid:
                lines.append(" ".join(proc.info["cmdline"] or []))
    return lines


@contextlib.contextmanager
def small_tmpfs(env: SSHTestEnv, path: Path, size: str = "4m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``path``, owned by the test user."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0755,uid={env.uid},gid={env.gid}"
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A loopback port that accepts connections and never says anything.

    Yields the port and the list of connections accepted so far.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], held
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
