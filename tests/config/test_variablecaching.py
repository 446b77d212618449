"""Cacheable variables: update_cache and the built-in ``file`` caching plugin."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from opentaskpy import otflogging
from opentaskpy.config.variablecaching import cache_utils, file
from opentaskpy.exceptions import CachingPluginError
from opentaskpy.remotehandlers.remotehandler import RemoteHandler


def test_file_plugin_writes_value(tmp_path: Path) -> None:
    target = tmp_path / "cache.txt"
    target.write_text("old content that is longer")
    assert file.CACHE_NAME == "file"
    file.run(file=str(target), value="new")
    assert target.read_bytes() == b"new"


@pytest.mark.parametrize(
    ("kwargs", "missing"),
    [({}, "file"), ({"value": "v"}, "file"), ({"file": "f"}, "value")],
)
def test_file_plugin_missing_kwargs(kwargs: dict, missing: str) -> None:
    with pytest.raises(CachingPluginError) as info:
        file.run(**kwargs)
    assert str(info.value) == (
        f"Missing kwarg: '{missing}' while trying to run caching plugin 'file'"
    )


def test_file_plugin_missing_directory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(FileNotFoundError):
        file.run(file=str(tmp_path / "no" / "such.txt"), value="v")
    assert "no/such.txt" in caplog.text
    assert any(r.levelname == "ERROR" for r in caplog.records)


def test_update_cache_with_values_from_a_spec(tmp_path: Path) -> None:
    assert cache_utils.DEFAULT_CACHE_PLUGINS == ["file"]
    spec = {
        "accessToken": f"tok-{uuid.uuid4().hex}",
        "x": {"y": 3},
        "invalidParam": ["a", "b", "c"],
        "destinations": [{"hostname": "h0"}],
        "cacheableVariables": [
            {
                "variableName": name,
                "cachingPlugin": "file",
                "cacheArgs": {"file": str(tmp_path / f"{i}.txt")},
            }
            for i, name in enumerate(
                ["accessToken", "x.y", "invalidParam[2]", "destinations[0].hostname"]
            )
        ],
    }
    handler = RemoteHandler(spec)
    for entry in spec["cacheableVariables"]:
        value = handler.obtain_variable_from_spec(entry["variableName"], spec)
        cache_utils.update_cache(entry, value)
    contents = [(tmp_path / f"{i}.txt").read_text() for i in range(4)]
    assert contents == [spec["accessToken"], "3", "c", "h0"]
    # cacheArgs is mutated with the value (reference behaviour).
    assert spec["cacheableVariables"][1]["cacheArgs"]["value"] == "3"
    # Cached values are credentials: masked in logs from now on.
    assert otflogging.redact(f"x {spec['accessToken']} y") == "x ******** y"
    with pytest.raises(ValueError) as info:
        handler.obtain_variable_from_spec("bad name!", spec)
    assert str(info.value) == "Variable name bad name! is not a valid variable name."


@pytest.fixture
def addon_cache_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    pkg = f"vc{uuid.uuid4().hex[:6]}"
    module_dir = tmp_path / "site" / "opentaskpy" / "variablecaching" / pkg
    module_dir.mkdir(parents=True)
    (module_dir / "store.py").write_text(
        "def run(**kwargs):\n"
        "    open(kwargs['target'], 'w').write(kwargs['value'] + kwargs['extra'])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield f"{pkg}.store"
    for name in [m for m in sys.modules if pkg in m]:
        del sys.modules[name]


def test_update_cache_uses_addon_namespace(
    tmp_path: Path, addon_cache_plugin: str
) -> None:
    target = tmp_path / "out.txt"
    entry = {
        "variableName": "token",
        "cachingPlugin": addon_cache_plugin,
        "cacheArgs": {"target": str(target), "extra": "!"},
    }
    cache_utils.update_cache(entry, "abc")
    assert target.read_text() == "abc!"
    assert f"opentaskpy.variablecaching.{addon_cache_plugin}" in sys.modules


def test_update_cache_unknown_plugin() -> None:
    entry = {"variableName": "t", "cachingPlugin": "nope", "cacheArgs": {}}
    with pytest.raises(ModuleNotFoundError):
        cache_utils.update_cache(entry, "v")
