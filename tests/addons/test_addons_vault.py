"""otf-addons-vault lookups against a stand-in Vault KV server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from opentaskpy import exceptions
from opentaskpy.config.loader import ConfigLoader
from support.helpers import write_json

pytest.importorskip(
    "opentaskpy.plugins.lookup.hashicorp.vault",
    reason="otf-addons-vault not installed (scripts/install-addons.sh)",
)

TOKEN = "test-token"
SECRETS = {"app/db": {"value": "v-secret", "user": "dbuser"}}


class _Vault(BaseHTTPRequestHandler):
    """KV v1 ``GET /v1/secret/<path>`` and v2 ``GET /v1/secret/data/<path>``."""

    def do_GET(self) -> None:  # noqa: N802
        if self.headers.get("X-Vault-Token") != TOKEN:
            return self._reply(403, {"errors": ["permission denied"]})
        path = self.path.split("?", 1)[0]
        if path.startswith("/v1/secret/data/"):
            data = SECRETS.get(path[len("/v1/secret/data/") :])
            body = {"data": {"data": data, "metadata": {"version": 1}}}
        elif path.startswith("/v1/secret/"):
            data = SECRETS.get(path[len("/v1/secret/") :])
            body = {"data": data}
        else:
            data = None
        if data is None:
            return self._reply(404, {"errors": []})
        return self._reply(200, body)

    def _reply(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def vault_addr() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Vault)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _vars(addr: str, lookups: str, api: str = "v1", token: str = TOKEN) -> str:
    return (
        f'{{"VAULT_ADDR": "{addr}", "VAULT_TOKEN": "{token}", '
        f'"VAULT_API_VER": "{api}", {lookups}}}'
    )


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_vault_lookup_kv(vault_addr: str, cfg_dir: Path, api: str) -> None:
    (cfg_dir / "variables.json.j2").write_text(
        _vars(
            vault_addr,
            "\"PW\": \"{{ lookup('hashicorp.vault', key='app/db') }}\", "
            "\"USER\": \"{{ lookup('hashicorp.vault', key='app/db', attribute='user') }}\"",
            api,
        )
    )
    variables = ConfigLoader(str(cfg_dir)).get_global_variables()
    assert variables["PW"] == "v-secret"
    assert variables["USER"] == "dbuser"


def test_vault_missing_secret_and_bad_token(vault_addr: str, cfg_dir: Path) -> None:
    variables = cfg_dir / "variables.json.j2"
    variables.write_text(
        _vars(vault_addr, "\"X\": \"{{ lookup('hashicorp.vault', key='no/such') }}\"")
    )
    with pytest.raises(FileNotFoundError, match="Secret not found: no/such"):
        ConfigLoader(str(cfg_dir))
    variables.write_text(
        _vars(
            vault_addr,
            "\"X\": \"{{ lookup('hashicorp.vault', key='app/db') }}\"",
            token="wrong",
        )
    )
    with pytest.raises(exceptions.LookupPluginError, match="Hashicorp Vault"):
        ConfigLoader(str(cfg_dir))


def test_vault_lookup_through_cli(
    vault_addr: str, task_run, cfg_dir: Path, tmp_path: Path
) -> None:
    (cfg_dir / "variables.json.j2").write_text(
        _vars(
            vault_addr, "\"SECRET\": \"{{ lookup('hashicorp.vault', key='app/db') }}\""
        )
    )
    out = tmp_path / "vault.out"
    write_json(
        cfg_dir / "vault-exec.json",
        {
            "type": "execution",
            "directory": str(tmp_path),
            "command": f"printf '%s' '{{{{ SECRET }}}}' > {out}",
            "protocol": {"name": "local"},
        },
    )
    result = task_run("-t", "vault-exec", "-c", cfg_dir, timeout=60)
    assert result.returncode == 0, result.stderr
    assert out.read_text() == "v-secret"
