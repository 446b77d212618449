"""Size, age and count conditionals applied to a source listing."""

from __future__ import annotations

import logging
import time


def check_conditionals(files: dict, conditionals: dict, logger: logging.Logger) -> dict:
    """Drop files that fail the conditionals, in place, and return the dict.

    Bounds are strict (``size > gt``, ``size < lt``; the same for age in
    seconds). (upstream quirk, kept) A bound of 0 is ignored because bounds
    are tested for truthiness. If the count bounds are not met, every file is
    dropped.

    Args:
        files: ``{path: {"size": int, "modified_time": float}}``, filtered in place.
        conditionals: the source's ``conditionals`` object.
        logger: where the reasons are logged.

    Returns:
        The same ``files`` object.
    """
    size = conditionals.get("size") or {}
    age = conditionals.get("age") or {}
    count = conditionals.get("count") or {}
    for path in list(files):
        logger.info(f"Checking {path}")
        reason = _size_reason(files[path]["size"], size) or _age_reason(
            time.time() - files[path]["modified_time"], age
        )
        if reason:
            logger.info(reason)
            del files[path]
    max_count = count.get("maxCount")
    min_count = count.get("minCount")
    if (max_count and len(files) > max_count) or (min_count and len(files) < min_count):
        logger.info(
            f"Number of found files {len(files)} does not meet minCount/maxCount "
            f"conditional: maxCount:{max_count or 'n/a'}, minCount:{min_count or 'n/a'}"
        )
        files.clear()
    return files


def _size_reason(actual: int, bounds: dict) -> str | None:
    gt, lt = bounds.get("gt"), bounds.get("lt")
    if gt and actual <= gt:
        return f"File is too small: Min size: [{gt} B] Actual size: [{actual} B]"
    if lt and actual >= lt:
        return f"File is too big: Max size: [{lt} B] Actual size: [{actual} B]"
    return None


def _age_reason(actual: float, bounds: dict) -> str | None:
    gt, lt = bounds.get("gt"), bounds.get("lt")
    if gt and actual <= gt:
        return f"File is too new: Min age: [{gt} secs] Actual age: [{actual} secs]"
    if lt and actual >= lt:
        return f"File is too old: Max age: [{lt} secs] Actual age: [{actual} secs]"
    return None
