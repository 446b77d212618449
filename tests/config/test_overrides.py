"""Runtime overrides by environment variable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from opentaskpy.config.loader import ConfigLoader
from opentaskpy.config.overrides import override_tokens
from support.helpers import write_json


@pytest.fixture(autouse=True)
def info_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTF_LOG_LEVEL", "INFO")


def test_global_variable_overrides(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_json(
        cfg_dir / "variables.json.j2",
        {"DD": "05", "NUM": 3, "FLAG": True, "NEST": {"INNER": "a", "DEEP": {"X": 1}}},
    )
    loader = ConfigLoader(str(cfg_dir))
    gv = loader.global_variables
    monkeypatch.setenv("DD", "01")
    monkeypatch.setenv("NUM", "42")
    monkeypatch.setenv("FLAG", "0")
    monkeypatch.setenv("NEST.INNER", "b")
    monkeypatch.setenv("NEST.DEEP.X", "9")
    monkeypatch.setenv("NEST.MISSING.X", "ignored")
    monkeypatch.setenv("nest.INNER", "case-sensitive")
    with caplog.at_level(logging.INFO):
        result = loader.get_global_variables()
    assert result is gv
    assert result == {
        "DD": "01",
        "NUM": 42,
        "FLAG": 0,
        "NEST": {"INNER": "b", "DEEP": {"X": 9}},
    }
    assert (
        "Overriding global variable (DD: 05) with environment variable (01)"
        in caplog.text
    )
    assert (
        "Overriding nested global variable 'NEST.INNER' with environment variable."
        in caplog.text
    )


def test_int_override_with_text_is_an_error(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json(cfg_dir / "variables.json.j2", {"PORT": 22})
    loader = ConfigLoader(str(cfg_dir))
    monkeypatch.setenv("PORT", "twenty")
    with pytest.raises(
        ValueError,
        match=r"environment variable PORT=.twenty.: the variable PORT is an integer",
    ):
        loader.get_global_variables()


def test_eager_dependants_are_not_recomputed(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json(
        cfg_dir / "variables.json.j2", {"YYYY": "1999", "TODAY": "{{ YYYY }}0101"}
    )
    write_json(
        cfg_dir / "t.json",
        {"type": "execution", "a": "{{ YYYY }}", "b": "{{ TODAY }}"},
    )
    loader = ConfigLoader(str(cfg_dir))
    monkeypatch.setenv("YYYY", "2042")
    loader.get_global_variables()
    definition = loader.load_task_definition("t")
    assert (definition["a"], definition["b"]) == ("2042", "19990101")


def test_task_variable_overrides_only_change_the_variables_block(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_json(
        cfg_dir / "t.json",
        {
            "type": "transfer",
            "source": {"directory": "{{ SRC }}"},
            "variables": {"SRC": "/orig", "N": {"PORT": 1}},
        },
    )
    monkeypatch.setenv("SRC", "/env")
    monkeypatch.setenv("N.PORT", "2")
    with caplog.at_level(logging.INFO):
        definition = ConfigLoader(str(cfg_dir)).load_task_definition("t")
    assert definition["variables"] == {"SRC": "/env", "N": {"PORT": 2}}
    assert definition["source"]["directory"] == "/orig"  # upstream quirk
    assert (
        "Overriding task variable (SRC: /orig) with environment variable (/env)"
        in caplog.text
    )


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        (
            "OTF_OVERRIDE_EXECUTION_PROTOCOL!!SOME_DICT_ATTRIBUTE!!SOME_DICT_ITEM",
            ["PROTOCOL", "SOME_DICT_ATTRIBUTE", "SOME_DICT_ITEM"],
        ),
        (
            "OTF_OVERRIDE_TRANSFER_DESTINATION_0_PROTOCOL_CREDENTIALS_USERNAME",
            ["DESTINATION", "0", "PROTOCOL", "CREDENTIALS", "USERNAME"],
        ),
        ("OTF_OVERRIDE_EXECUTION_DIRECTORY", ["DIRECTORY"]),
    ],
)
def test_override_tokens(name: str, tokens: list[str]) -> None:
    assert override_tokens(name) == tokens


def _transfer() -> dict:
    return {
        "type": "transfer",
        "source": {
            "hostname": "orig",
            "protocol": {"name": "ssh", "credentials": {"keyFile": "/k"}},
        },
        "destination": [
            {"hostname": "d0", "port": 22, "protocol": {"name": "ssh"}},
            {"hostname": "d1", "protocol": {"name": "ssh"}},
        ],
    }


def test_attribute_overrides(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write_json(cfg_dir / "t.json", _transfer())
    monkeypatch.setenv("OTF_OVERRIDE_TRANSFER_SOURCE_HOSTNAME", "h1")
    monkeypatch.setenv("OTF_OVERRIDE_TRANSFER_DESTINATION_0_HOSTNAME", "h2")
    monkeypatch.setenv("OTF_OVERRIDE_TRANSFER_DESTINATION_0_PORT", "2222")
    monkeypatch.setenv(
        "OTF_OVERRIDE_TRANSFER_SOURCE_PROTOCOL_CREDENTIALS_KEYFILE", "/new"
    )
    monkeypatch.setenv("OTF_OVERRIDE_TRANSFER_DESTINATION_5_HOSTNAME", "ignored")
    monkeypatch.setenv("OTF_OVERRIDE_TRANSFER_NOPE_HOSTNAME", "ignored")
    with caplog.at_level(logging.INFO):
        definition = ConfigLoader(str(cfg_dir)).load_task_definition("t")
    expected = _transfer()
    expected["source"]["hostname"] = "h1"
    expected["source"]["protocol"]["credentials"]["keyFile"] = "/new"
    expected["destination"][0]["hostname"] = "h2"
    expected["destination"][0]["port"] = "2222"  # always a string
    assert definition == expected
    assert "Overriding hostname: orig with h1" in caplog.text


def test_execution_overrides_with_bang_bang_and_unchecked_type_word(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json(
        cfg_dir / "e.json",
        {
            "type": "execution",
            "directory": "/orig",
            "protocol": {"name": "local", "some_attribute": "x"},
        },
    )
    monkeypatch.setenv("OTF_OVERRIDE_EXECUTION_DIRECTORY", "/tmp/x")
    monkeypatch.setenv("OTF_OVERRIDE_EXECUTION_PROTOCOL!!SOME_ATTRIBUTE", "v")
    # The type word is not checked: a TRANSFER override applies too.
    monkeypatch.setenv("OTF_OVERRIDE_TRANSFER_PROTOCOL_NAME", "ssh")
    # Without !! the underscore splits the key, so nothing matches.
    monkeypatch.setenv("OTF_OVERRIDE_EXECUTION_PROTOCOL_SOME_ATTRIBUTE", "lost")
    definition = ConfigLoader(str(cfg_dir)).load_task_definition("e")
    assert definition == {
        "type": "execution",
        "directory": "/tmp/x",
        "protocol": {"name": "ssh", "some_attribute": "v"},
    }


def test_batches_are_not_overridden(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json(cfg_dir / "b.json", {"type": "batch", "tasks": [], "x": "orig"})
    monkeypatch.setenv("OTF_OVERRIDE_BATCH_X", "new")
    assert ConfigLoader(str(cfg_dir)).load_task_definition("b")["x"] == "orig"
