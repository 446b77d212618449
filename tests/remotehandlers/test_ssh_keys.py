"""SSH key selection and loading: key types, cache, OTF_SSH_KEY, inline keys."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import paramiko
import pytest

from opentaskpy.remotehandlers.ssh import SSHExecution  # noqa: F401 (registers)
from opentaskpy.taskhandlers.execution import Execution
from opentaskpy.transport.ssh.sshoptions import connect_kwargs, load_key_file

SSH_KEYGEN = shutil.which("ssh-keygen")
needs_keygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen not found")


def keygen(path: Path, key_type: str, *extra: str, passphrase: str = "") -> Path:
    assert SSH_KEYGEN
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", key_type, *extra, "-N", passphrase, "-f", str(path)],
        check=True,
    )
    return path


def public_blob(path: Path) -> str:
    return Path(f"{path}.pub").read_text().split()[1]


@needs_keygen
@pytest.mark.parametrize(
    ("key_type", "extra"),
    [
        ("rsa", ("-b", "2048", "-m", "PEM")),
        ("rsa", ("-b", "2048", "-m", "PKCS8")),
        ("rsa", ("-b", "2048")),
        ("ed25519", ()),
        ("ecdsa", ("-b", "256")),
    ],
)
def test_every_key_format_loads_to_the_right_key(tmp_path, key_type, extra):
    path = keygen(tmp_path / "id", key_type, *extra)
    key = load_key_file(str(path))
    assert key.get_base64() == public_blob(path)
    # The loaded key signs so that the public half verifies it (and not
    # other data).
    key_type_name, blob = Path(f"{path}.pub").read_text().split()[:2]
    public = paramiko.PKey.from_type_string(key_type_name, base64.b64decode(blob))
    signature = paramiko.Message(key.sign_ssh_data(b"data").asbytes())
    assert public.verify_ssh_sig(b"data", signature)
    signature.rewind()
    assert not public.verify_ssh_sig(b"other", signature)


@needs_keygen
def test_key_file_is_loaded_once_and_reloaded_when_it_changes(tmp_path):
    path = keygen(tmp_path / "id", "ed25519")
    first = load_key_file(str(path))
    assert load_key_file(str(path)) is first
    os.remove(path)
    os.remove(f"{path}.pub")
    keygen(path, "rsa", "-b", "2048", "-m", "PEM")
    second = load_key_file(str(path))
    assert second is not first
    assert second.get_base64() == public_blob(path)


@needs_keygen
@pytest.mark.parametrize("fmt", ["PEM", "RFC4716"])
def test_encrypted_key_is_refused_with_a_clear_error(tmp_path, fmt):
    path = keygen(tmp_path / "id", "rsa", "-b", "2048", "-m", fmt, passphrase="pw123")
    with pytest.raises(paramiko.PasswordRequiredException, match="encrypted"):
        load_key_file(str(path))


def test_key_selection_order(tmp_path, monkeypatch, ssh_env):
    env_key = tmp_path / "env_key"
    shutil.copy(ssh_env.client_key_ed25519, env_key)
    monkeypatch.setenv("OTF_SSH_KEY", str(env_key))
    # OTF_SSH_KEY wins over everything but keyFile.
    kw = connect_kwargs("h", {"credentials": {"username": "u", "password": "p"}}, 5)
    assert kw["pkey"].get_base64() == public_blob(ssh_env.client_key_ed25519)
    assert kw["look_for_keys"] is False and "password" not in kw
    kw = connect_kwargs("h", {"credentials": {"keyFile": str(ssh_env.client_key)}}, 5)
    assert kw["pkey"].get_base64() == public_blob(ssh_env.client_key)
    # OTF_SSH_KEY naming a missing file is ignored: paramiko's default keys.
    monkeypatch.setenv("OTF_SSH_KEY", str(tmp_path / "missing"))
    kw = connect_kwargs("h", {"port": 2222, "credentials": {"username": "u"}}, 5)
    assert "pkey" not in kw and "look_for_keys" not in kw and kw["port"] == 2222


def _execution(ssh_env, directory: Path, credentials: dict) -> dict:
    proto = ssh_env.protocol("ssh1")
    proto["credentials"] = {"username": ssh_env.user, **credentials}
    return {
        "type": "execution",
        "hosts": [ssh_env.hosts["ssh1"].address],
        "directory": str(directory),
        "command": "touch ran.txt",
        "protocol": proto,
    }


def test_otf_ssh_key_authenticates_a_real_execution(ssh_env, dirs, monkeypatch):
    monkeypatch.setenv("OTF_SSH_KEY", str(ssh_env.client_key_ed25519))
    definition = _execution(ssh_env, dirs["src"], {})
    assert Execution(None, "exec-env-key", definition).run() is True
    assert (dirs["src"] / "ran.txt").exists()


def test_inline_key_authenticates_a_real_execution(ssh_env, dirs):
    definition = _execution(
        ssh_env, dirs["src"], {"key": ssh_env.client_key.read_text()}
    )
    assert Execution(None, "exec-inline-key", definition).run() is True
    assert (dirs["src"] / "ran.txt").exists()


def test_connections_prefer_aes_gcm_and_etm(ssh_env):
    """The negotiated cipher is AES-GCM when the server offers it (and this
    paramiko has it: 3.5 and later; 3.4 negotiates its first CTR cipher)."""
    has_gcm = "aes128-gcm@openssh.com" in paramiko.Transport._preferred_ciphers
    expected = "aes128-gcm@openssh.com" if has_gcm else "aes128-ctr"
    kwargs = connect_kwargs(
        ssh_env.hosts["ssh1"].address,
        ssh_env.protocol("ssh1", hostKeyValidation=False),
        5,
    )
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(**kwargs)
        transport = client.get_transport()
        assert transport is not None
        assert transport.local_cipher == expected
        assert transport.remote_cipher == expected
        # ETM ordering applies when a non-AEAD cipher is chosen.
        options = transport.get_security_options()
        assert options.digests[0].endswith("-etm@openssh.com")
    finally:
        client.close()
