"""Open the run store an ``OTF_RUNS_DB`` value names (engines load lazily)."""

from __future__ import annotations

from opentaskpy.runs import settings
from opentaskpy.runs.store import Store


def open_store(where: str) -> Store:
    """Open the store named by ``where`` (a PostgreSQL URL or an SQLite path).

    Raises:
        StoreUnavailable: it cannot be opened; the message is one line.
    """
    if settings.is_postgres(where):
        from opentaskpy.runs.postgres import PostgresStore

        return PostgresStore(where)
    from opentaskpy.runs.sqlite import SQLiteStore

    return SQLiteStore(where)
