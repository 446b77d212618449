"""How each destination of a transfer receives its files: choosing, then sending."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentaskpy.progress import PROGRESS

DIRECT, PULL, WORKER, STREAM = "direct", "pull", "worker", "stream"


def choose_mechanisms(
    source: Any, dest_specs: list[dict], dest_handlers: list
) -> list[str]:
    """Return ``direct``, ``pull`` or ``worker`` for each destination.

    ``different`` (a push to a destination of another handler class) is
    computed per destination. The spec allows this; the reference reuses the
    last destination's value, which can leave a destination with no mechanism
    at all. The rules otherwise follow the reference:

    * ``direct`` (``source.transfer_files``): the source supports direct
      transfers, the destination has the source's class, ``transferType`` is
      absent or ``push``, and no destination is ``different``;
    * ``pull`` (``destination.pull_files``): ``transferType`` ``pull``, same
      class and direct support (a pull is only honoured where the source side
      can do direct transfers);
    * ``worker`` (files staged on the worker, then
      ``destination.push_files_from_worker``): everything else — other
      protocols, ``proxy``, sources without direct support. A single worker
      destination may stream instead (:func:`stream_instead`).

    Args:
        source: the source handler.
        dest_specs: destination specs, in order.
        dest_handlers: their handlers.
    """
    supports_direct = source.supports_direct_transfer()
    pairs = list(zip(dest_specs, dest_handlers, strict=True))
    any_different = any(
        spec.get("transferType") in (None, "push") and type(source) is not type(handler)
        for spec, handler in pairs
    )
    mechanisms = []
    for spec, handler in pairs:
        transfer_type = spec.get("transferType")
        same_class = type(source) is type(handler)
        if supports_direct and same_class and transfer_type in (None, "push"):
            mechanisms.append(WORKER if any_different else DIRECT)
        elif supports_direct and same_class and transfer_type == "pull":
            mechanisms.append(PULL)
        else:
            mechanisms.append(WORKER)
    return mechanisms


def stream_instead(
    source: Any,
    dest_specs: list[dict],
    dest_handlers: list,
    mechanisms: list[str],
    decrypt: bool,
) -> bool:
    """Whether a worker transfer can skip the staging files and stream.

    Only for a single destination fed through the worker, without PGP on
    either side (both work on staged files), when the source can stream its
    files out and the destination can publish streams
    (see :mod:`opentaskpy.fs.streaming`).
    """
    if mechanisms != [WORKER] or decrypt:
        return False
    if (dest_specs[0].get("encryption") or {}).get("encrypt"):
        return False
    return bool(source.can_stream_from() and dest_handlers[0].can_stream_to())


def send(
    mechanism: str,
    source: Any,
    source_spec: dict,
    spec: dict,
    handler: Any,
    files: dict,
    worker_dir: str,
    file_list: dict | None,
    logger: logging.Logger,
) -> str | None:
    """Deliver ``files`` to one destination by ``mechanism``.

    Args:
        mechanism: ``direct``, ``pull``, ``stream`` or ``worker``.
        source: the source handler.
        source_spec: the source's spec (for pulls).
        spec: the destination's spec.
        handler: the destination's handler.
        files: the files to deliver (source paths, or worker paths).
        worker_dir: where staged files are on the worker.
        file_list: for ``worker``, the exact worker files to push; ``None``
            pushes everything staged.
        logger: the transfer's logger.

    Returns:
        ``None`` on success, else the failure message.
    """
    if mechanism == DIRECT:
        if source.transfer_files(files, spec, dest_remote_handler=handler):
            return "Remote transfer errored"
        logger.info("Transfer completed successfully")
    elif mechanism == PULL:
        if handler.pull_files(files, source_spec):
            return "Remote PULL transfer errored"
        logger.info("Transfer completed successfully")
    elif mechanism == STREAM:
        logger.info("Streaming files from source to destination")
        if handler.push_streams(source.stream_files(files)):
            return "Push of files to destination errored"
    else:
        logger.debug("Transfer protocols are different, or proxy transfer is requested")
        if file_list is None:
            result = handler.push_files_from_worker(worker_dir)
        else:
            result = handler.push_files_from_worker(worker_dir, file_list=file_list)
        if result:
            return "Push of files to destination errored"
    return None


# -- progress ------------------------------------------------------------------


def announce(files: dict, destinations: int) -> None:
    """Announce the files (and bytes) about to go to ``destinations`` destinations."""
    size = sum(int((meta or {}).get("size") or 0) for meta in files.values())
    PROGRESS.add_files_total(len(files) * destinations, size * destinations)


def destination_labels(specs: list[dict]) -> list[str]:
    """Name each destination ``protocol://host/directory`` (``#n`` when repeated).

    Only where the files go: credentials and other settings never appear.
    """
    labels: list[str] = []
    for number, spec in enumerate(specs, start=1):
        protocol = (spec.get("protocol") or {}).get("name", "?")
        host = spec.get("hostname") or ""
        directory = spec.get("directory") or ""
        if host:
            label = f"{protocol}://{host}{'' if directory.startswith('/') else '/'}"
            label += directory
        else:
            label = f"{protocol}:{directory}" if directory else protocol
        labels.append(f"{label}#{number}" if label in labels else label)
    return labels


@contextmanager
def counting(label: str, files: dict) -> Iterator[None]:
    """Count the files delivered to ``label`` while the block runs.

    Handlers that publish through :func:`fileops.publish` count each file as
    it lands. For the others (addons, email) every file is counted once the
    destination has succeeded.
    """
    before = PROGRESS.delivered_to(label)
    PROGRESS.delivering(label)
    try:
        yield
    finally:
        PROGRESS.delivering(None)
    if PROGRESS.delivered_to(label) == before:
        for meta in files.values():
            PROGRESS.file_delivered(label, int((meta or {}).get("size") or 0))
