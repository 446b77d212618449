"""Every user mistake: one clear stderr line naming the file (and field), exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import assert_one_error, error_lines

from opentaskpy import otflogging
from opentaskpy.cli.error_report import ErrorContext, describe_error, emit_error_line
from opentaskpy.config import schemas
from opentaskpy.exceptions import UnknownProtocolError
from support.helpers import local_exec, write_json


def test_missing_config_dir(task_run, tmp_path):
    missing = tmp_path / "nowhere"
    proc = task_run("-t", "x", "-c", missing)
    assert_one_error(
        proc,
        f"{missing}: config directory does not exist",
        "Couldn't find any variables",
    )


def test_missing_config_dir_with_variables_file_env(task_run, tmp_path):
    variables = tmp_path / "vars.json"
    variables.write_text("{}")
    missing = tmp_path / "nowhere"
    proc = task_run(
        "-t", "x", "-c", missing, env={"OTF_VARIABLES_FILE": str(variables)}
    )
    assert_one_error(proc, f"{missing}: config directory does not exist")


def test_unusable_log_directory_is_one_line(task_run, cfg_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    write_json(cfg_dir / "x.json", local_exec("true"))
    proc = task_run(
        "-t", "x", "-c", cfg_dir, env={"OTF_LOG_DIRECTORY": str(blocker / "logs")}
    )
    assert_one_error(proc, f"log directory {blocker / 'logs'}: Not a directory")


def test_missing_variables_file(task_run, tmp_path):
    cfg = tmp_path / "cfg"
    write_json(cfg / "x.json", local_exec("true"))
    proc = task_run("-t", "x", "-c", cfg)
    assert_one_error(proc, "Couldn't find any variables", str(cfg))


def test_unknown_task_id(task_run, cfg_dir):
    proc = task_run("-t", "nope", "-c", cfg_dir)
    assert_one_error(proc, f"{cfg_dir}: Couldn't find task with name: nope")
    assert "Error running task: Couldn't find task with name: nope" in proc.stderr


def test_duplicate_task_files(task_run, cfg_dir):
    a = write_json(cfg_dir / "a" / "dup.json", local_exec("true"))
    b = write_json(cfg_dir / "b" / "dup.json", local_exec("true"))
    proc = task_run("-t", "dup", "-c", cfg_dir)
    assert_one_error(proc, "Found more than one task with name: dup", str(a), str(b))


def test_invalid_json_in_task_file(task_run, cfg_dir):
    path = cfg_dir / "transfers" / "x.json"
    path.parent.mkdir()
    path.write_text('{\n  "type": "execution",\n  "a": 1\n    "b": 2\n}\n')
    proc = task_run("-t", "x", "-c", cfg_dir)
    line = assert_one_error(proc)
    assert line == (
        f"task-run: error: {path}: line 4 column 5: Expecting ',' delimiter"
    )


def test_invalid_json_in_variables_file(task_run, cfg_dir):
    variables = cfg_dir / "variables.json.j2"
    variables.write_text('{\n  "A": "1",\n  "B": \n}')
    write_json(cfg_dir / "x.json", local_exec("true"))
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(proc, f"{variables}: line 4 column 1: Expecting value")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param(
            "x.json.j2",
            '{\n  "type": "execution",\n  "command": "{{ foo( }}",\n'
            '  "directory": "/tmp", "protocol": {"name": "local"}\n}',
            "line 3: template syntax error",
            id="jinja_syntax_error",
        ),
        pytest.param(
            "x.json",
            '{\n  "type": "execution",\n  "directory": "/tmp",\n'
            '  "command": "echo {{ NOT_DEFINED }}",\n  "protocol": {"name": "local"}\n}',
            "line 4: 'NOT_DEFINED' is undefined",
            id="undefined_variable",
        ),
    ],
)
def test_template_error_in_task_file(task_run, cfg_dir, name, text, expected):
    path = cfg_dir / name
    path.write_text(text)
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(proc, f"{path}: {expected}")


def test_jinja_syntax_error_in_variables_file(task_run, cfg_dir):
    variables = cfg_dir / "variables.json.j2"
    # Double quotes inside an expression break the serialised variables.
    variables.write_text(json.dumps({"OK": "1", "YEAR": '{{ now().strftime("%Y") }}'}))
    write_json(cfg_dir / "x.json", local_exec("true"))
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(
        proc, f"{variables}: line 1: template syntax error", "(in variable 'YEAR')"
    )


def test_undefined_variable_in_variables_file(task_run, cfg_dir):
    variables = cfg_dir / "variables.json.j2"
    write_json(variables, {"A": "x", "NEST": {"B": "{{ MISSING_VAR }}"}})
    write_json(cfg_dir / "x.json", local_exec("true"))
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(proc, f"{variables}: variable 'NEST': 'MISSING_VAR' is undefined")


def test_unknown_core_protocol(task_run, cfg_dir):
    definition = local_exec("true")
    definition["protocol"] = {"name": "ftp"}
    path = write_json(cfg_dir / "x.json", definition)
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(proc, f"{path}: unknown protocol 'ftp' at protocol.name")


def test_unknown_addon_protocol_in_transfer(task_run, cfg_dir):
    definition = {
        "type": "transfer",
        "source": {
            "directory": "/tmp",
            "fileRegex": "x",
            "protocol": {"name": "local"},
        },
        "destination": [
            {"directory": "/tmp", "protocol": {"name": "nosuchpkg.remote.Nope"}}
        ],
    }
    path = write_json(cfg_dir / "t.json", definition)
    proc = task_run("-t", "t", "-c", cfg_dir)
    assert_one_error(
        proc,
        f"{path}: unknown protocol 'nosuchpkg.remote.Nope' at destination[0].protocol.name",
    )


def test_failing_lookup_plugin(task_run, cfg_dir):
    path = cfg_dir / "x.json"
    path.write_text(
        '{\n  "type": "execution",\n  "directory": "/tmp",\n'
        "  \"command\": \"echo {{ lookup('file', path='/no/such/file') }}\",\n"
        '  "protocol": {"name": "local"}\n}'
    )
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(
        proc,
        f"{path}: line 4: File /no/such/file does not exist",
        "lookup plugin 'file'",
    )


def test_custom_lookup_plugin_failure_in_variables(task_run, cfg_dir):
    plugins = cfg_dir / "plugins" / "lookup"
    plugins.mkdir(parents=True)
    (plugins / "boom.py").write_text(
        "def run(**kwargs):\n    raise ValueError('vault is sealed')\n"
    )
    variables = cfg_dir / "variables.json.j2"
    write_json(variables, {"TOKEN_A": "{{ lookup('boom') }}"})
    write_json(cfg_dir / "x.json", local_exec("true"))
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(
        proc,
        f"{variables}: TOKEN_A: lookup plugin 'boom' failed: ValueError: vault is sealed",
    )


def test_missing_lookup_plugin(task_run, cfg_dir):
    path = cfg_dir / "x.json"
    path.write_text(json.dumps(local_exec("echo {{ lookup('nosuchplugin') }}")))
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(
        proc, f"{path}: line 1: Couldn't find lookup plugin 'nosuchplugin'"
    )


def test_missing_type(task_run, cfg_dir):
    definition = local_exec("true")
    del definition["type"]
    path = write_json(cfg_dir / "x.json", definition)
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(proc, f"{path}: type: missing required field 'type'")
    assert "Invalid task configuration. Cannot continue" in proc.stderr


def test_unknown_type(task_run, cfg_dir):
    definition = local_exec("true")
    definition["type"] = "teleport"
    path = write_json(cfg_dir / "x.json", definition)
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(proc, f'{path}: type: unknown task type "teleport"')
    assert "Unknown task type!" in proc.stderr


def test_verbosity_3_shows_traceback(task_run, cfg_dir):
    proc = task_run("-t", "nope", "-c", cfg_dir, "-v", "3")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert "FileNotFoundError: Couldn't find task with name: nope" in proc.stderr
    assert len(error_lines(proc.stderr)) == 1


def test_verbosity_3_traceback_for_variables_errors(task_run, tmp_path):
    proc = task_run("-t", "x", "-c", tmp_path / "none", "-v", "3")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr


@pytest.mark.parametrize("verbosity", ["1", "2"])
def test_verbosity_1_2_no_traceback(task_run, cfg_dir, verbosity):
    # Deviation from the reference (which re-raises at -v 1/2): only -v 3.
    proc = task_run("-t", "nope", "-c", cfg_dir, "-v", verbosity)
    assert_one_error(proc, "Couldn't find task with name: nope")


def test_failed_log_for_errors(task_run, cfg_dir, isolated_env):
    proc = task_run("-t", "nope", "-c", cfg_dir)
    assert proc.returncode == 1
    logs = list((isolated_env / "logs" / "nope").glob("*_WRAPPER_failed.log"))
    assert len(logs) == 1
    assert (
        "Error running task: Couldn't find task with name: nope" in logs[0].read_text()
    )


# ---------------------------------------------------------------- in process


def test_describe_unwraps_return_result_exception(cfg_dir):
    definition = {"type": "execution", "protocol": {"name": "my.addon.Thing"}}
    task_file = str(write_json(cfg_dir / "x.json", definition))
    try:
        try:
            raise UnknownProtocolError("Unknown protocol my.addon.Thing")
        except UnknownProtocolError as inner:
            raise Exception(str(inner))  # noqa: B904 - what return_result does
    except Exception as exc:
        ctx = ErrorContext(str(cfg_dir), "x", task_file, definition)
        text = describe_error(exc, ctx)
    assert text.startswith(f"{task_file}: unknown protocol 'my.addon.Thing' at ")
    assert "protocol.name" in text


def test_describe_unresolvable_schema_from_validator(cfg_dir):
    definition = {
        "type": "transfer",
        "source": {"protocol": {"name": "gopher"}, "directory": "/", "fileRegex": "x"},
    }
    with pytest.raises(Exception) as info:
        schemas.validate_transfer_json(definition)
    ctx = ErrorContext(str(cfg_dir), "t", "/cfg/t.json", definition)
    text = describe_error(info.value, ctx)
    assert text.startswith(
        "/cfg/t.json: unknown protocol 'gopher' at source.protocol.name"
    )


def test_describe_generic_error_names_type(cfg_dir):
    ctx = ErrorContext(str(cfg_dir), "x", "/cfg/x.json")
    assert describe_error(KeyError("source"), ctx) == "/cfg/x.json: KeyError: 'source'"


def test_describe_is_one_line(cfg_dir):
    ctx = ErrorContext(str(cfg_dir), "x")
    text = describe_error(RuntimeError("first\nsecond"), ctx)
    assert "\n" not in text
    assert text == f"{cfg_dir}: RuntimeError: first second"


def test_emit_error_line_masks_secrets(capsys):
    otflogging.register_secret("s3cr3t-value-123")
    emit_error_line("task-run", "/cfg/x.json: bad token s3cr3t-value-123")
    err = capsys.readouterr().err
    assert err == "task-run: error: /cfg/x.json: bad token ********\n"


def test_emit_error_line_json(capsys, monkeypatch):
    monkeypatch.setenv("OTF_LOG_JSON", "1")
    emit_error_line("task-run", "/cfg/x.json: broken", "x")
    record = json.loads(capsys.readouterr().err)
    assert record["level"] == "ERROR"
    assert record["message"] == "task-run: error: /cfg/x.json: broken"
    assert record["task_id"] == "x"


def test_describe_missing_config_dir(tmp_path: Path):
    ctx = ErrorContext(str(tmp_path / "gone"), "x")
    exc = FileNotFoundError(
        f"Couldn't find any variables.(json|json.j2) files under {tmp_path / 'gone'}"
    )
    text = describe_error(exc, ctx)
    assert text.startswith(f"{tmp_path / 'gone'}: config directory does not exist (")


def test_missing_variables_file_override(task_run, cfg_dir, tmp_path):
    write_json(cfg_dir / "x.json", local_exec("true"))
    missing = tmp_path / "gone.json"
    proc = task_run("-t", "x", "-c", cfg_dir, env={"OTF_VARIABLES_FILE": str(missing)})
    assert_one_error(
        proc, f"Couldn't find variables file: {missing}", "OTF_VARIABLES_FILE"
    )


def test_unknown_protocol_at_run_time(task_run, cfg_dir, tmp_path):
    # The addon package and its schema exist, the handler module does not:
    # validation passes and the handler raises UnknownProtocolError.
    package = tmp_path / "addon" / "myaddon"
    schema_dir = package / "schemas" / "execution" / "gone"
    schema_dir.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    write_json(schema_dir / "gone.json", {"type": "object"})
    path = write_json(
        cfg_dir / "rt.json",
        {"type": "execution", "protocol": {"name": "myaddon.gone.Gone"}},
    )
    proc = task_run(
        "-t", "rt", "-c", cfg_dir, env={"PYTHONPATH": str(tmp_path / "addon")}
    )
    line = assert_one_error(
        proc, f"{path}: unknown protocol 'myaddon.gone.Gone' at protocol.name ("
    )
    assert "myaddon.gone" in line.split("(", 1)[1]
    assert "Error running task: Unknown protocol myaddon.gone.Gone" in proc.stderr


@pytest.mark.parametrize("name", ["my-plug", "2plug"])
def test_config_dir_lookup_plugin_with_any_file_name(task_run, cfg_dir, tmp_path, name):
    plugins = cfg_dir / "plugins" / "lookup"
    plugins.mkdir(parents=True)
    (plugins / f"{name}.py").write_text("def run(**kwargs):\n    return 'ok-value'\n")
    write_json(cfg_dir / "variables.json.j2", {"V": f"{{{{ lookup('{name}') }}}}"})
    write_json(cfg_dir / "x.json", local_exec("echo {{ V }} > out.txt", str(tmp_path)))
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.txt").read_text() == "ok-value\n"


def test_lookup_plugin_name_cannot_leave_the_plugins_dir(task_run, cfg_dir):
    path = cfg_dir / "x.json"
    path.write_text(json.dumps(local_exec("echo {{ lookup('../evil') }}")))
    (cfg_dir / "plugins").mkdir()
    (cfg_dir / "plugins" / "evil.py").write_text("def run(**kw):\n    return 'x'\n")
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(proc, "invalid lookup plugin name '../evil'")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("import nonexistent_mod_xyz\n", "ModuleNotFoundError"),
        ("def broken(:\n", "SyntaxError"),
    ],
)
def test_broken_custom_filter_file_is_named(task_run, cfg_dir, source, fragment):
    filters = cfg_dir / "filters"
    filters.mkdir()
    (filters / "bad.py").write_text(source)
    write_json(cfg_dir / "x.json", local_exec("true"))
    proc = task_run("-t", "x", "-c", cfg_dir)
    assert_one_error(proc, f"{filters / 'bad.py'}: ", fragment)


def test_batch_step_with_unknown_type_names_the_step_file(task_run, cfg_dir):
    write_json(cfg_dir / "steps" / "typo-step.json", {"type": "transfr"})
    write_json(
        cfg_dir / "b.json",
        {"type": "batch", "tasks": [{"order_id": 1, "task_id": "typo-step"}]},
    )
    proc = task_run("-t", "b", "-c", cfg_dir)
    assert_one_error(
        proc,
        f"{cfg_dir / 'steps' / 'typo-step.json'}: type 'transfr': Unknown task type",
    )


def test_batch_step_breaking_its_schema_is_logged_with_file_and_path(task_run, cfg_dir):
    write_json(
        cfg_dir / "steps" / "no-command.json",
        {"type": "execution", "protocol": {"name": "local"}, "directory": "/tmp"},
    )
    write_json(
        cfg_dir / "b.json",
        {"type": "batch", "tasks": [{"order_id": 1, "task_id": "no-command"}]},
    )
    proc = task_run("-t", "b", "-c", cfg_dir)
    assert proc.returncode == 1
    expected = (
        f"{cfg_dir / 'steps' / 'no-command.json'}: $: 'command' is a required property"
    )
    assert expected in proc.stderr, proc.stderr


def test_bad_environment_values_name_the_variable(task_run, cfg_dir, tmp_path):
    write_json(cfg_dir / "variables.json.j2", {"PORT": 22})
    write_json(cfg_dir / "x.json", local_exec("true"))
    proc = task_run("-t", "x", "-c", cfg_dir, env={"PORT": "twenty"})
    assert_one_error(proc, "environment variable PORT='twenty'", "integer")

    write_json(cfg_dir / "step.json", local_exec("true"))
    write_json(
        cfg_dir / "b.json",
        {"type": "batch", "tasks": [{"order_id": 1, "task_id": "step"}]},
    )
    proc = task_run(
        "-t", "b", "-c", cfg_dir, env={"OTF_STALE_RUNNING_LOG_SECONDS": "abc"}
    )
    assert_one_error(proc, "OTF_STALE_RUNNING_LOG_SECONDS='abc'", "whole number")

    proc = task_run(
        "-t", "b", "-c", cfg_dir, env={"OTF_BATCH_RESUME_LOG_DATE": "2026-11-23"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "OTF_BATCH_RESUME_LOG_DATE='2026-11-23' is not YYYYMMDD" in proc.stderr
