"""Small streamed files published in groups, a few round trips per group.

A stream of many small files from one host to another is paid for in round
trips and per-request work, not bytes. Where both file systems can
(:attr:`FileSystem.small_file_rounds`), up to ``OTF_SFTP_GROUP_FILES`` (32)
files are taken together through each step: opened and read at the source, created,
written, size-checked and closed at the destination, then renamed into
place, each step's requests in one write (see
:mod:`~opentaskpy.transport.ssh.sftpbulk`).

The guarantees are those of :func:`~opentaskpy.fs.fileops.publish`, file by
file: a temporary name in the destination directory, the size checked, the
mode set before the rename, the publish observer asked before and told after
it, nothing left under a temporary name. A file that meets any problem in a
group (it grew, its name exists, a request failed) is handed back and goes
the usual way on its own, which reports its error exactly as before.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from logging import Logger
from typing import TYPE_CHECKING

from opentaskpy.envsettings import bounded_int
from opentaskpy.fs import checksums
from opentaskpy.fs.fileops import mark_published, temporary_name
from opentaskpy.fs.filesystem import join
from opentaskpy.fs.origins import LOCAL, SMALL_BYTES

if TYPE_CHECKING:
    from opentaskpy.fs.filesystem import FileSystem
    from opentaskpy.fs.streaming import Content

#: Environment variable: files per group (``1`` sends every file on its own).
ENV = "OTF_SFTP_GROUP_FILES"
#: Files per group by default: one SSH packet per step carries all their
#: requests.
GROUP_FILES = 32
#: Most files per group (a group's contents are held in memory at once).
MAXIMUM = 256


#: What :func:`mode_bits` returns for text that is not an octal mode.
BAD_MODE = -1


def mode_bits(mode: str | None) -> int | None:
    """Return a destination's ``mode`` text as bits (``None``: none given)."""
    if not mode:
        return None
    try:
        return int(mode, 8)
    except (TypeError, ValueError):
        return BAD_MODE


def group_files(logger: Logger | None = None) -> int:
    """Return ``OTF_SFTP_GROUP_FILES`` (default 32, between 1 and 256).

    A value that is not a whole number is named in a warning on ``logger``
    and the default applies.
    """
    return bounded_int(ENV, GROUP_FILES, 1, MAXIMUM, logger)


def plan(
    fs: FileSystem,
    contents: Sequence[Content],
    eligible: bool,
    logger: Logger | None = None,
) -> tuple[list[list[Content]], list[Content]]:
    """Split ``contents`` into groups and the files that go one by one.

    A group is published together where the destination can
    (:func:`publishes_groups`); otherwise only its reads are taken together
    (:func:`read_group`), which pays where the source is another host.
    Nothing is grouped with ``OTF_SFTP_GROUP_FILES=1``.
    """
    size = group_files(logger)
    if size < 2:
        return [], list(contents)
    together = publishes_groups(fs, eligible)
    by_source: dict[int, list[Content]] = {}
    singles: list[Content] = []
    for content in contents:
        origin = getattr(content, "origin", None)
        if (
            origin is None
            or origin.size > SMALL_BYTES
            or (origin.sessions is LOCAL and not together)
        ):
            singles.append(content)
            continue
        by_source.setdefault(id(origin.sessions), []).append(content)
    groups = [
        members[start : start + size]
        for members in by_source.values()
        for start in range(0, len(members), size)
    ]
    return groups, singles


def publishes_groups(fs: FileSystem, eligible: bool) -> bool:
    """Whether ``fs`` publishes groups together (``eligible``: atomic, sized)."""
    return eligible and bool(getattr(fs, "small_file_rounds", False))


def read_group(group: Sequence[Content]) -> list[bytes | BaseException]:
    """Read every content of ``group`` from its source at once.

    Each item is the content's bytes, or the exception that sends it the
    usual way (which then reports it as before).
    """
    sessions = group[0].origin.sessions  # type: ignore[attr-defined]
    with sessions.use() as source:
        if not getattr(source, "small_file_reads", False):
            return [OSError("no grouped reads") for _ in group]
        try:
            reads = source.start_small_reads(
                [c.origin.path for c in group],  # type: ignore[attr-defined]
                source.small_file_limit(),
            )
            contents = reads.contents()
        except Exception as exc:  # noqa: BLE001 - the session failed: each alone
            with contextlib.suppress(Exception):  # answers may still be due
                source.reopen()
            return [exc for _ in group]
    _hash(group, contents)
    return contents


def in_memory(content: Content, data: bytes) -> Content:
    """``content`` written from ``data`` already read (see :func:`read_group`)."""

    def write_to(fs: FileSystem, target: str) -> int:
        return fs.write_chunks([data] if data else [], target)

    return content._replace(write_to=write_to, origin=None)


def publish_group(
    fs: FileSystem,
    group: Sequence[Content],
    directory: str,
    names: Sequence[str],
    mode: int | None,
    copied: Callable[[Content, str], None],
) -> list[Content]:
    """Publish ``group`` into ``directory`` under ``names``; return the rest.

    ``copied(content, final_path)`` is called for each published file. The
    files returned were not published and nothing of theirs is left at the
    destination; they go the usual way.
    """
    sessions = group[0].origin.sessions  # type: ignore[attr-defined]
    limit = fs.small_file_limit()
    name_max = fs.name_max(directory)
    temporaries = [join(directory, temporary_name(n, name_max)) for n in names]
    finals = [join(directory, n) for n in names]
    done: set[int] = set()
    renaming: list[int] = []
    contents: list[bytes | BaseException] = []
    try:
        with sessions.use() as source:
            if not getattr(source, "small_file_reads", False):
                return list(group)
            reads = source.start_small_reads(
                [c.origin.path for c in group],  # type: ignore[attr-defined]
                min(limit, source.small_file_limit()),
            )
            writes = fs.start_small_creates(temporaries)
            contents = reads.contents()
        _hash(group, contents)
        outcomes = writes.write(contents, mode)
        ready = _checked(fs, group, outcomes, temporaries, finals)
        renaming = ready
        renamed = writes.rename([(temporaries[i], finals[i]) for i in ready])
        for i, outcome in zip(ready, renamed, strict=True):
            if outcome is None:
                done.add(i)
                _published(fs, group[i], finals[i], len(contents[i]), copied)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - the session failed: each file on its own
        _recover(fs, group, temporaries, finals, renaming, done, contents, copied)
        return [c for i, c in enumerate(group) if i not in done]
    except BaseException:
        _recover(fs, group, temporaries, finals, renaming, done, contents, copied)
        raise
    rest = [i for i in range(len(group)) if i not in done]
    writes.remove_quietly([temporaries[i] for i in rest])
    return [group[i] for i in rest]


def _hash(group: Sequence[Content], contents: Sequence[bytes | BaseException]) -> None:
    """Keep each complete content's digest, as a stream through ``tap`` would."""
    if not checksums.hashing():
        return
    for content, data in zip(group, contents, strict=True):
        if isinstance(data, bytes) and content.label not in checksums.DIGESTS:
            digest = hashlib.sha256(data).hexdigest()
            checksums.DIGESTS[content.label] = (digest, len(data))


def _checked(
    fs: FileSystem,
    group: Sequence[Content],
    outcomes: Sequence[BaseException | None],
    temporaries: Sequence[str],
    finals: Sequence[str],
) -> list[int]:
    """Indexes of the files written and accepted by the publish observer."""
    observer = checksums.observer()
    ready = []
    for i, outcome in enumerate(outcomes):
        if outcome is not None:
            continue
        if observer is not None:
            try:  # e.g. verifies the copy before it is published
                observer.before_rename(fs, temporaries[i], finals[i], group[i].label)
            except Exception:  # noqa: BLE001 - the usual way reports it
                continue
        ready.append(i)
    return ready


def _published(
    fs: FileSystem,
    content: Content,
    final: str,
    size: int,
    copied: Callable[[Content, str], None],
) -> None:
    mark_published(fs, final, content.label, size, checksums.observer())
    copied(content, final)


def _recover(
    fs: FileSystem,
    group: Sequence[Content],
    temporaries: Sequence[str],
    finals: Sequence[str],
    renaming: Sequence[int],
    done: set[int],
    contents: Sequence[bytes | BaseException],
    copied: Callable[[Content, str], None],
) -> None:
    """After a failure mid-group: settle each file by what the directory shows.

    A rename that was sent may have happened: such a file counts as
    published; every other temporary file is removed (on a fresh session,
    as the old one may still be busy).
    """
    with contextlib.suppress(Exception):
        fs.reopen()
    for i, content in enumerate(group):
        if i in done:
            continue
        with contextlib.suppress(Exception):
            renamed = i in renaming and fs.stat(temporaries[i]) is None
            if renamed and fs.stat(finals[i]) is not None:
                done.add(i)
                _published(fs, content, finals[i], len(contents[i]), copied)  # type: ignore[arg-type]
                continue
            fs.remove(temporaries[i])


def log_copied(logger: Logger, prefix: str) -> Callable[[Content, str], None]:
    """Return the ``copied`` callback that writes the usual "Copied" line."""

    def copied(content: Content, final: str) -> None:
        logger.info(f"{prefix}Copied {content.label} to {final}")

    return copied
