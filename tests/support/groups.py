"""Hooks around the real small-file group requests (nothing is replaced)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opentaskpy.transport.ssh import sftpbulk


def before_group_reads(
    monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]
) -> None:
    """Call ``action()`` just before each group's reads are sent, then send them."""
    real = sftpbulk.Reads.send_opens

    def send_opens(reads: sftpbulk.Reads, paths: list) -> None:
        action()
        real(reads, paths)

    monkeypatch.setattr(sftpbulk.Reads, "send_opens", send_opens)
