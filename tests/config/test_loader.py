"""ConfigLoader: task lookup, variables files, eager resolution and errors."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import jinja2
import pytest

from opentaskpy.config.loader import MAX_DEPTH, ConfigLoader
from opentaskpy.exceptions import (
    DuplicateConfigFileError,
    VariableResolutionTooDeepError,
)
from support.helpers import write_json


def _task(directory: str = "/tmp") -> dict:
    return {"type": "execution", "protocol": {"name": "local"}, "directory": directory}


# ---------------------------------------------------------------------------
# Task lookup
# ---------------------------------------------------------------------------


def test_task_found_in_sub_directories_both_suffixes(cfg_dir: Path) -> None:
    write_json(cfg_dir / "transfers" / "deep" / "scp-basic.json", _task("/a"))
    (cfg_dir / "executions").mkdir()
    (cfg_dir / "executions" / "templated.json.j2").write_text(
        '{"type": "execution", "list": [{% for i in range(3) %}{{ i }}'
        "{% if not loop.last %}, {% endif %}{% endfor %}]}"
    )
    loader = ConfigLoader(str(cfg_dir))
    assert loader.load_task_definition("scp-basic")["directory"] == "/a"
    assert loader.load_task_definition("deep/scp-basic")["directory"] == "/a"
    assert loader.load_task_definition("templated")["list"] == [0, 1, 2]
    assert (
        loader.find_task_file("scp-basic") == f"{cfg_dir}/transfers/deep/scp-basic.json"
    )
    assert f"{cfg_dir}/executions/templated.json.j2" in loader.file_cache
    assert loader.config_dir == str(cfg_dir)


def test_config_dir_may_be_a_path_object(cfg_dir: Path) -> None:
    write_json(cfg_dir / "x.json", _task("/x"))
    loader = ConfigLoader(cfg_dir)
    assert loader.load_task_definition("x")["directory"] == "/x"


def test_suffix_matching_quirk_and_duplicates(cfg_dir: Path) -> None:
    write_json(cfg_dir / "scp-basic.json", _task("/scp"))
    write_json(cfg_dir / "local-basic.json", _task("/local"))
    write_json(cfg_dir / "other.json", _task("/other"))
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(DuplicateConfigFileError) as info:
        loader.load_task_definition("basic")
    assert str(info.value) == "Found more than one task with name: basic"
    # "ther" is a plain suffix of "other.json": it matches (upstream quirk).
    assert loader.load_task_definition("ther")["directory"] == "/other"


def test_duplicate_json_and_j2(cfg_dir: Path) -> None:
    write_json(cfg_dir / "a" / "dup.json", _task())
    write_json(cfg_dir / "b" / "dup.json.j2", _task())
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(DuplicateConfigFileError) as info:
        loader.find_task_file("dup")
    assert str(info.value) == "Found more than one task with name: dup"
    assert info.value.__notes__ == [
        f"matching files: {cfg_dir}/a/dup.json, {cfg_dir}/b/dup.json.j2"
    ]


def test_missing_task(cfg_dir: Path) -> None:
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(FileNotFoundError) as info:
        loader.load_task_definition("nope")
    assert str(info.value) == "Couldn't find task with name: nope"


def test_hidden_files_are_not_matched(cfg_dir: Path) -> None:
    write_json(cfg_dir / ".hidden" / "secret-task.json", _task())
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(FileNotFoundError):
        loader.load_task_definition("secret-task")


def test_new_files_need_cache_false(cfg_dir: Path) -> None:
    loader = ConfigLoader(str(cfg_dir))
    write_json(cfg_dir / "late.json", _task("/late"))
    with pytest.raises(FileNotFoundError):
        loader.load_task_definition("late")
    assert loader.load_task_definition("late", cache=False)["directory"] == "/late"


def test_rendering_rereads_the_file(cfg_dir: Path) -> None:
    path = write_json(cfg_dir / "t.json", _task("/one"))
    loader = ConfigLoader(str(cfg_dir))
    write_json(path, _task("/two"))
    assert loader.load_task_definition("t")["directory"] == "/two"


def test_returned_definition_is_fresh(cfg_dir: Path) -> None:
    write_json(cfg_dir / "t.json", _task())
    loader = ConfigLoader(str(cfg_dir))
    first = loader.load_task_definition("t")
    first["task_id"] = "mutated"
    assert "task_id" not in loader.load_task_definition("t")


# ---------------------------------------------------------------------------
# Variables files
# ---------------------------------------------------------------------------


def test_no_variables_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        ConfigLoader(str(empty))
    assert str(info.value) == (
        f"Couldn't find any variables.(json|json.j2) files under {empty}"
    )


def test_variables_files_found_anywhere_and_merged(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    write_json(cfg / "variables.json.j2", {"A": "j2", "B": "j2"})
    write_json(cfg / "sub" / "variables.json", {"B": "json", "C": 3})
    loader = ConfigLoader(str(cfg))
    # .json.j2 files first, then .json files: later files win.
    assert loader.get_global_variables() == {"A": "j2", "B": "json", "C": 3}


def test_otf_variables_file_several_files(
    cfg_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_logging: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_json(cfg_dir / "variables.json", {"IN_CFG": "ignored"})
    a = write_json(tmp_path / "a.json", {"X": "a", "Y": "a", "YY": "{{ X }}"})
    b = write_json(tmp_path / "b.json.j2", {"Y": "b"})
    monkeypatch.setenv("OTF_VARIABLES_FILE", f"{a},{b}")
    with caplog.at_level(logging.INFO):
        loader = ConfigLoader(str(cfg_dir))
    assert loader.global_variables == {"X": "a", "Y": "b", "YY": "a"}
    assert f"Overriding variables file with {a}" in caplog.text
    assert f"Overriding variables file with {b}" in caplog.text


def test_otf_variables_file_missing(
    cfg_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = write_json(tmp_path / "a.json", {})
    monkeypatch.setenv("OTF_VARIABLES_FILE", f"{a},{tmp_path}/missing.json")
    with pytest.raises(FileNotFoundError) as info:
        ConfigLoader(str(cfg_dir))
    assert str(info.value) == f"Couldn't find variables file: {tmp_path}/missing.json"


def test_invalid_json_in_variables_file_names_file(cfg_dir: Path) -> None:
    path = cfg_dir / "variables.json.j2"
    path.write_text('{\n  "A": "x"\n  "B": "y"\n}')
    with pytest.raises(json.JSONDecodeError) as info:
        ConfigLoader(str(cfg_dir))
    assert str(info.value) == (
        f"{path}: Expecting ',' delimiter: line 3 column 3 (char 15)"
    )
    assert (info.value.lineno, info.value.colno) == (3, 3)


def test_double_quotes_in_variables_are_a_syntax_error(cfg_dir: Path) -> None:
    path = cfg_dir / "variables.json.j2"
    path.write_text(
        '{\n "OK": "{{ 1 }}",\n "YYYY": "{{ now().strftime(\\"%Y\\") }}"\n}'
    )
    with pytest.raises(jinja2.TemplateSyntaxError) as info:
        ConfigLoader(str(cfg_dir))
    assert info.value.filename == str(path)
    assert info.value.lineno == 3
    assert "(in variable 'YYYY')" in info.value.message


def test_undefined_in_variables_names_file_and_variable(cfg_dir: Path) -> None:
    path = write_json(cfg_dir / "variables.json.j2", {"A": "1", "B": "{{ MISSING }}"})
    with pytest.raises(jinja2.UndefinedError) as info:
        ConfigLoader(str(cfg_dir))
    assert str(info.value) == f"{path}: variable 'B': 'MISSING' is undefined"
    assert isinstance(info.value.__cause__, jinja2.UndefinedError)


# ---------------------------------------------------------------------------
# Eager resolution
# ---------------------------------------------------------------------------


def test_nested_and_non_string_values(cfg_dir: Path) -> None:
    write_json(
        cfg_dir / "variables.json.j2",
        {
            "YYYY": "{{ now().strftime('%Y') }}",
            "NEST": {"NEST1": "{{ YYYY }}", "N": 5, "L": ["{{ NUM }}", True]},
            "NUM": 7,
            "TODAY": "{{ YYYY }}{{ now().strftime('%m%d') }}",
            "FROM_NEST": "{{ NEST.NEST1 }}-{{ NEST['N'] }}",
        },
    )
    loader = ConfigLoader(str(cfg_dir))
    year = __import__("datetime").datetime.now().strftime("%Y")
    gv = loader.get_global_variables()
    assert gv["NEST"] == {"NEST1": year, "N": 5, "L": ["7", True]}
    assert gv["NUM"] == 7
    assert gv["TODAY"].startswith(year) and len(gv["TODAY"]) == 8
    assert gv["FROM_NEST"] == f"{year}-5"


def test_ten_variable_chain_resolves(cfg_dir: Path) -> None:
    chain = {"MY_FOLDER": "{{ FOLDER1 }}"}
    for i in range(1, 9):
        chain[f"FOLDER{i}"] = f"{{{{ FOLDER{i + 1} }}}}"
    chain["FOLDER9"] = "/tmp/deepest"
    write_json(cfg_dir / "variables.json.j2", chain)
    write_json(cfg_dir / "t.json", _task("{{ MY_FOLDER }}"))
    loader = ConfigLoader(str(cfg_dir))
    assert set(loader.global_variables.values()) == {"/tmp/deepest"}
    assert loader.load_task_definition("t")["directory"] == "/tmp/deepest"


def _chain(length: int) -> dict:
    chain = {f"V{i}": f"{{{{ V{i + 1} }}}}" for i in range(length)}
    chain[f"V{length}"] = "end"
    return chain


def test_depth_rule_boundary(cfg_dir: Path, tmp_path: Path) -> None:
    # Each re-render doubles the distance resolved: 15 hops are done by R3
    # (R4 == R3, success); 16 hops change R4 and fail.
    assert MAX_DEPTH == 5
    write_json(cfg_dir / "variables.json.j2", _chain(15))
    assert ConfigLoader(str(cfg_dir)).global_variables["V0"] == "end"
    other = tmp_path / "other"
    write_json(other / "variables.json.j2", _chain(16))
    with pytest.raises(VariableResolutionTooDeepError):
        ConfigLoader(str(other))


def test_self_growing_variables_fail(
    cfg_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_json(
        cfg_dir / "variables.json.j2",
        {
            "V1": "ok",
            "V2": "{{ V3 }}",
            "V3": "{{ V4 }}",
            "V4": "{{ V5 }}",
            "V5": "{{ V6 }}",
            "V6": "{{ V7 }}",
            "V7": "{{ V8 }}{{ V2 }}{{ V3 }}",
            "V8": "x",
        },
    )
    with (
        caplog.at_level(logging.ERROR),
        pytest.raises(VariableResolutionTooDeepError) as info,
    ):
        ConfigLoader(str(cfg_dir))
    assert str(info.value) == "Reached max depth of recursive template evaluation"
    assert info.value.otf_config_file == str(path)
    notes = " ".join(info.value.__notes__)
    assert "variables not converging" in notes and "V7" in notes
    assert (
        "Reached max depth of recursive template evaluation. Please check the task "
        "as variable definitions for infinite recursion" in caplog.text
    )


def test_raw_newline_escape_is_interpreted_by_json(cfg_dir: Path) -> None:
    # A value containing the two characters backslash-n is emitted into the
    # JSON text as \\n and read back as the same two characters.
    write_json(cfg_dir / "variables.json.j2", {"A": "x\\ny", "B": "{{ A }}"})
    gv = ConfigLoader(str(cfg_dir)).global_variables
    assert gv["A"] == "x\\ny"
    # B gets A's text substituted into the JSON text: the JSON parser turns
    # the two characters into a real newline.
    assert gv["B"] == "x\ny"


# ---------------------------------------------------------------------------
# Task rendering
# ---------------------------------------------------------------------------


def test_task_variables_merge_is_persistent(cfg_dir: Path) -> None:
    write_json(cfg_dir / "variables.json.j2", {"G": "global", "SHARED": "old"})
    write_json(
        cfg_dir / "with-vars.json",
        {
            **_task("{{ LOCAL }}/{{ SHARED }}/{{ G }}"),
            "variables": {"LOCAL": "/l", "SHARED": "new"},
        },
    )
    write_json(cfg_dir / "later.json", _task("{{ LOCAL }}"))
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(jinja2.UndefinedError):
        loader.load_task_definition("later")
    definition = loader.load_task_definition("with-vars")
    assert definition["directory"] == "/l/new/global"
    assert definition["variables"] == {"LOCAL": "/l", "SHARED": "new"}
    # The merge persists for later tasks of the same loader (upstream quirk).
    assert loader.load_task_definition("later")["directory"] == "/l"
    assert loader.global_variables["SHARED"] == "new"


def test_task_variable_with_template_is_not_resolved_in_eager_mode(
    cfg_dir: Path,
) -> None:
    write_json(cfg_dir / "variables.json.j2", {"G": "g"})
    write_json(
        cfg_dir / "t.json",
        {**_task("{{ LOCAL }}"), "variables": {"LOCAL": "{{ G }}-x"}},
    )
    definition = ConfigLoader(str(cfg_dir)).load_task_definition("t")
    assert definition["directory"] == "{{ G }}-x"


def test_j2_variables_block_is_not_honoured(cfg_dir: Path) -> None:
    path = cfg_dir / "t.json.j2"
    path.write_text(json.dumps({**_task("{{ LOCAL }}"), "variables": {"LOCAL": "/l"}}))
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(jinja2.UndefinedError) as info:
        loader.load_task_definition("t")
    assert str(info.value) == f"{path}: 'LOCAL' is undefined"
    assert info.value.otf_config_file == str(path)


def test_j2_task_with_tojson(cfg_dir: Path) -> None:
    write_json(cfg_dir / "variables.json.j2", {"SSH_VARS": {"port": 22, "u": "me"}})
    (cfg_dir / "t.json.j2").write_text(
        '{"type": "transfer", "source": {"protocol": {{ SSH_VARS | tojson }}}}'
    )
    definition = ConfigLoader(str(cfg_dir)).load_task_definition("t")
    assert definition["source"]["protocol"] == {"port": 22, "u": "me"}


def test_invalid_json_task_file_names_file(cfg_dir: Path) -> None:
    path = cfg_dir / "bad.json"
    path.write_text('{\n  "type": "execution"\n  "x": 1\n}')
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(json.JSONDecodeError) as info:
        loader.load_task_definition("bad")
    assert str(info.value) == (
        f"{path}: Expecting ',' delimiter: line 3 column 3 (char 26)"
    )
    assert info.value.doc == path.read_text()


def test_invalid_json_after_rendering_names_file(cfg_dir: Path) -> None:
    write_json(cfg_dir / "variables.json.j2", {"Q": 'a"b'})
    path = write_json(cfg_dir / "t.json", _task("{{ Q }}"))
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(json.JSONDecodeError) as info:
        loader.load_task_definition("t")
    assert str(info.value).startswith(f"{path} (after rendering templates): ")


def test_task_syntax_error_carries_file_and_line(cfg_dir: Path) -> None:
    path = cfg_dir / "t.json.j2"
    path.write_text('{\n"type": "execution",\n"directory": "{{ oops( }}"\n}')
    loader = ConfigLoader(str(cfg_dir))
    with pytest.raises(jinja2.TemplateSyntaxError) as info:
        loader.load_task_definition("t")
    assert info.value.filename == str(path)
    assert info.value.lineno == 3


def test_batch_definition_is_returned(
    cfg_dir: Path, debug_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    write_json(cfg_dir / "b.json", {"type": "batch", "tasks": []})
    with caplog.at_level(logging.DEBUG):
        definition = ConfigLoader(str(cfg_dir)).load_task_definition("b")
    assert definition == {"type": "batch", "tasks": []}
    assert "Cannot apply overrides to batch tasks" in caplog.text


def test_construction_logs_config_dir(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTF_TASK_ID", "loader-log")
    monkeypatch.setenv("OTF_LOG_LEVEL", "DEBUG")
    ConfigLoader(str(cfg_dir))
    logs = list(Path("logs/loader-log").glob("*_WRAPPER_running.log"))
    assert len(logs) == 1
    assert f"Looking in {cfg_dir}" in logs[0].read_text()
    assert os.environ["OTF_TASK_ID"] == "loader-log"


# ---------------------------------------------------------------------------
# Texts without templates are not compiled
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, needs",
    [
        ('{"a": 1}', False),
        ('{"a": 1}\n', False),  # a trailing newline is JSON whitespace
        ('{\r\n  "a": "x}"\r\n}\r\n', False),
        ('{"a": "{{ b }}"}', True),
        ('{"a": 1 {# note #}}', True),
        ('{"a": [{% for i in [1] %}{{ i }}{% endfor %}]}', True),
    ],
)
def test_json_needs_render_only_for_template_delimiters(text: str, needs: bool) -> None:
    from opentaskpy.config.templating import json_needs_render

    assert json_needs_render(text) is needs


def test_a_plain_task_loads_as_its_json_and_the_env_is_made_on_demand(
    cfg_dir: Path,
) -> None:
    task = {**_task("/plain"), "list": ["{ not a template }", "}}"]}
    (cfg_dir / "plain.json").write_text(
        json.dumps(task, indent=2).replace("\n", "\r\n") + "\r\n"
    )
    (cfg_dir / "variables.json").write_text('{"X": "1"}')
    loader = ConfigLoader(str(cfg_dir))
    assert loader._template_env is None  # nothing was rendered yet
    assert loader.load_task_definition("plain") == task
    assert loader._template_env is None
    env = loader.template_env  # internals still reachable, with the filters
    assert isinstance(env, jinja2.Environment)
    assert "lookup" in env.globals and set(loader.loaded_filters) <= set(env.filters)
    assert loader.template_env is env
