"""The ``email`` destination: send the transferred files as SMTP attachments.

Settings are the ``global_protocol_vars`` entry named ``email`` overlaid with
the destination's ``protocol`` object. STARTTLS (unless ``use_tls: false``)
verifies the server certificate against the system CAs, or ``ca_file`` when
given; ``verify_tls: false`` is the explicit opt-out.
"""

from __future__ import annotations

import glob
import os
import re
import smtplib
import ssl
from email import encoders
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

from opentaskpy import ending
from opentaskpy.exceptions import ErrorClass
from opentaskpy.fs import checksums
from opentaskpy.otflogging import init_logging, set_log_file
from opentaskpy.remotehandlers.remotehandler import RemoteTransferHandler

#: Failures reaching or logging in to the SMTP server (not the message's own).
_CONNECTION_ERRORS = (
    ConnectionError,
    TimeoutError,
    smtplib.SMTPConnectError,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPAuthenticationError,
)


class EmailTransfer(RemoteTransferHandler):
    """Email destination (one message per recipient)."""

    TASK_TYPE = "T"

    def __init__(self, spec: dict):
        """Set up logging; nothing is contacted yet."""
        super().__init__(spec)
        self.logger = init_logging(__name__, spec.get("task_id"), self.TASK_TYPE)
        set_log_file("smtplib")
        self.protocol_vars: dict | None = None

    def set_handler_vars(self, protocol_vars: dict) -> None:
        """Store the global vars overlaid with ``spec["protocol"]`` (no ``name``)."""
        self.protocol_vars = dict(protocol_vars)
        self.protocol_vars.update(self.spec.get("protocol") or {})
        self.protocol_vars.pop("name", None)

    def supports_direct_transfer(self) -> bool:
        """Email is always fed from the worker."""
        return False

    def _tls_context(self) -> ssl.SSLContext:
        assert self.protocol_vars is not None
        if self.protocol_vars.get("verify_tls") is False:
            self.logger.warning("TLS certificate verification disabled (verify_tls)")
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=self.protocol_vars.get("ca_file"))

    def _body(self, names: list[str]) -> tuple[str, str] | None:
        content_file = self.spec.get("messageContentFilename")
        subtype = (
            "plain" if self.spec.get("messageContentType") == "text/plain" else "html"
        )
        if content_file:
            try:
                return Path(content_file).read_text(encoding="utf-8"), subtype
            except OSError as exc:
                self.logger.error(f"Unable to read {content_file}: {exc}")
                return None
        if "message" in self.spec:
            return str(self.spec["message"]), subtype
        listing = ", ".join(names)
        if subtype == "plain":
            return f"Please find attached: {listing}", subtype
        return f"<p>Please find attached: <b>{listing}</b></p>", subtype

    def push_files_from_worker(
        self, local_staging_directory: str, file_list: dict | None = None
    ) -> int:
        """Send one email per recipient with every file attached."""
        if self.protocol_vars is None:
            # Upstream quirk: without a global ``email`` entry the push fails.
            raise Exception("No protocol_vars set for the email handler")
        paths = (
            list(file_list)
            if file_list is not None
            else sorted(glob.glob(f"{local_staging_directory}/*"))
        )
        rename = self.spec.get("rename")
        names = [
            os.path.basename(re.sub(rename["pattern"], rename["sub"], p))
            if rename
            else os.path.basename(p)
            for p in paths
        ]
        if "message" in self.spec and "messageContentFilename" in self.spec:
            self.logger.error(
                "message and messageContentFilename cannot both be defined!"
            )
            return 1
        body = self._body(names)
        if body is None:
            return 1
        result = 0
        for recipient in self.spec["recipients"]:
            try:
                self._send(recipient, paths, names, body)
            except Exception as exc:  # noqa: BLE001 - next recipient is still tried
                self.logger.error(f"Failed to send email to {recipient}: {exc}")
                if isinstance(exc, _CONNECTION_ERRORS):
                    ending.note(ErrorClass.CONNECTION, f"{exc}")
                result = 1
        content_file = self.spec.get("messageContentFilename")
        if (
            result == 0
            and content_file
            and self.spec.get("deleteContentFileAfterTransfer") is not False
        ):
            os.remove(content_file)
        return result

    def _send(
        self, recipient: str, paths: list[str], names: list[str], body: tuple[str, str]
    ) -> None:
        assert self.protocol_vars is not None
        settings = self.protocol_vars
        message = MIMEMultipart()
        message["Subject"] = self.spec["subject"]
        message["From"] = settings["sender"]
        for path, name in zip(paths, names, strict=True):
            part = MIMEBase("application", "octet-stream")
            with open(path, "rb") as handle:
                # The attachment is read whole anyway: hash what is in hand.
                part.set_payload(b"".join(checksums.tap([handle.read()], path)))
            encoders.encode_base64(part)
            part.add_header("Content-Disposition", f'attachment; filename="{name}"')
            message.attach(part)
        message.attach(MIMEText(body[0], body[1], "utf-8"))
        self.logger.info(f"Sending email to {recipient}")
        port = int(settings.get("smtp_port", 587))
        with smtplib.SMTP(settings["smtp_server"], port, timeout=30) as smtp:
            if self.logger.isEnabledFor(10):
                smtp.set_debuglevel(1)
            if settings.get("use_tls", True) is not False:
                smtp.starttls(context=self._tls_context())
            credentials = settings.get("credentials")
            if credentials:
                smtp.login(credentials["username"], credentials["password"])
            smtp.send_message(message, to_addrs=[recipient])
        self.logger.info(f"Email sent to {recipient}")

    def pull_files_to_worker(self, files: dict, local_staging_directory: str) -> int:
        """Not supported."""
        raise NotImplementedError

    def handle_post_copy_action(self, files: dict) -> int:
        """Not supported."""
        raise NotImplementedError

    def list_files(
        self, directory: str | None = None, file_pattern: str | None = None
    ) -> dict:
        """Not supported."""
        raise NotImplementedError

    def move_files_to_final_location(self, files: dict) -> int:
        """Not supported."""
        raise NotImplementedError

    def pull_files(self, files: dict) -> int:
        """Not supported."""
        raise NotImplementedError

    def transfer_files(
        self, files: dict, remote_spec: dict, dest_remote_handler: object = None
    ) -> int:
        """Not supported."""
        raise NotImplementedError
