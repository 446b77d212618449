"""Delivering a set of contents into a destination directory.

The steps every destination takes around the per-file
:func:`~opentaskpy.fs.fileops.publish`: make sure the directory
exists (creating it only when the definition allows), clear debris of dead
runs, then publish each content under its final name, going on with the next
file when one fails.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from logging import Logger
from typing import TYPE_CHECKING, Any

from opentaskpy.fs import fileops, inflight, smallfiles

if TYPE_CHECKING:
    from opentaskpy.fs.fileops import FileSystem
    from opentaskpy.fs.streaming import Content


def ensure_directory(
    fs: FileSystem, directory: str, create: bool, logger: Logger, prefix: str = ""
) -> bool:
    """Whether ``directory`` exists, creating it when ``create`` allows.

    Failures are logged (``prefix`` names the host); nothing is raised.
    """
    if fs.stat(directory) is not None:
        return True
    if not create:
        logger.error(f"{prefix}Destination dir does not exist: {directory}")
        return False
    try:
        fs.makedirs(directory)
    except OSError as exc:
        logger.error(f"{prefix}Unable to create directory {directory}: {exc}")
        return False
    return True


def publish_all(
    fs: FileSystem,
    directory: str,
    contents: Iterable[Content],
    *,
    spec: dict,
    logger: Logger,
    final_name: Callable[[str], str],
    prefix: str = "",
    failure: str = "Unable to transfer file",
    on_failure: Callable[[str, str, BaseException], None] | None = None,
    verify_size: bool = True,
    atomic: bool = True,
    in_flight: int | None = 1,
    session: Callable[[], AbstractContextManager[FileSystem]] | None = None,
) -> int:
    """Publish every content into the destination directory of ``spec``.

    Args:
        fs: the destination file system.
        directory: the destination directory.
        contents: what to deliver (worker files or streams).
        spec: the destination definition (``createDirectoryIfNotExists``,
            ``mode``).
        logger: where progress and failures go.
        final_name: maps a content's name to its published name.
        prefix: put before every log line (e.g. ``[host] ``).
        failure: the words that start a failed file's error line.
        on_failure: called as ``on_failure(label, target, exc)`` for a file
            that could not be published, instead of logging that line.
        verify_size: see :func:`~opentaskpy.fs.fileops.publish`.
        atomic: see :func:`~opentaskpy.fs.fileops.publish`.
        in_flight: files published at once (``None``: the configured number,
            see :mod:`~opentaskpy.fs.inflight`); each file is
            still published on its own, and this returns after the last.
        session: gives the calling worker the file system to write with,
            for its sole use while the context lasts (a session of its own
            on ``fs``'s connection); ``None`` writes with ``fs`` itself.

    Returns:
        0 when every content was published, 1 otherwise.
    """
    create = bool(spec.get("createDirectoryIfNotExists"))
    if not ensure_directory(fs, directory, create, logger, prefix):
        return 1
    contents = list(contents)
    if atomic:
        names = {final_name(c.name) for c in contents}
        fileops.remove_stale_partials(fs, directory, names, logger)
    failed = False
    reporting = threading.Lock()  # one failure's lines (and last_error) at a time
    # Each worker's last file, published but for its rename's answer, which
    # is read while the worker's next file waits for its first answer.
    unconfirmed: dict[int, tuple[Content, str, Callable[[], str]]] = {}

    def report(content: Content, name: str, exc: BaseException) -> None:
        nonlocal failed
        target = f"{directory}/{name}"
        with reporting:
            failed = True
            if on_failure is not None:
                on_failure(content.label, target, exc)
                return
            reason = exc or type(exc).__name__
            logger.error(f"{prefix}{failure} ({content.label} to {target}): {reason}")

    def confirm(pending: tuple[Content, str, Callable[[], str]] | None) -> None:
        if pending is None:
            return
        content, name, finish = pending
        try:
            final = finish()
        except Exception as exc:  # noqa: BLE001 - reported, next file tried
            report(content, name, exc)
            return
        logger.info(f"{prefix}Copied {content.label} to {final}")

    def announce(content: Content, name: str) -> None:
        logger.info(f"{prefix}Transferring file {content.label} to {directory}/{name}")

    def deliver(content: Content, announced: bool = False) -> None:
        name = final_name(content.name)
        if not announced:
            announce(content, name)
        slot = inflight.current_slot()
        with session() if session is not None else contextlib.nullcontext(fs) as on:
            try:
                done = fileops.start_publish(
                    on,
                    content.label,
                    directory,
                    name,
                    defer_rename=True,
                    mode=spec.get("mode"),
                    verify_size=verify_size,
                    atomic=atomic,
                    place=functools.partial(content.write_to, on),
                )
            except Exception as exc:  # noqa: BLE001 - reported, next file tried
                report(content, name, exc)
                return
            finally:
                confirm(unconfirmed.pop(slot, None))  # on the session it went on
            if isinstance(done, str):
                logger.info(f"{prefix}Copied {content.label} to {done}")
            else:
                unconfirmed[slot] = (content, name, done)

    def confirm_last() -> None:
        # Also when a signal stops the workers early: a rename that was sent
        # may have happened, and only a confirmed one reaches the ledger (a
        # rerun would otherwise send that file again).
        confirm(unconfirmed.pop(inflight.current_slot(), None))

    mode = smallfiles.mode_bits(spec.get("mode"))
    copied = smallfiles.log_copied(logger, prefix)

    # A mode that is not octal text fails each file on its own, as before.
    eligible = atomic and verify_size and mode != smallfiles.BAD_MODE
    together = smallfiles.publishes_groups(fs, eligible)

    def deliver_group(group: list[Content]) -> None:
        confirm(unconfirmed.pop(inflight.current_slot(), None))
        names = [final_name(c.name) for c in group]
        for content, name in zip(group, names, strict=True):
            announce(content, name)
        if not together:  # only the reads go together; each file is published
            read = smallfiles.read_group(group)
            for content, data in zip(group, read, strict=True):
                if isinstance(data, bytes):
                    content = smallfiles.in_memory(content, data)
                deliver(content, announced=True)
            return
        with session() if session is not None else contextlib.nullcontext(fs) as on:
            rest = smallfiles.publish_group(on, group, directory, names, mode, copied)
        for content in rest:
            deliver(content, announced=True)

    groups, singles = smallfiles.plan(fs, contents, eligible, logger)
    work: list[tuple[Callable[[Any], None], Any]] = [
        *((deliver_group, group) for group in groups),
        *((deliver, content) for content in singles),
    ]
    count = in_flight or inflight.files_in_flight(logger)
    inflight.run_each(work, lambda job: job[0](job[1]), count, last=confirm_last)
    return 1 if failed else 0
