"""SSH and SFTP success paths through the real ``task-run`` CLI."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from support.helpers import transfer_def, write_json
from support.ssh_helpers import cli_env, remote_dest, remote_source

LOG_NAME = re.compile(r"^\d{8}-\d{6}\.\d{3}_([TEB])\.log$")


def run_ok(task_run, cfg_dir: Path, env: dict, name: str, *args: object):
    result = task_run("-t", name, "-c", cfg_dir, *args, env=cli_env(env), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def task_log(task_id: str, task_type: str) -> str:
    """The text of the single successful log file ``logs/<task>/<prefix>_<T>.log``."""
    directory = Path("logs") / task_id
    names = sorted(os.listdir(directory))
    matching = [n for n in names if (m := LOG_NAME.match(n)) and m[1] == task_type]
    assert len(matching) == 1, names
    return (directory / matching[0]).read_text()


def all_logs() -> str:
    return "".join(p.read_text() for p in Path("logs").rglob("*.log"))


def test_ssh_push_pull_proxy_with_publish_options_and_post_copy_move(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, needs_host_to_host
):
    ssh_env.write_file(dirs["src"] / "report.txt", "report\n")
    ssh_env.write_file(dirs["src"] / "skip.csv", "not matched")
    push_dir = dirs["dst"] / "push" / "new"
    pull_dir = ssh_env.make_dir(dirs["dst"].parent.name, "dst", "pull")
    proxy_dir = ssh_env.make_dir(dirs["dst"].parent.name, "dst", "proxy")
    flag = dirs["dst"] / "push.flg"
    pull = remote_dest(ssh_env, "ssh2", pull_dir, transferType="pull")
    pull["protocol"]["credentials"]["transferUsername"] = ssh_env.user
    definition = transfer_def(
        remote_source(
            ssh_env,
            "ssh1",
            dirs["src"],
            r"report\.txt",
            postCopyAction={"action": "move", "destination": str(dirs["archive"])},
        ),
        remote_dest(
            ssh_env,
            "ssh2",
            push_dir,
            createDirectoryIfNotExists=True,
            mode="0640",
            permissions={"group": ssh_env.user},
            rename={"pattern": r"^report", "sub": "pushed"},
            flags={"fullPath": str(flag)},
        ),
        pull,
        remote_dest(ssh_env, "ssh2", proxy_dir, transferType="proxy"),
    )
    write_json(cfg_dir / "transfers" / "ssh-cli-all.json", definition)
    result = run_ok(task_run, cfg_dir, ssh_client_env, "ssh-cli-all")

    pushed = push_dir / "pushed.txt"
    assert pushed.read_text() == "report\n"
    assert stat.S_IMODE(pushed.stat().st_mode) == 0o640
    assert pushed.stat().st_gid == ssh_env.gid
    assert flag.exists() and flag.stat().st_size == 0
    assert os.listdir(push_dir) == ["pushed.txt"]
    assert os.listdir(pull_dir) == ["report.txt"]
    assert (pull_dir / "report.txt").read_text() == "report\n"
    assert os.listdir(proxy_dir) == ["report.txt"]
    assert (proxy_dir / "report.txt").read_text() == "report\n"
    # post-copy move ran once, after every destination succeeded
    assert sorted(os.listdir(dirs["src"])) == ["skip.csv"]
    assert os.listdir(dirs["archive"]) == ["report.txt"]

    text = task_log("ssh-cli-all", "T")
    assert text.count("Got return code 0 from SCP command") == 2  # push + pull
    assert "### START OF REMOTE OUTPUT ###" in text
    assert "Transferred 1 files" in text
    assert "Traceback" not in result.stderr


def test_sftp_source_and_destination_with_post_copy_rename(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env
):
    ssh_env.write_file(dirs["src"] / "a.dat", b"\x00A" * 1000)
    ssh_env.write_file(dirs["src"] / "b.dat", "B")
    target = dirs["dst"] / "x" / "y"
    flag = dirs["dst"] / "sftp.flg"
    definition = transfer_def(
        remote_source(
            ssh_env,
            "sftp",
            dirs["src"],
            r".*\.dat",
            postCopyAction={
                "action": "rename",
                "destination": f"{dirs['archive']}/",
                "pattern": r"\.dat$",
                "sub": ".done",
            },
        ),
        remote_dest(
            ssh_env,
            "sftp",
            target,
            createDirectoryIfNotExists=True,
            mode="0600",
            rename={"pattern": r"^(.)\.dat$", "sub": r"\1-copy.dat"},
            flags={"fullPath": str(flag)},
        ),
    )
    write_json(cfg_dir / "transfers" / "sftp-cli.json", definition)
    run_ok(task_run, cfg_dir, ssh_client_env, "sftp-cli")
    assert sorted(os.listdir(target)) == ["a-copy.dat", "b-copy.dat"]
    assert (target / "a-copy.dat").read_bytes() == b"\x00A" * 1000
    assert stat.S_IMODE((target / "b-copy.dat").stat().st_mode) == 0o600
    assert flag.exists()
    assert os.listdir(dirs["src"]) == []
    assert sorted(os.listdir(dirs["archive"])) == ["a.done", "b.done"]
    assert (dirs["archive"] / "b.done").read_text() == "B"
    text = task_log("sftp-cli", "T")
    assert "Performing post copy action" in text
    assert "Transferred 2 files" in text


def test_ssh_source_post_copy_delete_to_local(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path
):
    ssh_env.write_file(dirs["src"] / "gone.txt", "G")
    local = tmp_path / "local"
    local.mkdir()
    definition = transfer_def(
        remote_source(
            ssh_env,
            "ssh1",
            dirs["src"],
            r"gone\.txt",
            postCopyAction={"action": "delete"},
        ),
        {"directory": str(local), "protocol": {"name": "local"}},
    )
    write_json(cfg_dir / "transfers" / "ssh-delete.json", definition)
    run_ok(task_run, cfg_dir, ssh_client_env, "ssh-delete")
    assert (local / "gone.txt").read_text() == "G"
    assert os.listdir(dirs["src"]) == []
    assert "Performing post copy action" in task_log("ssh-delete", "T")


def test_sftp_password_never_logged_at_debug(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env, tmp_path
):
    if not ssh_env.password:
        pytest.skip("password authentication needs the root-created test user")
    ssh_env.write_file(dirs["src"] / "secret.txt", "s")
    local = tmp_path / "local"
    local.mkdir()
    source = remote_source(ssh_env, "sftp", dirs["src"], r"secret\.txt")
    source["protocol"]["credentials"] = {
        "username": ssh_env.user,
        "password": ssh_env.password,
    }
    definition = transfer_def(
        source, {"directory": str(local), "protocol": {"name": "local"}}
    )
    write_json(cfg_dir / "transfers" / "sftp-password.json", definition)
    result = run_ok(task_run, cfg_dir, ssh_client_env, "sftp-password", "-v", "3")
    assert (local / "secret.txt").read_text() == "s"
    text = all_logs()
    assert "DEBUG - paramiko" in text or ".paramiko.transport" in text
    assert "Authentication (password) successful" in text
    assert ssh_env.password not in text
    assert ssh_env.password not in result.stderr + result.stdout


def test_ssh_execution_output_in_log_and_unreachable_host(
    ssh_env, dirs, cfg_dir, task_run, ssh_client_env
):
    proto = ssh_env.protocol("ssh1")
    base = {
        "type": "execution",
        "directory": str(dirs["src"]),
        "command": "echo line-one; echo line-two",
        "protocol": proto,
    }
    ok = {
        **base,
        "hosts": [ssh_env.hosts["ssh1"].address, ssh_env.hosts["ssh2"].address],
    }
    write_json(cfg_dir / "executions" / "ssh-exec-ok.json", ok)
    run_ok(task_run, cfg_dir, ssh_client_env, "ssh-exec-ok")
    text = task_log("ssh-exec-ok", "E")
    for host in ("127.0.0.1", "127.0.0.2"):
        assert f"[{host}] REMOTE OUTPUT: line-one" in text
        assert f"[{host}] REMOTE OUTPUT: line-two" in text

    marker = dirs["src"] / "mixed.ran"
    mixed = {
        **base,
        "command": f"touch {marker.name}",
        "hosts": [ssh_env.hosts["ssh1"].address, "127.0.0.9"],
    }
    write_json(cfg_dir / "executions" / "ssh-exec-mixed.json", mixed)
    result = task_run(
        "-t", "ssh-exec-mixed", "-c", cfg_dir, env=cli_env(ssh_client_env), timeout=120
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert marker.exists()  # the valid host still ran the command
    failed = [
        p
        for p in (Path("logs") / "ssh-exec-mixed").iterdir()
        if p.name.endswith("_E_failed.log")
    ]
    assert len(failed) == 1
    assert "[127.0.0.9] Exception caught" in failed[0].read_text()
