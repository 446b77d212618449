"""A catastrophic regex against a file name or log line has a bounded cost.

Before, ``(a+)+$`` against a 50-character name kept a 5-second file watch
running for ever. Now names are matched with a time budget per match; a
regex that exceeds it fails the run with one line naming the regex and the
file (see :mod:`opentaskpy.names`).
"""

from __future__ import annotations

import pytest

from support.helpers import transfer_def
from support.listing_helpers import last_line, run_task, source_end

NAME = "a" * 50 + ".csv"
#: Each of these backtracks exponentially in ``re`` on ``NAME``.
CATASTROPHIC = [r"(a+)+$", r"(a|aa)+$"]
#: A subprocess limit far above a 5 s watch: reached only by an unbounded match.
RUN_LIMIT = 90


@pytest.mark.parametrize("regex", CATASTROPHIC)
@pytest.mark.parametrize("source", ["local", "sftp"])
def test_catastrophic_file_regex_in_a_file_watch_is_bounded(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path, source, regex
):
    src = dirs["src"] if source != "local" else tmp_path / "src"
    src.mkdir(exist_ok=True)
    ssh_env.write_file(src / NAME, b"x")
    definition = transfer_def(
        source_end(ssh_env, source, src, regex, fileWatch={"timeout": 5})
    )
    task = f"regex-{source}-{CATASTROPHIC.index(regex)}"
    result = run_task(task_run, cfg_dir, ssh_client_env, task, definition, RUN_LIMIT)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    line = last_line(result.stderr)
    # Either the engine answers fast (no match: the watch times out), or the
    # budget is exceeded and the last line names the regex and the file.
    timed_out = "No valid files found after 5 seconds" in result.stderr
    assert timed_out or (regex in line and NAME in line), line


def test_catastrophic_content_regex_in_a_log_watch_is_bounded(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env
):
    regex = r"(a|aa)+$"
    ssh_env.write_file(dirs["src"] / "app.log", ("a" * 50 + "!\n").encode())
    definition = transfer_def(
        source_end(
            ssh_env,
            "ssh1",
            dirs["src"],
            "nothing",
            logWatch={
                "directory": str(dirs["src"]),
                "log": "app.log",
                "contentRegex": regex,
                "timeout": 5,
            },
        )
    )
    result = run_task(
        task_run, cfg_dir, ssh_client_env, "regex-logwatch", definition, RUN_LIMIT
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    line = last_line(result.stderr)
    assert regex in line and "app.log" in line, line
