"""Listing a source directory: which entries a transfer or a file watch sees.

Every protocol lists through :func:`list_matching`, so all of them treat odd
entries alike:

* names are matched with ``re.match`` semantics (anchored at the start) at a
  bounded cost (:class:`~opentaskpy.names.NameMatcher`);
* names that are not UTF-8 are listed losslessly (surrogate escapes, see
  :mod:`opentaskpy.names`) and never break the listing of the others;
* a dangling link is skipped with a warning: like a file that does not exist
  (a stale ``latest`` link, say), it has nothing to send;
* any other entry that cannot be resolved (a symlink loop, no permission to
  follow a link) is skipped with a warning, unless the regex matches it: then
  the run fails, naming the entry, because a file it was asked to move
  cannot be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from logging import Logger
from typing import Protocol

from opentaskpy.exceptions import RemoteTransferError
from opentaskpy.names import NameMatcher, escape_name

#: ``FileStat.error`` of a link whose target does not exist.
DANGLING = "dangling symbolic link"


class EntryStat(Protocol):
    """What the listing reads of an entry (a ``fileops.FileStat``)."""

    @property
    def size(self) -> int:
        """Size in bytes."""

    @property
    def modified_time(self) -> float:
        """Modification time (epoch seconds)."""

    @property
    def error(self) -> str:
        """Why the entry cannot be resolved; empty if it can."""


class Listable(Protocol):
    """A file system that can be listed (a ``fileops.FileSystem``)."""

    host: str

    def listdir_attr(self, directory: str) -> Sequence[tuple[str, EntryStat]]:
        """List a directory, following links (see ``fileops.FileSystem``)."""


class UnresolvableEntryError(RemoteTransferError):
    """A source entry matching the regex cannot be resolved to a file."""


def list_matching(
    fs: Listable, directory: str, file_pattern: str, logger: Logger | None = None
) -> dict:
    """List ``directory`` and keep the names that match ``file_pattern``.

    A missing directory yields no files.

    Args:
        fs: the source's file system.
        directory: the directory to list.
        file_pattern: the ``fileRegex``.
        logger: where skipped entries are reported.

    Returns:
        ``{"{directory}/{name}": {"size": int, "modified_time": float}}``

    Raises:
        UnresolvableEntryError: a matching entry cannot be resolved.
        opentaskpy.names.RegexTimeoutError: one match exceeded its budget.
    """
    try:
        entries = fs.listdir_attr(directory)
    except FileNotFoundError:
        return {}
    matcher = NameMatcher(file_pattern)
    files = {}
    for name, st in sorted(entries, key=lambda entry: entry[0]):
        path = f"{directory}/{name}"  # the reference's keys, also at "/"
        matched = matcher.match(name)
        if st.error:
            shown = escape_name(path)
            if matched and st.error != DANGLING:
                raise UnresolvableEntryError(
                    f"[{fs.host}] Cannot read {shown}, which matches "
                    f"fileRegex '{file_pattern}': {st.error}",
                    host=fs.host,
                    cause=st.error,
                )
            if logger is not None:
                logger.warning(f"[{fs.host}] Skipping {shown}: {st.error}")
            continue
        if matched:
            files[path] = {"size": st.size, "modified_time": st.modified_time}
    return files
