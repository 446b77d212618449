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
from support.helpers import python_stdout


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


# -- re where its backtracking is provably small, regex otherwise ------------

_WHICH_ENGINE = (
    "import sys\n"
    "from opentaskpy.names import NameMatcher\n"
    "matcher = NameMatcher(sys.argv[1])\n"
    "print(matcher.match(sys.argv[2]), 'regex' in sys.modules)\n"
)


def _engine(pattern: str, name: str) -> str:
    code = _WHICH_ENGINE.replace("sys.argv[1]", repr(pattern))
    return python_stdout(code.replace("sys.argv[2]", repr(name))).strip()


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        (r"^data_\d+\.csv$", "data_20260101.csv", "True False"),
        (r".*report.*\.csv", "x-report-y.csv", "True False"),
        (r"a.txt", "b.txt", "False False"),
        # Quantified quantifiers or alternations: regex, whatever the name.
        (r"(a+)+$", "aaa", "True True"),
        (r"(a|aa)+$", "aaa", "True True"),
        # Two free quantifiers: re for short names, regex for long ones.
        (r".*report.*\.csv", "x" * 5000 + "report.csv", "True True"),
    ],
)
def test_regex_is_imported_only_where_re_could_backtrack_for_long(
    pattern, name, expected
):
    assert _engine(pattern, name) == expected


@pytest.mark.parametrize(
    "pattern",
    [r"^data_\d+\.csv$", r".*\.csv$", r"(?i)^ab(?=c).*", r"(\w)\1", r"x{2,3}y?"],
)
@pytest.mark.parametrize(
    "name", ["data_12.csv", "abc.csv", "ABC", "aa", "xxy", "xxxxy", "", "é.csv"]
)
def test_matches_agree_with_re_and_regex(pattern, name):
    import re

    import regex

    matcher = NameMatcher(pattern)
    expected = re.match(pattern, name) is not None
    assert (regex.match(pattern, name, flags=regex.VERSION0) is not None) is expected
    assert matcher.match(name) is expected
    assert matcher.search(name) is (re.search(pattern, name) is not None)


def test_a_search_over_budget_also_names_the_regex():
    matcher = NameMatcher(r"(a|aa)+$", timeout=0.05)
    with pytest.raises(RegexTimeoutError) as info:
        matcher.search("a" * 60 + "!", subject="a line of app.log")
    assert r"(a|aa)+$" in str(info.value) and "app.log" in str(info.value)
