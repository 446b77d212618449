"""Whole-number settings read from the environment, within bounds.

A tuning variable that is not a whole number must not stop a nightly run:
the default applies, and a warning names the variable and its value.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from logging import Logger


def bounded_int(
    name: str, default: int, low: int, high: int, logger: Logger | None = None
) -> int:
    """Return variable ``name`` as a whole number clamped to ``[low, high]``.

    Unset or empty gives ``default``; a value that is not a whole number gives
    ``default`` too, with a warning on ``logger`` naming it.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        if logger is not None:
            logger.warning(f"{name}={raw!r} is not a whole number: using {default}")
        return default
    return max(low, min(high, value))
