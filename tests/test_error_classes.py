"""Structured errors: each class, its one-line message and its error class."""

from __future__ import annotations

import inspect
import json

import jinja2
import pytest

from opentaskpy import exceptions, taskrun
from opentaskpy.cli.error_report import ErrorContext, describe_error
from opentaskpy.config.loader import ConfigLoader
from opentaskpy.config.task_types import explain
from opentaskpy.exceptions import ErrorClass, OTFError, classify, wrap
from support.helpers import local_exec, write_json

# Every class of opentaskpy.exceptions and the class of failure it reports.
EXPECTED = {
    "OTFError": ErrorClass.ERROR,
    "FileTooNewError": ErrorClass.ERROR,
    # A log watch that found nothing is "no files or watch timeout" (exit 5).
    "LogWatchTimeoutError": ErrorClass.NO_FILES,
    "LogWatchInitError": ErrorClass.EXECUTION,
    "RemoteTransferError": ErrorClass.TRANSFER,
    "RemoteFileNotFoundError": ErrorClass.NO_FILES,
    "FilesDoNotMeetConditionsError": ErrorClass.NO_FILES,
    "DuplicateConfigFileError": ErrorClass.CONFIGURATION,
    "InvalidConfigError": ErrorClass.CONFIGURATION,
    "UnknownProtocolError": ErrorClass.CONFIGURATION,
    "ProtocolImportError": ErrorClass.CONFIGURATION,
    "LookupPluginError": ErrorClass.CONFIGURATION,
    "CachingPluginError": ErrorClass.CONFIGURATION,
    "VariableResolutionTooDeepError": ErrorClass.CONFIGURATION,
    "SSHClientError": ErrorClass.CONNECTION,
    "DecryptionNotSupportedError": ErrorClass.CONFIGURATION,
    "EncryptionNotSupportedError": ErrorClass.CONFIGURATION,
    "EncryptionError": ErrorClass.TRANSFER,
    "DecryptionError": ErrorClass.TRANSFER,
}
PROTOCOL_CLASSES = {"UnknownProtocolError", "ProtocolImportError"}


def _classes() -> dict[str, type[OTFError]]:
    return {
        name: value
        for name, value in vars(exceptions).items()
        if inspect.isclass(value)
        and issubclass(value, OTFError)
        and value.__module__ == exceptions.__name__
    }


def test_every_class_is_listed():
    assert set(_classes()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - PROTOCOL_CLASSES))
def test_class_formats_its_fields_and_knows_its_class(name):
    cls = _classes()[name]
    exc = cls("it broke", config_file="/cfg/x.json", position="line 3")
    assert str(exc) == "it broke"  # the message callers see is unchanged
    assert classify(cls("it broke")) is EXPECTED[name]
    # Raised while reading a config file, an unclassified error is about it.
    fallback = EXPECTED[name]
    if fallback is ErrorClass.ERROR:
        fallback = ErrorClass.CONFIGURATION
    assert classify(exc) is fallback
    ctx = ErrorContext("/cfg", "x", "/cfg/other.json")
    assert describe_error(exc, ctx) == "/cfg/x.json: line 3: it broke"
    # Without a file of its own the task file is named; the summary wins.
    bare = cls("it broke", json_path="source.directory", summary="the reason")
    assert describe_error(bare, ctx) == "/cfg/other.json: source.directory: the reason"


@pytest.mark.parametrize("name", sorted(PROTOCOL_CLASSES))
def test_protocol_classes_name_the_field(name):
    definition = {"type": "execution", "protocol": {"name": "a.b.C"}}
    exc = _classes()[name]("whatever text", protocol="a.b.C", cause="why")
    assert classify(exc) is ErrorClass.CONFIGURATION
    text = describe_error(exc, ErrorContext("/cfg", "x", "/cfg/x.json", definition))
    label = "protocol" if name == "ProtocolImportError" else "unknown protocol"
    assert text == f"/cfg/x.json: {label} 'a.b.C' at protocol.name (why)"


def test_wrapped_foreign_error_keeps_its_class_and_message():
    original = jinja2.UndefinedError("'X' is undefined")
    wrapped = wrap(original, config_file="/cfg/t.json", position="line 2")
    assert isinstance(wrapped, jinja2.UndefinedError)
    assert type(wrapped).__name__ == "UndefinedError"
    assert str(wrapped) == str(original)
    assert wrapped.otf_config_file == "/cfg/t.json"
    assert classify(wrapped) is ErrorClass.CONFIGURATION
    ctx = ErrorContext("/cfg", "t")
    assert (
        describe_error(wrapped, ctx)
        == "/cfg/t.json: line 2: UndefinedError: 'X' is undefined"
    )


def test_our_error_keeps_fields_set_by_the_innermost_raiser():
    exc = exceptions.InvalidConfigError("bad", config_file="/inner.json")
    assert wrap(exc, config_file="/outer.json", json_path="a") is exc
    assert (exc.config_file, exc.json_path) == ("/inner.json", "a")


def test_loader_errors_carry_file_and_position(cfg_dir):
    path = cfg_dir / "t.json"
    path.write_text('{\n  "type": "execution",\n  "command": "{{ NOPE }}"\n}')
    with pytest.raises(jinja2.UndefinedError) as info:
        ConfigLoader(str(cfg_dir)).load_task_definition("t")
    err = info.value
    assert isinstance(err, OTFError)
    assert (err.config_file, err.position, err.summary) == (
        str(path),
        "line 3",
        "'NOPE' is undefined",
    )
    bad = cfg_dir / "b.json"
    bad.write_text('{"type": }')
    with pytest.raises(json.JSONDecodeError) as info:
        ConfigLoader(str(cfg_dir)).load_task_definition("b")
    assert info.value.config_file == str(bad)
    assert info.value.position == "line 1 column 10"


THREE_VIOLATIONS = {
    "type": "execution",
    "protocol": {"name": "local"},
    "directory": 5,
    "bogus": 1,
}


def test_a_definition_with_three_violations_reports_all_three():
    violations = explain("execution", THREE_VIOLATIONS)
    found = sorted((v.path, v.message) for v in violations)
    assert found == [
        ("$", "'command' is a required property"),
        ("$", "Additional properties are not allowed ('bogus' was unexpected)"),
        ("$.directory", "5 is not of type 'string'"),
    ]
    rest = [v.path for v in violations[1:]]
    assert rest == sorted(rest)


def test_task_run_logs_each_violation_once(cfg_dir, isolated_env, monkeypatch, capsys):
    monkeypatch.setenv("OTF_LOG_LEVEL", "DEBUG")
    path = write_json(cfg_dir / "three.json", THREE_VIOLATIONS)
    run = taskrun.TaskRun("three", str(cfg_dir))
    assert run.run() is False
    assert run.failure_reason.startswith(f"{path}: $: ")
    assert run.failure_reason.endswith("(and 2 more, listed below)")
    logs = list((isolated_env / "logs" / "three").glob("*WRAPPER*.log"))
    text = logs[0].read_text()
    out = capsys.readouterr().out
    for fragment in ("'command' is a", "'bogus' was unexpected", "5 is not of type"):
        assert text.count(fragment) == 1, text
        assert out.count(fragment) == 1, out
    assert text.count("JSON format does not match schema") == 1


def test_unchanged_definition_validates_once_per_run(cfg_dir, monkeypatch):
    from opentaskpy.config import schemas

    calls: list[str] = []
    real = schemas.find_violation

    def spy(kind, doc):
        calls.append(kind)
        return real(kind, doc)

    monkeypatch.setattr(schemas, "find_violation", spy)
    write_json(cfg_dir / "bad.json", local_exec("true") | {"bogus": 1})
    assert taskrun.TaskRun("bad", str(cfg_dir)).run() is False
    assert calls == ["execution"]
