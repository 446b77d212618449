"""The last stderr line of a failed run says what failed and why.

It used to be ``Task completed with result: False``; the cause (host,
operation, reason) was somewhere above it. The completion line stays, and
the first error the run reported is repeated after it as the CLI's error.
"""

from __future__ import annotations

import json

from support.helpers import local_exec, write_json


def _last_two(stderr: str) -> list[str]:
    return stderr.rstrip("\n").splitlines()[-2:]


def test_failed_execution_ends_with_host_operation_and_cause(task_run, cfg_dir):
    write_json(cfg_dir / "fail.json", local_exec("exit 3"))
    proc = task_run("-t", "fail", "-c", cfg_dir)
    assert proc.returncode == 1, proc.stderr
    before, last = _last_two(proc.stderr)
    assert before.endswith("Task completed with result: False")
    assert last == (
        f"task-run: error: {cfg_dir / 'fail.json'}: "
        "[LOCALHOST] Got return code 3 from command"
    )


def test_failed_transfer_ends_with_host_and_cause(task_run, cfg_dir, tmp_path):
    write_json(
        cfg_dir / "push.json",
        {
            "type": "transfer",
            "source": {
                "directory": str(tmp_path),
                "fileRegex": "a\\.csv",
                "protocol": {"name": "local"},
            },
            "destination": [
                {
                    "hostname": "127.0.0.1",
                    "directory": "/data",
                    "protocol": {
                        "name": "sftp",
                        "port": 1,
                        "credentials": {"username": "u", "password": "pw-123456"},
                    },
                }
            ],
        },
    )
    (tmp_path / "a.csv").write_text("a\n")
    proc = task_run("-t", "push", "-c", cfg_dir, env={"OTF_SSH_RETRY_ATTEMPTS": "1"})
    assert proc.returncode == 1, proc.stderr
    last = _last_two(proc.stderr)[-1]
    assert last.startswith(f"task-run: error: {cfg_dir / 'push.json'}: "), last
    assert "127.0.0.1" in last and "port 1" in last, last


def test_failed_batch_step_is_named_in_the_last_line(task_run, cfg_dir):
    write_json(cfg_dir / "step.json", local_exec("exit 4"))
    write_json(
        cfg_dir / "nightly.json",
        {"type": "batch", "tasks": [{"order_id": 1, "task_id": "step"}]},
    )
    proc = task_run("-t", "nightly", "-c", cfg_dir)
    assert proc.returncode == 1, proc.stderr
    assert _last_two(proc.stderr)[-1] == (
        f"task-run: error: {cfg_dir / 'nightly.json'}: task step: "
        "[LOCALHOST] Got return code 4 from command"
    )


def test_json_logging_ends_with_the_cause_too(task_run, cfg_dir):
    write_json(cfg_dir / "fail.json", local_exec("exit 5"))
    proc = task_run("-t", "fail", "-c", cfg_dir, env={"OTF_LOG_JSON": "1"})
    assert proc.returncode == 1, proc.stderr
    last = json.loads(_last_two(proc.stderr)[-1])
    assert last["level"] == "ERROR"
    assert last["message"].endswith("[LOCALHOST] Got return code 5 from command")
