"""A source's post-copy action: delete, move or rename every copied file."""

from __future__ import annotations

import posixpath
import re
from logging import Logger

from opentaskpy.fs.filesystem import FileSystem, join


def post_copy_action(
    fs: FileSystem,
    files: dict,
    action: dict,
    logger: Logger,
    create_missing_dirs: bool = False,
) -> int:
    """Run a source's ``postCopyAction`` on every file.

    ``move`` sends a file to ``destination/basename``; ``rename`` sends it to
    ``dirname(destination)/re.sub(pattern, sub, basename)``. For both, the
    directory checked (or created, with ``create_missing_dirs``) is
    ``dirname(destination)``, as in the reference.

    Returns:
        0 when every file was handled, 1 otherwise.
    """
    kind = action["action"]
    prefix = f"[{fs.host}]"
    if kind == "delete":
        result = 0
        for path in files:
            try:
                fs.remove(path)
            except OSError as exc:
                logger.error(
                    f"{prefix} Could not delete file {path} on source host: {exc}"
                )
                result = 1
        return result
    if kind not in ("move", "rename"):
        logger.error(f"{prefix} Unknown post copy action {kind}")
        return 1
    destination = action["destination"]
    check_dir = posixpath.dirname(destination) or "/"
    try:
        if create_missing_dirs:
            fs.makedirs(check_dir)
        st = fs.stat(check_dir)
    except OSError as exc:
        logger.error(f"{prefix} Cannot prepare {check_dir} on source host: {exc}")
        return 1
    if st is None:
        logger.error(
            f"{prefix} Destination directory {check_dir} does not exist on source host"
        )
        return 1
    if not st.is_dir:
        logger.error(
            f"{prefix} Destination {check_dir} is not a directory on source host"
        )
        return 1
    for path in files:
        name = posixpath.basename(path)
        if kind == "move":
            target = join(destination.rstrip("/") or "/", name)
        else:
            target = join(check_dir, re.sub(action["pattern"], action["sub"], name))
        try:
            logger.info(f"{prefix} Moving {path} to {target}")
            fs.rename(path, target)
        except OSError as exc:
            logger.error(f"{prefix} Error moving {path} to {target}: {exc}")
            return 1
    return 0
