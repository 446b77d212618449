"""``task-run``: run one task from a configuration directory.

Also runnable as a script (``python src/opentaskpy/cli/task_run.py -t X``);
everything is imported absolutely from the installed package.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from opentaskpy import otflogging
from opentaskpy.cli import ending
from opentaskpy.cli.extras import add_version_option, list_tasks, require_task_id
from opentaskpy.taskrun import TaskRun
from opentaskpy.verbosity import CLI_HELP, VERBOSE2, cli_level

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any, NoReturn

PROG = "task-run"
CONFIG_PATH = f"{os.getcwd()}/cfg"

EPILOG = """\
Environment variables:
  OTF_LOG_DIRECTORY          base directory for log files (default: logs)
  OTF_NO_LOG                 if set, write no log files (stderr only)
  OTF_LOG_JSON=1             log in JSON format
  OTF_LOG_LEVEL              level name applied to every OTF logger
  OTF_LOG_INIT_EVENTS=1      log each logger initialisation
  OTF_RUN_ID                 group all log files under <logdir>/<run id>/
  OTF_VARIABLES_FILE         comma-separated variables files to use instead
  OTF_LAZY_LOAD_VARIABLES=1  resolve variables only when a task uses them
  OTF_SSH_KEY                private key used for SSH/SFTP connections
  OTF_KNOWN_HOSTS_FILE       trust-on-first-use known_hosts file
                             (default: ~/.ssh/known_hosts)
  OTF_SSH_RETRY_ATTEMPTS, OTF_SSH_RETRY_WAIT_SCALE
                             SSH/SFTP connection attempts (6) and wait factor
  OTF_SSH_NO_PROGRESS_TIMEOUT
                             seconds a host may stop answering before the run
                             gives up on it (default: 60)
  OTF_STAGING_DIR            base directory for the local staging directory
  OTF_SFTP_FILES_IN_FLIGHT   files sent at once over one SSH/SFTP connection,
                             one SFTP channel each (default 4, 1 = one by one)
  OTF_SFTP_GROUP_FILES       small streamed files taken through each step
                             together (default 32, 1 = each on its own)
  OTF_PARTIAL_MAX_AGE_SECONDS
                             age after which leftovers of other runs are
                             removed even if their owner may live (86400)
  OTF_VALIDATION_CACHE_DIR   where definitions that passed validation are
                             remembered (default: $XDG_CACHE_HOME or ~/.cache,
                             then opentaskpy/validation)
  OTF_VALIDATION_CACHE=0     always validate (no validation cache)
  OTF_PARAMIKO_ULTRA_DEBUG=1 very verbose SFTP client logging
  OTF_RUNS_DB                run store: SQLite file, postgresql:// URL or off
                             (default: ~/.local/state/opentaskpy/runs.sqlite3;
                             see otf-runs and docs/runs.md)
  OTF_RUNS_HOST, OTF_RUNS_HEARTBEAT, OTF_RUNS_STALL_SECONDS,
  OTF_RUNS_BUSY_SECONDS      host name recorded, heartbeat (5 s), stall limit,
                             SQLite busy wait (10 s)
  OTF_LOCK=0, OTF_LOCK_WAIT  no overlap lock / seconds to wait for a running
                             run of the same definition (default 0)
  OTF_BATCH_MAX_CONCURRENCY  most batch steps running at once (default: no cap)
  OTF_SSH_SHARE_CONNECTIONS=0
                             one SSH connection per batch step (default: the
                             steps of a batch share one per host)
  OTF_BATCH_RESUME_LOG_DATE  YYYYMMDD: resume a batch from that day's log
  OTF_STALE_RUNNING_LOG_SECONDS  resume from _running batch logs this old
  OTF_BATCH_POLL_INTERVAL, OTF_NO_THREAD_SLEEP
                             accepted for compatibility; unused (the batch
                             scheduler starts steps as soon as they can run)
  OTF_LOG_MEMORY_USAGE       log process memory while a batch runs
  OTF_RETRIES, OTF_RETRY_DELAY, OTF_RETRY_BACKOFF, OTF_RETRY_MAX_DELAY,
  OTF_RETRY_ON               retry a failed transfer or execution (see
                             docs/batches.md; batch steps have their own)
  OTF_SUMMARY_FILE           write a JSON summary of the run there (as
                             --summary)
  OTF_EXIT_CODES=detailed    one exit code per class of failure (default:
                             1 for every failure); see docs/runs.md
  OTF_PROGRESS=0             no live progress line on a terminal
  OTF_VERIFY=1               verify every destination's copy (sha256) before
                             it is published; see docs/runs.md
  OTF_RESEND=1               send every file again, whatever the delivery
                             ledger says
  OTF_LEDGER_HASH=0          no in-stream sha256 for the delivery ledger
  <VARIABLE> or <VAR.PATH>   override a global or task variable

Overriding task attributes:
  OTF_OVERRIDE_<TASK_TYPE>_<ATTRIBUTE>_<SUB_ATTRIBUTE>...=value
  e.g. OTF_OVERRIDE_TRANSFER_SOURCE_HOSTNAME=host2
  Use !! to separate names containing underscores:
  OTF_OVERRIDE_TRANSFER!!SOURCE!!FILE_REGEX=.*\\.csv
"""


class _HelpFormatter(argparse.RawTextHelpFormatter):
    """argparse's formatter, sized without importing ``shutil``.

    argparse builds a formatter for every ``add_argument``; without a width
    each one imports ``shutil`` (and with it ``bz2`` and ``lzma``, a few ms
    of every run's start-up) only to read the terminal width.
    """

    def __init__(self, prog: str, *args: object, **kwargs: object) -> None:
        if kwargs.get("width") is None and len(args) < 3:
            kwargs["width"] = _terminal_columns() - 2
        super().__init__(prog, *args, **kwargs)  # type: ignore[arg-type]


def _terminal_columns() -> int:
    # What shutil.get_terminal_size() answers: $COLUMNS, the terminal, or 80.
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    if sys.__stdout__ is None:
        return 80
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=_HelpFormatter,
        description="Run a task defined in an Open Task Framework config directory.",
        epilog=EPILOG,
    )
    parser.add_argument(
        "--noop", action="store_true", help="load and validate only, do not run"
    )
    parser.add_argument("-t", "--taskId", type=str, help="id of the task to run")
    parser.add_argument(
        "--list", action="store_true", help="list the task ids of the config directory"
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="show what the task would do (files per destination, steps) and exit",
    )
    parser.add_argument("--json", action="store_true", help="with --plan: as JSON")
    add_version_option(parser)
    parser.add_argument(
        "-r", "--runId", type=str, help="run id used to group log files"
    )
    parser.add_argument(
        "-v",
        "--verbosity",
        type=int,
        help=f"{CLI_HELP} (default INFO)",
    )
    parser.add_argument(
        "-c", "--configDir", type=str, help=f"config directory (default {CONFIG_PATH})"
    )
    parser.add_argument(
        "--summary",
        metavar="FILE",
        help="write a JSON summary of the run to FILE at its end (success, "
        "failure or kill)",
    )
    return parser


def main() -> None:
    """Parse the command line, run the task, exit with the outcome's code.

    SIGTERM, SIGINT and SIGHUP unwind the run (see :mod:`.ending`), which
    stops the commands it started and removes partial files; every way out
    goes through :func:`ending.finish` (logs, summary, exit code).
    """
    parser = _parser()
    args = parser.parse_args()
    require_task_id(parser, args, "list")
    if args.list:
        sys.exit(list_tasks(args.configDir or CONFIG_PATH))
    if args.plan:  # prints and exits: no summary, record or log
        from opentaskpy.cli.plan import run_plan

        sys.exit(run_plan(args, args.configDir or CONFIG_PATH))
    try:
        ending.start(args.taskId, args.summary)
    except ValueError as exc:
        _error_line(str(exc), args.taskId)
        sys.exit(1)
    from opentaskpy.runs.recorder import recording

    config_dir = args.configDir or CONFIG_PATH
    # The run record closes last: it sees the final exit code and log names.
    with recording(args.taskId, config_dir, args.noop, args.runId) as record:
        try:
            _main(args, record)
        except SystemExit as exc:
            sys.exit(ending.finish(exc.code))
        except BaseException:
            ending.finish(1)  # a traceback at DEBUG level: still a summary
            raise
        code = ending.finish(0)
        if code:  # a signal came in as the run ended
            sys.exit(code)


def _main(args: argparse.Namespace, record: Any) -> None:
    """Run the task of ``args``; ``record`` is its run record (exits on failure)."""
    config_dir = args.configDir or CONFIG_PATH
    _check_ids(args.taskId, args.runId)

    if args.runId:
        os.environ["OTF_RUN_ID"] = args.runId
    os.environ["OTF_TASK_ID"] = args.taskId
    if args.noop:
        os.environ["OTF_NOOP"] = "true"
    os.environ["OTF_LOG_RUN_PREFIX"] = otflogging.run_prefix()

    level = cli_level(args.verbosity)
    try:
        logger = otflogging.init_logging(
            __name__, args.taskId, level=level, override_root_logger=True
        )
    except OSError as exc:  # the log directory cannot be created or written
        log_dir = os.environ.get("OTF_LOG_DIRECTORY") or "logs"
        reason = exc.strerror or str(exc)
        _error_line(f"log directory {log_dir}: {reason}", args.taskId)
        sys.exit(1)
    logger.log(VERBOSE2, f"Log verbosity: {args.verbosity}")
    ending.show_progress()

    # Deliberate deviation from the reference CLI: the reference lets exceptions
    # from constructing TaskRun escape as a traceback and re-raises those from
    # run() whenever the CLI logger level is <= 12 (-v 1/2/3). Here every user
    # mistake ends with one "task-run: error: <file>: ..." line on stderr and
    # exit status 1; the traceback is shown only at DEBUG (-v 3, or
    # OTF_LOG_LEVEL=DEBUG). The exit status is 1 either way.
    show_traceback = logger.getEffectiveLevel() <= logging.DEBUG

    try:
        noop = "OTF_NOOP" in os.environ
        task_run = TaskRun(args.taskId, config_dir, noop=noop, check_steps=noop)
        task_run.on_start = record.started
        record.task_run = task_run
    except Exception as exc:
        otflogging.close_log_file(logger, False)
        _fail(exc, config_dir, args.taskId, show_traceback)

    ending.RUN.task_run = task_run
    try:
        result = task_run.run()
    except Exception as exc:
        logger.error(f"Error running task: {exc}")
        otflogging.close_log_file(logger, False)
        _fail(
            exc,
            config_dir,
            args.taskId,
            show_traceback,
            task_file=task_run.task_file,
            definition=task_run.active_task_definition,
        )

    if not result:
        # The last line a user sees says what failed and why: the definition's
        # fault, or else the first error the run reported (which names the
        # host and operation), repeated after "Task completed ...".
        if task_run.failure_reason:
            ending.failed(failure_reason=task_run.failure_reason)
        _error_line(task_run.failure_reason or _cause(task_run), args.taskId)
        sys.exit(1)


def _cause(task_run: TaskRun) -> str:
    """``<task file>: [task <step>: ]<first error>`` for a failed run."""
    where = task_run.task_file or f"task {task_run.task_id}"
    found = otflogging.first_error()
    if found is None:
        return f"{where}: task failed (see its log file)"
    step, message = found
    if step and step != task_run.task_id:
        return f"{where}: task {step}: {message}"
    return f"{where}: {message}"


def _check_ids(task_id: str, run_id: str | None) -> None:
    """Exit with one line, before any log is written, for an unsafe id.

    Ids become directory and file names below the log directory; ``..`` or an
    absolute path would put the logs anywhere.
    """
    try:
        otflogging.check_task_id(task_id, "-t")
        if run_id:
            otflogging.check_run_id(run_id, "-r")
        elif os.environ.get("OTF_RUN_ID"):
            otflogging.check_run_id(os.environ["OTF_RUN_ID"], "OTF_RUN_ID")
    except otflogging.InvalidNameError as exc:
        _error_line(str(exc), task_id)
        sys.exit(1)


# Error reporting is imported only when there is an error to report: it
# costs every successful run several milliseconds of start-up.


def _error_line(message: str, task_id: str, exc: BaseException | None = None) -> None:
    from opentaskpy.cli.error_report import emit_error_line
    from opentaskpy.runs.recorder import note_failure

    note_failure(message, exc)

    ending.failed(line=message)
    emit_error_line(PROG, message, task_id)


def _fail(
    exc: Exception,
    config_dir: str,
    task_id: str,
    show_traceback: bool,
    task_file: str | None = None,
    definition: dict | None = None,
) -> NoReturn:
    """Print the one-line description; re-raise at DEBUG level, else exit 1."""
    from opentaskpy.cli.error_report import ErrorContext, describe_error

    ending.failed(exc)
    if getattr(exc, "otf_plain_line", False):  # run store and lock: said in full
        _error_line(str(exc), task_id, exc)
        sys.exit(1)
    ctx = ErrorContext(config_dir, task_id, task_file=task_file, definition=definition)
    _error_line(describe_error(exc, ctx), task_id, exc)
    if show_traceback:
        raise exc
    sys.exit(1)


if __name__ == "__main__":
    main()
