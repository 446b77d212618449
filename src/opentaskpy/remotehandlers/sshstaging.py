"""Where an SSH destination receives files before publishing, and why it failed.

By default every run receives its files in a private hidden directory
inside the destination directory (``{directory}/.otf-run.{owner}.otf-partial/``):
the data is written once, on the destination's file system, and each file
is then renamed into place (atomic, no copy). Two runs never share it. With
``stageInHomeDirectory: true`` on the destination the reference's
``$HOME/otf/{task_id}/`` of the login user is used instead (for a user who
may not create entries in the destination directory); files then cross
file systems with ``mv``. A killed run's directory is removed by the
next run that receives into the same directory once its owner is dead.

The describe functions turn what OpenSSH printed into one cause in words.
"""

from __future__ import annotations

import contextlib
import re
import shlex
from logging import Logger

from opentaskpy.fs import fileops, owner
from opentaskpy.fs.sftpfs import SFTPFileSystem
from opentaskpy.transport.ssh.sshconn import SSHConnection

RUN_DIRECTORY_PREFIX = ".otf-run."


def run_directory(directory: str) -> str:
    """Return a new private receiving directory inside ``directory`` (with ``/``).

    Hidden, and named like every other temporary name
    (``.otf-run.{owner}.otf-partial``): the owner tag is unique per call and
    lets a later run remove the directory once its writer is dead.
    """
    return fileops.join(directory, fileops.temporary_name("otf-run")) + "/"


def remove_abandoned_run_directories(
    fs: SFTPFileSystem, directory: str, logger: Logger
) -> None:
    """Remove receiving directories of dead (killed) runs in ``directory``.

    The rule is the one for partial files (:mod:`opentaskpy.fs.owner`): a live run's
    directory, on this worker or another, is left alone.
    """
    try:
        entries = fs.listdir_attr(directory)
    except OSError:
        return
    for name, st in entries:
        if not (st.is_dir and name.startswith(RUN_DIRECTORY_PREFIX)):
            continue
        temporary, writer = fileops.temporary_owner(name)
        if temporary and owner.is_abandoned(writer, st.modified_time):
            remove_run_directory(fs, fileops.join(directory, name))
            logger.info(
                f"[{fs.host}] Removed the receiving directory {name} of a dead run"
            )


def remove_run_directory(fs: SFTPFileSystem, path: str) -> None:
    """Remove a receiving directory and the files in it (best effort)."""
    path = path.rstrip("/")
    with contextlib.suppress(OSError):
        for name, _ in fs.listdir_attr(path):
            with contextlib.suppress(OSError):
                fs.remove(fileops.join(path, name))
        fs.sftp.rmdir(path)


_ENOSPC = re.compile(r"No space left on device|ENOSPC|Disk quota exceeded", re.I)


def describe_copy_failure(stderr: str, runner: str, peer: str) -> str:
    """Return the cause of a failed ``scp`` run on ``runner`` talking to ``peer``."""
    if "Host key verification failed" in stderr:
        return (
            f"host key of {peer} refused by ssh on {runner} "
            "(Host key verification failed: the key is unknown or changed in "
            f"the known_hosts of the transfer user on {runner})"
        )
    if "not responding" in stderr or "timed out" in stderr.lower():
        return f"{peer} stopped answering (scp on {runner} gave up)"
    if "Permission denied (publickey" in stderr:
        return f"authentication to {peer} refused for the transfer user on {runner}"
    # scp's first line is the cause; later ones ("failed to upload ...")
    # only repeat that it failed.
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not line.startswith("Warning: Permanently added")
    ]
    first = lines[0] if lines else "no error output"
    if _ENOSPC.search(stderr) and not _ENOSPC.search(first):
        return f"No space left on device (ENOSPC): {first}"
    return first


def explain_write_failure(conn: SSHConnection, directory: str, error: str) -> str:
    """Say ENOSPC when the destination file system is full, else ``error``.

    SFTP reports a full disk as a bare "Failure" (its protocol has no code
    for it), so the free space is asked for when a write failed.
    """
    if _ENOSPC.search(error):
        return error
    with contextlib.suppress(Exception):  # the host may be gone as well
        result = conn.run(f"df -Pk -- {shlex.quote(directory)}", operation="df")
        fields = result.stdout.strip().splitlines()[-1].split()
        if result.exit_code == 0 and len(fields) >= 4 and int(fields[3]) < 64:
            return f"No space left on device (ENOSPC): {error}"
    return error
