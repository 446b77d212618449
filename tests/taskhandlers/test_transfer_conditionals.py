"""Size, age and count conditionals, through run() and check_conditionals()."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from transfer_helpers import (  # noqa: F401 - fixtures
    backdate,
    info_logging,
    make_files,
    only_log,
)

from opentaskpy import exceptions
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import local_dest, local_source, transfer_def

SIZE_AGE = {"size": {"gt": 10, "lt": 20}, "age": {"gt": 60, "lt": 600}}


def _run(src: Path, dst: Path, regex: str, conditionals: dict, task_id: str) -> bool:
    definition = transfer_def(
        local_source(src, regex, conditionals=conditionals), local_dest(dst)
    )
    return Transfer(None, task_id, definition).run()


@pytest.mark.parametrize(
    ("content", "age", "ok"),
    [
        ("x" * 11, 0, False),  # too new
        ("x" * 11, 61, True),
        ("x" * 11, 601, False),  # too old
        ("x" * 9, 61, False),  # too small
        ("x" * 21, 61, False),  # too big
        ("x" * 10, 61, False),  # bounds are strict
    ],
)
def test_size_and_age(tmp_path: Path, content: str, age: int, ok: bool) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {"sized.txt": content})
    dst.mkdir()
    if age:
        backdate(src / "sized.txt", age)
    if ok:
        assert _run(src, dst, "sized", SIZE_AGE, "cond-size") is True
        assert (dst / "sized.txt").read_text() == content
    else:
        with pytest.raises(exceptions.FilesDoNotMeetConditionsError):
            _run(src, dst, "sized", SIZE_AGE, "cond-size")
        assert os.listdir(dst) == []


@pytest.mark.parametrize(("count", "ok"), [(1, False), (2, True), (3, False)])
def test_count(tmp_path: Path, count: int, ok: bool) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_files(src, {f"count{i}.txt": "c" for i in range(count)})
    dst.mkdir()
    conditionals = {"count": {"minCount": 2, "maxCount": 2}}
    if ok:
        assert _run(src, dst, "count", conditionals, "cond-count")
        assert sorted(os.listdir(dst)) == ["count0.txt", "count1.txt"]
    else:
        with pytest.raises(exceptions.FilesDoNotMeetConditionsError):
            _run(src, dst, "count", conditionals, "cond-count")
        log = only_log("cond-count").read_text()
        assert (
            f"Number of found files {count} does not meet minCount/maxCount conditional: "
            "maxCount:2, minCount:2"
        ) in log


def test_check_conditionals_filters_in_place_and_logs_reasons(tmp_path: Path) -> None:
    definition = transfer_def(
        local_source(
            tmp_path, "x", conditionals={"size": {"gt": 5}, "age": {"lt": 100}}
        )
    )
    obj = Transfer(None, "cond-direct", definition)
    now = time.time()
    files = {
        "/d/small": {"size": 5, "modified_time": now},
        "/d/old": {"size": 50, "modified_time": now - 1000},
        "/d/good": {"size": 50, "modified_time": now},
    }
    result = obj.check_conditionals(files)
    assert result is files
    assert list(files) == ["/d/good"]
    obj.return_result(0)
    log = only_log("cond-direct").read_text()
    assert "Checking /d/small" in log
    assert "File is too small: Min size: [5 B] Actual size: [5 B]" in log
    assert "File is too old: Max age: [100 secs]" in log


def test_zero_bounds_are_ignored(tmp_path: Path) -> None:
    obj = Transfer(
        None,
        "cond-zero",
        transfer_def(
            local_source(tmp_path, "x", conditionals={"size": {"gt": 0, "lt": 0}})
        ),
    )
    files = {"/d/empty": {"size": 0, "modified_time": time.time()}}
    assert obj.check_conditionals(files) == {"/d/empty": files["/d/empty"]}
