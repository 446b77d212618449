"""Helpers for the transfer tests: definitions, log lookup, PGP keys, test handlers.

The handler classes at the bottom are real (tiny) addon protocols, resolved
by dotted name exactly like published addons (``transfer_helpers.StagingSource``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from opentaskpy.remotehandlers.local import LocalTransfer


def task_logs(task_id: str) -> list[str]:
    """All log files of a task under ./logs (cwd is the per-test directory)."""
    return sorted(glob.glob(f"logs/{task_id}/*.log"))


def only_log(task_id: str, task_type: str = "T") -> Path:
    logs = [p for p in task_logs(task_id) if f"_{task_type}" in os.path.basename(p)]
    assert len(logs) == 1, logs
    return Path(logs[0])


def make_files(directory: Path, names: dict[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in names.items():
        (directory / name).write_text(content)


def backdate(path: Path, seconds: float) -> None:
    st = path.stat()
    os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


# -- PGP keys -----------------------------------------------------------------


def _gen_key(home: Path, uid: str) -> tuple[str, str]:
    home.mkdir(mode=0o700)
    base = ["gpg", "--homedir", str(home), "--batch", "--yes"]
    subprocess.run(
        [
            *base,
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "future-default",
            "default",
            "never",
        ],
        check=True,
        capture_output=True,
    )
    public = subprocess.run(
        [*base, "--armor", "--export", uid], check=True, capture_output=True, text=True
    ).stdout
    private = subprocess.run(
        [*base, "--armor", "--export-secret-keys", uid],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False
    )
    return public, private


@pytest.fixture(scope="session")
def pgp_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two unprotected key pairs: ``recipient`` and ``signer``."""
    root = tmp_path_factory.mktemp("gpgkeys")
    recipient_pub, recipient_priv = _gen_key(
        root / "r", "Recipient <recipient@example.com>"
    )
    signer_pub, signer_priv = _gen_key(root / "s", "Signer <signer@example.com>")
    return {
        "recipient_public": recipient_pub,
        "recipient_private": recipient_priv,
        "signer_public": signer_pub,
        "signer_private": signer_priv,
    }


def gpg_decrypt(path: Path, keys: list[str], home: Path) -> tuple[str, object]:
    """Decrypt ``path`` independently of the code under test (own keyring)."""
    import gnupg

    home.mkdir(mode=0o700, exist_ok=True)
    gpg = gnupg.GPG(gnupghome=str(home))
    for key in keys:
        assert gpg.import_keys(key).fingerprints
    with open(path, "rb") as stream:
        result = gpg.decrypt_file(stream, always_trust=True)
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False
    )
    return str(result), result


def gpg_encrypt(path: Path, output: Path, public_key: str, home: Path) -> None:
    import gnupg

    home.mkdir(mode=0o700, exist_ok=True)
    gpg = gnupg.GPG(gnupghome=str(home))
    fingerprint = gpg.import_keys(public_key).fingerprints[0]
    with open(path, "rb") as stream:
        result = gpg.encrypt_file(
            stream, [fingerprint], output=str(output), always_trust=True
        )
    assert result.ok, result.status


# -- test protocols -------------------------------------------------------------


class StagingSource(LocalTransfer):
    """A local source that behaves like a remote one: files are copied to staging."""

    seen_staging_modes: list[int] = []

    def pull_files_to_worker(self, files: dict, local_staging_directory: str) -> int:
        StagingSource.seen_staging_modes.append(
            os.stat(local_staging_directory).st_mode
        )
        for path in files:
            shutil.copyfile(
                path, os.path.join(local_staging_directory, os.path.basename(path))
            )
        return 0


class LogWatchSource(StagingSource):
    """A local source with a log watch reading ``logWatch.directory/log``."""

    def _log_path(self) -> str:
        watch = self.spec["logWatch"]
        return os.path.join(watch["directory"], watch["log"])

    def init_logwatch(self) -> int:
        return 0 if os.path.isfile(self._log_path()) else 1

    def do_logwatch(self) -> int:
        import re

        with open(self._log_path()) as stream:
            for line in stream:
                if re.search(self.spec["logWatch"]["contentRegex"], line.strip()):
                    return 0
        return 1


class ExplodingPostCopySource(LocalTransfer):
    """A local source whose post-copy action raises."""

    def handle_post_copy_action(self, files: dict) -> int:
        raise OSError("disk on fire")


class NotAHandler:
    """Importable, but not a RemoteTransferHandler."""


@pytest.fixture(autouse=True)
def info_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task loggers follow OTF_LOG_LEVEL; INFO makes the log files assertable."""
    monkeypatch.setenv("OTF_LOG_LEVEL", "INFO")


class DirectLocal(StagingSource):
    """Supports direct transfers (like SSH): records how it was driven."""

    calls: list[tuple] = []

    def supports_direct_transfer(self) -> bool:
        return True

    def transfer_files(
        self, files: dict, remote_spec: dict, dest_remote_handler: object = None
    ) -> int:
        DirectLocal.calls.append(
            (
                "transfer_files",
                sorted(files),
                remote_spec["directory"],
                type(dest_remote_handler).__name__,
            )
        )
        for path in files:
            shutil.copyfile(
                path, os.path.join(remote_spec["directory"], os.path.basename(path))
            )
        return 0

    def pull_files(self, files: dict, source_spec: dict | None = None) -> int:  # type: ignore[override]
        DirectLocal.calls.append(
            (
                "pull_files",
                sorted(files),
                source_spec["directory"] if source_spec else None,
            )
        )
        for path in files:
            shutil.copyfile(
                path, os.path.join(self.spec["directory"], os.path.basename(path))
            )
        return 0


class VarsSource(LocalTransfer):
    """Accepts global protocol vars."""

    protocol_vars: dict | None = None

    def set_handler_vars(self, protocol_vars: dict) -> None:
        self.protocol_vars = protocol_vars
