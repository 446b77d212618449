"""File transfers, read top to bottom as stages (``Transfer.run``).

Log watch, file watch, list and filter (conditionals, ``error`` flag), stage on
the worker and decrypt where needed, send to each destination (encrypting per
destination) and publish there (final move, flags), then the source's
post-copy action, which runs only after every destination succeeded. Endings
(early exits, failures, tidy-up): :mod:`~opentaskpy.taskhandlers.transferend`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from opentaskpy import ending, otflogging
from opentaskpy.exceptions import (
    DecryptionError,
    DecryptionNotSupportedError,
    EncryptionError,
    EncryptionNotSupportedError,
    ErrorClass,
    FilesDoNotMeetConditionsError,
    LogWatchInitError,
    LogWatchTimeoutError,
    RemoteFileNotFoundError,
    RemoteTransferError,
)
from opentaskpy.taskhandlers import conditionals, delivery, staging, watch
from opentaskpy.taskhandlers.delivery import (
    STREAM,
    WORKER,
    choose_mechanisms,
    stream_instead,
)
from opentaskpy.taskhandlers.ledgering import DeliveryLedger
from opentaskpy.taskhandlers.protocols import resolve_protocol
from opentaskpy.taskhandlers.transferend import KILLED_MESSAGE, TransferEnding, _Done

TASK_TYPE = "T"
DEFAULT_STAGING_DIR_BASE = "/tmp"


class Transfer(TransferEnding):
    """A transfer task: one source, zero or more destinations."""

    TASK_TYPE = TASK_TYPE
    DEFAULT_ERROR_CLASS = ErrorClass.TRANSFER

    def __init__(
        self, global_config: dict | None, task_id: str, transfer_definition: dict
    ):
        """Prepare the transfer; nothing is contacted or created yet.

        Args:
            global_config: the global variables (may be ``None``).
            task_id: the task's id, used for logs and handler specs.
            transfer_definition: the rendered definition (mutated at run time).
        """
        self.task_id = task_id
        self.transfer_definition = transfer_definition
        self.local_staging_dir = self._get_staging_directory()
        self.logger = otflogging.init_logging(__name__, task_id, TASK_TYPE)
        super().__init__(global_config)
        self.source_file_spec: dict | None = None
        self.dest_file_specs: list[dict] = []
        self.source_remote_handler: Any = None
        self.dest_remote_handlers: list[Any] | None = None
        #: The run record of this transfer when it is a batch step.
        self.run_record: dict | None = None
        self._ledger: DeliveryLedger | None = None
        self._reset()

    def _reset(self) -> None:
        self._kill_event: threading.Event | None = None
        self.overall_result = False
        self.handled_exception = False
        self.error_class = self.error_line = None
        ending.take_note()  # a note from an earlier task in this thread
        self._cleaned_up = False
        self._staging_created = False
        self._crypto_outputs: list[tuple[str, str]] = []

    def _get_staging_directory(self) -> str:
        """``{OTF_STAGING_DIR or /tmp}/OTF_STAGING_{pid}.{random}`` (not created)."""
        return staging.staging_path(
            os.environ.get("OTF_STAGING_DIR") or DEFAULT_STAGING_DIR_BASE
        )

    def _set_remote_handlers(self) -> None:
        """Build the source handler and one handler per destination (repeatable)."""
        self.source_file_spec = self.transfer_definition["source"]
        self.source_file_spec["task_id"] = self.task_id
        destinations = self.transfer_definition.get("destination")
        self.dest_file_specs = destinations if isinstance(destinations, list) else []
        # Assigned as they are built, so a failure part-way still tidies
        # every handler that exists (run() cleans up on any exception).
        self.source_remote_handler = None
        self.dest_remote_handlers = None
        self.source_remote_handler = self._make_handler(self.source_file_spec)
        if self.dest_file_specs:
            self.dest_remote_handlers = []
            for spec in self.dest_file_specs:
                self.dest_remote_handlers.append(self._make_handler(spec))

    def _make_handler(self, spec: dict) -> Any:
        spec["task_id"] = self.task_id
        protocol_name = spec["protocol"]["name"]
        handler = resolve_protocol(protocol_name, TASK_TYPE)(spec)
        self._set_handler_vars(protocol_name, handler)
        return handler

    def run(self, kill_event: threading.Event | None = None) -> bool:
        """Run the transfer, stage by stage.

        Args:
            kill_event: set by a parent batch to stop the task during watches.

        Returns:
            ``True`` on success, ``False`` for soft failures (killed).

        Raises:
            RemoteTransferError, RemoteFileNotFoundError, ...: on failures, after
                the handlers were tidied and the log closed.
        """
        self.logger.info("Running transfer")
        self._reset()
        self._kill_event = kill_event
        try:
            self._set_remote_handlers()
            staging.remove_abandoned(staging.staging_base(), self.logger)
            self._log_watch(kill_event)
            self._file_watch(kill_event)
            for handler in self.dest_remote_handlers or []:
                # Connections only: nothing is written before the listing.
                getattr(handler, "connect_ahead", lambda: None)()
            files = self._list_source_files()
            if self.dest_remote_handlers:
                delivery.announce(files, len(self.dest_remote_handlers))
                self._deliver(files)
            else:
                self.logger.info("Performing filewatch only")
            self._stop_if_killed()
            self._post_copy_action(files)
        except _Done as done:
            return done.result
        except (EncryptionError, DecryptionError) as exc:
            return self.return_result(1, str(exc), type(exc))
        except BaseException:
            # Tidy (and remove staged files), then let unexpected errors and
            # a terminating signal's SignalExit through unchanged.
            self._cleanup()
            raise
        finally:
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None
        return self.return_result(0)

    # -- stages ---------------------------------------------------------------

    def _log_watch(self, kill_event: threading.Event | None) -> None:
        spec = self._source.get("logWatch")
        if not spec:
            return
        self.logger.info(f"Performing a log watch of {spec['directory']}/{spec['log']}")
        if self.source_remote_handler.init_logwatch() != 0:
            self._fail("Logwatch init failed", LogWatchInitError)
        timeout = spec.get("timeout", watch.DEFAULT_TIMEOUT)
        outcome = watch.watch_log(
            self.source_remote_handler, timeout, kill_event, self.logger
        )
        if outcome is watch.WatchOutcome.KILLED:
            self._finish(1, KILLED_MESSAGE)
        if outcome is watch.WatchOutcome.TIMED_OUT:
            self._fail(
                f"No log entry found after {timeout} seconds", LogWatchTimeoutError
            )
        self.logger.info("Found pattern in log file")

    def _file_watch(self, kill_event: threading.Event | None) -> None:
        source = self._source
        if "fileWatch" not in source:
            return
        spec = source["fileWatch"] or {}
        directory = spec.get("directory") or source.get("directory")
        pattern = spec.get("fileRegex") or source.get("fileRegex")
        timeout = spec.get("timeout", watch.DEFAULT_TIMEOUT)
        self.logger.info(f"Performing a file watch on {directory}/{pattern}")
        # (upstream quirk, kept) the mere presence of the key enables it.
        during_watch = "checkDuringFilewatch" in (source.get("conditionals") or {})
        outcome, _ = watch.watch_files(
            self.source_remote_handler,
            directory,
            pattern,
            timeout,
            kill_event,
            self.logger,
            self.check_conditionals if during_watch else None,
        )
        if outcome is watch.WatchOutcome.KILLED:
            self._finish(1, KILLED_MESSAGE)
        if outcome is watch.WatchOutcome.FOUND:
            if spec.get("watchOnly"):
                self._finish(0, "Just performing filewatch")
            return
        if "error" in source and not source["error"]:
            self.logger.info(
                "Valid files not found after timeout, but error is set to false"
            )
            self._finish(0, "Valid files not found")
        self._fail(
            f"No valid files found after {timeout} seconds", RemoteFileNotFoundError
        )

    def _list_source_files(self) -> dict:
        source = self._source
        files = self.source_remote_handler.list_files(
            directory=source.get("directory"), file_pattern=source.get("fileRegex")
        )
        if "conditionals" in source and files:
            self.check_conditionals(files)
        if not files and self.source_remote_handler.missing_files_fail:
            if "error" in source and not source["error"]:
                self._finish(
                    0,
                    "Valid remote files could not be found to transfer. "
                    "But not erroring due to config",
                )
            self._fail(
                "Valid remote files could not be found to transfer",
                FilesDoNotMeetConditionsError,
            )
        self.logger.info("Found the following file(s) that match all requirements:")
        for path in files:
            self.logger.info(f" * {path}")
        return files

    def _deliver(self, files: dict) -> None:
        """Stage on the worker where needed, decrypt, then send to each destination."""
        assert self.dest_remote_handlers is not None
        mechanisms = choose_mechanisms(
            self.source_remote_handler, self.dest_file_specs, self.dest_remote_handlers
        )
        decrypt = bool((self._source.get("encryption") or {}).get("decrypt"))
        if decrypt and WORKER in mechanisms:
            # Decrypted files exist only on the worker: everyone is fed from there.
            mechanisms = [WORKER] * len(mechanisms)
        source = self.source_remote_handler
        if stream_instead(
            source, self.dest_file_specs, self.dest_remote_handlers, mechanisms, decrypt
        ):
            mechanisms = [STREAM]
        encrypt = any(
            (s.get("encryption") or {}).get("encrypt") for s in self.dest_file_specs
        )
        self._ledger = DeliveryLedger(self, self.logger)
        self._ledger.start(files, self._source)
        plans = self._ledger.plan(self.dest_file_specs, decrypt or encrypt)
        if WORKER in mechanisms:
            needed = {p: m for plan in plans for p, m in plan.items()}
            self._stage_on_worker(needed)
        if decrypt:
            if WORKER not in mechanisms:
                self._fail(
                    "Decryption requested but not supported for this transfer",
                    DecryptionNotSupportedError,
                )
            self.logger.info("Decrypting files")
            private_key = self._source["encryption"].get("private_key", "")
            files = self.decrypt_files(self._on_worker(files), private_key)
            self.logger.info(f"Decrypted {len(files)} files")
        labels = delivery.destination_labels(self.dest_file_specs)
        for index, (spec, handler, mechanism, label) in enumerate(
            zip(
                self.dest_file_specs,
                self.dest_remote_handlers,
                mechanisms,
                labels,
                strict=True,
            )
        ):
            self._stop_if_killed()
            wanted = files if decrypt or encrypt else plans[index]
            if not wanted:
                continue  # the ledger says every file is there already
            with (
                delivery.counting(label, wanted),
                self._ledger.destination(index, spec, handler, mechanism, wanted),
            ):
                # (upstream quirk, kept) files encrypted for one destination
                # are what every later destination receives.
                sent = self._send(spec, handler, mechanism, wanted, decrypt, files)
            if decrypt or encrypt:
                files = sent
        self._remove_crypto_outputs()

    def _stage_on_worker(self, files: dict) -> None:
        """Fetch the files into the private (0700) staging directory."""
        if not self.source_remote_handler.files_on_worker and not self._staging_created:
            try:
                staging.ensure_private_dir(self.local_staging_dir)
            except OSError as exc:
                self._fail(
                    f"Unable to create local staging directory: {exc}",
                    RemoteTransferError,
                )
            self._staging_created = True
        if self.source_remote_handler.pull_files_to_worker(files, self._worker_dir):
            self._fail("Pull to worker from remote source errored", RemoteTransferError)

    def _send(
        self,
        spec: dict,
        handler: Any,
        mechanism: str,
        files: dict,
        decrypted: bool,
        listed: dict | None = None,
    ) -> dict:
        """Deliver ``files`` (``listed``: all the source files) to one destination."""
        encryption = spec.get("encryption") or {}
        encrypted = bool(encryption.get("encrypt"))
        if encrypted:
            if mechanism != WORKER:
                self._fail(
                    "Encryption requested but not supported for this transfer",
                    EncryptionNotSupportedError,
                )
            self.logger.info("Encrypting files")
            files = self.encrypt_files(
                self._on_worker(files),
                encryption.get("public_key", ""),
                encryption.get("private_key") if encryption.get("sign") else None,
                encryption.get("output_extension") or "gpg",
            )
            self.logger.info(f"Encrypted {len(files)} files")

        # Everything staged, unless PGP made a list of its own (or the source
        # is local: its directory holds other files too).
        source_on_worker = self.source_remote_handler.files_on_worker
        push_all = not source_on_worker and not decrypted and not encrypted
        file_list = None if push_all else files
        if push_all and listed is not None and len(files) != len(listed):
            file_list = self._on_worker(files)  # only what the ledger says is missing
        failure = delivery.send(
            mechanism,
            self.source_remote_handler,
            self._source,
            spec,
            handler,
            files,
            self._worker_dir,
            file_list,
            self.logger,
        )
        if failure:
            self._fail_from(failure, handler, self.source_remote_handler)

        if handler.final_move_on_host and handler.move_files_to_final_location(files):
            self._fail_from("Error moving file into final location", handler)
        if "flags" in spec and handler.create_flag_files():
            self._fail("Error creating flag files", RemoteTransferError)
        self.logger.info(f"Transferred {len(files)} files")
        return files

    def _post_copy_action(self, files: dict) -> None:
        if "postCopyAction" not in self._source:
            return
        self.logger.info("Performing post copy action")
        try:
            result = self.source_remote_handler.handle_post_copy_action(files)
        except Exception as exc:
            raise _Done(
                self.return_result(
                    1, "Error performing post copy action", exception=exc
                )
            ) from exc
        if result != 0:
            self._fail("Error performing post copy action", RemoteTransferError)

    # -- helpers ----------------------------------------------------------------

    @property
    def _worker_dir(self) -> str:
        """Where the files are on the worker: a local source's own directory."""
        if self.source_remote_handler.files_on_worker:
            return self._source["directory"]
        return self.local_staging_dir

    def _on_worker(self, files: dict) -> dict:
        return {
            f"{self._worker_dir}/{os.path.basename(path)}": meta
            for path, meta in files.items()
        }

    # -- public API -------------------------------------------------------------

    def check_conditionals(self, remote_files: dict) -> dict:
        """Filter ``remote_files`` in place by the source's conditionals."""
        return conditionals.check_conditionals(
            remote_files, self._source.get("conditionals") or {}, self.logger
        )
