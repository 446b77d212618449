"""otf-batch-validator --graph: Mermaid and DOT structure, SVG through dot."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.flow import batch_task, exec_task, run_validator


def _graph_batch(cfg: Path, workdir: Path) -> None:
    exec_task(cfg, "load", "true", workdir)
    exec_task(cfg, "fails", "exit 1", workdir)
    exec_task(cfg, "cleanup", "true", workdir)
    exec_task(cfg, "notify", "true", workdir)
    batch_task(
        cfg,
        "pictured",
        [
            {"order_id": 1, "task_id": "load", "retries": 2, "timeout": 60},
            {"order_id": 2, "task_id": "fails", "dependencies": [1]},
            {
                "order_id": 3,
                "task_id": "cleanup",
                "dependencies": [{"order_id": 2, "on": "failure"}],
                "skip_if": "false",
            },
            {
                "order_id": 4,
                "task_id": "notify",
                "dependencies": [{"order_id": 2, "on": "any"}],
                "foreach": ["a", "b"],
            },
        ],
    )


def _picture(
    cfg: Path, kind: str, cwd: Path, *more: str
) -> subprocess.CompletedProcess:
    """``otf-batch-validator -t pictured --graph KIND`` (plus ``more``)."""
    return run_validator("-t", "pictured", "-c", cfg, "--graph", kind, *more, cwd=cwd)


def test_mermaid(cfg_dir: Path, tmp_path: Path, isolated_env: Path):
    _graph_batch(cfg_dir, tmp_path)
    proc = _picture(cfg_dir, "mermaid", isolated_env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    nodes = {
        m.group(1): m.group(2)
        for ln in lines
        if (m := re.fullmatch(r'    (s\d+)\["(.*)"\]', ln))
    }
    assert sorted(nodes) == ["s1", "s2", "s3", "s4"]
    assert nodes["s1"].startswith(
        "1: load<br/>execution (local)<br/>timeout 60 s, retries 2"
    )
    assert "skip_if: false" in nodes["s3"]
    assert "foreach ['a', 'b']" in nodes["s4"]
    edges = [ln.strip() for ln in lines if "-->" in ln or ".->" in ln]
    assert sorted(edges) == [
        "s1 --> s2",
        "s2 -. any .-> s4",
        "s2 -. failure .-> s3",
    ]


def test_dot_and_outcome_colours(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, task_run
):
    _graph_batch(cfg_dir, tmp_path)
    assert task_run("-t", "pictured", "-c", cfg_dir, "-r", "run42").returncode == 1
    proc = _picture(cfg_dir, "dot", isolated_env, "-r", "run42")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith('digraph "pictured" {')
    assert text.rstrip().endswith("}")
    nodes = dict(re.findall(r"^    (s\d+) \[(.*)\];$", text, re.M))
    assert sorted(nodes) == ["s1", "s2", "s3", "s4"]
    assert 'fillcolor="#c8e6c9"' in nodes["s1"]  # load succeeded
    assert 'fillcolor="#ffcdd2"' in nodes["s2"]  # fails failed
    edges = re.findall(
        r"^    (s\d+) -> (s\d+)(?: \[label=\"(\w+)\".*\])?;$", text, re.M
    )
    assert sorted(edges) == [
        ("s1", "s2", ""),
        ("s2", "s3", "failure"),
        ("s2", "s4", "any"),
    ]


def test_svg(cfg_dir: Path, tmp_path: Path, isolated_env: Path):
    _graph_batch(cfg_dir, tmp_path)
    proc = _picture(cfg_dir, "svg", isolated_env)
    if shutil.which("dot") is None:
        assert proc.returncode == 1
        assert "needs the Graphviz 'dot' command" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    assert "<svg" in proc.stdout
    assert "1: load" in proc.stdout


def test_svg_without_graphviz(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
):
    _graph_batch(cfg_dir, tmp_path)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    proc = _picture(cfg_dir, "svg", isolated_env)
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1
    assert lines[0].startswith("otf-batch-validator: error: --graph svg needs")
    assert "needs the Graphviz 'dot' command, which is not installed" in lines[0]
    assert "Traceback" not in proc.stderr


def test_unknown_run_id(cfg_dir: Path, tmp_path: Path, isolated_env: Path):
    _graph_batch(cfg_dir, tmp_path)
    proc = _picture(cfg_dir, "dot", isolated_env, "-r", "nope")
    assert proc.returncode == 1
    assert "no log of batch pictured in run nope" in proc.stderr
    assert "Traceback" not in proc.stderr
