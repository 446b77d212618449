"""Exit codes of ``task-run``: the one table (README and docs/runs.md copy it).

By default every failure exits 1, as in the reference. With
``OTF_EXIT_CODES=detailed`` each class of failure has its own code, so that a
scheduler can retry a connection error and page someone on a configuration
error. The codes stay clear of 2 (command-line usage errors, from argparse)
and of 128 + signal number (129 SIGHUP, 130 SIGINT, 143 SIGTERM), which a
run ended by a signal exits with in both modes.
"""

from __future__ import annotations

import os

from opentaskpy.exceptions import ErrorClass

SUCCESS = 0
FAILURE = 1

#: ``OTF_EXIT_CODES=detailed``: the exit code of each class of failure.
DETAILED: dict[ErrorClass, int] = {
    ErrorClass.ERROR: 1,  # not classified more precisely
    ErrorClass.CONFIGURATION: 3,  # a definition, variable or option is wrong
    ErrorClass.CONNECTION: 4,  # a host could not be reached or logged in to
    ErrorClass.NO_FILES: 5,  # no file qualified, or a file/log watch timed out
    ErrorClass.TRANSFER: 6,  # moving, publishing or post-processing files failed
    ErrorClass.EXECUTION: 7,  # a command failed (non-zero exit, killed)
    ErrorClass.TIMEOUT: 8,  # a batch step ran past its timeout
    ErrorClass.LOCKED: 9,  # another run of the same task holds its lock
}

MODES = ("simple", "detailed")


def mode() -> str:
    """Return ``simple`` or ``detailed`` from ``OTF_EXIT_CODES`` (unset: simple).

    Raises:
        ValueError: the variable holds something else.
    """
    value = os.environ.get("OTF_EXIT_CODES", "").strip().lower() or "simple"
    if value not in MODES:
        raise ValueError(
            f"environment variable OTF_EXIT_CODES={value!r}: expected "
            "'simple' or 'detailed'"
        )
    return value


def exit_code(
    error_class: ErrorClass | None, signum: int | None = None, detailed: bool = False
) -> int:
    """Return the exit code of a run.

    Args:
        error_class: ``None`` for success, else the failure's class.
        signum: the signal that ended the run, if any (wins over the class).
        detailed: use :data:`DETAILED` rather than 1 for every failure.
    """
    if signum is not None:
        return 128 + signum
    if error_class is None:
        return SUCCESS
    if not detailed:
        return FAILURE
    return DETAILED.get(error_class, FAILURE)
