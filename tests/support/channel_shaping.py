"""Shape what a real SSH channel hands to its reader, one ``recv`` at a time.

The SFTP session reads its channel in large chunks; these wrappers around a
live channel's ``recv`` (the server and the bytes stay real) make a test
see how the reads went, cut every read short so packets arrive in pieces, or
end the stream part way through a packet.
"""

from __future__ import annotations

from typing import Any


class ShapedRecv:
    """Replaces ``channel.recv``; records every read and can shape them.

    Args:
        channel: the paramiko channel (its ``recv`` is wrapped in place).
        limit: at most this many bytes per read (``None``: what was asked).
    """

    def __init__(self, channel: Any, limit: int | None = None) -> None:
        self.channel = channel
        self.limit = limit
        self.sizes: list[int] = []
        self.cut_after: int | None = None
        self.timeouts: list[int] = []
        self._real = channel.recv
        self._given = 0
        channel.recv = self

    def __call__(self, nbytes: int) -> bytes:
        if self.timeouts and self._given >= self.timeouts[0]:
            self.timeouts.pop(0)
            raise TimeoutError()
        if self.cut_after is not None:
            nbytes = min(nbytes, self.cut_after - self._given)
            if nbytes <= 0:
                return b""  # what a closed channel's recv returns
        if self.limit is not None:
            nbytes = min(nbytes, self.limit)
        if self.timeouts:
            nbytes = min(nbytes, self.timeouts[0] - self._given)
        data = bytes(self._real(nbytes))
        self._given += len(data)
        self.sizes.append(len(data))
        return data

    def restore(self) -> None:
        """Give the channel its own ``recv`` back."""
        del self.channel.recv

    def buffered(self) -> int:
        """Bytes the channel has received and not yet handed out."""
        return len(self.channel.in_buffer)
