"""Validation against the schemas shipped by the published OTF addons.

These addon files declare ``$id``s under ``http://localhost/...`` and mix
relative refs with ``http://localhost/transfer/encryption.json`` and
``http://localhost/cacheable_variables.json``. Skipped when the addons are not
installed (scripts/install-addons.sh installs them).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from opentaskpy.config.schemas import (
    find_violation,
    validate_execution_json,
    validate_transfer_json,
)

pytest.importorskip("opentaskpy.addons.aws.remotehandlers")

S3 = "opentaskpy.addons.aws.remotehandlers.s3.S3Transfer"
LAMBDA = "opentaskpy.addons.aws.remotehandlers.lambda.LambdaExecution"
SHAREPOINT = "opentaskpy.addons.o365.remotehandlers.sharepoint.SharepointTransfer"

S3_SOURCE = {
    "bucket": "in-bucket",
    "directory": "incoming",
    "fileRegex": r".*\.txt",
    "protocol": {"name": S3, "region_name": "eu-west-1"},
}
S3_DEST = {"bucket": "out-bucket", "directory": "out", "protocol": {"name": S3}}
LOCAL_DST = {"directory": "/srv/in", "protocol": {"name": "local"}}


def test_s3_transfer_with_core_destination_is_valid() -> None:
    doc = {
        "type": "transfer",
        "source": {**S3_SOURCE, "encryption": {"decrypt": True, "private_key": "k"}},
        "destination": [S3_DEST, LOCAL_DST],
    }
    before = copy.deepcopy(doc)
    assert validate_transfer_json(doc) is True
    assert doc == before  # the addon's "directory" default is not injected


@pytest.mark.parametrize(
    ("source", "dests", "path", "message"),
    [
        (
            {**S3_SOURCE, "encryption": {"sign": True}},
            [],
            "$.source.encryption",
            "'private_key' is a required property",
        ),
        (
            {**S3_SOURCE, "directory": "/abs"},
            [],
            "$.source.directory",
            "does not match",
        ),
        (
            S3_SOURCE,
            [LOCAL_DST, {**S3_DEST, "transferType": "pull"}],
            "$.destination[1].transferType",
            "'pull' is not one of ['proxy', 'push']",
        ),
        (
            S3_SOURCE,
            [{**LOCAL_DST, "bucket": "b"}, S3_DEST],
            "$.destination[0]",
            "('bucket' was unexpected)",
        ),
    ],
)
def test_s3_violations(
    source: dict[str, Any], dests: list[dict[str, Any]], path: str, message: str
) -> None:
    doc: dict[str, Any] = {"type": "transfer", "source": source}
    if dests:
        doc["destination"] = dests
    violation = find_violation("transfer", doc)
    assert violation is not None
    assert violation.path == path
    assert message in violation.message


def test_lambda_execution() -> None:
    doc = {
        "type": "execution",
        "functionArn": "arn:aws:lambda:eu-west-1:000000000000:function:f",
        "invocationType": "Event",
        "protocol": {"name": LAMBDA},
    }
    assert validate_execution_json(doc) is True
    violation = find_violation("execution", {**doc, "invocationType": "Later"})
    assert violation is not None
    assert violation.path == "$.invocationType"


def test_sharepoint_cacheable_variables_use_the_core_schema() -> None:
    pytest.importorskip("opentaskpy.addons.o365.remotehandlers")
    source = {
        "siteHostname": "example.sharepoint.com",
        "siteName": "site",
        "fileRegex": ".*",
        "protocol": {
            "name": SHAREPOINT,
            "refreshToken": "r",
            "clientId": "c",
            "tenantId": "t",
        },
        "cacheableVariables": [
            {
                "variableName": "protocol.refreshToken",
                "cachingPlugin": "file",
                "cacheArgs": {"file": "/tmp/token"},
            }
        ],
    }
    assert validate_transfer_json({"type": "transfer", "source": source}) is True
    source["cacheableVariables"] = [{"variableName": "x", "cachingPlugin": "file"}]
    violation = find_violation("transfer", {"type": "transfer", "source": source})
    assert violation is not None
    assert violation.path.startswith("$.source.cacheableVariables[0]")
