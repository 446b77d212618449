"""Built-in lookup plugin ``file``."""

from __future__ import annotations

from pathlib import Path

import pytest

from opentaskpy.exceptions import LookupPluginError
from opentaskpy.plugins.lookup import file


def test_first_line_stripped(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("\t value one \nline two\n")
    assert file.PLUGIN_NAME == "file"
    assert file.run(path=str(path)) == "value one"
    assert file.run(path=str(path), globals={}) == "value one"


def test_missing_kwarg() -> None:
    with pytest.raises(LookupPluginError) as info:
        file.run()
    assert str(info.value) == (
        "Missing kwarg: 'path' while trying to run lookup plugin 'file'"
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        file.run(path=str(tmp_path))
    assert str(info.value) == (
        f"File {tmp_path} does not exist while trying to run lookup plugin 'file'"
    )
