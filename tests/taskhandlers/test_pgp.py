# ruff: noqa: F811 - pytest fixtures imported from transfer_helpers
"""PGP helpers with the real gpg binary: naming, signing, errors, temp homes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from transfer_helpers import (  # noqa: F401 - fixtures
    gpg_decrypt,
    gpg_encrypt,
    info_logging,
    only_log,
    pgp_keys,
)

from opentaskpy import exceptions
from opentaskpy.taskhandlers import pgp
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import local_source, transfer_def


@pytest.fixture
def obj(tmp_path: Path) -> Transfer:
    return Transfer(None, "pgp", transfer_def(local_source(tmp_path, "x")))


def _meta() -> dict:
    return {"size": 1, "modified_time": 0.0}


def test_encrypt_then_decrypt_roundtrip(
    tmp_path: Path, obj: Transfer, pgp_keys: dict, staging_base: Path
) -> None:
    plain = tmp_path / "x.txt"
    plain.write_text("secret payload\n")
    encrypted = obj.encrypt_files({str(plain): _meta()}, pgp_keys["recipient_public"])
    assert encrypted == {f"{plain}.gpg": _meta()}
    text, result = gpg_decrypt(
        Path(f"{plain}.gpg"), [pgp_keys["recipient_private"]], tmp_path / "check"
    )
    assert text == "secret payload\n"
    os.remove(plain)
    decrypted = obj.decrypt_files(encrypted, pgp_keys["recipient_private"])
    assert decrypted == {str(plain): _meta()}
    assert plain.read_text() == "secret payload\n"
    # temporary GnuPG homes are private and gone afterwards
    assert list(staging_base.iterdir()) == []


def test_encrypt_with_literal_backslash_n_key_and_pgp_extension(
    tmp_path: Path, obj: Transfer, pgp_keys: dict, staging_base: Path
) -> None:
    plain = tmp_path / "x.txt"
    plain.write_text("data")
    escaped = pgp_keys["recipient_public"].replace("\n", "\\n")
    result = obj.encrypt_files({str(plain): _meta()}, escaped, extension="pgp")
    assert list(result) == [f"{plain}.pgp"]
    text, _ = gpg_decrypt(
        Path(f"{plain}.pgp"), [pgp_keys["recipient_private"]], tmp_path / "check"
    )
    assert text == "data"


def test_signed_encryption_verifies(
    tmp_path: Path, obj: Transfer, pgp_keys: dict, staging_base: Path
) -> None:
    plain = tmp_path / "signed.txt"
    plain.write_text("signed data")
    obj.encrypt_files(
        {str(plain): _meta()}, pgp_keys["recipient_public"], pgp_keys["signer_private"]
    )
    text, result = gpg_decrypt(
        Path(f"{plain}.gpg"),
        [pgp_keys["recipient_private"], pgp_keys["signer_public"]],
        tmp_path / "check",
    )
    assert text == "signed data"
    assert result.valid  # python-gnupg: "signature valid" was seen
    assert "signer@example.com" in result.username
    # without the signer's public key the recipient still decrypts, but cannot verify
    text, result = gpg_decrypt(
        Path(f"{plain}.gpg"), [pgp_keys["recipient_private"]], tmp_path / "check2"
    )
    assert text == "signed data"
    assert not result.valid


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x.txt.gpg", "x.txt"),
        ("x.txt.pgp", "x.txt"),
        ("x.txt.enc", "x.txt.enc.decrypted"),
    ],
)
def test_decryption_naming(
    tmp_path: Path,
    obj: Transfer,
    pgp_keys: dict,
    staging_base: Path,
    name: str,
    expected: str,
) -> None:
    source = tmp_path / "plain"
    source.write_text(f"content of {name}")
    gpg_encrypt(source, tmp_path / name, pgp_keys["recipient_public"], tmp_path / "enc")
    result = obj.decrypt_files(
        {str(tmp_path / name): _meta()}, pgp_keys["recipient_private"]
    )
    assert result == {str(tmp_path / expected): _meta()}
    assert (tmp_path / expected).read_text() == f"content of {name}"


def test_decrypted_name_removes_every_gpg_and_pgp() -> None:
    assert pgp.decrypted_name("/d/a.gpg.dir/x.pgp") == "/d/a.dir/x"


def test_wrong_key_raises_decryption_error(
    tmp_path: Path, obj: Transfer, pgp_keys: dict, staging_base: Path
) -> None:
    (tmp_path / "plain").write_text("p")
    gpg_encrypt(
        tmp_path / "plain",
        tmp_path / "w.txt.gpg",
        pgp_keys["recipient_public"],
        tmp_path / "enc",
    )
    with pytest.raises(
        exceptions.DecryptionError,
        match=f"Error decrypting file {tmp_path}/w.txt.gpg: ",
    ):
        obj.decrypt_files(
            {str(tmp_path / "w.txt.gpg"): _meta()}, pgp_keys["signer_private"]
        )
    assert not (tmp_path / "w.txt").exists()
    assert list(staging_base.iterdir()) == []


def test_invalid_keys_raise_encryption_error(
    tmp_path: Path, obj: Transfer, pgp_keys: dict, staging_base: Path
) -> None:
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(
        exceptions.EncryptionError, match="^Error importing public key$"
    ):
        obj.encrypt_files({str(tmp_path / "x.txt"): _meta()}, "not a key")
    with pytest.raises(
        exceptions.EncryptionError, match="^Error importing private key$"
    ):
        obj.encrypt_files(
            {str(tmp_path / "x.txt"): _meta()},
            pgp_keys["recipient_public"],
            "bad private",
        )
    with pytest.raises(
        exceptions.EncryptionError, match="^Error importing private key$"
    ):
        obj.decrypt_files(
            {str(tmp_path / "x.txt"): _meta()},
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nbroken",
        )
    assert not (tmp_path / "x.txt.gpg").exists()
    assert list(staging_base.iterdir()) == []


def test_existing_outputs_are_never_overwritten(
    tmp_path: Path, obj: Transfer, pgp_keys: dict, staging_base: Path
) -> None:
    (tmp_path / "x.txt").write_text("plain")
    (tmp_path / "x.txt.gpg").write_text("precious")
    with pytest.raises(exceptions.EncryptionError, match="already exists"):
        obj.encrypt_files(
            {str(tmp_path / "x.txt"): _meta()}, pgp_keys["recipient_public"]
        )
    assert (tmp_path / "x.txt.gpg").read_text() == "precious"
    with pytest.raises(exceptions.DecryptionError, match="already exists"):
        obj.decrypt_files(
            {str(tmp_path / "x.txt.gpg"): _meta()}, pgp_keys["recipient_private"]
        )
    assert (tmp_path / "x.txt").read_text() == "plain"


def test_gnupg_home_is_private_and_removed(staging_base: Path, obj: Transfer) -> None:
    with pgp.gnupg_home(obj.logger) as gpg:
        home = Path(gpg.gnupghome)
        assert home.name == ".gnupg"
        assert home.parent.name.startswith(f"OTF_STAGING_{os.getpid()}.")
        assert home.parent.parent == staging_base
        assert home.stat().st_mode & 0o777 == 0o700
        assert home.parent.stat().st_mode & 0o777 == 0o700
    assert not home.parent.exists()


def test_long_staging_base_falls_back_to_tmp_for_gnupg_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, obj: Transfer, pgp_keys: dict
) -> None:
    long_base = tmp_path / ("x" * 90)
    monkeypatch.setenv("OTF_STAGING_DIR", str(long_base))
    with pgp.gnupg_home(obj.logger) as gpg:
        assert Path(gpg.gnupghome).parent.parent == Path("/tmp")
    (tmp_path / "x.txt").write_text("x")
    # private key import needs a working agent socket
    obj.encrypt_files(
        {str(tmp_path / "x.txt"): _meta()},
        pgp_keys["recipient_public"],
        pgp_keys["signer_private"],
    )
    assert (tmp_path / "x.txt.gpg").exists()
