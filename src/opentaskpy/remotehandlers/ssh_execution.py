"""``SSHExecution``: run a command on one remote host (re-exported by ``ssh``).

The command line is ``echo __OTF_TOKEN__$$_{R}__; cd {directory} && {command}``
(directory quoted); output is streamed into the task log as it arrives and
the remote shell's PID is taken from the token line, so ``kill()`` can stop
the whole remote process tree (``ps -ef`` + :mod:`.process_tree`).
"""

from __future__ import annotations

import logging
import random
import re
import shlex
import threading

from opentaskpy.otflogging import init_logging
from opentaskpy.progress import PROGRESS
from opentaskpy.remotehandlers.process_tree import PS_REGEX, kill_command, kill_targets
from opentaskpy.remotehandlers.remotehandler import RemoteExecutionHandler
from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sshconn import SSHConnection
from opentaskpy.transport.ssh.ssherrors import HostNotAnsweringError, describe_error
from opentaskpy.verbosity import VERBOSE2


class SSHExecution(RemoteExecutionHandler):
    """Runs ``spec["command"]`` on ``remote_host``."""

    TASK_TYPE = "E"
    runs_per_host = True
    ps_regex = PS_REGEX

    def __init__(self, remote_host: str, spec: dict):
        """Prepare the handler; nothing is contacted until ``execute()``."""
        super().__init__(spec)
        self.remote_host = remote_host
        self.random = random.randint(100000, 999999)
        self.remote_pid: int | None = None
        self.logger = init_logging(
            "opentaskpy.remotehandlers.ssh", spec.get("task_id"), self.TASK_TYPE
        )
        self._conn: SSHConnection | None = None
        self._channel: paramiko.Channel | None = None
        self._lock = threading.Lock()
        self._killed = False

    @property
    def ssh_client(self) -> paramiko.SSHClient | None:
        """The paramiko client, once connected."""
        return self._conn.client if self._conn else None

    def connect(self) -> None:
        """Connect (timeout 5 s, no retry); in a batch, share the host's connection."""
        conn = SSHConnection(
            self.remote_host,
            self.spec.get("protocol") or {},
            self.logger,
            timeout=5,
            shared=True,
        )
        self._conn = conn
        conn.connect(retry=False)

    def _command_line(self) -> str:
        directory = shlex.quote(str(self.spec["directory"]))
        # ``uname -a`` rides in the same channel as the command (one round
        # trip less than a separate exec); its line is logged, not echoed.
        return (
            f'echo "{self._uname_marker}$(uname -a 2>/dev/null)"; '
            f"echo __OTF_TOKEN__$$_{self.random}__; "
            f"cd {directory} && {self.spec['command']}"
        )

    @property
    def _uname_marker(self) -> str:
        return f"__OTF_UNAME_{self.random}__"

    def _on_line(self, line: str) -> None:
        if self.remote_pid is None and line.startswith(self._uname_marker):
            uname = line[len(self._uname_marker) :].strip()
            self.logger.log(VERBOSE2, f"[{self.remote_host}] Remote uname: {uname}")
            return
        if self.remote_pid is None:
            match = re.search(rf"__OTF_TOKEN__(\d+)_{self.random}__", line)
            if match:
                self.remote_pid = int(match.group(1))
                self.logger.info(
                    f"[{self.remote_host}] Found remote PID: {self.remote_pid}"
                )
                return
        self.logger.info(f"[{self.remote_host}] REMOTE OUTPUT: {line}")
        PROGRESS.output_line()

    def _set_channel(self, channel: paramiko.Channel) -> None:
        self._channel = channel

    def execute(self) -> bool:
        """Run the command; ``True`` when it exits with status 0."""
        try:
            with self._lock:
                if self._killed:
                    self.logger.error(
                        f"[{self.remote_host}] Execution killed before start"
                    )
                    return False
            self.connect()
            assert self._conn is not None
            result = self._conn.run(
                self._command_line(),
                on_stdout=self._on_line,
                on_channel=self._set_channel,
                operation="the execution's command",
            )
            if result.stderr:
                self.logger.info(
                    f"[{self.remote_host}] Remote stderr returned:\n{result.stderr}"
                )
        except HostNotAnsweringError as exc:
            self.logger.error(f"[{self.remote_host}] {exc}")
            if self._conn is not None:
                stop_remote_process(self._conn, self.remote_pid, self.logger)
            return False
        except Exception as exc:  # noqa: BLE001 - any failure fails the execution
            self.logger.error(f"[{self.remote_host}] Exception caught: {exc}")
            return False
        finally:
            self.tidy()
        if self._killed:
            # The shell may still exit 0 (e.g. its "wait" returns once the
            # children are gone): a killed execution never counts as success.
            self.logger.error(f"[{self.remote_host}] Execution was killed")
            return False
        if result.exit_code != 0:
            code = result.exit_code
            self.logger.error(
                f"[{self.remote_host}] Got return code {code} from SSH command"
            )
            return False
        return True

    def kill(self) -> None:
        """Stop the remote shell and every process it started."""
        with self._lock:
            self._killed = True
        conn, pid = self._conn, self.remote_pid
        if conn is None or pid is None or not conn.is_active():
            self.logger.info(f"[{self.remote_host}] No running remote process to kill")
            return
        self.logger.info(f"[{self.remote_host}] Killing remote process with PID {pid}")
        try:
            targets = self._freeze_tree(conn, pid)
            command = kill_command(targets)
            if command is None:
                self.logger.error(f"[{self.remote_host}] Refusing to kill PID {pid}")
                return
            self.logger.info(f"[{self.remote_host}] Running kill command: {command}")
            conn.run(command)
            # Stopped processes act on the TERM once continued.
            conn.run(kill_command(targets, "CONT") or "true")
        except Exception as exc:  # noqa: BLE001 - the connection may be closing
            self.logger.error(
                f"[{self.remote_host}] Unable to kill remote processes: {exc}"
            )
        channel = self._channel
        if channel is not None:
            # Wait for the command to finish, then drop the channel.
            channel.status_event.wait(10)

    def _freeze_tree(self, conn: SSHConnection, pid: int) -> list[int]:
        """Stop (SIGSTOP) ``pid`` and its descendants until none are new.

        A process forked between listing the tree and killing it would
        survive; stopped processes cannot fork, so the tree is listed and
        stopped again until a listing finds nothing new (a few rounds).

        Returns:
            The PIDs to kill, descendants first, ``pid`` last.
        """
        targets = kill_targets(conn.run("ps -ef").stdout, pid)
        for _ in range(5):
            stop = kill_command(targets, "STOP")
            if stop is None:
                return targets
            conn.run(stop)
            new = [
                p
                for p in kill_targets(conn.run("ps -ef").stdout, pid)
                if p not in targets
            ]
            if not new:
                break
            targets = new + targets
        return targets

    def tidy(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()


def stop_remote_process(
    conn: SSHConnection, pid: int | None, logger: logging.Logger
) -> None:
    """Stop ``pid`` and its children on ``conn``'s host over a new session.

    Used when our session to the host stopped answering: the command may
    still run there. Bounded by the no-progress timeout; a host that cannot
    be reached at all is reported, not waited for.
    """
    host = conn.hostname
    if pid is None:
        return
    fresh = SSHConnection(host, conn.protocol, logger, timeout=conn.timeout)
    try:
        fresh.connect(retry=False)
        targets = kill_targets(fresh.run("ps -ef", operation="ps -ef").stdout, pid)
        command = kill_command(targets)
        if command:
            fresh.run(command, operation="kill")
            logger.info(f"[{host}] Stopped the remote command (PID {pid})")
    except Exception as exc:  # noqa: BLE001 - the host is likely still silent
        logger.warning(
            f"[{host}] Could not stop the remote command (PID {pid}): "
            f"{describe_error(exc)}"
        )
    finally:
        fresh.close()
