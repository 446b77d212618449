"""Caching plugin ``file``: write the value to a file."""

from opentaskpy.exceptions import CachingPluginError
from opentaskpy.otflogging import init_logging
from opentaskpy.safewrite import open_for_write

CACHE_NAME = "file"

logger = init_logging(__name__)


def run(**kwargs):  # type: ignore[no-untyped-def]
    """Write ``value`` to ``file`` (overwrite, UTF-8, no trailing newline).

    A symbolic link at ``file`` is replaced, never written through.

    Raises:
        CachingPluginError: ``file`` or ``value`` is missing.
        FileNotFoundError: the file's directory does not exist.
    """
    for name in ("file", "value"):
        if name not in kwargs:
            raise CachingPluginError(
                f"Missing kwarg: '{name}' while trying to run caching plugin "
                f"'{CACHE_NAME}'"
            )
    path = kwargs["file"]
    try:
        with open(open_for_write(path), "w", encoding="utf-8") as handle:
            handle.write(str(kwargs["value"]))
    except FileNotFoundError as err:
        logger.error(f"Failed to write cache file {path}: {err}")
        raise
