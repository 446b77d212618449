"""A transfer's deliveries: the ledger rows, resume, ``deliverOnce`` and verification.

:class:`DeliveryLedger` sits at the seams of a transfer: it says which
files each destination still needs (:meth:`DeliveryLedger.plan`), watches
each destination's publishing (:meth:`DeliveryLedger.destination`, through
the hook of :mod:`~opentaskpy.fs.checksums`) and writes one
ledger row per file and destination (built and written by
:mod:`~opentaskpy.taskhandlers.ledgerrows`). With verification on, a destination's
copy is hashed where it lands and compared with the source's sha256 before
it is published under its final name. See ``docs/runs.md``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import threading
from collections.abc import Iterator
from typing import Any

from opentaskpy.fs import checksums
from opentaskpy.runs import ledger as store_ledger
from opentaskpy.runs import recorder as rec
from opentaskpy.runs.schema import DELIVERED, FAILED, SKIPPED
from opentaskpy.taskhandlers.ledgerhash import (
    HASH_ENV,
    RESEND_ENV,
    dest_identity,
    env_on,
    hash_at,
    verify_wanted,
)
from opentaskpy.taskhandlers.ledgerrows import LedgerRows


class DeliveryLedger(LedgerRows):
    """The deliveries of one transfer run."""

    def __init__(self, transfer: Any, logger: logging.Logger) -> None:
        """Find the run record and store of ``transfer`` (none: nothing recorded)."""
        self.transfer = transfer
        self.logger = logger
        self.task_id: str = transfer.task_id
        self.record: dict[str, Any] | None = getattr(transfer, "run_record", None)
        recorder = rec.current()
        if self.record is None and recorder and recorder.task_id == self.task_id:
            self.record = recorder.row
        self.store: Any = None
        if self.record is not None and recorder is not None:
            self.store = recorder.ready_store()
        self.source_host = ""
        self.files: dict = {}
        self.source_spec: dict = {}
        self._by_name: dict[str, str] = {}
        self._source_sha: dict[str, str] = {}
        self._dest: dict[str, Any] | None = None
        self._warned = False
        self._pending: list[dict[str, Any]] = []
        self._pending_since = 0.0
        # Files in flight publish from several worker threads at once.
        self._queue_lock = threading.Lock()

    # -- what each destination needs -----------------------------------------

    def start(self, files: dict, source_spec: dict) -> None:
        """Remember the source files; turn hashing on while the transfer runs."""
        self.files = files
        self.source_spec = source_spec
        protocol = (source_spec.get("protocol") or {}).get("name", "")
        self.source_host = str(
            source_spec.get("hostname") or ("LOCALHOST" if protocol == "local" else "")
        )
        self._by_name = {posixpath.basename(p): p for p in files}
        checksums.HASH = os.environ.get(HASH_ENV, "1") != "0"
        if self.store is not None:
            checksums.observe(self)

    def plan(self, dest_specs: list[dict], pgp: bool) -> list[dict]:
        """Return the files each destination still needs (all of them when unrecorded).

        A rerun after a failed run skips what the runs since the last success
        (same task id and rendered definition) delivered; ``deliverOnce``
        skips what was ever delivered. ``OTF_RESEND=1`` sends everything.
        """
        plans = [dict(self.files) for _ in dest_specs]
        if self.store is None or pgp or env_on(RESEND_ENV) or not self.files:
            return plans
        once = bool(self.source_spec.get("deliverOnce"))
        try:
            sha = self.record.get("definition_sha256") if self.record else None
            since = store_ledger.last_success_end(self.store, self.task_id, sha or "")
            for index, spec in enumerate(dest_specs):
                host, where = dest_identity(spec)
                known = store_ledger.delivered(
                    self.store, self.task_id, host, where, since, sha
                )
                ever = (
                    store_ledger.delivered(self.store, self.task_id, host, where)
                    if once
                    else {}
                )
                plans[index] = self._needed(index, spec, known, ever)
        except Exception as exc:  # noqa: BLE001 - recording never breaks a run
            self._warn(exc)
            return [dict(self.files) for _ in dest_specs]
        return plans

    def _needed(self, index: int, spec: dict, known: dict, ever: dict) -> dict:
        needed: dict = {}
        skipped = []
        for path, meta in self.files.items():
            key = (
                store_ledger.path_text(path) or "",
                int(meta.get("size") or 0),
                float(meta.get("modified_time") or 0),
            )
            if store_ledger.same_file(known, key, None):
                skipped.append(
                    (path, "delivered by a failed run since the last success")
                )
            elif key in ever and (
                ever[key] is None or self.source_sha(path) == ever[key]
            ):
                skipped.append((path, "deliverOnce: delivered before"))
            else:
                needed[path] = meta
        if skipped:
            host, where = dest_identity(spec)
            self.logger.info(
                f"{len(skipped)} of {len(self.files)} files already delivered to "
                f"{host}:{where} (run ledger); sending {len(needed)}"
            )
            now = store_ledger.now()
            self._write(
                [
                    self._row(index, spec, "", path, SKIPPED, now, reason=why)
                    for path, why in skipped
                ]
            )
        return needed

    # -- one destination ------------------------------------------------------

    @contextlib.contextmanager
    def destination(
        self, index: int, spec: dict, handler: Any, mechanism: str, files: dict
    ) -> Iterator[None]:
        """Watch one destination's publishing; record every file of ``files``."""
        verify = verify_wanted(spec)
        self._dest = {
            "index": index,
            "spec": spec,
            "handler": handler,
            "mechanism": mechanism,
            "verify": verify,
            "started": store_ledger.now(),
            "recorded": set(),
        }
        if verify:
            checksums.observe(self)
            if mechanism in ("direct", "pull"):
                for path in files:  # the bytes never pass through here
                    self.source_sha(path)
        ok = False
        try:
            yield
            ok = True
        finally:
            self._close_destination(files, ok)

    def _close_destination(self, files: dict, ok: bool) -> None:
        dest = self._dest
        assert dest is not None
        self._dest = None
        if self.store is None:
            checksums.observe(None)
        now = store_ledger.now()
        rows = [
            self._row(
                dest["index"],
                dest["spec"],
                dest["mechanism"],
                path,
                DELIVERED if ok else FAILED,
                dest["started"],
                reason=None if ok else "the destination failed",
                sha=self._known_sha(path),
                ended=now,
            )
            for path in files
            if path not in dest["recorded"]
        ]
        self._write(rows)
        self.flush()

    # -- the publish hook (checksums.PublishObserver) ----------------------

    def before_rename(
        self, fs: Any, temporary: str, final_path: str, label: str
    ) -> None:
        """Verify the complete copy at ``temporary`` when asked to."""
        dest = self._dest
        if dest is None or not dest["verify"]:
            return
        path = self._source_of(label)
        expected = (
            self.source_sha(path) if path in self.files else self._label_sha(label)
        )
        actual = self._dest_sha(fs, temporary)
        dest.setdefault("dest_sha", {})[path] = actual
        if expected is None or actual != expected:
            raise OSError(
                f"Verification failed for {final_path}: source sha256 "
                f"{expected or 'unknown'}, destination sha256 {actual}"
            )

    def published(self, fs: Any, final_path: str, label: str, size: int | None) -> None:
        """Record the file as delivered under ``final_path``."""
        self._record(final_path, label, DELIVERED, size, None)

    def failed(
        self, fs: Any, final_path: str, label: str, error: BaseException
    ) -> None:
        """Record the file as failed at this destination."""
        self._record(
            final_path, label, FAILED, None, str(error) or type(error).__name__
        )

    def _record(
        self,
        final_path: str,
        label: str,
        outcome: str,
        size: int | None,
        why: str | None,
    ) -> None:
        dest = self._dest
        if dest is None:
            return
        path = self._source_of(label)
        dest["recorded"].add(path)
        dest_sha = dest.get("dest_sha", {}).get(path)
        row = self._row(
            dest["index"],
            dest["spec"],
            dest["mechanism"],
            path,
            outcome,
            dest["started"],
            reason=why,
            sha=self._row_sha(path, label),
            ended=store_ledger.now(),
        )
        row.update(
            dest_path=store_ledger.path_text(final_path),
            bytes=size,
            verified=int(outcome == DELIVERED and bool(dest_sha))
            if dest["verify"]
            else None,
            dest_sha256=dest_sha,
        )
        self._write([row])
        dest["started"] = row["ended_at"]

    # -- hashes -----------------------------------------------------------------

    def source_sha(self, path: str) -> str | None:
        """Return the source sha256: from the stream, else hashed at the source."""
        found = self._known_sha(path)
        if found is not None:
            return found
        handler = self.transfer.source_remote_handler
        try:
            found = hash_at(self.source_spec, handler, path)
        except Exception as exc:  # noqa: BLE001 - unknown hash: not verified
            self.logger.warning(f"Unable to hash source file {path}: {exc}")
            return None
        if found:
            self._source_sha[path] = found
        return found

    def _known_sha(self, path: str) -> str | None:
        if path in self._source_sha:
            return self._source_sha[path]
        worker_dir = getattr(self.transfer, "_worker_dir", "")
        base = posixpath.basename(path)
        for label in (f"{self.source_host}:{path}", f"{worker_dir}/{base}", path):
            found = checksums.peek(label)
            if found is not None:
                self._source_sha[path] = found[0]
                return found[0]
        return None

    def _row_sha(self, path: str, label: str) -> str | None:
        """Return a row's sha256: from the stream, else hashed only when needed.

        Bytes copied inside the kernel (local to local) or host to host are
        hashed at the source only for verification and ``deliverOnce``.
        """
        found = self._known_sha(path)
        if found is None:
            peeked = checksums.peek(label)
            found = peeked[0] if peeked else None
        if found is None and path in self.files and self._needs_sha():
            found = self.source_sha(path)
        return found

    def _needs_sha(self) -> bool:
        dest = self._dest
        return bool(self.source_spec.get("deliverOnce") or (dest and dest["verify"]))

    def _label_sha(self, label: str) -> str | None:
        found = checksums.peek(label)
        if found is None and os.path.isfile(label):
            return checksums.sha256_file(label)  # a staged worker file (PGP output)
        return found[0] if found else None

    def _dest_sha(self, fs: Any, path: str) -> str | None:
        dest = self._dest
        assert dest is not None
        return hash_at(dest["spec"], dest["handler"], path, fs)

    def _source_of(self, label: str) -> str:
        return self._by_name.get(posixpath.basename(label), label)

    def close(self) -> None:
        """Write what is queued, stop observing, forget this transfer's digests."""
        self.flush()
        checksums.observe(None)
        worker_dir = getattr(self.transfer, "_worker_dir", "")
        for path in self.files:
            base = posixpath.basename(path)
            for label in (f"{self.source_host}:{path}", f"{worker_dir}/{base}", path):
                checksums.take(label)
