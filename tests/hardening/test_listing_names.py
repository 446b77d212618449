"""Odd file names in a source directory: names are bytes on POSIX.

A name that is not UTF-8 (``bad\\xff\\xfe.csv``) or holds a newline must not
break the listing of its directory, must be delivered byte-identical and must
appear in the log in an escaped form (a newline must not split a log line).
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

BAD = b"bad\xff\xfe.csv"
NEWLINE = b"nl\nforged INFO line.csv"
PLAIN = b"a b.csv"
CONTENT = {BAD: b"bad bytes\n", NEWLINE: b"newline\n", PLAIN: b"plain\n"}

PAIRS = [
    ("local", "sftp"),
    ("local", "ssh1"),
    ("sftp", "local"),
    ("ssh1", "local"),
    ("ssh1", "ssh2"),
    ("ssh1", "sftp"),
    ("local", "local"),
]


def _fill(ssh_env, directory) -> None:
    for name, data in CONTENT.items():
        ssh_env.write_file(
            os.fsdecode(os.path.join(os.fsencode(directory), name)), data
        )


@pytest.mark.parametrize(("source", "destination"), PAIRS)
def test_undecodable_and_control_names_are_listed_delivered_and_logged_escaped(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path, source, destination
):
    if "ssh2" in destination and not ssh_env.can_host_to_host:
        pytest.skip("host-to-host copies need root to create a test user")
    src = dirs["src"] if source != "local" else tmp_path / "src"
    dst = dirs["dst"] if destination != "local" else tmp_path / "dst"
    for path in (src, dst):
        path.mkdir(exist_ok=True)
    _fill(ssh_env, src)
    task = f"names-{source}-{destination}"

    only_plain = transfer_def(
        source_end(ssh_env, source, src, r"a b\.csv"),
        destination_end(ssh_env, destination, dst),
    )
    result = run_task(task_run, cfg_dir, ssh_client_env, task, only_plain)
    assert result.returncode == 0, last_line(result.stderr)
    assert byte_names(dst) == {PLAIN: CONTENT[PLAIN]}

    every = transfer_def(
        # re.match is anchored at the start only; "." would stop at the newline
        source_end(ssh_env, source, src, r"(a b|bad|nl)"),
        destination_end(ssh_env, destination, dst),
    )
    result = run_task(task_run, cfg_dir, ssh_client_env, task, every)
    assert result.returncode == 0, last_line(result.stderr)
    assert byte_names(dst) == CONTENT  # byte-identical names and contents

    log = log_text(task)  # strict UTF-8: a raw name would not decode
    assert r"bad\xff\xfe.csv" in log
    assert r"nl\nforged INFO line.csv" in log
    assert not any(line.startswith("forged") for line in log.splitlines())
    assert "Logging error" not in result.stderr
