"""Email destination against a real aiosmtpd server (plain and STARTTLS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opentaskpy import exceptions
from opentaskpy.remotehandlers.email import EmailTransfer
from opentaskpy.taskhandlers.transfer import Transfer


def email_transfer(src: Path, regex: str, port: int, **dest: object) -> tuple:
    definition = {
        "type": "transfer",
        "source": {
            "directory": str(src),
            "fileRegex": regex,
            "protocol": {"name": "local"},
        },
        "destination": [
            {
                "recipients": ["a@example.com", "b@example.com"],
                "subject": "Files for you",
                "protocol": {"name": "email", **dest.pop("protocol", {})},
                **dest,
            }
        ],
    }
    global_config = {
        "global_protocol_vars": [
            {
                "name": "email",
                "smtp_server": "127.0.0.1",
                "smtp_port": port,
                "sender": "Test Sender <test@example.com>",
            },
        ]
    }
    return global_config, definition


def make_src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "report.csv").write_text("a,b\n1,2\n")
    return src


def test_plain_smtp_one_message_per_recipient_with_rename(tmp_path, smtp_plain):
    src = make_src(tmp_path)
    config, definition = email_transfer(
        src,
        r"report",
        smtp_plain.port,
        protocol={"use_tls": False},
        rename={"pattern": r"report", "sub": "renamed"},
        messageContentType="text/plain",
    )
    assert Transfer(config, "email-plain", definition).run() is True
    assert sorted(e.rcpt_tos[0] for e in smtp_plain.envelopes) == [
        "a@example.com",
        "b@example.com",
    ]
    msg = smtp_plain.messages[0]
    assert msg["Subject"] == "Files for you"
    assert msg["From"] == "Test Sender <test@example.com>"
    parts = list(msg.walk())
    attachment = [p for p in parts if p.get_filename()][0]
    assert attachment.get_filename() == "renamed.csv"
    assert attachment.get_payload(decode=True) == b"a,b\n1,2\n"
    body = [p for p in parts if p.get_content_type() == "text/plain"][0]
    assert body.get_payload(decode=True).decode().strip() == (
        "Please find attached: renamed.csv"
    )
    assert parts[-1] is body  # attachments first, then the body


def test_starttls_verifies_certificate(tmp_path, smtp_tls):
    src = make_src(tmp_path)
    config, definition = email_transfer(src, r"report", smtp_tls.port)
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(config, "email-untrusted", definition).run()
    assert smtp_tls.messages == []


def test_starttls_with_ca_file(tmp_path, smtp_tls):
    src = make_src(tmp_path)
    config, definition = email_transfer(
        src,
        r"report",
        smtp_tls.port,
        protocol={"ca_file": str(smtp_tls.cert)},
        message="<b>hi</b>",
    )
    assert Transfer(config, "email-ca", definition).run() is True
    assert len(smtp_tls.messages) == 2
    html = [
        p for p in smtp_tls.messages[0].walk() if p.get_content_type() == "text/html"
    ][0]
    assert html.get_payload(decode=True).decode().strip() == "<b>hi</b>"


def test_starttls_verify_opt_out(tmp_path, smtp_tls):
    src = make_src(tmp_path)
    config, definition = email_transfer(
        src, r"report", smtp_tls.port, protocol={"verify_tls": False}
    )
    assert Transfer(config, "email-noverify", definition).run() is True
    assert len(smtp_tls.messages) == 2


def test_message_content_file_deleted_after_send(tmp_path, smtp_plain):
    src = make_src(tmp_path)
    body = tmp_path / "body.html"
    body.write_text("<p>custom body</p>")
    config, definition = email_transfer(
        src,
        r"report",
        smtp_plain.port,
        protocol={"use_tls": False},
        messageContentFilename=str(body),
    )
    assert Transfer(config, "email-body", definition).run() is True
    html = [
        p for p in smtp_plain.messages[0].walk() if p.get_content_type() == "text/html"
    ][0]
    assert "custom body" in html.get_payload(decode=True).decode()
    assert not body.exists()


def test_message_and_content_file_together_fail(tmp_path, smtp_plain):
    src = make_src(tmp_path)
    body = tmp_path / "body.html"
    body.write_text("x")
    config, definition = email_transfer(
        src,
        r"report",
        smtp_plain.port,
        protocol={"use_tls": False},
        messageContentFilename=str(body),
        message="also",
    )
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(config, "email-both", definition).run()
    assert smtp_plain.messages == []
    assert body.exists()


def test_set_handler_vars_overlays_protocol():
    handler = EmailTransfer(
        {"task_id": "e1", "protocol": {"name": "email", "smtp_port": 2525}}
    )
    handler.set_handler_vars({"name": "email", "smtp_server": "mail", "smtp_port": 25})
    assert handler.protocol_vars == {"smtp_server": "mail", "smtp_port": 2525}
