"""Logged names cannot split or forge a log line; paths are not secrets.

A newline in a file name used to end the log line and start one that looked
like a genuine record; a terminal escape went to the log raw. Every message
is now one line with control characters escaped. A missing key file's path
used to be masked as ``********`` because ``keyFile`` was taken for a secret.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from opentaskpy import otflogging
from support.helpers import local_transfer, write_json

FORGED = "2026-01-01 00:00:00,000 \u2014 ERROR - forged - x.py:1 [MainThread] \u2014 "
NEWLINE_NAME = f"nl\n{FORGED}owned.csv"
ESCAPE_NAME = "esc\x1b[31mred\x07.csv"
RECORD_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \u2014 [A-Z0-9]+ - ")


def test_control_characters_in_names_are_escaped(
    task_run, cfg_dir, tmp_path, isolated_env
):
    source, destination = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    destination.mkdir()
    for name in (NEWLINE_NAME, ESCAPE_NAME):
        (source / name).write_text("data\n")
    write_json(
        cfg_dir / "names.json",
        local_transfer(source, "(?s)(nl|esc).*\\.csv", destination),
    )
    proc = task_run("-t", "names", "-c", cfg_dir, "-v", "2")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in destination.iterdir()) == sorted(
        [NEWLINE_NAME, ESCAPE_NAME]
    )
    logs = sorted((isolated_env / "logs").rglob("*.log"))
    assert logs
    for text in [proc.stderr, *(p.read_text() for p in logs)]:
        lines = text.splitlines()
        assert [x for x in lines if not RECORD_START.match(x)] == []
        assert [x for x in lines if x.startswith(FORGED)] == []
        assert "\x1b" not in text and "\x07" not in text
    transfer_log = "".join(p.read_text() for p in logs if "_T" in p.name)
    assert f"nl\\n{FORGED}owned.csv" in transfer_log
    assert "esc\\x1b[31mred\\x07.csv" in transfer_log


def _sftp_with_key(key_file: str) -> dict:
    return {
        "type": "transfer",
        "source": {
            "hostname": "127.0.0.1",
            "directory": "/data",
            "fileRegex": "x\\.csv",
            "protocol": {
                "name": "sftp",
                "port": 1,
                "credentials": {"username": "u", "keyFile": key_file},
            },
        },
        "destination": [{"directory": "/tmp/unused", "protocol": {"name": "local"}}],
    }


def test_missing_key_file_path_is_shown(task_run, cfg_dir, tmp_path):
    missing = str(tmp_path / "keys" / "id_missing")
    write_json(cfg_dir / "kf.json", _sftp_with_key(missing))
    proc = task_run("-t", "kf", "-c", cfg_dir, env={"OTF_SSH_RETRY_ATTEMPTS": "1"})
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("task-run: error: "), proc.stderr
    assert missing in last
    assert "********" not in proc.stderr


def test_key_file_from_a_lookup_stays_masked(task_run, cfg_dir, tmp_path):
    # A lookup's result is a secret whatever field it lands in.
    secret_path = tmp_path / "vault" / "not-to-be-shown"
    holder = tmp_path / "path.txt"
    holder.write_text(str(secret_path))
    template = "{{ lookup('file', path='" + str(holder) + "') }}"
    (cfg_dir / "kl.json.j2").write_text(json.dumps(_sftp_with_key(template)))
    proc = task_run("-t", "kl", "-c", cfg_dir, env={"OTF_SSH_RETRY_ATTEMPTS": "1"})
    assert proc.returncode == 1, proc.stderr
    assert "not-to-be-shown" not in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("task-run: error: ")
    assert "********" in proc.stderr.splitlines()[-1]


def test_undecodable_name_is_logged_escaped_even_in_a_traceback(
    isolated_env: Path, capsys
) -> None:
    name = os.fsdecode(b"/data/bad\xff\xfe.csv")
    logger = otflogging.init_logging("hardening.bytes", task_id="bytes", task_type="T")
    logger.setLevel(logging.INFO)
    try:
        raise FileNotFoundError(2, "No such file or directory\r", name)
    except FileNotFoundError:
        logger.exception("Cannot read %s", name)
    text = Path(logger.handlers[0].baseFilename).read_text()
    assert "Logging error" not in capsys.readouterr().err
    assert "Cannot read /data/bad\\xff\\xfe.csv\n" in text
    assert "Traceback (most recent call last):\n" in text
    assert "No such file or directory\\r: '/data/bad\\udcff\\udcfe.csv'" in text
