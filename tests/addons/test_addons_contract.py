"""The addon contract, proven with a test addon installed in its own directory.

``contract_addon/`` holds a portion of the ``opentaskpy`` namespace (handlers,
a lookup plugin, a caching plugin) that is put on ``sys.path`` (in-process)
or ``PYTHONPATH`` (CLI), exactly as a separately installed addon would be.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opentaskpy import exceptions, otflogging
from opentaskpy.config.loader import ConfigLoader
from opentaskpy.config.variablecaching import cache_utils
from opentaskpy.remotehandlers.remotehandler import (
    RemoteExecutionHandler,
    RemoteTransferHandler,
)
from opentaskpy.taskhandlers.execution import Execution
from opentaskpy.taskhandlers.transfer import Transfer
from support.helpers import SRC, write_json

ADDON_DIR = Path(__file__).parent / "contract_addon"
PKG = "opentaskpy.addons.contracttest.remotehandlers"
REC_T = {"name": f"{PKG}.recorder.RecorderTransfer"}
REC_E = {"name": f"{PKG}.recorder.RecorderExecution"}


@pytest.fixture
def addon_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(ADDON_DIR))
    return ADDON_DIR


def _calls(record: Path) -> list[dict]:
    return [json.loads(line) for line in record.read_text().splitlines()]


def _methods(record: Path, role: str | None = None) -> list[str]:
    return [c["method"] for c in _calls(record) if role is None or c["role"] == role]


def test_namespace_levels_have_no_init_py() -> None:
    for level in ("", "addons", "plugins", "plugins/lookup", "variablecaching"):
        assert not (SRC / "opentaskpy" / level / "__init__.py").exists(), level


def test_separately_installed_portion_contributes_all_three(addon_path: Path) -> None:
    import importlib

    echo = importlib.import_module("opentaskpy.plugins.lookup.contracttest.echo")
    memo = importlib.import_module("opentaskpy.variablecaching.contracttest.memo")
    rec = importlib.import_module(f"{PKG}.recorder")
    for module in (echo, memo, rec):
        assert str(module.__file__).startswith(str(addon_path))
    core = importlib.import_module("opentaskpy.plugins.lookup.file")
    assert str(core.__file__).startswith(str(SRC))


def test_abstract_method_sets_are_exactly_the_specified_ones() -> None:
    assert RemoteTransferHandler.__abstractmethods__ == {
        "supports_direct_transfer",
        "list_files",
        "transfer_files",
        "push_files_from_worker",
        "pull_files_to_worker",
        "pull_files",
        "move_files_to_final_location",
        "handle_post_copy_action",
    }
    assert RemoteExecutionHandler.__abstractmethods__ == {"execute"}


def test_init_logging_call_shapes_and_level_resync(caplog) -> None:
    plain = otflogging.init_logging("contract.plugin")
    assert plain.name == "contract.plugin"
    assert otflogging.init_logging("contract.plugin") is plain
    helper = otflogging.init_logging("contract.helper", None, None)
    assert helper.name == "contract.helper" and not helper.handlers
    handler_logger = otflogging.init_logging("contract.handler", "tid-1", "T")
    assert handler_logger.name == "contract.handler.tid-1"
    caplog.set_level(12)
    otflogging.init_logging("contract.plugin")
    assert plain.level == 12
    plain.log(12, "verbose from plugin")
    handler_logger = otflogging.init_logging("contract.handler", "tid-1", "T")
    handler_logger.info("into the task file")
    assert "verbose from plugin" in caplog.text  # propagates to the root
    assert "into the task file" in caplog.text
    logs = list(Path("logs/tid-1").glob("*_T_running.log"))
    assert logs and "into the task file" in logs[0].read_text()


def _transfer(tmp_path: Path, record: Path, dest: dict | None = None, **src) -> dict:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "f1.txt").write_text("1")
    return {
        "type": "transfer",
        "source": {
            "record": str(record),
            "role": "src",
            "directory": str(data),
            "fileRegex": "f1",
            "postCopyAction": {"action": "delete"},
            "protocol": dict(REC_T),
            **src,
        },
        "destination": [
            {
                "record": str(record),
                "role": "dst",
                "protocol": dict(REC_T),
                "flags": {"fullPath": "x"},
                **(dest or {}),
            }
        ],
    }


def test_transfer_call_sequence_via_worker(addon_path, tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    definition = _transfer(tmp_path, record)
    assert Transfer(None, "seq-proxy", definition).run() is True
    calls = _calls(record)
    assert [c["task_id"] for c in calls if c["method"] == "__init__"] == [
        "seq-proxy"
    ] * 2
    src = [m for m in _methods(record, "src") if m != "supports_direct_transfer"]
    assert src == [
        "__init__",
        "list_files",
        "pull_files_to_worker",
        "handle_post_copy_action",
        "tidy",
    ]
    assert _methods(record, "dst") == [
        "__init__",
        "push_files_from_worker",
        "create_flag_files",
        "tidy",
    ]
    listing = next(c for c in calls if c["method"] == "list_files")
    assert listing["directory"] == str(tmp_path / "data")
    assert listing["file_pattern"] == "f1"
    pulled = next(c for c in calls if c["method"] == "pull_files_to_worker")
    assert pulled["files_type"] == "dict"
    assert pulled["files"] == [str(tmp_path / "data" / "f1.txt")]


def test_transfer_call_sequence_direct(addon_path, tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    definition = _transfer(tmp_path, record, direct=True)
    assert Transfer(None, "seq-direct", definition).run() is True
    direct = next(c for c in _calls(record) if c["method"] == "transfer_files")
    assert direct["dest_is_handler"] is True
    assert "pull_files_to_worker" not in _methods(record)


def test_failed_push_tidies_everything_and_keeps_source(addon_path, tmp_path) -> None:
    record = tmp_path / "calls.jsonl"
    definition = _transfer(tmp_path, record, dest={"fail": "push_files_from_worker"})
    with pytest.raises(exceptions.RemoteTransferError):
        Transfer(None, "seq-fail", definition).run()
    assert _methods(record, "src")[-1] == "tidy"
    assert _methods(record, "dst")[-1] == "tidy"
    assert "handle_post_copy_action" not in _methods(record)


def test_pull_calls_destination_pull_files_with_the_source_spec(
    addon_path, tmp_path
) -> None:
    record = tmp_path / "calls.jsonl"
    definition = _transfer(tmp_path, record, dest={"transferType": "pull"}, direct=True)
    assert Transfer(None, "seq-pull", definition).run() is True
    pulled = next(c for c in _calls(record) if c["method"] == "pull_files")
    assert pulled["role"] == "dst"
    assert pulled["files"] == [str(tmp_path / "data" / "f1.txt")]
    assert pulled["extra_args"] == 1  # (files, source spec)
    assert "transfer_files" not in _methods(record)


def test_destination_constructor_failure_still_tidies_the_source(
    addon_path, tmp_path
) -> None:
    record = tmp_path / "calls.jsonl"
    definition = _transfer(tmp_path, record, dest={"raise": "__init__"})
    with pytest.raises(RuntimeError, match="recorder __init__ raised"):
        Transfer(None, "seq-init-fail", definition).run()
    assert _methods(record, "src") == ["__init__", "tidy"]
    assert (tmp_path / "data" / "f1.txt").exists()


@pytest.mark.parametrize(
    ("role", "mode", "method", "direct", "error"),
    [
        ("src", "fail", "pull_files_to_worker", False, exceptions.RemoteTransferError),
        ("src", "fail", "transfer_files", True, exceptions.RemoteTransferError),
        ("dst", "fail", "create_flag_files", False, exceptions.RemoteTransferError),
        (
            "src",
            "fail",
            "handle_post_copy_action",
            False,
            exceptions.RemoteTransferError,
        ),
        ("src", "raise", "list_files", False, RuntimeError),
        ("dst", "raise", "push_files_from_worker", False, RuntimeError),
        ("src", "raise", "handle_post_copy_action", False, Exception),
    ],
)
def test_failures_in_every_stage_fail_the_task_and_tidy_everything(
    addon_path, tmp_path, role, mode, method, direct, error
) -> None:
    record = tmp_path / "calls.jsonl"
    extra = {mode: method}
    definition = (
        _transfer(tmp_path, record, direct=direct, **extra)
        if role == "src"
        else _transfer(tmp_path, record, dest=extra, direct=direct)
    )
    with pytest.raises(error):
        Transfer(None, f"stage-{mode}-{method}", definition).run()
    assert _methods(record, "src")[-1] == "tidy"
    assert _methods(record, "dst")[-1] == "tidy"
    if method != "handle_post_copy_action":
        # Nothing is lost: no post-copy action after a failed delivery.
        assert "handle_post_copy_action" not in _methods(record)


def test_execution_that_raises_is_tidied(addon_path, tmp_path) -> None:
    record = tmp_path / "exec.jsonl"
    definition = {
        "type": "execution",
        "record": str(record),
        "raise": "execute",
        "protocol": dict(REC_E),
    }
    with pytest.raises(Exception, match="Execution"):
        Execution(None, "exec-raise", definition).run()
    assert [c["method"] for c in _calls(record)] == ["__init__", "execute", "tidy"]


def test_kill_event_calls_addon_kill_then_tidy(addon_path, tmp_path) -> None:
    import threading

    record = tmp_path / "exec.jsonl"
    definition = {
        "type": "execution",
        "record": str(record),
        "block": True,
        "protocol": dict(REC_E),
    }
    kill_event = threading.Event()
    outcome: list[bool] = []
    runner = threading.Thread(
        target=lambda: outcome.append(
            Execution(None, "exec-kill", definition).run(kill_event)
        )
    )
    runner.start()
    for _ in range(200):
        if record.exists() and "execute" in _methods(record):
            break
        threading.Event().wait(0.05)
    kill_event.set()
    runner.join(30)
    assert not runner.is_alive()
    assert outcome == [False]
    assert [c["method"] for c in _calls(record)] == [
        "__init__",
        "execute",
        "kill",
        "tidy",
    ]


@pytest.mark.parametrize(("fail", "expected"), [(None, True), ("execute", False)])
def test_execution_contract(addon_path, tmp_path: Path, fail, expected) -> None:
    record = tmp_path / "exec.jsonl"
    definition = {"type": "execution", "record": str(record), "protocol": dict(REC_E)}
    if fail:
        definition["fail"] = fail
    assert Execution(None, "exec-contract", definition).run() is expected
    calls = _calls(record)
    assert [c["method"] for c in calls] == ["__init__", "execute", "tidy"]
    assert calls[0]["task_id"] == "exec-contract"
    assert "type" in calls[0]["keys"]  # the whole definition is the spec


def test_lookup_plugin_gets_globals_and_caching_plugin(addon_path, cfg_dir, tmp_path):
    (cfg_dir / "variables.json.j2").write_text(
        '{"GREETING": "hello", '
        "\"V\": \"{{ lookup('contracttest.echo', text='{{ GREETING }}-x') }}\"}"
    )
    assert ConfigLoader(str(cfg_dir)).get_global_variables()["V"] == "hello-x|hello"
    target = tmp_path / "cached.txt"
    cache_utils.update_cache(
        {
            "variableName": "v",
            "cachingPlugin": "contracttest.memo",
            "cacheArgs": {"path": str(target)},
        },
        "new-value",
    )
    assert target.read_text() == "new-value"
    with pytest.raises(exceptions.CachingPluginError):
        cache_utils.update_cache(
            {
                "variableName": "v",
                "cachingPlugin": "contracttest.memo",
                "cacheArgs": {},
            },
            "x",
        )


def _cli_env() -> dict[str, str]:
    return {"PYTHONPATH": str(ADDON_DIR)}


def test_cli_runs_separately_installed_addon(task_run, cfg_dir, tmp_path) -> None:
    record = tmp_path / "cli.jsonl"
    write_json(cfg_dir / "cli-rec.json", _transfer(tmp_path, record))
    result = task_run("-t", "cli-rec", "-c", cfg_dir, env=_cli_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert _methods(record, "dst")[-1] == "tidy"
    log = "".join(p.read_text() for p in Path("logs/cli-rec").glob("*_T.log"))
    assert "recorder handler ready" in log


@pytest.mark.parametrize(
    ("protocol", "expected"),
    [
        ("opentaskpy.addons.nosuchaddon.remotehandlers.mod.Cls", "nosuchaddon"),
        (f"{PKG}.recorder.NotAHandler", "not a"),
        (f"{PKG}.noschema.NoSchemaTransfer", "schema"),
        (f"{PKG}.boom.BoomTransfer", "runtimeerror: addon module exploded"),
        (
            f"{PKG}.refmiss.RefMissTransfer",
            "refers to a missing file: refmiss_source/missing.json",
        ),
        (
            "opentaskpy.addons.contractbroken.remotehandlers.x.XTransfer",
            "importing schema package",
        ),
    ],
)
def test_cli_protocol_errors_are_one_clear_line(
    task_run, cfg_dir, tmp_path, protocol: str, expected: str
) -> None:
    definition = _transfer(tmp_path, tmp_path / "x.jsonl")
    definition["source"]["protocol"] = {"name": protocol}
    del definition["destination"]
    write_json(cfg_dir / "bad-proto.json", definition)
    result = task_run("-t", "bad-proto", "-c", cfg_dir, env=_cli_env(), timeout=60)
    assert result.returncode == 1
    # The CLI's own report is exactly one line naming the protocol and the
    # problem. (The task's log stream, also on stderr, may carry the
    # handler's logger.exception output, as return_result specifies.)
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("task-run: ")]
    assert len(errors) == 1, result.stderr
    assert protocol in errors[0]
    assert expected in errors[0].lower(), errors[0]
