"""Log verbosity: the two levels between INFO and DEBUG, and the CLIs' ``-v``.

| name     | level | ``-v`` |
|----------|-------|--------|
| DEBUG    | 10    | 3      |
| VERBOSE2 | 11    | 2      |
| VERBOSE1 | 12    | 1      |
| INFO     | 20    | absent or anything else |

VERBOSE2 is *more* verbose than VERBOSE1. The level names are registered
with ``logging`` only by the command-line entry points (through
:func:`cli_level`), never on import: in a library process a level-12 record
stays ``Level 12``, as it always has, and ``OTF_LOG_LEVEL=VERBOSE1`` means
something only after a CLI registered the name.
"""

from __future__ import annotations

import logging

VERBOSE1 = 12
VERBOSE2 = 11

#: Names registered by :func:`register_level_names`.
LEVEL_NAMES = {VERBOSE1: "VERBOSE1", VERBOSE2: "VERBOSE2"}

#: ``-v N`` → logging level.
CLI_LEVELS = {1: VERBOSE1, 2: VERBOSE2, 3: logging.DEBUG}

#: The ``-v`` help text both CLIs show.
CLI_HELP = "1 = VERBOSE1, 2 = VERBOSE2, 3 = DEBUG"


def register_level_names() -> None:
    """Give levels 11 and 12 their names in log output (idempotent)."""
    for level, name in LEVEL_NAMES.items():
        logging.addLevelName(level, name)


def cli_level(verbosity: int | None) -> int:
    """Register the level names and map a ``-v`` value to a logging level.

    Args:
        verbosity: the raw ``-v`` value (``None`` when absent).

    Returns:
        12, 11 or 10 for ``-v 1/2/3``; INFO otherwise.
    """
    register_level_names()
    return CLI_LEVELS.get(verbosity, logging.INFO) if verbosity else logging.INFO
