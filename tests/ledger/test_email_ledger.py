"""An email destination records its deliveries with the attachment's sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from opentaskpy.runs.recorder import recording
from opentaskpy.taskhandlers.transfer import Transfer
from support.ledger_helpers import ledger_rows


def test_email_rows_hashed_from_the_attachment(
    tmp_path: Path, smtp_plain, monkeypatch: pytest.MonkeyPatch, cfg_dir: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "report.csv").write_bytes(b"a,b\n1,2\n")
    definition = {
        "type": "transfer",
        "source": {
            "directory": str(src),
            "fileRegex": "report",
            "protocol": {"name": "local"},
        },
        "destination": [
            {
                "recipients": ["a@example.com"],
                "subject": "Files",
                "protocol": {"name": "email", "use_tls": False},
            }
        ],
    }
    config = {
        "global_protocol_vars": [
            {
                "name": "email",
                "smtp_server": "127.0.0.1",
                "smtp_port": smtp_plain.port,
                "sender": "Test <test@example.com>",
            }
        ]
    }
    db = tmp_path / "runs.db"
    monkeypatch.setenv("OTF_RUNS_DB", str(db))
    with recording("mailed", str(cfg_dir)) as record:
        record.started("transfer", definition)
        assert Transfer(config, "mailed", definition).run() is True
    [row] = ledger_rows(db)
    assert row["outcome"] == "delivered" and row["dest_dir"] == "a@example.com"
    assert row["sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert row["mechanism"] == "worker" and row["source_path"] == f"{src}/report.csv"
