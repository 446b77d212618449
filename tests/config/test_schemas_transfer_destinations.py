"""Transfer destinations (incl. mixed via oneOf) and top-level transfer rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from opentaskpy.config.schemas import find_violation, validate_transfer_json
from support.helpers import transfer_def as transfer
from support.transfer_specs import (
    DELETE,
    DESTS,
    DUMMY_SRC,
    EMAIL_DST,
    KEY,
    LOCAL_DST,
    LOCAL_SRC,
    SFTP_DST,
    SSH_DST,
    SSH_SRC,
    patched,
)

VALID_DESTS = [
    ("ssh", {}),
    *[("ssh", {"transferType": t}) for t in ("push", "pull", "proxy")],
    (
        "ssh",
        {
            "createDirectoryIfNotExists": True,
            "rename": {"pattern": r"^(.*)\.txt$", "sub": r"\1-2.txt"},
            "mode": "0644",
            "permissions": {"owner": "app", "group": "etl", "mode": "0600"},
            "flags": {"fullPath": "/import/done.flag"},
            "encryption": {"encrypt": True, "public_key": "pub"},
        },
    ),
    ("ssh", {"permissions": {}}),
    ("ssh", {"protocol.credentials.transferUsername": "xfer"}),
    ("ssh", {"protocol.credentials.keyFile": "/k", "protocol.credentials.key": KEY}),
    ("sftp", {}),
    (
        "sftp",
        {
            "createDirectoryIfNotExists": False,
            "rename": {"pattern": "a", "sub": "b"},
            "mode": "0640",
            "flags": {"fullPath": "/inbound/x.fin"},
            "encryption": {"encrypt": True, "sign": True, "private_key": KEY},
        },
    ),
    (
        "sftp",
        {
            "protocol.credentials.password": "pw",
            "protocol.credentials.transferUsername": "t",
            "protocol.supportsStatAfterUpload": False,
            "protocol.supportsPosixRename": False,
        },
    ),
    ("local", {}),
    (
        "local",
        {
            "createDirectoryIfNotExists": True,
            "rename": {"pattern": "a", "sub": "b"},
            "mode": "0600",
            "permissions": {"mode": "0600"},
            "flags": {"fullPath": "/srv/in/x.fin"},
            "encryption": {"encrypt": True, "public_key": "pub"},
            "transferType": "push",
        },
    ),
    ("email", {}),
    (
        "email",
        {
            "recipients": ["a@example.com", "b@example.org"],
            "message": "hello",
            "messageContentType": "text/plain",
            "deleteContentFileAfterTransfer": False,
            "rename": {"pattern": "a", "sub": "b"},
            "encryption": {"encrypt": True, "public_key": "pub"},
        },
    ),
    (
        "email",
        {"messageContentFilename": "/tmp/body.html", "messageContentType": "text/html"},
    ),
    (
        "email",
        {
            "protocol.smtp_port": 465,
            "protocol.use_tls": False,
            "protocol.credentials": {"username": "u", "password": "p"},
        },
    ),
    ("email", {"protocol.verify_tls": False, "protocol.ca_file": "/etc/ca.pem"}),
    ("email", {"protocol.sender": "plain@example.com"}),
    ("email", {"protocol.smtp_port": 1}),
    ("email", {"protocol.smtp_port": 65535}),
]


@pytest.mark.parametrize(("proto", "changes"), VALID_DESTS)
def test_valid_destinations(proto: str, changes: dict[str, Any]) -> None:
    doc = transfer(LOCAL_SRC, patched(DESTS[proto], changes))
    assert find_violation("transfer", doc) is None
    assert validate_transfer_json(doc) is True


INVALID_DESTS = [
    ("sftp", {"permissions": {"owner": "a"}}, "('permissions' was unexpected)"),
    ("sftp", {"transferType": "push"}, "('transferType' was unexpected)"),
    ("sftp", {"protocol.credentials.other": "x"}, "('other' was unexpected)"),
    ("local", {"permissions": {"owner": "app"}}, "('owner' was unexpected)"),
    ("local", {"hostname": "h"}, "('hostname' was unexpected)"),
    (
        "local",
        {"transferType": "copy"},
        "'copy' is not one of ['push', 'pull', 'proxy']",
    ),
    ("ssh", {"transferType": "sideways"}, "is not one of ['push', 'pull', 'proxy']"),
    ("ssh", {"hostname": DELETE}, "'hostname' is a required property"),
    ("ssh", {"directory": DELETE}, "'directory' is a required property"),
    ("ssh", {"protocol.credentials.password": "pw"}, "('password' was unexpected)"),
    ("ssh", {"flags": {}}, "'fullPath' is a required property"),
    ("ssh", {"flags": {"fullPath": "/x", "mode": "0"}}, "('mode' was unexpected)"),
    ("ssh", {"rename": {"pattern": "a"}}, "'sub' is a required property"),
    ("ssh", {"rename": {"pattern": "a", "sub": "b", "c": 1}}, "('c' was unexpected)"),
    ("ssh", {"permissions": {"acl": "x"}}, "('acl' was unexpected)"),
    ("ssh", {"mode": 644}, "644 is not of type 'string'"),
    ("ssh", {"createDirectoryIfNotExists": "true"}, "is not of type 'boolean'"),
    (
        "ssh",
        {"encryption": {"encrypt": True, "sign": True}},
        "'private_key' is a required property",
    ),
    ("email", {"recipients": ["bob"]}, "'bob' does not match '^.*@.*$'"),
    ("email", {"recipients": "a@example.com"}, "is not of type 'array'"),
    ("email", {"subject": DELETE}, "'subject' is a required property"),
    ("email", {"recipients": DELETE}, "'recipients' is a required property"),
    ("email", {"protocol.sender": "not-an-email"}, "'not-an-email' does not match"),
    ("email", {"protocol.sender": "Name <a@b>"}, "'Name <a@b>' does not match"),
    ("email", {"protocol.smtp_server": DELETE}, "'smtp_server' is a required property"),
    ("email", {"protocol.smtp_port": 0}, "0 is less than the minimum of 1"),
    (
        "email",
        {"protocol.smtp_port": 70000},
        "70000 is greater than the maximum of 65535",
    ),
    ("email", {"protocol.verify_tls": "no"}, "'no' is not of type 'boolean'"),
    ("email", {"protocol.ca_file": 1}, "1 is not of type 'string'"),
    ("email", {"protocol.tls": True}, "('tls' was unexpected)"),
    (
        "email",
        {"protocol.credentials": {"username": "u"}},
        "'password' is a required property",
    ),
    ("email", {"messageContentType": "text/csv"}, "'text/csv' is not one of"),
    ("email", {"hostname": "h"}, "('hostname' was unexpected)"),
    ("email", {"rename": {"sub": "b"}}, "'pattern' is a required property"),
]


@pytest.mark.parametrize(("proto", "changes", "message"), INVALID_DESTS)
def test_invalid_destinations(
    proto: str, changes: dict[str, Any], message: str
) -> None:
    doc = transfer(LOCAL_SRC, patched(DESTS[proto], changes))
    violation = find_violation("transfer", doc)
    assert violation is not None
    assert message in violation.message
    assert violation.path.startswith("$.destination[0]")
    assert validate_transfer_json(doc) is False


def test_mixed_destinations_valid() -> None:
    doc = transfer(SSH_SRC, SSH_DST, LOCAL_DST, EMAIL_DST, SFTP_DST, LOCAL_DST)
    assert validate_transfer_json(doc) is True


@pytest.mark.parametrize(
    ("bad_index", "bad", "path", "message"),
    [
        (
            1,
            patched(SSH_DST, {"protocol.credentials.username": DELETE}),
            "$.destination[1].protocol.credentials",
            "'username' is a required property",
        ),
        (
            2,
            patched(LOCAL_DST, {"hostname": "h"}),
            "$.destination[2]",
            "('hostname' was unexpected)",
        ),
        (
            0,
            patched(SFTP_DST, {"transferType": "pull"}),
            "$.destination[0]",
            "('transferType' was unexpected)",
        ),
        (
            3,
            patched(EMAIL_DST, {"recipients": ["nobody"]}),
            "$.destination[3].recipients[0]",
            "'nobody' does not match",
        ),
    ],
)
def test_mixed_destinations_report_the_matching_protocol_error(
    bad_index: int, bad: dict[str, Any], path: str, message: str
) -> None:
    dests = [copy.deepcopy(d) for d in (SFTP_DST, SSH_DST, LOCAL_DST, EMAIL_DST)]
    dests[bad_index] = bad
    violation = find_violation("transfer", transfer(SSH_SRC, *dests))
    assert violation is not None
    assert violation.path == path
    assert message in violation.message
    assert "is not valid under any of the given schemas" not in violation.message


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"source": LOCAL_SRC}, "'type' is a required property"),
        ({"type": "transfer"}, "'source' is a required property"),
        ({"type": 1, "source": LOCAL_SRC}, "1 is not of type 'string'"),
        (
            {"type": "transfer", "source": {"directory": "/"}},
            "'protocol' is a required property",
        ),
        (
            {"type": "transfer", "source": {"protocol": {}}},
            "'name' is a required property",
        ),
        (
            {"type": "transfer", "source": LOCAL_SRC, "destination": LOCAL_DST},
            "is not of type 'array'",
        ),
        (
            {
                "type": "transfer",
                "source": LOCAL_SRC,
                "destination": [{"directory": "/"}],
            },
            "'protocol' is a required property",
        ),
        (
            {"type": "transfer", "source": LOCAL_SRC, "variables": []},
            "[] is not of type 'object'",
        ),
        (
            {"type": "transfer", "source": {"protocol": {"name": 5}}},
            "5 is not of type 'string'",
        ),
    ],
)
def test_invalid_top_level(doc: dict[str, Any], message: str) -> None:
    violation = find_violation("transfer", doc)
    assert violation is not None
    assert message in violation.message
    assert validate_transfer_json(doc) is False


@pytest.mark.parametrize(
    "doc",
    [
        transfer(LOCAL_SRC),
        {**transfer(LOCAL_SRC), "destination": []},
        {**transfer(DUMMY_SRC, LOCAL_DST), "variables": {"A": "1"}},
        {**transfer(LOCAL_SRC), "description": "x", "cacheableVariables": []},
    ],
)
def test_valid_top_level(doc: dict[str, Any]) -> None:
    assert validate_transfer_json(doc) is True


def test_destination_protocol_only_used_once_in_oneof_is_still_exclusive() -> None:
    # A local destination must not validate as SSH: its schema requires hostname.
    doc = transfer(LOCAL_SRC, patched(LOCAL_DST, {"protocol.name": "ssh"}))
    violation = find_violation("transfer", doc)
    assert violation is not None
    assert "'hostname' is a required property" in violation.message
