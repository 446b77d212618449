"""Run records: history, live status, kill requests and overlap locks.

Every ``task-run`` (and every batch step) is recorded in a run store: an
embedded SQLite database by default, or PostgreSQL shared by a fleet when
``OTF_RUNS_DB`` is a ``postgresql://`` URL. See ``docs/runs.md``.

Nothing here is imported by ``task-run`` before a task definition has been
loaded, and the database drivers are imported only when a store is opened.
"""

from __future__ import annotations


class RunsError(Exception):
    """A run-store problem reported as one line (never a traceback)."""

    #: ``task-run`` prints this exception's message as it is.
    otf_plain_line = True
