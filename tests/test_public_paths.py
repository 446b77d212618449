"""Every module path and name that the Python API and docs/addons.md document imports.

Modules that moved to another package stay importable at their documented
path (a thin re-export); this test fails when one of them goes missing.
"""

from __future__ import annotations

import importlib

import pytest

#: module path -> names documented there.
DOCUMENTED: dict[str, tuple[str, ...]] = {
    "opentaskpy.taskrun": ("TaskRun", "GLOBAL_VERBOSITY"),
    "opentaskpy.taskhandlers.taskhandler": (
        "TaskHandler",
        "DefaultProtocolCharacteristics",
    ),
    "opentaskpy.taskhandlers.transfer": (
        "Transfer",
        "TASK_TYPE",
        "DEFAULT_STAGING_DIR_BASE",
    ),
    "opentaskpy.taskhandlers.execution": ("Execution", "TASK_TYPE"),
    "opentaskpy.taskhandlers.batch": (
        "Batch",
        "DEFAULT_TASK_TIMEOUT",
        "DEFAULT_TASK_CONTINUE_ON_FAIL",
        "DEFAULT_TASK_RETRY_ON_RERUN",
        "DEFAULT_TASK_EXIT_CODE",
        "TASK_TYPE",
        "BATCH_TASK_LOG_MARKER",
        "DEFAULT_BATCH_POLL_INTERVAL",
    ),
    "opentaskpy.remotehandlers.remotehandler": (
        "RemoteHandler",
        "RemoteTransferHandler",
        "RemoteExecutionHandler",
    ),
    "opentaskpy.remotehandlers.ssh": (
        "SSHTransfer",
        "SSHExecution",
        "log_stdout",
        "mkdir_p",
        "SSH_OPTIONS",
        "REMOTE_SCRIPT_BASE_DIR",
    ),
    "opentaskpy.remotehandlers.ssh_utils": ("setup_host_key_validation",),
    "opentaskpy.remotehandlers.sftp": ("SFTPTransfer",),
    "opentaskpy.remotehandlers.local": (
        "LocalTransfer",
        "LocalExecution",
        "log_stdout",
    ),
    "opentaskpy.remotehandlers.email": ("EmailTransfer",),
    "opentaskpy.remotehandlers.dummy": ("DummyTransfer",),
    # docs/addons.md: streaming and the file-system interface.
    "opentaskpy.remotehandlers.streaming": (
        "Content",
        "source_stream",
        "worker_file",
    ),
    "opentaskpy.remotehandlers.fileops": ("FileSystem", "FileStat"),
    "opentaskpy.config.loader": ("ConfigLoader", "LazyResolvedDict", "MAX_DEPTH"),
    "opentaskpy.config.schemas": (
        "validate_transfer_json",
        "validate_execution_json",
        "validate_batch_json",
    ),
    "opentaskpy.config.variablecaching.cache_utils": (
        "update_cache",
        "DEFAULT_CACHE_PLUGINS",
    ),
    "opentaskpy.config.variablecaching.file": ("run", "CACHE_NAME"),
    "opentaskpy.otflogging": (
        "init_logging",
        "set_log_file",
        "close_log_file",
        "get_latest_log_file",
        "redact",
        "OTF_LOG_FORMAT",
        "LOG_DIRECTORY",
        "JSONFormatter",
        "escape_controls",
    ),
    "opentaskpy.exceptions": ("classify", "LookupPluginError"),
    "opentaskpy.cli.task_run": ("main", "CONFIG_PATH"),
    "opentaskpy.cli.batch_validator": ("main", "CONFIG_PATH"),
}


@pytest.mark.parametrize("module", sorted(DOCUMENTED))
def test_documented_names_import(module):
    loaded = importlib.import_module(module)
    missing = [name for name in DOCUMENTED[module] if not hasattr(loaded, name)]
    assert not missing, f"{module} lacks {missing}"


def test_taskhandlers_package_exposes_its_modules():
    from opentaskpy.taskhandlers import batch, execution, transfer

    assert batch.Batch and execution.Execution and transfer.Transfer


def test_re_exported_names_are_the_moved_objects():
    """The old paths hand out the very classes the framework uses."""
    from opentaskpy.fs import fileops as moved
    from opentaskpy.fs.localfs import LocalFileSystem
    from opentaskpy.remotehandlers import fileops, streaming

    assert fileops.FileSystem is moved.FileSystem
    assert issubclass(LocalFileSystem, fileops.FileSystem)
    assert isinstance(streaming.worker_file(__file__), streaming.Content)
