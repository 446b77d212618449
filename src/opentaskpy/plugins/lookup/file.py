"""Lookup plugin ``file``: the first line of a file, stripped."""

import os

from opentaskpy.exceptions import LookupPluginError
from opentaskpy.otflogging import init_logging

PLUGIN_NAME = "file"

logger = init_logging(__name__)


def run(**kwargs):  # type: ignore[no-untyped-def]
    """Return the first line of ``path`` with surrounding whitespace removed.

    Args:
        **kwargs: ``path`` (required); ``globals`` is ignored.

    Raises:
        LookupPluginError: ``path`` is missing.
        FileNotFoundError: ``path`` is not an existing file.
    """
    if "path" not in kwargs:
        raise LookupPluginError(
            f"Missing kwarg: 'path' while trying to run lookup plugin '{PLUGIN_NAME}'"
        )
    path = kwargs["path"]
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"File {path} does not exist while trying to run lookup plugin "
            f"'{PLUGIN_NAME}'"
        )
    with open(path, encoding="utf-8") as handle:
        first_line = handle.readline()
    return first_line.strip()
