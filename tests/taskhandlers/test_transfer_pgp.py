# ruff: noqa: F811 - pytest fixtures imported from transfer_helpers
"""Encryption and decryption inside transfers, and how files reach destinations."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from transfer_helpers import (  # noqa: F401 - fixtures
    DirectLocal,
    StagingSource,
    gpg_decrypt,
    gpg_encrypt,
    info_logging,
    make_files,
    only_log,
    pgp_keys,
)

from opentaskpy import exceptions
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import local_dest, local_source, transfer_def

pytestmark = pytest.mark.usefixtures("staging_base")


def test_encrypt_to_local_destination_leaves_no_temporaries(
    tmp_path: Path, pgp_keys: dict, staging_base: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"x.txt": "clear text"})
    dst.mkdir()
    encryption = {"encrypt": True, "public_key": pgp_keys["recipient_public"]}
    definition = transfer_def(
        local_source(src, r"x\.txt", postCopyAction={"action": "delete"}),
        local_dest(dst, encryption=encryption),
    )
    assert Transfer(None, "enc", definition).run() is True
    assert os.listdir(dst) == ["x.txt.gpg"]
    text, _ = gpg_decrypt(
        dst / "x.txt.gpg", [pgp_keys["recipient_private"]], tmp_path / "check"
    )
    assert text == "clear text"
    assert os.listdir(src) == []  # original deleted by the PCA, temporary .gpg removed
    assert list(staging_base.iterdir()) == []
    log = only_log("enc").read_text()
    assert "Encrypting files" in log and "Encrypted 1 files" in log
    # The reference's clean-up message text.
    assert f"Removing local encrypted file {src}/x.txt.gpg" in log


def test_signed_encryption_with_pgp_extension(tmp_path: Path, pgp_keys: dict) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"x.txt": "signed"})
    dst.mkdir()
    encryption = {
        "encrypt": True,
        "sign": True,
        "public_key": pgp_keys["recipient_public"],
        "private_key": pgp_keys["signer_private"],
        "output_extension": "pgp",
    }
    assert Transfer(
        None,
        "enc-sign",
        transfer_def(local_source(src, "x"), local_dest(dst, encryption=encryption)),
    ).run()
    assert os.listdir(dst) == ["x.txt.pgp"]
    assert os.listdir(src) == ["x.txt"]
    text, result = gpg_decrypt(
        dst / "x.txt.pgp",
        [pgp_keys["recipient_private"], pgp_keys["signer_public"]],
        tmp_path / "c",
    )
    assert text == "signed" and result.valid


def _encrypted_source(
    tmp_path: Path, pgp_keys: dict, name: str, text: str, key: str
) -> tuple[Path, Path, dict]:
    """An encrypted ``src/<name>.txt.gpg`` and a source decrypting it with ``key``.

    ``text`` is the plain content; ``dst`` is made empty. Returns src, dst, source.
    """
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (tmp_path / "plain").write_text(text)
    gpg_encrypt(
        tmp_path / "plain",
        src / f"{name}.txt.gpg",
        pgp_keys["recipient_public"],
        tmp_path / "e",
    )
    encryption = {"decrypt": True, "private_key": pgp_keys[key]}
    return src, dst, local_source(src, name, encryption=encryption)


def test_decrypt_local_source(tmp_path: Path, pgp_keys: dict) -> None:
    src, dst, source = _encrypted_source(
        tmp_path, pgp_keys, "in", "was encrypted", "recipient_private"
    )
    assert Transfer(None, "dec", transfer_def(source, local_dest(dst))).run() is True
    assert os.listdir(dst) == ["in.txt"]
    assert (dst / "in.txt").read_text() == "was encrypted"
    assert os.listdir(src) == ["in.txt.gpg"]  # decrypted temporary removed
    log = only_log("dec").read_text()
    assert "Decrypted 1 files" in log
    # The reference's clean-up message text.
    assert f"Removing local decrypted file {src}/in.txt" in log


def test_decrypt_with_wrong_key_fails_cleanly(tmp_path: Path, pgp_keys: dict) -> None:
    src, dst, source = _encrypted_source(
        tmp_path, pgp_keys, "in", "p", "signer_private"
    )
    with pytest.raises(exceptions.DecryptionError, match="Error decrypting file"):
        Transfer(None, "dec-wrong", transfer_def(source, local_dest(dst))).run()
    assert os.listdir(src) == ["in.txt.gpg"]
    assert os.listdir(dst) == []
    assert only_log("dec-wrong").name.endswith("_failed.log")


def test_bad_public_key_raises_encryption_error(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"x.txt": "x"})
    dst.mkdir()
    definition = transfer_def(
        local_source(src, "x"),
        local_dest(dst, encryption={"encrypt": True, "public_key": "junk"}),
    )
    with pytest.raises(exceptions.EncryptionError, match="Error importing public key"):
        Transfer(None, "enc-bad", definition).run()
    assert os.listdir(src) == ["x.txt"] and os.listdir(dst) == []


def test_remote_like_source_stages_privately_and_removes_staging(
    tmp_path: Path, pgp_keys: dict, staging_base: Path
) -> None:
    src, dst, source = _encrypted_source(
        tmp_path, pgp_keys, "s", "via staging", "recipient_private"
    )
    source["protocol"] = {"name": "transfer_helpers.StagingSource"}
    obj = Transfer(None, "staged", transfer_def(source, local_dest(dst)))
    StagingSource.seen_staging_modes.clear()
    assert obj.run() is True
    assert (dst / "s.txt").read_text() == "via staging"
    assert [stat.S_IMODE(m) for m in StagingSource.seen_staging_modes] == [0o700]
    assert obj.local_staging_dir.startswith(f"{staging_base}/OTF_STAGING_")
    assert not os.path.exists(obj.local_staging_dir)
    assert os.listdir(src) == ["s.txt.gpg"]


def test_direct_and_pull_mechanisms_and_crypto_not_supported(
    tmp_path: Path, pgp_keys: dict
) -> None:
    src, d1, d2 = tmp_path / "src", tmp_path / "d1", tmp_path / "d2"
    make_files(src, {"a.txt": "a"})
    d1.mkdir()
    d2.mkdir()
    name = {"name": "transfer_helpers.DirectLocal"}
    source = {**local_source(src, "a"), "protocol": name}
    dests = [
        {**local_dest(d1), "protocol": name},
        {**local_dest(d2), "protocol": name, "transferType": "pull"},
    ]
    DirectLocal.calls.clear()
    assert Transfer(None, "direct", transfer_def(source, *dests)).run()
    assert DirectLocal.calls == [
        ("transfer_files", [f"{src}/a.txt"], str(d1), "DirectLocal"),
        ("pull_files", [f"{src}/a.txt"], str(src)),
    ]
    assert (d1 / "a.txt").exists() and (d2 / "a.txt").exists()

    encrypting = {
        **local_dest(d1),
        "protocol": name,
        "encryption": {"encrypt": True, "public_key": pgp_keys["recipient_public"]},
    }
    with pytest.raises(
        exceptions.EncryptionNotSupportedError,
        match="Encryption requested but not supported for this transfer",
    ):
        Transfer(None, "direct-enc", transfer_def(source, encrypting)).run()
    decrypting = {
        **source,
        "encryption": {"decrypt": True, "private_key": pgp_keys["recipient_private"]},
    }
    with pytest.raises(
        exceptions.DecryptionNotSupportedError,
        match="Decryption requested but not supported for this transfer",
    ):
        Transfer(
            None,
            "direct-dec",
            transfer_def(decrypting, {**local_dest(d1), "protocol": name}),
        ).run()


def test_mixed_destinations_each_get_the_files(tmp_path: Path) -> None:
    # a direct-capable source with [other protocol, same protocol]: the reference
    # would deliver nothing to the second; here it is fed from the worker.
    src, d1, d2 = tmp_path / "src", tmp_path / "d1", tmp_path / "d2"
    make_files(src, {"m.txt": "m"})
    d1.mkdir()
    d2.mkdir()
    name = {"name": "transfer_helpers.DirectLocal"}
    source = {**local_source(src, "m"), "protocol": name}
    assert Transfer(
        None,
        "mixed",
        transfer_def(source, local_dest(d1), {**local_dest(d2), "protocol": name}),
    ).run()
    assert (d1 / "m.txt").read_text() == "m"
    assert (d2 / "m.txt").read_text() == "m"
