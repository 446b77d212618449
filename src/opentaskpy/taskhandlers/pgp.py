"""PGP encryption and decryption of worker files (python-gnupg + ``gpg``).

Each call works in a fresh, private GnuPG home
``{base}/OTF_STAGING_{pid}.{random}/.gnupg`` (``base`` = ``OTF_STAGING_DIR`` or
``/tmp``), created with mode 0700 and removed afterwards together with its
parent. (The reference leaves the empty parent behind; removing it is safe.)
Existing files are never overwritten: an output name that already exists is an
error, so a source file can never be clobbered and then tidied away.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

from opentaskpy.exceptions import DecryptionError, EncryptionError
from opentaskpy.taskhandlers.staging import make_private_dir, staging_base, staging_path

if TYPE_CHECKING:  # imported when a key is used: most transfers have none
    import gnupg

# gpg-agent puts its sockets in the home directory when /run/user/<uid> does
# not exist; a Unix socket path must fit in 108 bytes.
_MAX_HOME_LENGTH = 107 - len("/S.gpg-agent.browser")


@contextmanager
def gnupg_home(logger: logging.Logger) -> Iterator[gnupg.GPG]:
    """Yield a GPG object on a new private home, removed afterwards."""
    base = staging_base()
    if len(staging_path(base)) + len("/.gnupg") > _MAX_HOME_LENGTH:
        logger.debug(f"{base} is too long for gpg-agent sockets; using /tmp")
        base = "/tmp"
    while True:
        parent = staging_path(base)
        try:
            make_private_dir(parent)
            break
        except FileExistsError:
            continue
    home = os.path.join(parent, ".gnupg")
    try:
        os.mkdir(home, 0o700)
        try:
            import gnupg

            gpg = gnupg.GPG(gnupghome=home)
        except (OSError, ValueError) as exc:
            raise EncryptionError(f"Unable to run gpg: {exc}") from exc
        yield gpg
    finally:
        _stop_agent(home)
        shutil.rmtree(parent, ignore_errors=True)
        logger.debug(f"Removed GnuPG home {home}")


def _stop_agent(home: str) -> None:
    """Stop a gpg-agent that importing a secret key may have started."""
    if not os.path.isdir(home):
        return
    import subprocess  # here: transfers without PGP never start a process

    with suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["gpgconf", "--homedir", home, "--kill", "gpg-agent"],
            capture_output=True,
            check=False,
            timeout=10,
        )


def _import(gpg: gnupg.GPG, key: str, what: str, logger: logging.Logger) -> list[str]:
    result = gpg.import_keys(key)
    fingerprints = [fp for fp in (result.fingerprints or []) if fp]
    if not fingerprints:
        message = f"Error importing {what} key"
        logger.error(message)
        raise EncryptionError(message)
    return fingerprints


def _refuse_existing(path: str, error: type[Exception], source: str) -> None:
    if os.path.lexists(path):
        verb = "encrypting" if error is EncryptionError else "decrypting"
        raise error(f"Error {verb} file {source}: output file {path} already exists")


def _remove_quietly(path: str) -> None:
    with suppress(OSError):
        os.remove(path)


def encrypt_files(
    files: dict,
    public_key: str,
    private_key: str | None,
    extension: str,
    logger: logging.Logger,
) -> dict:
    r"""Encrypt each worker file to ``{file}.{extension}``.

    Args:
        files: ``{worker path: metadata}``.
        public_key: armoured public key; literal ``\n`` sequences become newlines.
        private_key: armoured private key to sign with (imported as given), or None.
        extension: output extension without the dot.
        logger: task logger.

    Returns:
        ``{output path: original metadata}``.

    Raises:
        EncryptionError: a key cannot be imported or a file cannot be encrypted.
    """
    encrypted: dict = {}
    with gnupg_home(logger) as gpg:
        _import(gpg, public_key.replace("\\n", "\n"), "public", logger)
        recipient = gpg.list_keys()[0]["fingerprint"]
        signer = None
        if private_key:
            signer = _import(gpg, private_key, "private", logger)[0]
        for path, metadata in files.items():
            output = f"{path}.{extension}"
            _refuse_existing(output, EncryptionError, path)
            with open(path, "rb") as stream:
                result = gpg.encrypt_file(
                    stream,
                    recipients=[recipient],
                    output=output,
                    always_trust=True,
                    sign=signer,
                )
            if not result.ok or result.status != "encryption ok":
                _remove_quietly(output)
                message = f"Error encrypting file {path}: {result.status}"
                logger.error(message)
                logger.error(f"GPG STDERR: {result.stderr}")
                raise EncryptionError(message)
            encrypted[output] = metadata
    return encrypted


def decrypted_name(path: str) -> str:
    """Output name for decrypting ``path``.

    (upstream quirk, kept) For names ending in ``.gpg``/``.pgp`` every
    occurrence of those strings in the whole path is removed.
    """
    if path.endswith((".gpg", ".pgp")):
        return path.replace(".gpg", "").replace(".pgp", "")
    return f"{path}.decrypted"


def decrypt_files(files: dict, private_key: str, logger: logging.Logger) -> dict:
    r"""Decrypt each worker file next to itself.

    Args:
        files: ``{worker path: metadata}``.
        private_key: armoured private key; literal ``\n`` sequences become newlines.
        logger: task logger.

    Returns:
        ``{output path: original metadata}``.

    Raises:
        EncryptionError: the private key cannot be imported.
        DecryptionError: a file cannot be decrypted.
    """
    decrypted: dict = {}
    with gnupg_home(logger) as gpg:
        _import(gpg, private_key.replace("\\n", "\n"), "private", logger)
        for path, metadata in files.items():
            output = decrypted_name(path)
            logger.info(f"Decrypting {path} to {output}")
            _refuse_existing(output, DecryptionError, path)
            with open(path, "rb") as stream:
                result = gpg.decrypt_file(stream, output=output, always_trust=True)
            if not result.ok or result.returncode != 0:
                _remove_quietly(output)
                message = f"Error decrypting file {path}: {result.status}"
                logger.error(message)
                raise DecryptionError(message)
            decrypted[output] = metadata
    return decrypted


def remove_outputs(paths: list[tuple[str, str]], logger: logging.Logger) -> None:
    """Delete encrypted/decrypted worker files that still exist.

    Args:
        paths: ``(path, kind)`` pairs, ``kind`` being ``encrypted`` or
            ``decrypted`` (it names the file in the log line).
        logger: the task logger.
    """
    for path, kind in paths:
        if os.path.lexists(path):
            logger.info(f"Removing local {kind} file {path}")
            os.remove(path)
