"""Kept import path: the file operations now live in :mod:`opentaskpy.fs.fileops`.

Addons and scripts import :class:`FileSystem` and the publishing helpers from
here (docs/addons.md); every public name of the new modules stays importable.
"""

from opentaskpy.fs.fileops import (
    DEFAULT_NAME_MAX,
    PARTIAL_SUFFIX,
    FileStat,
    FileSystem,
    apply_rename,
    check_size,
    check_written,
    create_flag,
    join,
    list_matching,
    post_copy_action,
    publish,
    remove_stale_partials,
    temporary_name,
    temporary_owner,
)

__all__ = [
    "DEFAULT_NAME_MAX",
    "PARTIAL_SUFFIX",
    "FileStat",
    "FileSystem",
    "apply_rename",
    "check_size",
    "check_written",
    "create_flag",
    "join",
    "list_matching",
    "post_copy_action",
    "publish",
    "remove_stale_partials",
    "temporary_name",
    "temporary_owner",
]
