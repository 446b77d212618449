"""Caching plugin: writes ``value`` to the file named by ``path``."""

from opentaskpy.exceptions import CachingPluginError


def run(**kwargs):  # type: ignore[no-untyped-def]
    """Write the value; ``path`` and ``value`` are required."""
    if "path" not in kwargs or "value" not in kwargs:
        raise CachingPluginError("Missing kwarg: 'path' or 'value'")
    with open(kwargs["path"], "w", encoding="utf-8") as fh:
        fh.write(str(kwargs["value"]))
