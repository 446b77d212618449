"""A logging handler that keeps the records it is given, for assertions."""

from __future__ import annotations

import logging


class Collect(logging.Handler):
    """Keeps every record it handles in :attr:`records`."""

    def __init__(self) -> None:
        """Start with no records."""
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record``."""
        self.records.append(record)
