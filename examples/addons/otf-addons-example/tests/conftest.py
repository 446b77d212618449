"""Fixtures for the example addon's tests: a temp cwd and a loopback HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in a temp dir so opentaskpy's logs/ land there."""
    for name in [n for n in __import__("os").environ if n.startswith("OTF_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


class _Recorder(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.requests.append({"method": self.command, "path": self.path, "body": body})
        status = int(self.path.rsplit("/", 1)[-1]) if self.path[-3:].isdigit() else 200
        payload = json.dumps({"ok": status < 400}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[dict]]]:
    """A loopback server: ``/status/<code>`` answers with that code.

    Yields the base URL and the list of requests it received.
    """
    recorded: list[dict] = []
    handler = type("Handler", (_Recorder,), {"requests": recorded})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorded
    finally:
        server.shutdown()
        server.server_close()
