"""The example addon in examples/addons runs through the real CLI, and its own tests pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.helpers import REPO_ROOT, write_json

EXAMPLE = REPO_ROOT / "examples" / "addons" / "otf-addons-example"
pytest.importorskip(
    "opentaskpy.addons.example.remotehandlers.folder",
    reason="example addon not installed (scripts/install-addons.sh)",
)
FOLDER = {"name": "opentaskpy.addons.example.remotehandlers.folder.FolderTransfer"}


def test_example_addon_own_tests_pass(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(EXAMPLE / "tests"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=EXAMPLE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_example_folder_transfer_through_cli(task_run, cfg_dir: Path, tmp_path) -> None:
    src, dst = tmp_path / "bucket-a", tmp_path / "bucket-b"
    (src / "in").mkdir(parents=True)
    (src / "in" / "r1.csv").write_text("a,b\n")
    write_json(
        cfg_dir / "folder-copy.json",
        {
            "type": "transfer",
            "source": {
                "bucket": str(src),
                "directory": "in",
                "fileRegex": r"r\d\.csv",
                "fileWatch": {"timeout": 1},
                "postCopyAction": {"action": "delete"},
                "protocol": FOLDER,
            },
            "destination": [
                {
                    "bucket": str(dst),
                    "directory": "out",
                    "flags": {"fullPath": "out/r.done"},
                    "protocol": FOLDER,
                }
            ],
        },
    )
    result = task_run("-t", "folder-copy", "-c", cfg_dir, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (dst / "out" / "r1.csv").read_text() == "a,b\n"
    assert (dst / "out" / "r.done").exists()
    assert not (src / "in" / "r1.csv").exists()
    log = "".join(p.read_text() for p in Path("logs/folder-copy").glob("*_T.log"))
    assert "Copying " in log  # the addon's logger writes into the task log


def test_example_schema_error_through_cli(task_run, cfg_dir: Path) -> None:
    write_json(
        cfg_dir / "folder-bad.json",
        {
            "type": "transfer",
            "source": {"bucket": "relative/path", "fileRegex": "x", "protocol": FOLDER},
        },
    )
    result = task_run("-t", "folder-bad", "-c", cfg_dir, timeout=60)
    assert result.returncode == 1
    assert "bucket" in result.stderr + result.stdout
