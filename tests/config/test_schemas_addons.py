"""Fake addon packages: discovery, relative and http://localhost refs, wrong $id."""

from __future__ import annotations

import copy
import importlib
import importlib.resources
import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from referencing.exceptions import Unresolvable

from opentaskpy.config.schemas import (
    find_violation,
    validate_execution_json,
    validate_transfer_json,
)

LOCAL_SRC = {"directory": "/d", "fileRegex": ".*", "protocol": {"name": "local"}}
LOCAL_DST = {"directory": "/in", "protocol": {"name": "local"}}


# -- fake addon packages ------------------------------------------------------

AddonFactory = Callable[[str, dict[str, Any]], Path]


@pytest.fixture
def make_addon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AddonFactory]:
    """Create an importable package whose ``schemas/`` holds the given files."""
    root = tmp_path / "addons"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    created: list[str] = []

    def factory(package: str, files: dict[str, Any]) -> Path:
        pkg_dir = root.joinpath(*package.split("."))
        pkg_dir.mkdir(parents=True, exist_ok=True)
        for depth in range(1, len(package.split(".")) + 1):
            init = root.joinpath(*package.split(".")[:depth]) / "__init__.py"
            init.touch()
        for relative, contents in files.items():
            target = pkg_dir / "schemas" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(contents))
        created.append(package.split(".")[0])
        importlib.invalidate_caches()
        return pkg_dir

    yield factory
    for top in created:
        for name in list(sys.modules):
            if name == top or name.startswith(top + "."):
                del sys.modules[name]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


D = "https://json-schema.org/draft/2020-12/schema"

# An execution addon whose $id points at the core ssh schema: if $id were
# honoured, "protocol.json" would resolve to the core ssh protocol (name must
# be "ssh") and every valid document below would fail.
EXEC_ADDON_FILES = {
    "execution/test_addon/test_addon.json": {
        "$schema": D,
        "$id": "http://localhost/execution/ssh/ssh.json",
        "type": "object",
        "properties": {
            "type": {"type": "string"},
            "protocol": {"$ref": "protocol.json"},
            "count": {"type": "integer", "minimum": 1},
        },
        "required": ["type", "protocol"],
        "additionalProperties": False,
    },
    "execution/test_addon/protocol.json": {
        "$schema": D,
        "$id": "http://localhost/execution/ssh/protocol.json",
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "enum": ["custom.test_addon.RandomNumberGenerator"],
            }
        },
        "required": ["name"],
        "additionalProperties": False,
    },
}


def test_spec_test_addon_custom(make_addon: AddonFactory) -> None:
    sys.modules.pop("custom", None)
    make_addon("custom", EXEC_ADDON_FILES)
    doc = {
        "type": "execution",
        "protocol": {"name": "custom.test_addon.RandomNumberGenerator"},
    }
    assert validate_execution_json(doc) is True
    assert "custom" in sys.modules  # imported on demand

    bad = {**doc, "protocol": {**doc["protocol"], "seed": 1}}
    violation = find_violation("execution", bad)
    assert violation is not None
    assert violation.path == "$.protocol"
    assert "('seed' was unexpected)" in violation.message
    assert validate_execution_json({**doc, "count": 0}) is False


def _transfer_addon_files(short: str, class_name: str) -> dict[str, Any]:
    return {
        # Wrong $id on purpose (copy-paste leftover naming a core file).
        f"transfer/{short}_source.json": {
            "$schema": D,
            "$id": "http://localhost/transfer/dummy_source.json",
            "type": "object",
            "properties": {
                "bucket": {"type": "string"},
                "protocol": {"$ref": f"{short}_source/protocol.json"},
                "fileWatch": {"$ref": f"{short}_source/fileWatch.json"},
                "encryption": {"$ref": "http://localhost/transfer/encryption.json"},
                "cacheableVariables": {
                    "type": "array",
                    "items": {"$ref": "http://localhost/cacheable_variables.json"},
                },
            },
            "required": ["bucket", "protocol"],
            "additionalProperties": False,
        },
        f"transfer/{short}_source/protocol.json": {
            "$schema": D,
            "$id": "http://localhost/transfer/dummy_source/protocol.json",
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": [class_name]},
                "region": {"type": "string"},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        f"transfer/{short}_source/fileWatch.json": {
            "$schema": D,
            "type": "object",
            "properties": {"timeout": {"type": "integer"}},
            "additionalProperties": False,
        },
        f"transfer/{short}_destination.json": {
            "$schema": D,
            "$id": "http://localhost/transfer/ssh_destination.json",
            "type": "object",
            "properties": {
                "bucket": {"type": "string"},
                "protocol": {"$ref": f"{short}_destination/protocol.json"},
                "encryption": {"$ref": "http://localhost/transfer/encryption.json"},
            },
            "required": ["bucket", "protocol"],
            "additionalProperties": False,
        },
        f"transfer/{short}_destination/protocol.json": {
            "$schema": D,
            "type": "object",
            "properties": {"name": {"type": "string", "enum": [class_name]}},
            "required": ["name"],
            "additionalProperties": False,
        },
    }


@pytest.fixture
def transfer_addon(make_addon: AddonFactory) -> str:
    """Return the protocol name of a freshly created transfer addon."""
    top = unique("addon")
    class_name = f"{top}.remotehandlers.objstore.ObjStoreTransfer"
    make_addon(f"{top}.remotehandlers", _transfer_addon_files("objstore", class_name))
    return class_name


def test_transfer_addon_valid_with_relative_and_localhost_refs(
    transfer_addon: str,
) -> None:
    doc = {
        "type": "transfer",
        "source": {
            "bucket": "b",
            "fileWatch": {"timeout": 1},
            "protocol": {"name": transfer_addon, "region": "eu"},
            "encryption": {"decrypt": True, "private_key": "k"},
            "cacheableVariables": [
                {"variableName": "x", "cachingPlugin": "file", "cacheArgs": {}}
            ],
        },
        "destination": [
            {"bucket": "out", "protocol": {"name": transfer_addon}},
            LOCAL_DST,
        ],
    }
    before = copy.deepcopy(doc)
    assert validate_transfer_json(doc) is True
    assert doc == before


@pytest.mark.parametrize(
    ("source_changes", "path", "message"),
    [
        # http://localhost/transfer/encryption.json is served from the core.
        ({"encryption": {"sign": True}}, "$.source.encryption", "'private_key'"),
        (
            {"encryption": {"zip": True}},
            "$.source.encryption",
            "('zip' was unexpected)",
        ),
        (
            {"cacheableVariables": [{"variableName": "x"}]},
            "$.source.cacheableVariables[0]",
            "'cachingPlugin' is a required property",
        ),
        # Relative refs resolve against the addon file, not the $id.
        ({"fileWatch": {"watchOnly": True}}, "$.source.fileWatch", "'watchOnly'"),
        ({"bucket": 1}, "$.source.bucket", "1 is not of type 'string'"),
    ],
)
def test_transfer_addon_violations(
    transfer_addon: str, source_changes: dict[str, Any], path: str, message: str
) -> None:
    source = {"bucket": "b", "protocol": {"name": transfer_addon}, **source_changes}
    violation = find_violation("transfer", {"type": "transfer", "source": source})
    assert violation is not None
    assert violation.path == path
    assert message in violation.message


def test_addon_protocol_extra_key_in_relative_subschema(transfer_addon: str) -> None:
    source = {"bucket": "b", "protocol": {"name": transfer_addon, "acl": "x"}}
    violation = find_violation("transfer", {"type": "transfer", "source": source})
    assert violation is not None
    assert violation.path == "$.source.protocol"
    assert "('acl' was unexpected)" in violation.message


def test_mixed_core_and_addon_destination_error(transfer_addon: str) -> None:
    doc = {
        "type": "transfer",
        "source": LOCAL_SRC,
        "destination": [
            LOCAL_DST,
            {"bucket": "out", "protocol": {"name": transfer_addon}, "mode": "0644"},
        ],
    }
    violation = find_violation("transfer", doc)
    assert violation is not None
    assert violation.path == "$.destination[1]"
    assert "('mode' was unexpected)" in violation.message


def test_overlapping_destination_schemas_fail_one_of(make_addon: AddonFactory) -> None:
    # An addon destination schema that accepts anything makes a local
    # destination valid under two schemas: oneOf semantics reject it.
    top = unique("loose")
    make_addon(f"{top}.handlers", {"transfer/any_destination.json": {"type": "object"}})
    doc = {
        "type": "transfer",
        "source": LOCAL_SRC,
        "destination": [LOCAL_DST, {"protocol": {"name": f"{top}.handlers.any.Any"}}],
    }
    violation = find_violation("transfer", doc)
    assert violation is not None
    assert violation.path == "$.destination[0]"
    assert "is valid under each of" in violation.message


def test_addon_without_the_needed_schema_raises(make_addon: AddonFactory) -> None:
    top = unique("half")
    make_addon(f"{top}.rh", {"transfer/thing_source.json": {"type": "object"}})
    doc = {
        "type": "transfer",
        "source": {"protocol": {"name": f"{top}.rh.thing.Thing"}},
        "destination": [{"protocol": {"name": f"{top}.rh.thing.Thing"}}],
    }
    with pytest.raises(Unresolvable, match="thing_destination.json"):
        validate_transfer_json(doc)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("nonexistent_pkg_zz.handlers.mod.Cls", "nonexistent_pkg_zz.handlers"),
        ("nonexistent_pkg_zz.mod.Cls", "nonexistent_pkg_zz"),
        ("mod.Cls", "must be '<package>.<module>.<Class>'"),
    ],
)
def test_unimportable_addon_raises_module_not_found(name: str, fragment: str) -> None:
    doc = {"type": "execution", "protocol": {"name": name}}
    with pytest.raises(ModuleNotFoundError) as info:
        validate_execution_json(doc)
    assert f"Unknown protocol '{name}'" in str(info.value)
    assert fragment in str(info.value)


def test_concurrent_validation(transfer_addon: str) -> None:
    docs = [
        {"type": "transfer", "source": LOCAL_SRC, "destination": [LOCAL_DST]},
        {
            "type": "transfer",
            "source": {"bucket": "b", "protocol": {"name": transfer_addon}},
        },
        {"type": "batch", "tasks": [{"order_id": 1, "task_id": "a"}]},
    ]
    results: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(20):
            ok = all(find_violation(doc["type"], doc) is None for doc in docs)
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 160


def test_copy_pasted_id_does_not_shadow_core_schemas(make_addon: AddonFactory) -> None:
    # The addon file claims to be the core encryption schema. Whatever that
    # claim, http://localhost/transfer/encryption.json must still be the core
    # file (sign without private_key invalid, "bucket" unknown there).
    top = unique("shadow")
    name = f"{top}.rh.box.Box"
    make_addon(
        f"{top}.rh",
        {
            "transfer/box_source.json": {
                "$schema": D,
                "$id": "http://localhost/transfer/encryption.json",
                "type": "object",
                "properties": {
                    "bucket": {"type": "string"},
                    "protocol": {"type": "object"},
                    "encryption": {"$ref": "http://localhost/transfer/encryption.json"},
                },
                "required": ["protocol"],
            }
        },
    )
    base = {"bucket": "b", "protocol": {"name": name}}
    good = {"type": "transfer", "source": {**base, "encryption": {"decrypt": True}}}
    assert find_violation("transfer", good) is None
    bad = {"type": "transfer", "source": {**base, "encryption": {"sign": True}}}
    violation = find_violation("transfer", bad)
    assert violation is not None
    assert violation.path == "$.source.encryption"
    assert "'private_key' is a required property" in violation.message
