"""How a transfer run ends: early exits, failures naming their cause, tidy-up.

The stages of :class:`~opentaskpy.taskhandlers.transfer.Transfer` stop the run
with ``_fail``/``_finish`` (which raise :class:`_Done` carrying the result
``return_result`` gave); whatever the ending, the handlers are tidied and the
worker's temporaries (PGP outputs, the staging directory) removed exactly
once. The PGP steps are here because their outputs are such temporaries.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from opentaskpy import ending
from opentaskpy.exceptions import OTFError, RemoteTransferError
from opentaskpy.taskhandlers import pgp, staging
from opentaskpy.taskhandlers.taskhandler import TaskHandler

KILLED_MESSAGE = "KILLED DUE TO TIMEOUT FROM PARENT BATCH"


class _Done(Exception):
    """Ends ``run`` early with the value ``return_result`` gave."""

    def __init__(self, result: bool):
        super().__init__(result)
        self.result = result


class TransferEnding(TaskHandler):
    """The ending half of a transfer; the stages are in ``Transfer``."""

    logger: logging.Logger
    transfer_definition: dict
    local_staging_dir: str
    source_file_spec: dict | None
    source_remote_handler: Any
    dest_remote_handlers: list[Any] | None
    _kill_event: threading.Event | None
    _cleaned_up: bool
    _crypto_outputs: list[tuple[str, str]]

    @property
    def _source(self) -> dict:
        return self.source_file_spec or self.transfer_definition["source"]

    def _stop_if_killed(self) -> None:
        """End the run between stages once a batch timeout or kill is signalled.

        The reference only notices a kill during watches; stopping between
        destinations and before the post-copy action keeps a timed-out
        transfer from running on (a file being copied is still finished,
        and a killed run never post-copies, so nothing is lost).
        """
        if self._kill_event is not None and self._kill_event.is_set():
            self._finish(1, KILLED_MESSAGE)

    def _fail(self, message: str, exception: Callable[[str], Exception]) -> None:
        raise _Done(self.return_result(1, message, exception))

    def _fail_from(self, message: str, *handlers: Any) -> None:
        """Fail with ``message`` and the cause a handler recorded, if any.

        The raised :class:`RemoteTransferError` carries the handler's host,
        protocol and cause, and its message names all three.
        """
        for handler in handlers:
            detail = getattr(handler, "last_error", None)
            if isinstance(detail, OTFError):
                text = str(detail)
                self._fail(
                    text if text.startswith(message) else f"{message}: {text}",
                    functools.partial(
                        RemoteTransferError,
                        host=detail.host,
                        protocol=detail.protocol,
                        cause=detail.cause,
                    ),
                )
        self._fail(message, RemoteTransferError)

    def _finish(self, status: int, message: str) -> None:
        if message == KILLED_MESSAGE:
            message += ending.signal_suffix()
        raise _Done(self.return_result(status, message))

    def _remove_crypto_outputs(self) -> None:
        pgp.remove_outputs(self._crypto_outputs, self.logger)
        self._crypto_outputs = []

    def _cleanup(self) -> None:
        """Tidy the handlers and remove worker temporaries (once per run)."""
        if self._cleaned_up:
            return
        self._cleaned_up = True
        if self.source_remote_handler is not None:
            self.logger.info("Closing source connection")
            self._tidy_handler(self.source_remote_handler)
        for handler in self.dest_remote_handlers or []:
            self.logger.info(f"Closing dest connection for {handler}")
            self._tidy_handler(handler)
        self._remove_crypto_outputs()
        source = self.source_remote_handler
        if source is not None and not source.keeps_staging_dir:
            source_dir = (
                self._source.get("directory") if source.files_on_worker else None
            )
            staging.remove_staging_dir(self.local_staging_dir, source_dir, self.logger)

    def return_result(
        self, status: int, message: str | None = None, exception: Any = None
    ) -> bool:
        """Tidy handlers and the worker staging directory, then report.

        See :meth:`TaskHandler.return_result` for the return/raise rules.
        """
        # (spec: logger.exception(exception)) The base logs ``message`` with
        # the traceback; the exception's own text is logged only when it says
        # something else, so one failure is one ERROR line.
        if (
            isinstance(exception, BaseException)
            and not self.handled_exception
            and str(exception) != message
        ):
            self.logger.error(str(exception))
        self._cleanup()
        return super().return_result(status, message, exception)

    def encrypt_files(
        self,
        files: dict,
        public_key: str,
        private_key: str | None = None,
        extension: str = "gpg",
    ) -> dict:
        """PGP-encrypt worker files to ``{file}.{extension}``."""
        encrypted = pgp.encrypt_files(
            files, public_key, private_key, extension, self.logger
        )
        self._crypto_outputs.extend((path, "encrypted") for path in encrypted)
        return encrypted

    def decrypt_files(self, files: dict, private_key: str) -> dict:
        """PGP-decrypt worker files next to themselves."""
        decrypted = pgp.decrypt_files(files, private_key, self.logger)
        self._crypto_outputs.extend((path, "decrypted") for path in decrypted)
        return decrypted
