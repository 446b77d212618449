"""Transfer sources: every core source protocol and every special rule."""

from __future__ import annotations

from typing import Any

import pytest

from opentaskpy.config.schemas import find_violation, validate_transfer_json
from support.helpers import transfer_def as transfer
from support.transfer_specs import (
    DELETE,
    FULL_CONDITIONALS,
    KEY,
    PCA_SOURCES,
    SOURCES,
    patched,
)

VALID_SOURCES = [
    ("ssh", {}),
    ("ssh", {"fileWatch": {}}),
    (
        "ssh",
        {
            "fileWatch": {
                "timeout": 2,
                "directory": "/w",
                "fileRegex": "READY",
                "watchOnly": True,
            }
        },
    ),
    ("ssh", {"logWatch": {"log": "a.log", "directory": "/l", "contentRegex": "done"}}),
    (
        "ssh",
        {
            "logWatch": {
                "log": "a.log",
                "directory": "/l",
                "contentRegex": "x",
                "timeout": 1,
                "tail": True,
            }
        },
    ),
    ("ssh", {"conditionals": {}}),
    ("ssh", {"conditionals": FULL_CONDITIONALS}),
    ("ssh", {"conditionals": {"checkDuringFilewatch": False}}),
    ("ssh", {"error": False}),
    ("ssh", {"encryption": {"decrypt": True, "private_key": KEY}}),
    ("ssh", {"encryption": {"encrypt": True, "public_key": "pub"}}),
    ("ssh", {"encryption": {"sign": False}}),
    (
        "ssh",
        {"encryption": {"sign": True, "private_key": KEY, "output_extension": "pgp"}},
    ),
    ("ssh", {"protocol.port": 2222, "protocol.hostKeyValidation": True}),
    ("ssh", {"protocol.knownHostsFile": "/k", "protocol.credentials.keyFile": "/id"}),
    ("ssh", {"protocol.credentials.key": KEY}),
    ("sftp", {}),
    ("sftp", {"fileWatch": {"timeout": 1}, "conditionals": FULL_CONDITIONALS}),
    (
        "sftp",
        {
            "protocol.timeout": 20,
            "protocol.retry": False,
            "protocol.supportsPosixRename": False,
            "protocol.hostKeyValidation": False,
            "protocol.port": 22,
        },
    ),
    ("sftp", {"protocol.credentials.password": "pw", "protocol.credentials.key": KEY}),
    ("sftp", {"protocol.credentials.keyFile": "/keys/id_ed25519"}),
    ("sftp", {"error": True, "encryption": {"decrypt": True, "private_key": KEY}}),
    ("local", {}),
    ("local", {"fileWatch": {"watchOnly": True}, "conditionals": {"age": {"lt": 5}}}),
    ("local", {"error": False, "encryption": {"decrypt": False}}),
    ("dummy", {}),
    ("dummy", {"accessToken": "t0k3n"}),
    (
        "dummy",
        {
            "cacheableVariables": [
                {
                    "variableName": "accessToken",
                    "cachingPlugin": "file",
                    "cacheArgs": {"file": "/tmp/x.txt"},
                }
            ]
        },
    ),
]
VALID_SOURCES += [
    (proto, {"postCopyAction": pca})
    for proto in PCA_SOURCES
    for pca in (
        {"action": "delete"},
        {"action": "delete", "pattern": "x"},
        {"action": "move", "destination": "/archive"},
        {"action": "move", "destination": "/archive", "pattern": "a"},
        {"action": "move", "destination": "/archive", "sub": "b"},
        {"action": "rename", "destination": "/archive/", "pattern": "a", "sub": "b"},
    )
]


@pytest.mark.parametrize(("proto", "changes"), VALID_SOURCES)
def test_valid_sources(proto: str, changes: dict[str, Any]) -> None:
    doc = transfer(patched(SOURCES[proto], changes))
    assert find_violation("transfer", doc) is None
    assert validate_transfer_json(doc) is True


INVALID_SOURCES = [
    ("ssh", {"hostname": DELETE}, "'hostname' is a required property"),
    ("ssh", {"directory": DELETE}, "'directory' is a required property"),
    ("ssh", {"fileRegex": DELETE}, "'fileRegex' is a required property"),
    ("ssh", {"protocol.credentials": DELETE}, "'credentials' is a required property"),
    (
        "ssh",
        {"protocol.credentials.username": DELETE},
        "'username' is a required property",
    ),
    (
        "ssh",
        {"protocol.credentials.password": "pw"},
        "('password' was unexpected)",
    ),
    (
        "ssh",
        {"protocol.credentials.transferUsername": "t"},
        "('transferUsername' was unexpected)",
    ),
    ("ssh", {"protocol.port": "22"}, "'22' is not of type 'integer'"),
    ("ssh", {"protocol.hostKeyValidation": "yes"}, "is not of type 'boolean'"),
    ("ssh", {"bogus": 1}, "('bogus' was unexpected)"),
    ("ssh", {"error": "false"}, "'false' is not of type 'boolean'"),
    ("ssh", {"fileWatch": {"interval": 5}}, "('interval' was unexpected)"),
    ("ssh", {"fileWatch": {"timeout": "60"}}, "'60' is not of type 'integer'"),
    (
        "ssh",
        {"logWatch": {"log": "a.log", "directory": "/l"}},
        "'contentRegex' is a required property",
    ),
    (
        "ssh",
        {"logWatch": {"log": "a", "directory": "/", "contentRegex": "x", "x": 1}},
        "('x' was unexpected)",
    ),
    ("ssh", {"conditionals": {"size": {}}}, "{} should be non-empty"),
    ("ssh", {"conditionals": {"age": {}}}, "{} should be non-empty"),
    ("ssh", {"conditionals": {"count": {}}}, "{} should be non-empty"),
    ("ssh", {"conditionals": {"size": {"gte": 1}}}, "('gte' was unexpected)"),
    ("ssh", {"conditionals": {"count": {"gt": 1}}}, "('gt' was unexpected)"),
    ("ssh", {"conditionals": {"size": {"gt": "1"}}}, "'1' is not of type 'integer'"),
    ("ssh", {"conditionals": {"other": {}}}, "('other' was unexpected)"),
    (
        "ssh",
        {"conditionals": {"checkDuringFilewatch": "y"}},
        "'y' is not of type 'boolean'",
    ),
    ("ssh", {"encryption": {"sign": True}}, "'private_key' is a required property"),
    (
        "ssh",
        {"encryption": {"sign": True, "encrypt": True, "public_key": "p"}},
        "'private_key' is a required property",
    ),
    ("ssh", {"encryption": {"compress": True}}, "('compress' was unexpected)"),
    (
        "sftp",
        {"logWatch": {"log": "a", "directory": "/", "contentRegex": "x"}},
        "('logWatch' was unexpected)",
    ),
    ("sftp", {"protocol.credentials.token": "x"}, "('token' was unexpected)"),
    ("sftp", {"protocol.timeout": 1.5}, "1.5 is not of type 'integer'"),
    ("sftp", {"protocol.retry": "no"}, "'no' is not of type 'boolean'"),
    ("sftp", {"hostname": DELETE}, "'hostname' is a required property"),
    ("local", {"hostname": "h"}, "('hostname' was unexpected)"),
    (
        "local",
        {"protocol.credentials": {"username": "u"}},
        "('credentials' was unexpected)",
    ),
    (
        "local",
        {"logWatch": {"log": "a", "directory": "/", "contentRegex": "x"}},
        "('logWatch' was unexpected)",
    ),
    ("local", {"fileRegex": DELETE}, "'fileRegex' is a required property"),
    ("dummy", {"hostname": "h"}, "('hostname' was unexpected)"),
    ("dummy", {"protocol.extra": 1}, "('extra' was unexpected)"),
    ("dummy", {"accessToken": 5}, "5 is not of type 'string'"),
    (
        "dummy",
        {"cacheableVariables": [{"variableName": "a", "cachingPlugin": "file"}]},
        "'cacheArgs' is a required property",
    ),
    (
        "dummy",
        {
            "cacheableVariables": [
                {"variableName": "a", "cachingPlugin": "f", "cacheArgs": {}, "x": 1}
            ]
        },
        "('x' was unexpected)",
    ),
]
INVALID_SOURCES += [
    (proto, {"postCopyAction": pca}, message)
    for proto in PCA_SOURCES
    for pca, message in (
        (
            {"action": "delete", "destination": "/archive"},
            "should not be valid under {'required': ['destination']}",
        ),
        ({"action": "move"}, "'destination' is a required property"),
        (
            {"action": "move", "destination": "/a", "pattern": "x", "sub": "y"},
            "should not be valid under {'required': ['pattern', 'sub']}",
        ),
        (
            {"action": "rename", "pattern": "a", "sub": "b"},
            "'destination' is a required property",
        ),
        (
            {"action": "rename", "destination": "/a/", "sub": "b"},
            "'pattern' is a required property",
        ),
        (
            {"action": "rename", "destination": "/a/", "pattern": "a"},
            "'sub' is a required property",
        ),
        ({"action": "copy"}, "'copy' is not one of ['move', 'rename', 'delete']"),
        ({"destination": "/a"}, "'action' is a required property"),
        ({"action": "delete", "force": True}, "('force' was unexpected)"),
    )
]


@pytest.mark.parametrize(("proto", "changes", "message"), INVALID_SOURCES)
def test_invalid_sources(
    proto: str,
    changes: dict[str, Any],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = transfer(patched(SOURCES[proto], changes))
    violation = find_violation("transfer", doc)
    assert violation is not None
    assert message in violation.message
    assert violation.path.startswith("$.source")
    assert validate_transfer_json(doc) is False
    assert message in capsys.readouterr().out
