"""The validation cache: hits skip jsonschema, anything changed re-validates.

Cross-process behaviour (what a second ``task-run`` sees) is checked in a
fresh interpreter per validation; the rest in-process with a spy on the real
validator.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest

from opentaskpy import digests
from opentaskpy.config import schemas, validation_cache
from opentaskpy.config.loader import ConfigLoader
from support.helpers import python_marked_json

CONTRACT_SCHEMAS = (
    Path(__file__).resolve().parents[1]
    / "addons/contract_addon/opentaskpy/addons/contracttest/remotehandlers/schemas"
)
TRANSFER = {
    "type": "transfer",
    "source": {"directory": "/d", "fileRegex": ".*", "protocol": {"name": "local"}},
    "destination": [{"directory": "/in", "protocol": {"name": "local"}}],
}
INVALID = {
    "type": "transfer",
    "source": {"directory": 5, "fileRegex": ".*", "protocol": {"name": "local"}},
}

_SNIPPET = (
    "import json, sys\n"
    "from opentaskpy.config import validation_cache\n"
    "ok = validation_cache.validate(sys.argv[1], json.loads(sys.argv[2]))\n"
    "print('RESULT=' + json.dumps({'ok': ok, 'loaded': sorted(m for m in "
    "('jsonschema', 'referencing', 'attrs', 'opentaskpy.config.schemas') "
    "if m in sys.modules)}))\n"
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Turn the cache on (conftest turns it off) in a directory of this test."""
    directory = tmp_path / "validation-cache"
    monkeypatch.delenv("OTF_VALIDATION_CACHE", raising=False)
    monkeypatch.setenv("OTF_VALIDATION_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kinds passed to the real validator (every real validation).

    ``schemas.validate_*_json`` go through ``schemas.find_violation`` too.
    """
    seen: list[str] = []
    real_find = schemas.find_violation

    def spy(kind: str, doc: dict) -> Any:
        seen.append(kind)
        return real_find(kind, doc)

    monkeypatch.setattr(schemas, "find_violation", spy)
    return seen


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def validate_in_subprocess(
    kind: str, doc: dict, directory: Path, *path: Path
) -> dict[str, Any]:
    """Validate in a fresh interpreter; report the result and heavy imports."""
    env = {
        "OTF_VALIDATION_CACHE_DIR": str(directory),
        "PYTHONPATH": os.pathsep.join(
            [*map(str, path), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    result: dict[str, Any]
    result, proc = python_marked_json(
        _SNIPPET, [kind, json.dumps(doc)], "RESULT", env=env
    )
    result["stdout"] = "".join(
        line
        for line in proc.stdout.splitlines(keepends=True)
        if not line.startswith("RESULT=")
    )
    result["stderr"] = proc.stderr
    return result


def make_addon(root: Path, package: str) -> tuple[dict, Path]:
    """An addon ``<package>.remotehandlers`` with the contract addon's schemas.

    Returns an execution definition using it and its main schema file.
    """
    handlers = root / package / "remotehandlers"
    handlers.mkdir(parents=True)
    (root / package / "__init__.py").touch()
    (handlers / "__init__.py").touch()
    shutil.copytree(CONTRACT_SCHEMAS / "execution", handlers / "schemas/execution")
    name = f"{package}.remotehandlers.recorder.RecorderExecution"
    protocol = handlers / "schemas/execution/recorder/protocol.json"
    schema = json.loads(protocol.read_text())
    schema["properties"]["name"]["const"] = name
    protocol.write_text(json.dumps(schema))
    doc = {"type": "execution", "record": "/tmp/r", "protocol": {"name": name}}
    return doc, handlers / "schemas/execution/recorder/recorder.json"


# -- across processes ---------------------------------------------------------


def test_second_validation_is_a_hit_without_jsonschema(cache: Path) -> None:
    first = validate_in_subprocess("transfer", TRANSFER, cache)
    assert first["ok"] is True
    assert "jsonschema" in first["loaded"]
    assert len(entries(cache)) == 1
    second = validate_in_subprocess("transfer", TRANSFER, cache)
    assert second == {"ok": True, "loaded": [], "stdout": "", "stderr": ""}


def test_one_changed_byte_misses(cache: Path) -> None:
    validate_in_subprocess("transfer", TRANSFER, cache)
    changed = json.loads(json.dumps(TRANSFER).replace('"/in"', '"/im"'))
    result = validate_in_subprocess("transfer", changed, cache)
    assert result["ok"] is True
    assert "jsonschema" in result["loaded"]
    assert len(entries(cache)) == 2


def test_kind_is_part_of_the_key(cache: Path, calls: list[str]) -> None:
    batch = {"type": "batch", "tasks": [{"order_id": 1, "task_id": "x"}]}
    assert validation_cache.validate("batch", batch)
    assert validation_cache.find_violation("batch", batch) is None
    assert calls == ["batch"]
    assert validation_cache.entry_path("batch", batch) != validation_cache.entry_path(
        "execution", batch
    )


def test_touched_addon_schema_file_invalidates(cache: Path, tmp_path: Path) -> None:
    root = tmp_path / "addon"
    doc, schema_file = make_addon(root, f"otfcache_{uuid.uuid4().hex[:8]}")
    assert (
        "jsonschema" in validate_in_subprocess("execution", doc, cache, root)["loaded"]
    )
    assert validate_in_subprocess("execution", doc, cache, root)["loaded"] == []
    entry = json.loads(entries(cache)[0].read_text())
    assert str(schema_file) in [path for path, _, _ in entry["files"]]

    info = schema_file.stat()
    os.utime(schema_file, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    again = validate_in_subprocess("execution", doc, cache, root)
    assert again["ok"] is True
    assert "jsonschema" in again["loaded"]
    assert validate_in_subprocess("execution", doc, cache, root)["loaded"] == []


def test_altered_addon_schema_is_applied(cache: Path, tmp_path: Path) -> None:
    root = tmp_path / "addon"
    doc, schema_file = make_addon(root, f"otfcache_{uuid.uuid4().hex[:8]}")
    assert validate_in_subprocess("execution", doc, cache, root)["ok"] is True
    schema = json.loads(schema_file.read_text())
    schema["required"].append("fail")
    schema_file.write_text(json.dumps(schema))
    result = validate_in_subprocess("execution", doc, cache, root)
    assert result["ok"] is False
    assert "fail" in result["stdout"]
    assert "jsonschema" in result["loaded"]


def test_moved_addon_package_revalidates(cache: Path, tmp_path: Path) -> None:
    package = f"otfcache_{uuid.uuid4().hex[:8]}"
    doc, _ = make_addon(tmp_path / "old", package)
    validate_in_subprocess("execution", doc, cache, tmp_path / "old")
    assert (
        validate_in_subprocess("execution", doc, cache, tmp_path / "old")["loaded"]
        == []
    )
    # The same package installed elsewhere shadows the old copy, which is
    # still there unchanged: the files listed in the entry all match.
    make_addon(tmp_path / "new", package)
    moved = validate_in_subprocess("execution", doc, cache, tmp_path / "new")
    assert moved["ok"] is True
    assert "jsonschema" in moved["loaded"]


# -- failures are never cached --------------------------------------------------


def test_invalid_definition_is_never_cached(
    cache: Path, calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert schemas.validate_transfer_json(INVALID) is False
    expected = capsys.readouterr().out
    assert "source.directory" in expected
    for _ in range(2):
        assert validation_cache.validate("transfer", INVALID) is False
        assert capsys.readouterr().out == expected
        violation = validation_cache.find_violation("transfer", INVALID)
        assert violation is not None
        assert violation.describe() == expected.strip()
    assert calls == ["transfer"] * 5
    assert entries(cache) == []


# -- in-process hits and fallbacks ------------------------------------------------


def test_hit_skips_the_validator_and_entries_are_private(
    cache: Path, calls: list[str]
) -> None:
    assert validation_cache.validate("transfer", TRANSFER)
    assert validation_cache.validate("transfer", TRANSFER)
    assert validation_cache.find_violation("transfer", TRANSFER) is None
    assert calls == ["transfer"]
    (entry,) = entries(cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert [p.name for p in cache.iterdir()] == [entry.name]  # no temp files left


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "[]",
        '{"format": 1, "files": [["/no/such/file", 1, 2]], "packages": []}',
        '{"format": 99, "files": [], "packages": []}',
        '{"format": 1, "files": [], "packages": [["no_such_pkg_x", null]]}',
    ],
)
def test_corrupt_entry_falls_back_silently(
    cache: Path,
    calls: list[str],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    content: str,
) -> None:
    assert validation_cache.validate("transfer", TRANSFER)
    (entry,) = entries(cache)
    entry.write_text(content)
    assert validation_cache.validate("transfer", TRANSFER)
    assert calls == ["transfer", "transfer"]
    assert capfd.readouterr() == ("", "")
    assert caplog.records == []
    assert validation_cache.validate("transfer", TRANSFER)  # rewritten: a hit
    assert calls == ["transfer", "transfer"]


def test_unwritable_cache_dir_falls_back_silently(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    calls: list[str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.delenv("OTF_VALIDATION_CACHE", raising=False)
    monkeypatch.setenv("OTF_VALIDATION_CACHE_DIR", str(blocker / "cache"))
    for _ in range(2):
        assert validation_cache.validate("transfer", TRANSFER)
        assert validation_cache.validate("transfer", INVALID) is False
    assert calls == ["transfer"] * 4
    out, err = capfd.readouterr()
    assert err == ""
    assert out.count("source.directory") == 2 and len(out.splitlines()) == 2


def test_no_home_directory_falls_back_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    monkeypatch.delenv("OTF_VALIDATION_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    monkeypatch.setenv("HOME", str(home))
    assert validation_cache.cache_dir() is not None
    assert validation_cache.validate("transfer", TRANSFER)
    assert validation_cache.validate("transfer", TRANSFER)
    assert calls == ["transfer", "transfer"]


def test_directory_writable_by_others_is_not_used(
    cache: Path, calls: list[str]
) -> None:
    cache.mkdir(mode=0o700)
    assert validation_cache.validate("transfer", TRANSFER)
    assert validation_cache.validate("transfer", TRANSFER)
    assert calls == ["transfer"]
    # Anyone could have planted that entry now: it is not trusted...
    os.chmod(cache, 0o777)
    assert validation_cache.validate("transfer", TRANSFER)
    assert calls == ["transfer", "transfer"]
    # ...and nothing new is written there.
    assert validation_cache.validate("batch", {"type": "batch", "tasks": []})
    assert len(entries(cache)) == 1


def test_key_covers_versions_and_validating_code(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.metadata
    import importlib.util

    identity = validation_cache._environment()
    origin = importlib.util.find_spec("jsonschema").origin  # type: ignore[union-attr]
    assert f"jsonschema {origin}" in identity
    validators = os.stat(Path(str(origin)).parent / "validators.py")
    assert f"{validators.st_mtime_ns}:{validators.st_size}" in identity
    source = os.stat(schemas.__file__)
    assert f"schemas.py {source.st_mtime_ns}:{source.st_size}" in identity
    assert f"opentaskpy {importlib.metadata.version('opentaskpy')}" in identity
    before = validation_cache.entry_path("transfer", TRANSFER)
    monkeypatch.setattr(validation_cache, "_environment", lambda: "another jsonschema")
    assert validation_cache.entry_path("transfer", TRANSFER) != before


@pytest.mark.parametrize("value", ["0", "false", "off"])
def test_disabled_by_environment(
    cache: Path, monkeypatch: pytest.MonkeyPatch, calls: list[str], value: str
) -> None:
    monkeypatch.setenv("OTF_VALIDATION_CACHE", value)
    assert validation_cache.cache_dir() is None
    for _ in range(2):
        assert validation_cache.validate("transfer", TRANSFER)
    assert calls == ["transfer", "transfer"]
    assert not cache.exists()


def test_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTF_VALIDATION_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert validation_cache.cache_dir() == str(tmp_path / "xdg/opentaskpy/validation")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home/.cache/opentaskpy/validation"
    assert validation_cache.cache_dir() == str(expected)
    monkeypatch.setenv("OTF_VALIDATION_CACHE_DIR", str(tmp_path / "mine"))
    assert validation_cache.cache_dir() == str(tmp_path / "mine")


def test_directory_stays_bounded(
    cache: Path, monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    monkeypatch.setattr(validation_cache, "MAX_ENTRIES", 10)
    cache.mkdir(mode=0o700)
    for number in range(12):
        old = cache / f"{number:064x}.json"
        old.write_text("{}")
        os.utime(old, ns=(number * 10**9, number * 10**9))
    assert validation_cache.validate("transfer", TRANSFER)
    names = sorted(p.name for p in cache.iterdir())
    assert len(names) == 7  # 13 entries: the 6 least recently used went
    assert f"{0:064x}.json" not in names and f"{5:064x}.json" not in names
    assert f"{6:064x}.json" in names
    assert validation_cache.validate("transfer", TRANSFER)  # the new one stayed
    assert calls == ["transfer"]


# -- batch steps ----------------------------------------------------------------


def test_batch_steps_use_the_cache(
    cache: Path, cfg_dir: Path, tmp_path: Path, calls: list[str]
) -> None:
    from opentaskpy.taskhandlers.batch import Batch

    for step in ("step-one", "step-two"):
        (cfg_dir / f"{step}.json").write_text(
            json.dumps(
                {
                    "type": "execution",
                    "directory": str(tmp_path),
                    "command": f"echo {step}",
                    "protocol": {"name": "local"},
                }
            )
        )
    (cfg_dir / "bad-step.json").write_text(
        json.dumps({"type": "execution", "protocol": {"name": "local"}})
    )
    tasks = [
        {"order_id": 1, "task_id": "step-one"},
        {"order_id": 2, "task_id": "step-two"},
        {"order_id": 3, "task_id": "bad-step"},
    ]
    (cfg_dir / "the-batch.json").write_text(
        json.dumps({"type": "batch", "tasks": tasks})
    )
    for _ in range(2):
        loader = ConfigLoader(str(cfg_dir))
        Batch({}, "the-batch", loader.load_task_definition("the-batch"), loader)
    # Each run checks the invalid step; the valid ones only the first time.
    assert calls == ["execution"] * 4
    assert len(entries(cache)) == 2


def test_nothing_cached_when_the_files_used_are_unknown(
    cache: Path, monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    from opentaskpy.config import schema_registry

    # A validator that keeps the resources it retrieved reads no file the
    # second time: what it depends on can then not be recorded.
    real = schema_registry._load_resource
    kept: dict[str, Any] = {}

    def keeping(path: Path) -> Any:
        if str(path) not in kept:
            kept[str(path)] = real(path)
        return kept[str(path)]

    monkeypatch.setattr(schema_registry, "_load_resource", keeping)
    assert validation_cache.validate("transfer", TRANSFER)
    changed = json.loads(json.dumps(TRANSFER).replace('"/in"', '"/im"'))
    assert validation_cache.validate("transfer", changed)
    assert validation_cache.validate("transfer", changed)
    assert calls == ["transfer"] * 3
    assert len(entries(cache)) == 1


def test_cli_error_line_is_unchanged_with_the_cache(
    cfg_dir: Path, tmp_path: Path, task_run: Any
) -> None:
    (cfg_dir / "bad.json").write_text(json.dumps(INVALID))
    (cfg_dir / "good.json").write_text(json.dumps(TRANSFER))
    directory = tmp_path / "validation-cache"
    on = {"OTF_VALIDATION_CACHE": "1", "OTF_VALIDATION_CACHE_DIR": str(directory)}
    off = task_run("--noop", "-t", "bad", "-c", cfg_dir)
    assert off.returncode == 1
    expected = [x for x in off.stderr.splitlines() if x.startswith("task-run:")]
    assert len(expected) == 1 and "source.directory" in expected[0]
    for _ in range(2):
        proc = task_run("--noop", "-t", "bad", "-c", cfg_dir, env=on)
        assert proc.returncode == 1
        assert [x for x in proc.stderr.splitlines() if x.startswith("task-run:")] == (
            expected
        )
    assert entries(directory) == []
    for _ in range(2):
        assert task_run("--noop", "-t", "good", "-c", cfg_dir, env=on).returncode == 0
    assert len(entries(directory)) == 1


def test_entry_names_are_sha256_without_hashlib() -> None:
    """The built-in sha256 (no OpenSSL load at start-up) is hashlib's digest."""
    import hashlib

    digest = digests.sha256()
    digest.update(b"kind\0definition\0")
    assert digest.hexdigest() == hashlib.sha256(b"kind\0definition\0").hexdigest()
