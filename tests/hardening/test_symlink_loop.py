"""A symlink loop in a source directory must not abort the listing.

Entries that cannot be resolved (loops) are skipped with a warning unless
the regex matches them; then the run fails with one line naming the entry,
before anything is delivered. A dangling link has nothing to send: it is
skipped with a warning even when it matches.
"""

from __future__ import annotations

import os

import pytest

from support.helpers import transfer_def
from support.listing_helpers import (
    byte_names,
    destination_end,
    last_line,
    run_task,
    source_end,
)
from support.ssh_helpers import log_text


def _source_dir(ssh_env, dirs, tmp_path, kind):
    src = dirs["src"] if kind != "local" else tmp_path / "src"
    src.mkdir(exist_ok=True)
    ssh_env.write_file(src / "real.csv", b"real\n")
    os.symlink("self.loop", src / "self.loop")
    os.symlink("b.loop", src / "a.loop")
    os.symlink("a.loop", src / "b.loop")
    os.symlink("nowhere", src / "real.dangling")
    return src


@pytest.mark.parametrize("source", ["local", "sftp", "ssh1"])
def test_symlink_loop_is_skipped_unless_matched(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path, source
):
    src = _source_dir(ssh_env, dirs, tmp_path, source)
    dst = tmp_path / "dst"
    dst.mkdir()
    task = f"loop-{source}"

    real_only = transfer_def(
        source_end(ssh_env, source, src, r"real"),
        destination_end(ssh_env, "local", dst),
    )
    result = run_task(task_run, cfg_dir, ssh_client_env, task, real_only)
    assert result.returncode == 0, last_line(result.stderr)
    assert byte_names(dst) == {b"real.csv": b"real\n"}
    log = log_text(task)
    assert "self.loop" in log and "real.dangling" in log  # skipped, with a warning
    os.remove(dst / "real.csv")

    matching_loop = transfer_def(
        source_end(ssh_env, source, src, r"(real|self)"),
        destination_end(ssh_env, "local", dst),
    )
    result = run_task(task_run, cfg_dir, ssh_client_env, f"{task}-m", matching_loop)
    assert result.returncode != 0
    line = last_line(result.stderr)
    assert "self.loop" in line and "Traceback" not in result.stderr, result.stderr
    assert byte_names(dst) == {}  # failed at listing: nothing delivered
