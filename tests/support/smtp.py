"""A real SMTP server (aiosmtpd) for tests, with or without STARTTLS.

``start_smtp(tls_dir=None)`` returns an :class:`SMTPServer` whose
``messages`` list collects every received ``email.message.Message``. With
``tls_dir`` a self-signed certificate for ``localhost``/``127.0.0.1`` is
generated there and STARTTLS is required.
"""

from __future__ import annotations

import datetime
import email
import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """Write ``cert.pem``/``key.pem`` for localhost into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class SMTPServer:
    """A running server and what it received."""

    port: int
    controller: Controller
    cert: Path | None = None
    messages: list = field(default_factory=list)
    envelopes: list = field(default_factory=list)

    def stop(self) -> None:
        """Stop the server thread."""
        self.controller.stop()


class _Handler:
    def __init__(self, server: SMTPServer | None = None):
        self.server = server

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        assert self.server is not None
        self.server.envelopes.append(envelope)
        self.server.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def start_smtp(tls_dir: Path | None = None) -> SMTPServer:
    """Start a server on 127.0.0.1 (STARTTLS required when ``tls_dir`` given)."""
    import ssl

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = _Handler()
    kwargs: dict = {}
    cert = None
    if tls_dir is not None:
        cert, key = make_self_signed(tls_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        kwargs = {"tls_context": context, "require_starttls": True}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    server = SMTPServer(port=port, controller=controller, cert=cert)
    handler.server = server
    controller.start()
    return server
