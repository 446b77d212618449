"""ConfigLoader lookup plugins: location, arguments, globals, noop, errors."""

from __future__ import annotations

import datetime
import json
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from opentaskpy import otflogging
from opentaskpy.config.loader import ConfigLoader, LazyResolvedDict
from opentaskpy.exceptions import LookupPluginError
from support.helpers import write_json

YEAR = datetime.datetime.now().strftime("%Y")

RECORDING_PLUGIN = """
import json, os
LOG = {log!r}
with open(LOG + ".imports", "a") as handle:
    handle.write("imported\\n")

def run(**kwargs):
    g = kwargs.pop("globals")
    record = {{
        "kwargs": kwargs,
        "globals_type": type(g).__name__,
        "year": g.get("YYYY"),
        "nested": g["NESTED"]["INNER"],
        "raw_lookup": g.get("USES_LOOKUP"),
        "absent": g.get("ABSENT", "dflt"),
    }}
    with open(LOG, "a") as handle:
        handle.write(json.dumps(record) + "\\n")
    return kwargs.get("answer", "plugin-result")
"""


@pytest.fixture
def plugin_name() -> Iterator[str]:
    """A unique plugin name; its sys.modules entry is removed afterwards."""
    name = f"rec_{uuid.uuid4().hex[:8]}"
    yield name
    sys.modules.pop(f"opentaskpy.plugins.lookup.{name}", None)


def _write_plugin(cfg: Path, name: str, log: Path) -> None:
    plugin_dir = cfg / "plugins" / "lookup"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    (plugin_dir / f"{name}.py").write_text(RECORDING_PLUGIN.format(log=str(log)))


def _records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_config_dir_plugin_gets_resolved_kwargs_and_lazy_globals(
    cfg_dir: Path, tmp_path: Path, plugin_name: str
) -> None:
    log = tmp_path / "calls.log"
    _write_plugin(cfg_dir, plugin_name, log)
    write_json(
        cfg_dir / "variables.json.j2",
        {
            "YYYY": "{{ now().strftime('%Y') }}",
            "NESTED": {"INNER": "{{ YYYY }}"},
            "USES_LOOKUP": "{{ lookup('random_number', min=1, max=1) }}",
            "RESULT": f"{{{{ lookup('{plugin_name}', year=NESTED.INNER, n=3) }}}}",
        },
    )
    loader = ConfigLoader(str(cfg_dir))
    assert loader.global_variables["RESULT"] == "plugin-result"
    # Called once (during R0), module executed once and cached in sys.modules.
    (record,) = _records(log)
    assert record["kwargs"] == {"year": YEAR, "n": 3}
    assert record["globals_type"] == "LazyResolvedDict"
    assert record["year"] == YEAR
    assert record["nested"] == YEAR
    assert record["raw_lookup"] == "{{ lookup('random_number', min=1, max=1) }}"
    assert loader.global_variables["USES_LOOKUP"] == "1"
    assert record["absent"] == "dflt"
    assert f"opentaskpy.plugins.lookup.{plugin_name}" in sys.modules
    ConfigLoader(str(cfg_dir))
    assert Path(f"{log}.imports").read_text() == "imported\n"


def test_plugin_result_is_converted_and_registered_as_secret(
    cfg_dir: Path, tmp_path: Path, plugin_name: str
) -> None:
    _write_plugin(cfg_dir, plugin_name, tmp_path / "calls.log")
    write_json(cfg_dir / "variables.json.j2", {"NESTED": {"INNER": "i"}})
    loader = ConfigLoader(str(cfg_dir))
    assert loader.template_lookup(plugin_name, answer=None) == "None"
    assert loader.template_lookup(plugin_name, answer=12345) == "12345"
    secret = f"very-secret-{uuid.uuid4().hex}"
    assert loader.template_lookup(plugin_name, answer=secret) == secret
    assert otflogging.redact(f"token is {secret}!") == "token is ********!"


def test_installed_namespace_plugin_with_dotted_name(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An addon-style distribution contributing opentaskpy.plugins.lookup.<pkg>
    # without any __init__.py (namespace packages all the way down).
    pkg = f"acme{uuid.uuid4().hex[:6]}"
    site = tmp_path / "site"
    module_dir = site / "opentaskpy" / "plugins" / "lookup" / pkg
    module_dir.mkdir(parents=True)
    (module_dir / "thing.py").write_text(
        "def run(**kwargs):\n"
        "    return 'ns:' + kwargs['x'] + ':' + kwargs['globals']['REGION']\n"
    )
    monkeypatch.syspath_prepend(str(site))
    write_json(
        cfg_dir / "variables.json.j2",
        {"REGION": "eu-{{ 'west' }}", "V": f"{{{{ lookup('{pkg}.thing', x='1') }}}}"},
    )
    try:
        loader = ConfigLoader(str(cfg_dir))
        assert loader.global_variables["V"] == "ns:1:eu-west"
        assert sys.modules[f"opentaskpy.plugins.lookup.{pkg}.thing"].__file__ == str(
            module_dir / "thing.py"
        )
    finally:
        for name in [m for m in sys.modules if f".{pkg}" in m]:
            del sys.modules[name]


def test_noop_returns_noop_even_for_unknown_plugins(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json(
        cfg_dir / "variables.json.j2",
        {
            "A": "{{ lookup('file', path='/does/not/exist') }}",
            "B": "{{ lookup('no_such_plugin_here') }}",
        },
    )
    monkeypatch.setenv("OTF_NOOP", "true")
    assert ConfigLoader(str(cfg_dir)).global_variables == {"A": "noop", "B": "noop"}
    # Only the exact value "true" short-circuits.
    monkeypatch.setenv("OTF_NOOP", "1")
    with pytest.raises(FileNotFoundError):
        ConfigLoader(str(cfg_dir))


def test_unknown_plugin_is_a_key_error_naming_plugin_and_file(cfg_dir: Path) -> None:
    path = write_json(
        cfg_dir / "t.json", {"type": "x", "v": "{{ lookup('no_such_plugin_here') }}"}
    )
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(KeyError) as info:
        loader.load_task_definition("t")
    assert "no_such_plugin_here" in str(info.value)
    assert f"{cfg_dir}/plugins/lookup/no_such_plugin_here.py" in str(info.value)
    assert info.value.otf_lookup_plugin == "no_such_plugin_here"
    assert info.value.otf_config_file == str(path)


def test_plugin_exception_keeps_its_type(cfg_dir: Path) -> None:
    path = write_json(
        cfg_dir / "variables.json.j2", {"A": "{{ lookup('file', wrong='x') }}"}
    )
    with pytest.raises(LookupPluginError) as info:
        ConfigLoader(str(cfg_dir))
    assert str(info.value) == (
        "Missing kwarg: 'path' while trying to run lookup plugin 'file'"
    )
    assert info.value.otf_lookup_plugin == "file"
    assert info.value.otf_config_file == str(path)
    assert "raised by lookup plugin 'file'" in info.value.__notes__


def test_file_lookup_in_task_and_variables(cfg_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("  first-line-value  \nsecond\n")
    write_json(
        cfg_dir / "variables.json.j2",
        {
            "BASE": str(tmp_path),
            "PATHS": {"FILE": "{{ BASE }}/secret.txt"},
            "FROM_FILE": "{{ lookup('file', path=PATHS.FILE) }}",
        },
    )
    write_json(
        cfg_dir / "t.json",
        {
            "type": "execution",
            "v": f"{{{{ lookup('file', path='{secret}') }}}}",
            "r": "{{ lookup('random_number', min=5, max=5) }}",
        },
    )
    loader = ConfigLoader(str(cfg_dir))
    assert loader.global_variables["FROM_FILE"] == "first-line-value"
    definition = loader.load_task_definition("t")
    assert definition["v"] == "first-line-value"
    assert definition["r"] == "5"


def test_resolve_lookup_value(cfg_dir: Path) -> None:
    write_json(
        cfg_dir / "variables.json.j2",
        {"YYYY": "{{ now().strftime('%Y') }}", "MM": "03"},
    )
    loader = ConfigLoader(str(cfg_dir))
    mm = loader.global_variables["MM"]
    assert loader._resolve_lookup_value({"year": "{{ YYYY }}"}) == {"year": YEAR}
    assert loader._resolve_lookup_value(["{{ YYYY }}", "{{ MM }}", 7]) == [
        YEAR,
        mm,
        7,
    ]
    assert loader._resolve_lookup_value(1234) == 1234
    text = "{{ lookup('file', path='x') }}"
    assert loader._resolve_lookup_value(text, resolve_lookups=False) == text
    assert loader._resolve_lookup_value(
        {"a": [text, "{{ MM }}"]}, resolve_lookups=False
    ) == {"a": [text, mm]}


def test_lazy_resolved_dict() -> None:
    calls: list[tuple[object, bool]] = []

    def resolver(value: object, resolve_lookups: bool = True) -> object:
        calls.append((value, resolve_lookups))
        return f"R({value})"

    raw = {"a": "x", "d": {"b": "y"}, "l": ["z", {"c": "w"}, ["v"]]}
    lazy = LazyResolvedDict(raw, resolver)
    assert isinstance(lazy, dict)
    assert len(lazy) == 3 and list(lazy) == ["a", "d", "l"] and "d" in lazy
    assert calls == []
    assert lazy["a"] == "R(x)"
    assert calls == [("x", False)]
    nested = lazy["d"]
    assert isinstance(nested, LazyResolvedDict) and nested["b"] == "R(y)"
    items = lazy["l"]
    assert items[0] == "R(z)" and items[1]["c"] == "R(w)" and items[2] == ["R(v)"]
    assert lazy.get("missing") is None and lazy.get("missing", 5) == 5
    assert lazy.get("a") == "R(x)"
    assert LazyResolvedDict(raw, resolver, resolve_lookups=True)["a"] == "R(x)"
    assert calls[-1] == ("x", True)


def test_reloading_variables_runs_lookups_again(cfg_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "value.txt"
    source.write_text("one")
    write_json(
        cfg_dir / "variables.json.j2",
        {"V": f"{{{{ lookup('file', path='{source}') }}}}"},
    )
    loader = ConfigLoader(str(cfg_dir))
    assert loader.get_global_variables()["V"] == "one"
    source.write_text("two")
    loader._load_global_variables()
    loader._resolve_templated_variables()
    assert loader.get_global_variables()["V"] == "two"


def test_shared_loader_across_threads(
    cfg_dir: Path, tmp_path: Path, plugin_name: str
) -> None:
    log = tmp_path / "calls.log"
    _write_plugin(cfg_dir, plugin_name, log)
    write_json(cfg_dir / "variables.json.j2", {"YYYY": "y", "NESTED": {"INNER": "i"}})
    for i in range(12):
        plugin_call = f"{{{{ lookup('{plugin_name}', answer='v{i}') }}}}"
        (cfg_dir / f"task{i}.json.j2").write_text(
            textwrap.dedent(
                f"""\
                {{"type": "execution", "directory": "/d{i}",
                  "value": "{plugin_call}"}}"""
            )
        )
    loader = ConfigLoader(str(cfg_dir))
    results: dict[int, dict] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def load(i: int) -> None:
        try:
            barrier.wait()
            results[i] = loader.load_task_definition(f"task{i}")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {i: r["value"] for i, r in results.items()} == {
        i: f"v{i}" for i in range(12)
    }
    assert Path(f"{log}.imports").read_text() == "imported\n"
    assert len(_records(log)) == 12
