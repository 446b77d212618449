"""How a file reaches its destination: file operations shared by all protocols.

Protocol handlers do not re-implement listing, atomic publishing, post-copy
actions or flag files. They provide a :class:`FileSystem` (the local disk, an
SFTP session, ...; declared in :mod:`~opentaskpy.fs.filesystem`)
and call the functions here (post-copy actions:
:mod:`~opentaskpy.fs.postcopy`), so every protocol gets the same
semantics:

* listing: start-anchored regex on bare names, ``{directory}/{name}`` keys;
* publishing: write under a unique temporary name in the destination
  directory (:func:`temporary_name`: it names its owner and fits the file
  system's name limit), check the size, set the mode, then rename into
  place; on failure the temporary file is removed, so no consumer ever sees
  a partial file, and what killed runs left is removed by the next run
  (:func:`remove_stale_partials`); each published file is counted in
  :data:`opentaskpy.progress.PROGRESS`;
* post-copy actions: ``delete``, ``move`` and ``rename`` with the reference's
  path rules;
* flag files: an empty file at an absolute path, published like a file.

Nothing is ever written through a symbolic link: the file systems create
files exclusively, and a link at a final name is replaced by the rename.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
from collections.abc import Callable, Iterable
from logging import Logger
from typing import Any

from opentaskpy.fs import checksums, owner
from opentaskpy.fs.filesystem import DEFAULT_NAME_MAX, FileSystem, join

# The interface and the post-copy action live in their own modules; these
# names stay importable from here, where protocol handlers and addons use them.
from opentaskpy.fs.filesystem import FileStat as FileStat
from opentaskpy.fs.filesystem import apply_rename as apply_rename
from opentaskpy.fs.postcopy import post_copy_action as post_copy_action
from opentaskpy.progress import PROGRESS


def list_matching(
    fs: FileSystem, directory: str, file_pattern: str, logger: Logger | None = None
) -> dict:
    """List ``directory`` and keep names that match ``file_pattern``.

    Kept here for existing callers; see
    :func:`opentaskpy.fs.listing.list_matching`.
    """
    from opentaskpy.fs.listing import list_matching as listing

    return listing(fs, directory, file_pattern, logger)


#: Suffix of every temporary name (see :func:`temporary_name`).
PARTIAL_SUFFIX = ".otf-partial"


def temporary_name(final_name: str, max_len: int = DEFAULT_NAME_MAX) -> str:
    """Return a unique, hidden temporary name for ``final_name`` (a bare name).

    The form is ``.{final}.{owner}.otf-partial``: ``owner`` says which process
    on which host writes it (:mod:`~opentaskpy.fs.owner`), so a
    clean-up never removes the file of a live run. The name fits in
    ``max_len`` bytes whatever the final name's length: a final name too long
    to fit is cut at a character boundary and followed by ``~`` and a hash of
    the whole name, so two long names sharing a prefix still differ.
    """
    tail = f".{owner.tag()}{PARTIAL_SUFFIX}"
    budget = max_len - 1 - len(tail)
    encoded = os.fsencode(final_name)
    if len(encoded) <= budget:
        return f".{final_name}{tail}"
    digest = hashlib.sha256(encoded).hexdigest()[:8]
    cut = max(0, budget - len(digest) - 1)
    while cut and (encoded[cut] & 0xC0) == 0x80:  # inside a UTF-8 character
        cut -= 1
    return f".{os.fsdecode(encoded[:cut])}~{digest}{tail}"


def temporary_owner(name: str) -> tuple[bool, owner.Owner | None]:
    """Whether ``name`` is a temporary name, and the owner it names.

    Names of older versions (``.{final}.{random}.otf-partial``) are temporary
    names without an owner.
    """
    if not (name.startswith(".") and name.endswith(PARTIAL_SUFFIX)):
        return False, None
    stem = name[1 : -len(PARTIAL_SUFFIX)]
    return True, owner.parse(stem.rpartition(".")[2])


def remove_stale_partials(
    fs: FileSystem,
    directory: str,
    final_names: Iterable[str] = (),
    logger: Logger | None = None,
) -> None:
    """Remove temporary files that crashed or killed runs left behind.

    A temporary file of any final name is removed when its owner is provably
    dead or it is older than the documented age (see
    :mod:`~opentaskpy.fs.owner`); the temporary file of a live
    run, here or on another host, is left alone. ``final_names`` (the names
    this run delivers) does not limit the clean-up: debris of a dead run
    rarely has the names of the next one.
    """
    try:
        entries = fs.listdir_attr(directory)
    except OSError:
        return
    for name, st in entries:
        temporary, writer = temporary_owner(name)
        if not temporary or st.is_dir:
            continue
        if not owner.is_abandoned(writer, st.modified_time):
            continue
        try:
            fs.remove(join(directory, name))
        except OSError:
            continue
        if logger:
            logger.info(f"[{fs.host}] Removed stale partial file {name}")


def check_size(fs: FileSystem, path: str, expected: int, shown: str = "") -> None:
    """Raise ``OSError`` unless ``path`` exists with ``expected`` bytes."""
    st = fs.stat(path)
    if st is None or st.size != expected:
        actual = None if st is None else st.size
        raise OSError(
            f"Size check failed for {shown or path}: "
            f"expected {expected} bytes, found {actual}"
        )


def check_written(fs: FileSystem, path: str, written: int, shown: str = "") -> None:
    """:func:`check_size` for the bytes a write reported, unless ``fs`` checked."""
    if not fs.checks_written_size:
        check_size(fs, path, written, shown)


def publish(
    fs: FileSystem,
    local_path: str,
    directory: str,
    final_name: str,
    mode: str | None = None,
    verify_size: bool = True,
    atomic: bool = True,
    place: Callable[[str], int | None] | None = None,
    expected_size: int | None = None,
    before_rename: Callable[[str], None] | None = None,
) -> str:
    """Deliver one worker file so that it appears at its final name only complete.

    Args:
        fs: the destination file system.
        local_path: the file on the worker.
        directory: the destination directory.
        final_name: the name the file must end up with.
        mode: octal permission text such as ``"0644"``, applied before publish.
        verify_size: compare the uploaded size with the local size.
        atomic: upload under a temporary name and rename; ``False`` writes the
            final name directly (for servers without a usable rename).
        place: puts the content at the given (temporary) path instead of
            ``fs.put(local_path, path)`` (e.g. a remote move from a staging
            directory, or a stream from the source). When it returns the
            number of bytes it wrote, that is the size checked (by the file
            system itself when it ``checks_written_size``, without another
            stat); otherwise ``local_path`` is used for its size unless
            ``expected_size`` is given.
        expected_size: the size to check against instead of the local size.
        before_rename: called with the temporary path after the mode was set
            (e.g. to change owner or group); an exception aborts the publish.

    Returns:
        The final path.

    Raises:
        OSError: the copy, check, chmod or rename failed. The temporary file
            has then been removed.
    """
    done = start_publish(
        fs,
        local_path,
        directory,
        final_name,
        mode=mode,
        verify_size=verify_size,
        atomic=atomic,
        place=place,
        expected_size=expected_size,
        before_rename=before_rename,
    )
    return done if isinstance(done, str) else done()


def start_publish(
    fs: FileSystem,
    local_path: str,
    directory: str,
    final_name: str,
    *,
    defer_rename: bool = False,
    **options: Any,
) -> str | Callable[[], str]:
    """:func:`publish` (same keyword ``options``), perhaps short of its end.

    With ``defer_rename`` the final rename is only sent, where ``fs`` can
    (:meth:`FileSystem.start_rename`): its answer is awaited when the result
    is called, so the caller can send the next file's requests meanwhile.
    The file counts as published (progress, the publish observer) only then.

    Returns:
        The final path once published, or (rename sent) what confirms it:
        call it on the same session, as its only user; it returns the final
        path or raises ``OSError`` as :func:`publish` does, with the
        temporary file removed.
    """
    final_path = join(directory, final_name)
    atomic = options.get("atomic", True)
    if atomic:
        target = join(directory, temporary_name(final_name, fs.name_max(directory)))
    else:
        target = final_path
    observer = checksums.observer()
    confirm: Callable[[], None] | None = None
    try:
        expected = _place_and_check(fs, local_path, target, final_path, options)
        if observer is not None:  # e.g. verifies the copy before it is published
            observer.before_rename(fs, target, final_path, local_path)
        if atomic and defer_rename:
            confirm = fs.start_rename(target, final_path)
        if atomic and confirm is None:
            fs.rename(target, final_path)
    except BaseException as exc:
        _failed(fs, target, atomic, observer, final_path, local_path, exc)
        raise

    def finish() -> str:
        if confirm is not None:
            try:
                confirm()
            except BaseException as exc:
                _failed(fs, target, atomic, observer, final_path, local_path, exc)
                raise
        mark_published(fs, final_path, local_path, expected, observer)
        return final_path

    return finish if confirm is not None else finish()


def mark_published(
    fs: FileSystem, final_path: str, label: str, size: int, observer: Any
) -> None:
    """Count a file now under its final name and tell the publish observer."""
    PROGRESS.published(size)
    if observer is not None:
        observer.published(fs, final_path, label, size)


def _place_and_check(
    fs: FileSystem, local_path: str, target: str, final_path: str, options: dict
) -> int:
    """Write ``target``, check its size, set mode (and owner); return the size."""
    place = options.get("place")
    expected_size = options.get("expected_size")
    written = place(target) if place is not None else fs.put(local_path, target)
    if expected_size is not None:
        expected = int(expected_size)
    elif isinstance(written, int):
        expected = written
    else:
        expected = os.stat(local_path).st_size
    verify_size = options.get("verify_size", True)
    if verify_size and expected_size is None and isinstance(written, int):
        check_written(fs, target, written, shown=final_path)
    elif verify_size:
        check_size(fs, target, expected, shown=final_path)
    mode = options.get("mode")
    if mode:
        fs.chmod(target, int(mode, 8))
    before_rename = options.get("before_rename")
    if before_rename is not None:
        before_rename(target)
    return expected


def _failed(
    fs: FileSystem,
    target: str,
    atomic: bool,
    observer: Any,
    final_path: str,
    local_path: str,
    exc: BaseException,
) -> None:
    """Remove the temporary file of a failed publish and tell the observer."""
    if atomic:
        interrupted = not isinstance(exc, Exception)  # a signal, Ctrl-C
        _remove_after_failure(fs, target, interrupted)
    if observer is not None:
        observer.failed(fs, final_path, local_path, exc)


def _remove_after_failure(fs: FileSystem, target: str, interrupted: bool) -> None:
    """Remove a temporary file; after a signal, on a fresh session."""
    with contextlib.suppress(Exception):  # the connection may be gone
        if interrupted:
            fs.reopen()
        fs.remove(target)


def create_flag(fs: FileSystem, full_path: str, logger: Logger) -> int:
    """Create an empty flag file; 0 on success, 1 on failure.

    The file is created under a temporary name and renamed over
    ``full_path``, so whatever is there (a symbolic link too) is replaced and
    never written through.
    """
    directory, name = posixpath.split(full_path)
    try:
        publish(
            fs,
            "",
            directory or ".",
            name,
            verify_size=False,
            place=fs.touch,
            expected_size=0,
        )
    except OSError as exc:
        # The error's own path is the temporary name: name the flag instead.
        reason = exc.strerror or exc
        logger.error(f"[{fs.host}] Unable to create flag file {full_path}: {reason}")
        return 1
    logger.info(f"[{fs.host}] Created flag file: {full_path}")
    return 0
