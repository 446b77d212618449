"""Call an HTTP endpoint as an execution: the ``webhook`` execution protocol.

Protocol name: ``opentaskpy.addons.example.remotehandlers.webhook.WebhookExecution``.

The execution definition names a ``url``, an optional ``method`` (default
``POST``), an optional JSON ``payload`` and the ``expectedStatus`` (default
200). ``execute()`` returns ``True`` when the response status matches.
"""

from __future__ import annotations

import threading

import requests

import opentaskpy.otflogging
from opentaskpy.remotehandlers.remotehandler import RemoteExecutionHandler

DEFAULT_TIMEOUT = 30


class WebhookExecution(RemoteExecutionHandler):
    """Execution handler that makes one HTTP request."""

    TASK_TYPE = "E"

    def __init__(self, spec: dict):
        """Build the handler; cheap, no I/O.

        Args:
            spec: the whole execution definition, with ``task_id``.
        """
        self.logger = opentaskpy.otflogging.init_logging(
            __name__, spec["task_id"], self.TASK_TYPE
        )
        super().__init__(spec)
        self.remote_host = spec["url"]
        self.session: requests.Session | None = requests.Session()
        self._killed = threading.Event()

    def execute(self) -> bool:
        """Make the request and compare the response status.

        Returns:
            True when the status equals ``expectedStatus``.
        """
        if self.session is None or self._killed.is_set():
            return False
        method = self.spec.get("method", "POST")
        expected = self.spec.get("expectedStatus", 200)
        try:
            response = self.session.request(
                method,
                self.spec["url"],
                json=self.spec.get("payload"),
                timeout=self.spec.get("timeout", DEFAULT_TIMEOUT),
            )
        except requests.RequestException as exc:
            self.logger.error(f"Request to {self.spec['url']} failed: {exc}")
            return False
        self.logger.info(f"{method} {self.spec['url']} returned {response.status_code}")
        if response.status_code != expected:
            self.logger.error(f"Expected status {expected}, got {response.status_code}")
            return False
        return True

    def kill(self) -> None:
        """Stop: close the session so a pending request fails."""
        self._killed.set()
        self.tidy()

    def tidy(self) -> None:
        """Close the HTTP session."""
        if self.session is not None:
            self.session.close()
            self.session = None
