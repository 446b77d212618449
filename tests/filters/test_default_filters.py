"""Default filters and custom filters."""

from __future__ import annotations

import datetime
import hashlib
import inspect
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from freezegun import freeze_time

from opentaskpy.config.loader import ConfigLoader
from opentaskpy.filters import default_filters
from support.helpers import write_json

EIGHT = {
    "now",
    "now_localtime",
    "now_utc",
    "utc_now",
    "delta_days",
    "delta_hours",
    "base64_encode",
    "base64_decode",
}


@pytest.fixture
def london(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/London")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _render(cfg: Path, variables: dict) -> dict:
    write_json(cfg / "variables.json.j2", variables)
    return ConfigLoader(str(cfg)).global_variables


def test_module_defines_exactly_the_eight_filters() -> None:
    functions = {
        name
        for name, value in vars(default_filters).items()
        if inspect.isfunction(value)
    }
    assert functions == EIGHT


def test_filters_registered_and_callable_as_globals(cfg_dir: Path) -> None:
    loader = ConfigLoader(str(cfg_dir))
    assert set(loader.template_env.filters) >= EIGHT
    assert set(loader.loaded_filters) >= EIGHT
    # Built-in Jinja filters become globals too.
    out = _render(cfg_dir, {"U": "{{ upper('abc') }}", "L": "{{ 'X' | lower }}"})
    assert out == {"U": "ABC", "L": "x"}


@freeze_time("2024-06-15 10:20:30")
def test_time_filters(cfg_dir: Path, london: None) -> None:
    out = _render(
        cfg_dir,
        {
            "NOW": "{{ now().isoformat() }}",
            "LOCAL": "{{ now_localtime().isoformat() }}",
            "UTC": "{{ now_utc().isoformat() }}",
            "UTC2": "{{ utc_now().isoformat() }}",
            "PREV_DD": "{{ (now()|delta_days(-1)).strftime('%d') }}",
            "NEXT": "{{ (now_utc()|delta_days(20)).strftime('%Y-%m-%d') }}",
            "HOURS": "{{ (utc_now()|delta_hours(-11)).strftime('%d %H') }}",
        },
    )
    # freezegun returns the frozen time as local wall time; astimezone()
    # attaches London's offset (BST in June).
    assert out["NOW"] == "2024-06-15T10:20:30+01:00"
    assert out["LOCAL"] == out["NOW"]
    assert out["UTC"] == "2024-06-15T10:20:30+00:00"
    assert out["UTC2"] == out["UTC"]
    assert out["PREV_DD"] == "14"
    assert out["NEXT"] == "2024-07-05"
    assert out["HOURS"] == "14 23"


def test_now_is_aware_with_fixed_offset() -> None:
    value = default_filters.now()
    assert value.tzinfo is not None
    assert isinstance(value.tzinfo, datetime.timezone)
    assert default_filters.now_utc().utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize(
    ("frozen", "offset_hours"),
    [("2024-03-31 00:59:59", 0), ("2024-03-31 02:00:00", 1)],
)
def test_yesterday_across_dst_change(
    cfg_dir: Path, london: None, frozen: str, offset_hours: int
) -> None:
    # 00:59:59 GMT and, one second later, 02:00:00 BST (= 01:00 GMT).
    with freeze_time(frozen):
        assert default_filters.now().utcoffset() == datetime.timedelta(
            hours=offset_hours
        )
        out = _render(
            cfg_dir,
            {
                "DD": "{{ now().strftime('%d') }}",
                "PREV_DD": "{{ (now()|delta_days(-1)).strftime('%d') }}",
            },
        )
    assert out == {"DD": "31", "PREV_DD": "30"}


def test_base64_filters(cfg_dir: Path) -> None:
    out = _render(
        cfg_dir,
        {
            "E": "{{ 'SOME_TEXT' | base64_encode }}",
            "D": "{{ 'aGVsbG8=' | base64_decode }}",
            "F": "{{ base64_encode('héllo') }}",
        },
    )
    assert out == {"E": "U09NRV9URVhU", "D": "hello", "F": "aMOpbGxv"}


def test_custom_filters_dir(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    filters = cfg_dir / "filters"
    filters.mkdir()
    (filters / "hashing.py").write_text(
        "import hashlib\n"
        "from os.path import basename\n"
        "def md5(value):\n"
        "    return hashlib.md5(value.encode()).hexdigest()\n"
    )
    (filters / "override.py").write_text(
        "def base64_encode(value):\n    return 'custom:' + value\n"
    )
    (filters / "notes.txt").write_text("not python")
    monkeypatch.setenv("OTF_LOG_LEVEL", "DEBUG")
    with caplog.at_level(logging.DEBUG):
        out = _render(
            cfg_dir,
            {
                "H": "{{ 'SOME_TEXT' | md5 }}",
                "G": "{{ md5('SOME_TEXT') }}",
                "B": "{{ basename('/a/b.txt') }}",
                "O": "{{ 'x' | base64_encode }}",
            },
        )
    md5 = hashlib.md5(b"SOME_TEXT").hexdigest()
    assert out == {"H": md5, "G": md5, "B": "b.txt", "O": "custom:x"}
    assert f"Registered custom filter: md5 from {filters}/hashing.py" in caplog.text
    # Imported functions are registered too (spec: every function object).
    assert f"Registered custom filter: basename from {filters}/hashing.py" in (
        caplog.text
    )


def test_filters_added_later_are_callable_as_globals(cfg_dir: Path) -> None:
    write_json(cfg_dir / "t.json", {"type": "execution", "v": "{{ shout('a') }}"})
    loader = ConfigLoader(str(cfg_dir))
    loader.template_env.filters["shout"] = lambda value: value.upper() + "!"
    assert loader.load_task_definition("t")["v"] == "A!"
