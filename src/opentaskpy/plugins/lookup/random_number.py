"""Lookup plugin ``random_number``: a random integer between two bounds."""

import random

from opentaskpy.exceptions import LookupPluginError
from opentaskpy.otflogging import init_logging

PLUGIN_NAME = "random_number"
# A random number is no secret: the loader does not mask it in logs.
RESULT_IS_SECRET = False

logger = init_logging(__name__)


def run(**kwargs):  # type: ignore[no-untyped-def]
    """Return ``str(random.randint(min, max))`` (both bounds inclusive).

    Args:
        **kwargs: ``min`` and ``max`` (required, integers or integer text).

    Raises:
        LookupPluginError: ``min`` or ``max`` is missing.
    """
    for name in ("min", "max"):
        if name not in kwargs:
            raise LookupPluginError(
                f"Missing kwarg: '{name}' while trying to run lookup plugin "
                f"'{PLUGIN_NAME}'"
            )
    return str(random.randint(int(kwargs["min"]), int(kwargs["max"])))
