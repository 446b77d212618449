"""ConfigLoader in lazy mode (OTF_LAZY_LOAD_VARIABLES=1: variables resolved on use)."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import jinja2
import pytest

from opentaskpy.config.loader import ConfigLoader
from opentaskpy.exceptions import VariableResolutionTooDeepError
from support.helpers import write_json


@pytest.fixture(autouse=True)
def lazy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTF_LAZY_LOAD_VARIABLES", "1")


def _task(directory: str) -> dict:
    return {"type": "execution", "protocol": {"name": "local"}, "directory": directory}


def test_only_exactly_1_enables_lazy_mode(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json(cfg_dir / "variables.json.j2", {"A": "{{ 1 + 1 }}"})
    assert ConfigLoader(str(cfg_dir)).lazy_load is True
    monkeypatch.setenv("OTF_LAZY_LOAD_VARIABLES", "true")
    loader = ConfigLoader(str(cfg_dir))
    assert loader.lazy_load is False
    assert loader.global_variables == {"A": "2"}


def test_variables_stay_raw_until_a_task_uses_them(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTF_LOG_LEVEL", "INFO")
    write_json(
        cfg_dir / "variables.json.j2",
        {
            "YYYY": "{{ now().strftime('%Y') }}",
            "DIR": "/data/{{ YYYY }}",
            "UNUSED": "{{ NOT_DEFINED_ANYWHERE }}",
            "NEST": {"IN": "{{ YYYY }}", "N": 1},
        },
    )
    write_json(cfg_dir / "t.json", {**_task("{{ DIR }}"), "n": "{{ NEST.IN }}"})
    loader = ConfigLoader(str(cfg_dir))
    assert loader.get_global_variables()["DIR"] == "/data/{{ YYYY }}"
    with caplog.at_level(logging.INFO):
        definition = loader.load_task_definition("t")
    year = datetime.datetime.now().strftime("%Y")
    assert definition["directory"] == f"/data/{year}"
    assert definition["n"] == year
    assert "Resolving variable DIR" in caplog.text
    assert "Resolving variable NEST" in caplog.text
    # Resolved values are stored back (non-strings round-trip through JSON);
    # unreferenced ones stay raw and their undefined names never fail.
    assert loader.global_variables["DIR"] == f"/data/{year}"
    assert loader.global_variables["NEST"] == {"IN": year, "N": 1}
    assert loader.global_variables["UNUSED"] == "{{ NOT_DEFINED_ANYWHERE }}"
    assert loader.global_variables["YYYY"] == "{{ now().strftime('%Y') }}"


def test_syntax_errors_still_raise_at_construction(cfg_dir: Path) -> None:
    path = cfg_dir / "variables.json.j2"
    path.write_text('{"A": "{{ broken( }}"}')
    with pytest.raises(jinja2.TemplateSyntaxError) as info:
        ConfigLoader(str(cfg_dir))
    assert info.value.filename == str(path)


def _chain(names: str) -> dict:
    chain = {a: f"{{{{ {b} }}}}" for a, b in zip(names, names[1:], strict=False)}
    chain[names[-1]] = "literal"
    return chain


def test_load_task_definition_lazy_load_too_deep(cfg_dir: Path) -> None:
    write_json(cfg_dir / "variables.json.j2", {**_chain("ABCDEFG"), **_chain("XYZWV")})
    write_json(cfg_dir / "ok.json", _task("{{ X }}"))
    write_json(cfg_dir / "deep.json", _task("{{ A }}"))
    loader = ConfigLoader(str(cfg_dir))
    assert loader.load_task_definition("ok")["directory"] == "literal"
    with pytest.raises(VariableResolutionTooDeepError) as info:
        loader.load_task_definition("deep")
    assert str(info.value) == "Reached max depth of recursive template evaluation"
    assert info.value.otf_config_file == str(cfg_dir / "deep.json")
    assert "while resolving global variable 'A'" in info.value.__notes__


def test_overrides_feed_dependants_in_lazy_mode(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json(
        cfg_dir / "variables.json.j2", {"YYYY": "1999", "TODAY": "{{ YYYY }}0101"}
    )
    write_json(cfg_dir / "t.json", _task("{{ TODAY }}"))
    loader = ConfigLoader(str(cfg_dir))
    monkeypatch.setenv("YYYY", "2042")
    loader.get_global_variables()
    assert loader.load_task_definition("t")["directory"] == "20420101"


def test_lazy_task_variables_are_resolved(cfg_dir: Path) -> None:
    write_json(cfg_dir / "variables.json.j2", {"G": "g"})
    write_json(
        cfg_dir / "t.json",
        {**_task("{{ LOCAL }}"), "variables": {"LOCAL": "{{ G }}-x"}},
    )
    assert ConfigLoader(str(cfg_dir)).load_task_definition("t")["directory"] == "g-x"


def test_undefined_while_resolving_names_task_file(cfg_dir: Path) -> None:
    write_json(cfg_dir / "variables.json.j2", {"A": "{{ MISSING }}"})
    path = write_json(cfg_dir / "t.json", _task("{{ A }}"))
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(jinja2.UndefinedError) as info:
        loader.load_task_definition("t")
    assert str(info.value) == f"{path}: 'MISSING' is undefined"
