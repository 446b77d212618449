"""Fixtures for the addon tests: moto's AWS server on loopback, AWS env vars.

The moto server is started once per session on 127.0.0.1 with a free port and
stopped at the end. Tests that use it get the AWS variables set in their own
environment (for the Python API) and as a dict to pass to the CLI (``env=``).
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

AWS_REGION = "us-east-1"
_counter = itertools.count(1)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str) -> str:
    """A bucket/parameter name unique within this session."""
    return f"{prefix}-{next(_counter)}"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Run moto's server (all services) on loopback for the whole session."""
    server_mod = pytest.importorskip("moto.server", reason="moto[server] not installed")
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@dataclass
class AwsEnv:
    """AWS settings for one test: env vars (also set in os.environ) and clients."""

    endpoint: str
    env: dict[str, str]

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` talking to the moto server."""
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=AWS_REGION)

    def bucket(self, prefix: str = "otf") -> str:
        """Create and return a fresh, empty bucket."""
        name = unique(prefix)
        self.client("s3").create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, body: bytes | str) -> None:
        """Upload one object."""
        data = body.encode() if isinstance(body, str) else body
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=data)

    def keys(self, bucket: str) -> list[str]:
        """Every key in ``bucket``, sorted."""
        listing = self.client("s3").list_objects_v2(Bucket=bucket)
        return sorted(obj["Key"] for obj in listing.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        """The body of one object."""
        return bytes(
            self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        )


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> AwsEnv:
    """Point boto3 (and so otf-addons-aws) at the moto server with dummy creds."""
    pytest.importorskip(
        "opentaskpy.addons.aws.remotehandlers.s3",
        reason="otf-addons-aws not installed (scripts/install-addons.sh)",
    )
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": AWS_REGION,
        "AWS_DEFAULT_REGION": AWS_REGION,
    }
    for name in ("AWS_ROLE_ARN", "AWS_ASSUME_ROLE_EXTERNAL_ID", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return AwsEnv(endpoint=moto_endpoint, env=env)
