"""Finding and reading the global variables files of a config directory."""

from __future__ import annotations

import glob
import logging
import os

from opentaskpy.config import templating
from opentaskpy.exceptions import InvalidConfigError, wrap

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any


def find(config_dir: Any, logger: logging.Logger) -> list[str]:
    """Return the variables files: ``OTF_VARIABLES_FILE``, else every one found.

    Raises:
        FileNotFoundError: a file named by ``OTF_VARIABLES_FILE`` is missing,
            or the config directory holds none.
    """
    override = os.environ.get("OTF_VARIABLES_FILE")
    if override is not None:
        paths = []
        for path in override.split(","):
            logger.info(f"Overriding variables file with {path}")
            if not os.path.isfile(path):
                message = f"Couldn't find variables file: {path}"
                raise wrap(
                    FileNotFoundError(message),
                    config_file=path,
                    summary=f"{message} (set by OTF_VARIABLES_FILE)",
                )
            paths.append(path)
        return paths
    base = f"{config_dir}/**/variables.json"
    paths = glob.glob(f"{base}.j2", recursive=True)
    paths += glob.glob(base, recursive=True)
    if not paths:
        message = f"Couldn't find any variables.(json|json.j2) files under {config_dir}"
        raise wrap(FileNotFoundError(message), config_file=str(config_dir))
    return paths


def read(paths: list[str]) -> tuple[list[templating.VariablesSource], dict]:
    """Read every variables file; return them and their merged variables."""
    sources: list[templating.VariablesSource] = []
    merged: dict = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            data = templating.loads_named(handle.read(), path)
        if not isinstance(data, dict):
            raise InvalidConfigError(
                f"{path}: a variables file must contain a JSON object",
                config_file=path,
            )
        sources.append((path, data))
        merged.update(data)
    return sources, merged
