"""Host-key validation for SSH clients.

The policy is described in :mod:`opentaskpy.transport.ssh.sshconn`.
"""

from __future__ import annotations

import logging
import shlex

from opentaskpy.transport.ssh.paramiko_import import paramiko
from opentaskpy.transport.ssh.sshconn import setup_host_keys


def setup_host_key_validation(
    client: paramiko.SSHClient, spec: dict, logger: logging.Logger
) -> None:
    """Apply ``spec["protocol"]``'s host-key policy to ``client``.

    ``hostKeyValidation: true`` rejects unknown hosts (loading
    ``knownHostsFile`` if given), ``false`` accepts any host, and an absent
    field means trust on first use (record new keys, refuse changed ones).
    """
    setup_host_keys(client, spec.get("protocol") or {}, logger)


def strict_host_key_option(protocol: dict) -> str:
    """``-o StrictHostKeyChecking=...`` for host-to-host ``scp`` commands.

    ``yes`` for ``hostKeyValidation: true``, ``no`` only for ``false`` and
    ``accept-new`` (trust on first use) when the field is absent.
    """
    validation = protocol.get("hostKeyValidation")
    value = "yes" if validation else ("no" if validation is False else "accept-new")
    return f"-o StrictHostKeyChecking={shlex.quote(value)}"
