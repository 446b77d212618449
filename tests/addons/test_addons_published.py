"""The published addons import, instantiate and validate against our core.

otf-addons-winrm, -o365 and -gcp talk to Windows hosts, Microsoft Graph and
Google Cloud, none of which can be reached here, so this proves the parts of
the contract that need no remote service: every module imports, every
handler class satisfies the abstract-method set, the handlers whose
constructors do no network I/O are built from a minimal spec (with
``task_id``), and sample task definitions pass and fail our schema
validation as the addons' schemas say they should.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from opentaskpy.config.schemas import validate_execution_json, validate_transfer_json
from opentaskpy.remotehandlers.remotehandler import (
    RemoteExecutionHandler,
    RemoteTransferHandler,
)

ADDON_PACKAGES = {
    "aws": [
        "opentaskpy.addons.aws",
        "opentaskpy.plugins.lookup.aws",
        "opentaskpy.variablecaching.aws",
    ],
    "winrm": ["opentaskpy.addons.winrm"],
    "o365": ["opentaskpy.addons.o365"],
    "gcp": ["opentaskpy.addons.gcp"],
    "vault": ["opentaskpy.plugins.lookup.hashicorp"],
}
HANDLERS = {
    "opentaskpy.addons.aws.remotehandlers.s3.S3Transfer": RemoteTransferHandler,
    "opentaskpy.addons.aws.remotehandlers.s3.S3Execution": RemoteExecutionHandler,
    "opentaskpy.addons.aws.remotehandlers.lambda.LambdaExecution": RemoteExecutionHandler,
    "opentaskpy.addons.aws.remotehandlers.ecsfargate.FargateTaskExecution": RemoteExecutionHandler,
    "opentaskpy.addons.winrm.remotehandlers.winrm.WinRMTransfer": RemoteTransferHandler,
    "opentaskpy.addons.winrm.remotehandlers.winrm.WinRMExecution": RemoteExecutionHandler,
    "opentaskpy.addons.o365.remotehandlers.sharepoint.SharepointTransfer": RemoteTransferHandler,
    "opentaskpy.addons.gcp.remotehandlers.bucket.BucketTransfer": RemoteTransferHandler,
}
WINRM_T = {
    "name": "opentaskpy.addons.winrm.remotehandlers.winrm.WinRMTransfer",
    "credentials": {"username": "u", "password": "p", "transport": "ntlm"},
}
WINRM_E = {
    "name": "opentaskpy.addons.winrm.remotehandlers.winrm.WinRMExecution",
    "credentials": {"username": "u", "password": "p", "transport": "ntlm"},
}
SP = {
    "name": "opentaskpy.addons.o365.remotehandlers.sharepoint.SharepointTransfer",
    "refreshToken": "r",
    "clientId": "c",
    "tenantId": "t",
}
GCP = {
    "name": "opentaskpy.addons.gcp.remotehandlers.bucket.BucketTransfer",
    "credentials": {"private_key": "k", "token_uri": "http://127.0.0.1/token"},
}


def _require(addon: str) -> None:
    pytest.importorskip(
        ADDON_PACKAGES[addon][0],
        reason=f"otf-addons-{addon} not installed (scripts/install-addons.sh)",
    )


def _class(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("addon", sorted(ADDON_PACKAGES))
def test_every_module_imports(addon: str) -> None:
    _require(addon)
    imported = []
    for package_name in ADDON_PACKAGES[addon]:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(info.name)  # `lambda` too: importlib only
            imported.append(info.name)
    assert imported, f"no modules found for {addon}"


@pytest.mark.parametrize("path", sorted(HANDLERS))
def test_handler_classes_are_concrete_handlers(path: str) -> None:
    _require(path.split(".")[2])
    cls = _class(path)
    assert issubclass(cls, HANDLERS[path])
    assert not inspect.isabstract(cls), sorted(cls.__abstractmethods__)
    assert ("T" if HANDLERS[path] is RemoteTransferHandler else "E") == cls.TASK_TYPE
    # object.__new__ refuses abstract classes: this is the instantiability check
    # for the handlers whose constructors need a remote service.
    assert isinstance(cls.__new__(cls), HANDLERS[path])
    assert list(inspect.signature(cls.__init__).parameters) == ["self", "spec"]


def test_winrm_handlers_instantiate_from_minimal_spec() -> None:
    _require("winrm")
    transfer = _class(WINRM_T["name"])(
        {
            "hostname": "win1",
            "directory": "C:\\in",
            "protocol": dict(WINRM_T),
            "task_id": "w-t",
        }
    )
    assert transfer.spec["task_id"] == "w-t"
    assert transfer.remote_host == "win1"
    assert transfer.logger.name.endswith(".w-t")
    execution = _class(WINRM_E["name"])(
        {
            "type": "execution",
            "hostname": "win1",
            "command": "dir",
            "protocol": dict(WINRM_E),
            "task_id": "w-e",
        }
    )
    assert execution.logger.name.endswith(".w-e")
    execution.tidy()
    with pytest.raises(KeyError):
        _class(WINRM_E["name"])({"hostname": "x", "protocol": dict(WINRM_E)})


def test_aws_handlers_instantiate_from_minimal_spec(monkeypatch) -> None:
    _require("aws")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    s3 = _class("opentaskpy.addons.aws.remotehandlers.s3.S3Transfer")(
        {"bucket": "b", "protocol": {"name": "x"}, "task_id": "a-t"}
    )
    assert s3.supports_direct_transfer() is True
    s3.tidy()
    assert s3.s3_client is None
    lam = _class("opentaskpy.addons.aws.remotehandlers.lambda.LambdaExecution")(
        {"functionArn": "arn", "protocol": {"name": "x"}, "task_id": "a-e"}
    )
    lam.tidy()


def test_gcp_handler_instantiates_without_network() -> None:
    _require("gcp")
    # Invalid service-account info fails locally, before any token request; the
    # addon logs it and carries on with no credentials.
    handler = _class(GCP["name"])(
        {"bucket": "b", "protocol": dict(GCP), "task_id": "g"}
    )
    assert handler.credentials is None
    assert handler.supports_direct_transfer() is False


SAMPLES = [
    # (addon, kind, definition, expected)
    (
        "winrm",
        "T",
        {
            "type": "transfer",
            "source": {
                "hostname": "w",
                "directory": "C:\\in",
                "fileRegex": ".*",
                "encryption": {"decrypt": False},
                "protocol": WINRM_T,
            },
            "destination": [
                {"hostname": "w2", "directory": "C:\\out", "protocol": WINRM_T}
            ],
        },
        True,
    ),
    (
        "winrm",
        "T",
        {
            "type": "transfer",
            "source": {"hostname": "w", "fileRegex": ".*", "protocol": WINRM_T},
        },
        False,
    ),  # directory is required
    (
        "winrm",
        "E",
        {"type": "execution", "hostname": "w", "command": "dir", "protocol": WINRM_E},
        True,
    ),
    ("winrm", "E", {"type": "execution", "hostname": "w", "protocol": WINRM_E}, False),
    (
        "o365",
        "T",
        {
            "type": "transfer",
            "source": {
                "siteHostname": "h",
                "siteName": "s",
                "fileRegex": ".*",
                "protocol": SP,
                "cacheableVariables": [
                    {
                        "variableName": "protocol.refreshToken",
                        "cachingPlugin": "file",
                        "cacheArgs": {"file": "/tmp/x"},
                    }
                ],
            },
            "destination": [{"siteHostname": "h", "siteName": "s2", "protocol": SP}],
        },
        True,
    ),
    (
        "o365",
        "T",
        {
            "type": "transfer",
            "source": {
                "siteHostname": "h",
                "siteName": "s",
                "fileRegex": ".*",
                "protocol": SP,
                "cacheableVariables": [{"variableName": "x"}],
            },
        },
        False,
    ),
    (
        "gcp",
        "T",
        {
            "type": "transfer",
            "source": {
                "bucket": "b",
                "fileRegex": ".*",
                "protocol": GCP,
                "encryption": {"decrypt": True, "private_key": "k"},
            },
            "destination": [{"bucket": "c", "protocol": GCP}],
        },
        True,
    ),
    (
        "gcp",
        "T",
        {
            "type": "transfer",
            "source": {
                "bucket": "b",
                "fileRegex": ".*",
                "protocol": GCP,
                "encryption": {"compress": True},
            },
        },
        False,
    ),
    (
        "aws",
        "T",
        {
            "type": "transfer",
            "source": {
                "bucket": "b",
                "fileRegex": ".*",
                "protocol": {
                    "name": "opentaskpy.addons.aws.remotehandlers.s3.S3Transfer"
                },
            },
            "destination": [
                {
                    "bucket": "c",
                    "encryption": {"encrypt": True, "public_key": "k"},
                    "protocol": {
                        "name": "opentaskpy.addons.aws.remotehandlers.s3.S3Transfer"
                    },
                }
            ],
        },
        True,
    ),
    (
        "aws",
        "E",
        {
            "type": "execution",
            "clusterName": "c",
            "taskFamily": "f",
            "networkConfiguration": {"subnets": ["s"], "securityGroups": ["g"]},
            "protocol": {
                "name": "opentaskpy.addons.aws.remotehandlers.ecsfargate.FargateTaskExecution"
            },
        },
        True,
    ),
    (
        "aws",
        "E",
        {
            "type": "execution",
            "clusterName": "c",
            "protocol": {
                "name": "opentaskpy.addons.aws.remotehandlers.ecsfargate.FargateTaskExecution"
            },
        },
        False,
    ),
]


@pytest.mark.parametrize(("addon", "kind", "definition", "expected"), SAMPLES)
def test_sample_definitions_validate(
    addon: str, kind: str, definition: dict, expected: bool
) -> None:
    _require(addon)
    validate = validate_transfer_json if kind == "T" else validate_execution_json
    assert validate(definition) is expected


def test_sharepoint_transfer_builds_and_caches_its_refreshed_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """o365 is the addon that uses obtain_variable_from_spec + update_cache:
    its constructor refreshes the token and writes it through our file
    caching plugin. Microsoft's endpoints are replaced (no network here)."""
    _require("o365")
    import time

    module = importlib.import_module("opentaskpy.addons.o365.remotehandlers.sharepoint")

    class _SiteResponse:
        def json(self) -> dict:
            return {"id": "site-1"}

    monkeypatch.setattr(
        module,
        "get_access_token",
        lambda protocol: {
            "access_token": "AT",
            "refresh_token": "NEW-RT",
            "expiry": time.time() + 3600,
        },
    )
    monkeypatch.setattr(
        module.SharepointTransfer, "_request", lambda self, *a, **k: _SiteResponse()
    )
    cache_file = tmp_path / "refresh_token.txt"
    spec = {
        "siteHostname": "example.sharepoint.com",
        "siteName": "site",
        "fileRegex": ".*",
        "task_id": "o365-build",
        "protocol": {
            "name": "opentaskpy.addons.o365.remotehandlers.sharepoint."
            "SharepointTransfer",
            "refreshToken": "OLD-RT",
            "clientId": "client",
            "tenantId": "tenant",
        },
        "cacheableVariables": [
            {
                "variableName": "protocol.refreshToken",
                "cachingPlugin": "file",
                "cacheArgs": {"file": str(cache_file)},
            }
        ],
    }
    handler = module.SharepointTransfer(spec)
    try:
        assert handler.site_id == "site-1"
        assert cache_file.read_text() == "NEW-RT"
        assert spec["cacheableVariables"][0]["cacheArgs"]["value"] == "NEW-RT"
        assert handler.logger.name.endswith(".o365-build")
    finally:
        handler.tidy()
