"""``task-run --plan`` with a delivery ledger that marks some files delivered.

Runs only where the ledger (``opentaskpy.runs.ledger``) is part of the
release; the failed run it plans from is a real ``task-run``.
"""

from __future__ import annotations

import pytest

from support.helpers import local_dest, local_transfer, write_json
from support.plan_helpers import by_dest_name, run_plan, tree_snapshot


def test_plan_marks_what_the_ledger_shows_delivered(
    cfg_dir, task_run, isolated_env, tmp_path
):
    pytest.importorskip("opentaskpy.runs.ledger")
    src, d1, d2 = tmp_path / "src", tmp_path / "d1", tmp_path / "d2"
    src.mkdir()
    d1.mkdir()  # d2 is missing: the first run fails there
    for name in ("a.txt", "b.txt", "c.txt"):
        (src / name).write_text(f"{name}\n")
    write_json(
        cfg_dir / "two.json",
        local_transfer(
            src,
            r".*\.txt",
            local_dest(d1, rename={"pattern": "txt$", "sub": "dat"}),
            d2,
        ),
    )
    env = {"OTF_RUNS_DB": str(tmp_path / "runs.sqlite3")}
    assert task_run("-t", "two", "-c", cfg_dir, env=env).returncode == 1
    (src / "d.txt").write_text("new since the failed run\n")
    before = tree_snapshot(src, d1, isolated_env)

    plan = run_plan(task_run, cfg_dir, "two", env)

    assert tree_snapshot(src, d1, isolated_env) == before
    first, second = (by_dest_name(d) for d in plan["destinations"])
    assert {n: f["delivered"] for n, f in first.items()} == {
        "a.dat": True,
        "b.dat": True,
        "c.dat": True,
        "d.dat": False,
    }
    assert {f["delivered"] for f in second.values()} == {False}
    assert len(second) == 4

    resend = run_plan(task_run, cfg_dir, "two", env | {"OTF_RESEND": "1"})
    assert not any(f["delivered"] for f in resend["destinations"][0]["files"])
    text = run_plan(task_run, cfg_dir, "two", env, as_json=False)
    assert text.count("[already delivered (ledger)]") == 3
