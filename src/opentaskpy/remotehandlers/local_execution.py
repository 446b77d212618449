"""Run an execution's command on the worker itself (``protocol.name = "local"``).

The command runs through ``/bin/sh`` in its own session (process group), so a
batch timeout can stop the whole tree: ``kill()`` signals every descendant
found with ``ps -ef`` and the process group, first with SIGTERM and then, if
anything survives a short grace period, with SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import select
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

from opentaskpy.otflogging import init_logging
from opentaskpy.progress import PROGRESS
from opentaskpy.remotehandlers.process_tree import PS_REGEX, kill_command, kill_targets
from opentaskpy.remotehandlers.remotehandler import RemoteExecutionHandler

#: Seconds between SIGTERM and SIGKILL when stopping a command.
KILL_GRACE_SECONDS = 3.0

HOST_LABEL = "LOCALHOST"


def _pid_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class LocalExecution(RemoteExecutionHandler):
    """Runs ``spec["command"]`` in ``spec["directory"]`` on the worker."""

    TASK_TYPE = "E"
    runs_per_host = True
    ps_regex = PS_REGEX

    def __init__(self, spec: dict):
        """Prepare the handler; nothing is started until ``execute()``.

        Args:
            spec: the execution definition with ``task_id`` added.
        """
        self.remote_host = "LOCAL"
        self.random = random.randint(100000, 999999)
        self.remote_pid: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._killed = False
        self._reading = False
        self.logger = init_logging(
            "opentaskpy.remotehandlers.local", spec.get("task_id"), self.TASK_TYPE
        )
        super().__init__(spec)

    def _command_line(self) -> str:
        directory = shlex.quote(str(self.spec["directory"]))
        return (
            f"echo __OTF_TOKEN__$$_{self.random}__; "
            f"cd {directory} && {self.spec['command']}"
        )

    def execute(self) -> bool:
        """Run the command, streaming its output into the task log.

        Returns:
            ``True`` when the command exits with status 0.
        """
        token = re.compile(rf"__OTF_TOKEN__(\d+)_{self.random}__")
        try:
            with self._lock:
                if self._killed:
                    self.logger.error(f"[{HOST_LABEL}] Execution killed before start")
                    return False
                self.process = subprocess.Popen(  # noqa: S602 - shell is the contract
                    self._command_line(),
                    shell=True,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                self._reading = True
            for raw in self._output_lines(self.process):
                line = raw.decode("utf-8", errors="replace").rstrip("\r")
                match = token.search(line) if self.remote_pid is None else None
                if match:
                    self.remote_pid = int(match.group(1))
                    self.logger.info(
                        f"[{HOST_LABEL}] Found remote PID: {self.remote_pid}"
                    )
                    continue
                self.logger.info(f"[{HOST_LABEL}] REMOTE OUTPUT: {line}")
                PROGRESS.output_line()
            return_code = self.process.wait()
        except Exception as exc:  # noqa: BLE001 - any failure is a failed execution
            self.logger.error(f"[{HOST_LABEL}] Exception caught: {exc}")
            return False
        finally:
            self._reading = False
        if self._killed:
            self.logger.error(
                f"[{HOST_LABEL}] Command was killed (return code {return_code})"
            )
            return False
        if return_code != 0:
            self.logger.error(
                f"[{HOST_LABEL}] Got return code {return_code} from command"
            )
            return False
        return True

    def _output_lines(self, process: subprocess.Popen[bytes]) -> Iterator[bytes]:
        """Yield output lines until EOF, or until killed and the shell is gone.

        A process that left the tree entirely (double fork into a new
        session) can keep the pipe open forever; after a kill, waiting for
        its EOF would keep the batch step running past its timeout.
        """
        assert process.stdout is not None
        fd = process.stdout.fileno()
        pending = b""
        while True:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                yield from lines
            elif self._killed and process.poll() is not None:
                break
        if pending:
            yield pending

    def kill(self) -> None:
        """Stop the running command and every process it started.

        Safe to call from another thread, before, during or after
        ``execute()``; once called, ``execute()`` returns ``False``.
        """
        with self._lock:
            self._killed = True
            process = self.process
        if process is None or (process.poll() is not None and not self._reading):
            self.logger.info(f"[{HOST_LABEL}] No running process to kill")
            return
        pid = self.remote_pid or process.pid
        self.logger.info(f"[{HOST_LABEL}] Killing remote process with PID {pid}")
        targets = self._signal_tree(process, pid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        while time.monotonic() < deadline and self._alive(process, targets):
            time.sleep(0.05)
        if self._alive(process, targets):
            self.logger.info(f"[{HOST_LABEL}] Processes still running, sending SIGKILL")
            self._signal_tree(process, pid, signal.SIGKILL)
        else:
            # Group members started after the process listing.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        try:
            process.wait(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.logger.error(f"[{HOST_LABEL}] Process {pid} did not exit after kill")

    def _signal_tree(
        self, process: subprocess.Popen[bytes], pid: int, sig: signal.Signals
    ) -> list[int]:
        # Descendants that moved to another process group (setsid, daemons)
        # are only reachable through the ps walk; the group kill catches
        # anything that appeared after ps ran.
        targets = kill_targets(self._list_processes(), pid)
        if process.pid not in targets:
            targets.append(process.pid)
        command = kill_command(targets)
        if command is None:
            self.logger.error(f"[{HOST_LABEL}] Refusing to run kill for PIDs {targets}")
        else:
            name = "SIGKILL" if sig == signal.SIGKILL else "SIGTERM"
            self.logger.info(f"[{HOST_LABEL}] Running kill command: {command} ({name})")
            for target in targets:
                if target > 1:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(target, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        return [target for target in targets if target > 1]

    @staticmethod
    def _alive(process: subprocess.Popen[bytes], targets: list[int]) -> bool:
        # poll() reaps the shell itself; the other targets may be reaped by
        # whoever adopted them, so zombies count as gone.
        if process.poll() is None:
            return True
        return any(_pid_running(target) for target in targets)

    def _list_processes(self) -> str:
        try:
            result = subprocess.run(
                ["ps", "-ef"], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self.logger.warning(f"[{HOST_LABEL}] Could not list processes: {exc}")
            return ""
        return result.stdout

    def tidy(self) -> None:
        """Release the finished process's pipe (nothing else to close)."""
        process = self.process
        if process is not None and process.stdout is not None:
            process.stdout.close()
