"""Built-in lookup plugin ``http_json`` against a local HTTP server."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from opentaskpy.config.loader import ConfigLoader
from opentaskpy.exceptions import LookupPluginError
from opentaskpy.plugins.lookup import http_json
from support.helpers import write_json

PAGES = {
    "/todo": (200, json.dumps({"userId": 1, "title": "delectus", "done": False})),
    "/list": (200, json.dumps([{"name": "first"}, {"name": "second"}])),
    "/broken": (200, "{not json"),
    "/error": (500, json.dumps({"userId": 2})),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        status, body = PAGES.get(self.path, (404, "{}"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_returns_raw_first_match(server: str) -> None:
    assert http_json.PLUGIN_NAME == "http_json"
    assert http_json.run(url=f"{server}/todo", jsonpath="$.userId") == 1
    assert http_json.run(url=f"{server}/todo", jsonpath="$.title") == "delectus"
    assert http_json.run(url=f"{server}/list", jsonpath="$[0].name") == "first"
    assert http_json.run(url=f"{server}/list", jsonpath="$[*].name") == "first"


@pytest.mark.parametrize(
    ("path", "jsonpath"),
    [
        ("/broken", "$.a"),
        ("/error", "$.userId"),
        ("/missing", "$.a"),
        ("/todo", "$.nothing"),
    ],
)
def test_failures_log_and_return_none(
    server: str, path: str, jsonpath: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert http_json.run(url=f"{server}{path}", jsonpath=jsonpath) is None
    assert f"Failed to read from URL {server}{path}: " in caplog.text


def test_connection_refused_returns_none(caplog: pytest.LogCaptureFixture) -> None:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    port = httpd.server_address[1]
    httpd.server_close()
    with caplog.at_level(logging.ERROR):
        assert http_json.run(url=f"http://127.0.0.1:{port}/", jsonpath="$.a") is None
    assert f"Failed to read from URL http://127.0.0.1:{port}/" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "missing"),
    [({}, "url"), ({"jsonpath": "$"}, "url"), ({"url": "x"}, "jsonpath")],
)
def test_missing_kwargs(kwargs: dict, missing: str) -> None:
    with pytest.raises(LookupPluginError) as info:
        http_json.run(**kwargs)
    assert str(info.value) == (
        f"Missing kwarg: '{missing}' while trying to run lookup plugin 'http_json'"
    )


def test_through_the_loader(server: str, cfg_dir: Path) -> None:
    write_json(
        cfg_dir / "variables.json.j2",
        {
            "BASE": server,
            "USER": "{{ lookup('http_json', url=BASE ~ '/todo', jsonpath='$.userId') }}",
            "NONE": f"{{{{ lookup('http_json', url='{server}/error', jsonpath='$.a') }}}}",
        },
    )
    loader = ConfigLoader(str(cfg_dir))
    assert loader.global_variables["USER"] == "1"
    assert loader.global_variables["NONE"] == "None"
