"""DummyTransfer: no files, a fresh accessToken, cacheable variables."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from opentaskpy.remotehandlers.dummy import DummyTransfer
from opentaskpy.taskhandlers.transfer import Transfer


def test_constructor_sets_random_token_and_nothing_else() -> None:
    spec = {"task_id": "d", "protocol": {"name": "dummy"}, "accessToken": "old"}
    h = DummyTransfer(spec)
    assert isinstance(spec["accessToken"], int) and 1 <= spec["accessToken"] <= 100000
    assert (
        h.list_files() == {} and h.list_files(directory="/x", file_pattern=".*") == {}
    )
    assert h.pull_files_to_worker({}, "/x") == 0 and h.handle_post_copy_action({}) == 0
    assert h.supports_direct_transfer() is False
    with pytest.raises(NotImplementedError):
        h.push_files_from_worker("/x")


def test_transfer_with_dummy_source_and_no_destination_succeeds() -> None:
    definition = {"type": "transfer", "source": {"protocol": {"name": "dummy"}}}
    assert Transfer(None, "dummy-only", definition).run() is True


def test_dummy_to_local_destination_pushes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTF_STAGING_DIR", str(tmp_path / "staging"))
    dst = tmp_path / "dst"
    dst.mkdir()
    definition = {
        "type": "transfer",
        "source": {"protocol": {"name": "dummy"}},
        "destination": [{"directory": str(dst), "protocol": {"name": "local"}}],
    }
    obj = Transfer(None, "dummy-dest", definition)
    assert obj.run() is True
    assert os.listdir(dst) == []
    # (upstream quirk, kept) the staging directory is left with nothing but
    # its owner file (which lets a later run remove it); it is private
    assert os.listdir(obj.local_staging_dir) == [".otf-owner"]
    assert stat.S_IMODE(os.stat(obj.local_staging_dir).st_mode) == 0o700
    assert obj.run() is True  # a second run reuses it


def test_cacheable_variables_write_the_token(tmp_path: Path) -> None:
    pytest.importorskip("opentaskpy.config.variablecaching.cache_utils")
    cache = tmp_path / "token.txt"
    cache.write_text("0")
    source = {
        "protocol": {"name": "dummy"},
        "cacheableVariables": [
            {
                "variableName": "accessToken",
                "cachingPlugin": "file",
                "cacheArgs": {"file": str(cache)},
            }
        ],
    }
    assert (
        Transfer(None, "dummy-cache", {"type": "transfer", "source": source}).run()
        is True
    )
    assert re.fullmatch(r"\d+", cache.read_text())
    assert cache.read_text() == str(source["accessToken"])


def test_invalid_variable_name_raises_from_constructor() -> None:
    pytest.importorskip("opentaskpy.config.variablecaching.cache_utils")
    spec = {
        "task_id": "d",
        "protocol": {"name": "dummy"},
        "cacheableVariables": [
            {
                "variableName": "bad name!",
                "cachingPlugin": "file",
                "cacheArgs": {"file": "/x"},
            }
        ],
    }
    with pytest.raises(ValueError, match="not a valid variable name"):
        DummyTransfer(spec)
