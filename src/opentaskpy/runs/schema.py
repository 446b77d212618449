"""The run store's schema and its migrations (shared by both engines).

The schema is versioned in the ``otf_meta`` table: ``schema_version`` is the
newest migration applied, ``min_reader_version`` the oldest release schema
version that may still read and write the database. Migrations are
additive only (new tables, new nullable columns, new indexes; nothing is
renamed, dropped or given a new meaning), so during a rolling upgrade an
older release keeps working on a database that a newer one has upgraded: it
names the columns it writes and ignores the others. A release that ever
needs a non-additive change raises ``min_reader_version`` in that
migration, and older releases then stop recording (one warning) instead of
writing rows that the newer one would misread.

The SQL is plain enough for both SQLite and PostgreSQL: ``DOUBLE
PRECISION`` gets REAL affinity in SQLite, ``BIGINT`` INTEGER affinity.
Times are seconds since the epoch (UTC), so no time zone is ever involved.
"""

from __future__ import annotations

#: The schema version this release creates and upgrades to.
SCHEMA_VERSION = 2
#: The schema version this release implements; it refuses a database whose
#: ``min_reader_version`` is higher.
READER_VERSION = 1

META_TABLE = (
    "CREATE TABLE IF NOT EXISTS otf_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
)

#: version -> statements that bring the schema from version - 1 to version.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS otf_runs (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            root_id TEXT NOT NULL,
            parent_id TEXT,
            order_id BIGINT,
            task_id TEXT NOT NULL,
            task_type TEXT,
            config_dir TEXT,
            definition_sha256 TEXT,
            host TEXT NOT NULL,
            pid BIGINT NOT NULL,
            proc_start TEXT,
            user_name TEXT,
            started_at DOUBLE PRECISION NOT NULL,
            ended_at DOUBLE PRECISION,
            duration DOUBLE PRECISION,
            outcome TEXT NOT NULL,
            error_class TEXT,
            reason TEXT,
            log_file TEXT,
            stall_limit DOUBLE PRECISION,
            heartbeat_at DOUBLE PRECISION,
            progress_at DOUBLE PRECISION,
            progress TEXT,
            kill_requested_at DOUBLE PRECISION,
            kill_requested_by TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS otf_runs_started ON otf_runs (started_at)",
        "CREATE INDEX IF NOT EXISTS otf_runs_task ON otf_runs (task_id, started_at)",
        "CREATE INDEX IF NOT EXISTS otf_runs_root ON otf_runs (root_id)",
        "CREATE INDEX IF NOT EXISTS otf_runs_run_id ON otf_runs (run_id)",
        "CREATE INDEX IF NOT EXISTS otf_runs_outcome ON otf_runs (outcome)",
        """CREATE TABLE IF NOT EXISTS otf_locks (
            lock_key TEXT PRIMARY KEY,
            task_id TEXT NOT NULL,
            record_id TEXT NOT NULL,
            run_id TEXT NOT NULL,
            host TEXT NOT NULL,
            pid BIGINT NOT NULL,
            started_at DOUBLE PRECISION NOT NULL
        )""",
    ],
    # The delivery ledger: one row per file x destination per run.
    2: [
        """CREATE TABLE IF NOT EXISTS otf_files (
            id TEXT PRIMARY KEY,
            record_id TEXT NOT NULL,
            run_id TEXT,
            task_id TEXT NOT NULL,
            definition_sha256 TEXT,
            source_host TEXT,
            source_path TEXT NOT NULL,
            source_size BIGINT,
            source_mtime DOUBLE PRECISION,
            sha256 TEXT,
            dest_index BIGINT,
            dest_host TEXT,
            dest_dir TEXT,
            dest_path TEXT,
            mechanism TEXT,
            bytes BIGINT,
            started_at DOUBLE PRECISION NOT NULL,
            ended_at DOUBLE PRECISION,
            outcome TEXT NOT NULL,
            verified BIGINT,
            dest_sha256 TEXT,
            reason TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS otf_files_task ON otf_files (task_id, source_path)",
        "CREATE INDEX IF NOT EXISTS otf_files_record ON otf_files (record_id)",
        "CREATE INDEX IF NOT EXISTS otf_files_started ON otf_files (started_at)",
    ],
}

#: Columns of a ledger row (``otf_files``), in table order.
FILE_COLUMNS = (
    "id",
    "record_id",
    "run_id",
    "task_id",
    "definition_sha256",
    "source_host",
    "source_path",
    "source_size",
    "source_mtime",
    "sha256",
    "dest_index",
    "dest_host",
    "dest_dir",
    "dest_path",
    "mechanism",
    "bytes",
    "started_at",
    "ended_at",
    "outcome",
    "verified",
    "dest_sha256",
    "reason",
)

#: Columns written when a run starts (the rest are filled in later).
START_COLUMNS = (
    "id",
    "run_id",
    "root_id",
    "parent_id",
    "order_id",
    "task_id",
    "task_type",
    "config_dir",
    "definition_sha256",
    "host",
    "pid",
    "proc_start",
    "user_name",
    "started_at",
    "outcome",
    "log_file",
    "stall_limit",
    "heartbeat_at",
    "progress_at",
)

#: Columns written when a run ends.
END_COLUMNS = (
    "ended_at",
    "duration",
    "outcome",
    "error_class",
    "reason",
    "log_file",
    "progress",
)

#: Columns read back (``otf-runs``).
READ_COLUMNS = (
    *START_COLUMNS,
    "ended_at",
    "duration",
    "error_class",
    "reason",
    "progress",
    "kill_requested_at",
    "kill_requested_by",
)

#: Outcomes: ``running`` until the end is recorded.
RUNNING = "running"
SUCCESS = "success"
FAILED = "failed"
KILLED = "killed"

#: Ledger outcomes of one file x destination.
DELIVERED = "delivered"
SKIPPED = "skipped"
