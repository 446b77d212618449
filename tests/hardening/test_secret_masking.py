"""A secret never reaches a log line, whatever it holds and however short.

The "Evaluated task definition" line at ``-v 1`` holds the definition as JSON,
so a secret with a quote, a backslash, a tab or a non-ASCII character appears
there JSON-escaped; every form must be masked. Log files and directories are
private (0600/0700, less the umask).
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from opentaskpy import otflogging
from support.helpers import local_exec, write_json
from support.processes import run_task_run

SECRETS = {
    "quote": 'LEAK"q-LEAK',
    "backslash": "LEAK\\b-LEAK",
    "tab": "LEAK\t-LEAK",
    "non_ascii": "LEAK-\u00fc-LEAK",
}


def _sftp_source(password: str, directory: str = "/data/in") -> dict:
    """A transfer whose SFTP source logs in with ``password``."""
    return {
        "type": "transfer",
        "source": {
            "hostname": "127.0.0.1",
            "directory": directory,
            "fileRegex": "xyzzy\\.csv",
            "protocol": {
                "name": "sftp",
                "port": 1,
                "credentials": {"username": "u", "password": password},
            },
        },
        "destination": [{"directory": "/tmp/unused", "protocol": {"name": "local"}}],
    }


def _everything_logged(proc: subprocess.CompletedProcess, root: Path) -> str:
    files = sorted((root / "logs").rglob("*.log"))
    assert files, "the run wrote no log file"
    return proc.stderr + "".join(f.read_text() for f in files)


def _evaluated_line(text: str) -> str:
    return next(x for x in text.splitlines() if "Evaluated task definition" in x)


@pytest.mark.parametrize("secret", list(SECRETS.values()), ids=list(SECRETS))
def test_escaped_secret_is_masked_at_v1(task_run, cfg_dir, isolated_env, secret):
    write_json(cfg_dir / "leak.json", _sftp_source(secret))
    proc = task_run("-t", "leak", "-c", cfg_dir, "-v", "1", "--noop")
    assert proc.returncode == 0, proc.stderr
    text = _everything_logged(proc, isolated_env)
    assert '"password": "********"' in _evaluated_line(text)
    assert "LEAK" not in text


def test_short_secret_is_masked_as_value_and_word_only(task_run, cfg_dir, isolated_env):
    write_json(cfg_dir / "short.json", _sftp_source("xyz", directory="/data/xyz/in"))
    proc = task_run("-t", "short", "-c", cfg_dir, "-v", "1", "--noop")
    assert proc.returncode == 0, proc.stderr
    line = _evaluated_line(_everything_logged(proc, isolated_env))
    assert '"password": "********"' in line  # as a JSON value
    assert '"directory": "/data/********/in"' in line  # as a whole word
    assert "xyzzy" in line  # not inside other words


def test_repr_ascii_and_url_encoded_forms_are_masked(isolated_env: Path) -> None:
    secret = 'p@ss w/"\u00fc'
    otflogging.register_secret(secret)
    logger = otflogging.init_logging("hardening.forms", task_id="forms", task_type="T")
    logger.setLevel(logging.INFO)
    forms = [
        repr(secret),
        ascii(secret),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret),
        json.dumps(secret, ensure_ascii=False),
    ]
    for form in forms:
        logger.info("value %s end", form)
    text = Path(logger.handlers[0].baseFilename).read_text()
    assert text.count(" end\n") == len(forms)
    for form in forms:
        assert form.strip("'\"") not in text
    assert text.count("********") == len(forms)


def _run_with_umask(umask: int, *args: object, cwd: Path) -> None:
    proc = run_task_run(
        *args,
        cwd=cwd,
        timeout=120,
        preexec_fn=lambda: os.umask(umask),  # noqa: PLW1509 - no threads here
    )
    assert proc.returncode == 0, proc.stderr


def _modes(root: Path) -> dict[str, int]:
    logs = root / "logs"
    paths = [logs, *logs.rglob("*")]
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in paths}


def _ok_task(cfg_dir: Path) -> None:
    write_json(cfg_dir / "ok.json", local_exec("true"))


def test_log_files_and_directories_are_private(cfg_dir, isolated_env):
    _ok_task(cfg_dir)
    _run_with_umask(0o022, "-t", "ok", "-c", cfg_dir, "-r", "nightly", cwd=isolated_env)
    modes = _modes(isolated_env)
    files = {p: m for p, m in modes.items() if p.endswith(".log")}
    dirs = {p: m for p, m in modes.items() if p not in files}
    assert set(dirs) == {"logs", "logs/nightly"}
    assert len(files) == 2, modes
    assert set(dirs.values()) == {0o700}, modes
    assert set(files.values()) == {0o600}, modes


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to write read-only dirs")
def test_stricter_umask_is_respected(cfg_dir, isolated_env):
    _ok_task(cfg_dir)
    _run_with_umask(0o277, "-t", "ok", "-c", cfg_dir, cwd=isolated_env)
    modes = _modes(isolated_env)
    assert len(modes) == 4, modes  # logs, logs/ok and two log files
    assert modes["logs"] == modes["logs/ok"] == 0o500, modes  # 0700 less 0277
    files = [m for p, m in modes.items() if p.endswith(".log")]
    assert files == [0o400, 0o400], modes  # 0600 less 0277


def test_short_secrets_in_a_message_and_never_in_the_record_prefix(
    isolated_env: Path,
) -> None:
    otflogging.register_secret("-")  # punctuation only: masked when quoted
    otflogging.register_secret("20")  # masked as a whole word
    logger = otflogging.init_logging("hardening.short", task_id="short", task_type="T")
    logger.setLevel(logging.INFO)
    logger.info("""q="-" word 20 inside 2020 a-b 'x-'""")
    line = Path(logger.handlers[0].baseFilename).read_text().splitlines()[0]
    # The timestamp (2026-..., "20" and "-" in it) and separators stay intact.
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \u2014 INFO - ", line)
    assert line.endswith("""q="********" word ******** inside 2020 a-b 'x-'""")


def test_short_lookup_secret_is_masked_but_a_random_number_is_not(
    task_run, cfg_dir, tmp_path
):
    (tmp_path / "pw").write_text("ab")
    write_json(
        cfg_dir / "variables.json.j2",
        {
            "RUN": "{{ lookup('random_number', min=7, max=7) }}",
            "PW": "{{ lookup('file', path='" + str(tmp_path / "pw") + "') }}",
        },
    )
    write_json(
        cfg_dir / "echo.json.j2",
        local_exec("echo run {{ RUN }} pw {{ PW }} abc"),
    )
    proc = task_run("-t", "echo", "-c", cfg_dir, "-v", "1")
    assert proc.returncode == 0, proc.stderr
    assert "REMOTE OUTPUT: run 7 pw ******** abc" in proc.stderr
    assert '"command": "echo run 7 pw ******** abc"' in proc.stderr
    assert " ab " not in proc.stderr
