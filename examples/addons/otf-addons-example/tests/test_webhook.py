"""Tests of the webhook execution protocol against a loopback HTTP server."""

from __future__ import annotations

import json

from opentaskpy.addons.example.remotehandlers.webhook import WebhookExecution

from opentaskpy.config.schemas import validate_execution_json
from opentaskpy.taskhandlers.execution import Execution

PROTOCOL = {"name": "opentaskpy.addons.example.remotehandlers.webhook.WebhookExecution"}


def test_execute_posts_payload(http_server: tuple[str, list[dict]]) -> None:
    url, seen = http_server
    spec = {
        "type": "execution",
        "url": f"{url}/hook",
        "payload": {"run": 1},
        "protocol": PROTOCOL,
        "task_id": "w1",
    }
    handler = WebhookExecution(spec)
    assert handler.execute() is True
    handler.tidy()
    assert seen[0]["method"] == "POST"
    assert json.loads(seen[0]["body"]) == {"run": 1}


def test_unexpected_status_fails(http_server: tuple[str, list[dict]]) -> None:
    url, _ = http_server
    spec = {
        "type": "execution",
        "url": f"{url}/status/500",
        "protocol": PROTOCOL,
        "task_id": "w2",
    }
    assert WebhookExecution(spec).execute() is False


def test_killed_handler_does_not_run(http_server: tuple[str, list[dict]]) -> None:
    url, seen = http_server
    handler = WebhookExecution(
        {"type": "execution", "url": url, "protocol": PROTOCOL, "task_id": "w3"}
    )
    handler.kill()
    assert handler.execute() is False
    assert seen == []


def test_through_execution_task_handler(http_server: tuple[str, list[dict]]) -> None:
    url, seen = http_server
    definition = {
        "type": "execution",
        "url": f"{url}/job",
        "method": "PUT",
        "expectedStatus": 200,
        "protocol": PROTOCOL,
    }
    assert validate_execution_json(definition) is True
    assert Execution(None, "webhook-task", definition).run() is True
    assert seen[-1]["method"] == "PUT"
    failing = {"type": "execution", "url": f"{url}/status/404", "protocol": PROTOCOL}
    assert Execution(None, "webhook-fail", failing).run() is False


def test_schema_rejects_unknown_keys() -> None:
    definition = {
        "type": "execution",
        "url": "http://127.0.0.1/x",
        "protocol": PROTOCOL,
        "headers": {},
    }
    assert validate_execution_json(definition) is False
