"""Protocol name -> handler class resolution."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from opentaskpy.exceptions import UnknownProtocolError
from opentaskpy.remotehandlers.dummy import DummyTransfer
from opentaskpy.remotehandlers.local import LocalExecution, LocalTransfer
from opentaskpy.taskhandlers import protocols
from opentaskpy.taskhandlers.protocols import resolve_protocol


def test_builtin_names_resolve_per_task_type() -> None:
    assert resolve_protocol("local", "T") is LocalTransfer
    assert resolve_protocol("local", "E") is LocalExecution
    assert resolve_protocol("dummy", "T") is DummyTransfer
    assert (
        protocols.class_path("ssh", "T") == "opentaskpy.remotehandlers.ssh.SSHTransfer"
    )
    assert (
        protocols.class_path("ssh", "E") == "opentaskpy.remotehandlers.ssh.SSHExecution"
    )


def test_dotted_paths_go_through_the_same_import() -> None:
    assert (
        resolve_protocol("opentaskpy.remotehandlers.local.LocalTransfer", "T")
        is LocalTransfer
    )


def test_name_without_module_is_unknown() -> None:
    with pytest.raises(UnknownProtocolError, match="^Unknown protocol nosuch$"):
        resolve_protocol("nosuch", "T")
    with pytest.raises(UnknownProtocolError, match="^Unknown protocol dummy$"):
        resolve_protocol("dummy", "E")  # not an execution protocol


def test_unimportable_module_is_unknown_and_chained() -> None:
    with pytest.raises(
        UnknownProtocolError,
        match="^Unknown protocol no.such.module.Handler: cannot import module no.such.module",
    ) as info:
        resolve_protocol("no.such.module.Handler", "T")
    assert isinstance(info.value.__cause__, ImportError)


def test_missing_class_names_module_and_class() -> None:
    with pytest.raises(
        UnknownProtocolError,
        match="module opentaskpy.remotehandlers.local has no class Nope",
    ) as info:
        resolve_protocol("opentaskpy.remotehandlers.local.Nope", "T")
    assert isinstance(info.value, AttributeError)  # what the reference raises


def test_class_of_the_wrong_kind_is_rejected() -> None:
    with pytest.raises(
        UnknownProtocolError, match="is not a RemoteTransferHandler subclass"
    ):
        resolve_protocol("transfer_helpers.NotAHandler", "T")
    with pytest.raises(
        UnknownProtocolError,
        match="LocalTransfer is not a RemoteExecutionHandler subclass",
    ):
        resolve_protocol("opentaskpy.remotehandlers.local.LocalTransfer", "E")


def test_concurrent_resolution_imports_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "slow_proto_mod.py"
    module.write_text(
        "import time\n"
        "from opentaskpy.remotehandlers.local import LocalTransfer\n"
        f"open({str(tmp_path / 'imports.log')!r}, 'a').write('imported\\n')\n"
        "time.sleep(0.3)\n"
        "class Slow(LocalTransfer):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_proto_mod", raising=False)
    results: list[type] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(5)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(resolve_protocol("slow_proto_mod.Slow", "T"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 5 and len(set(results)) == 1
    assert (tmp_path / "imports.log").read_text() == "imported\n"
    assert protocols._cache["T"]["slow_proto_mod.Slow"] is results[0]
