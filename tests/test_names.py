"""opentaskpy.names: lossless names, escaped log form, bounded matching."""

from __future__ import annotations

import os

import pytest

from opentaskpy.names import (
    NameMatcher,
    RegexTimeoutError,
    escape_name,
    from_wire,
    wire,
)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("plain name.csv", "plain name.csv"),
        ("caf\u00e9 \u65e5\u672c.csv", "caf\u00e9 \u65e5\u672c.csv"),
        (os.fsdecode(b"bad\xff\xfe.csv"), r"bad\xff\xfe.csv"),
        ("a\nb\rc", r"a\nb\rc"),
        ("esc\x1b[31m", r"esc\x1b[31m"),
        ("back\\slash", "back\\slash"),  # the log rule keeps backslashes
        (b"raw\xff", r"raw\xff"),
    ],
)
def test_escape_name_is_one_line_and_idempotent(name, shown):
    assert escape_name(name) == shown
    assert "\n" not in escape_name(name)
    assert escape_name(escape_name(name)) == shown


def test_wire_round_trip_is_byte_identical():
    raw = b"bad\xff\xfe\n.csv"
    assert wire(from_wire(raw)) == raw
    assert from_wire(raw) == os.fsdecode(raw)
    assert wire(raw) is raw


def test_matcher_keeps_re_semantics():
    matcher = NameMatcher(r"data\.(?P<n>\d+)")
    assert matcher.match("data.12.csv")  # anchored at the start only
    assert not matcher.match("x-data.12")
    assert matcher.search("x-data.12")
    assert NameMatcher(r"(\w)\1").match("aa.csv")  # back-references work


def test_matcher_over_budget_names_the_regex_and_the_name():
    matcher = NameMatcher(r"(a|aa)+$", timeout=0.05)
    with pytest.raises(RegexTimeoutError) as info:
        matcher.match("a" * 60 + "\n.csv")
    assert r"(a|aa)+$" in str(info.value)
    assert r"\n.csv" in str(info.value) and "\n" not in str(info.value)
