"""A picture of a batch: Mermaid, Graphviz DOT, or SVG through ``dot``.

Steps are nodes (order id, task id, type and protocol, and the flow-control
fields that change how they run); dependencies are edges labelled with what
they wait for. Given the outcomes of a run, nodes are coloured by outcome.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

from opentaskpy.config.batch_spec import ON_SUCCESS, dependencies_of

COLOURS = {
    "success": "#c8e6c9",
    "failure": "#ffcdd2",
    "timeout": "#ffe0b2",
    "killed": "#ffe0b2",
    "skipped": "#eeeeee",
}
_MARK = re.compile(r"ORDER_ID::(\d+)::TASK::.*::([A-Z_]+)\s*$")
_STATUS_OUTCOME = {"COMPLETED": "success", "FAILED": "failure", "SKIPPED": "skipped"}


class GraphError(Exception):
    """The picture cannot be made (e.g. Graphviz is not installed)."""


def describe_steps(loader: Any, batch: dict) -> list[dict[str, Any]]:
    """Return one node description per step of ``batch`` (in order id order)."""
    nodes = []
    for entry in sorted(batch.get("tasks") or [], key=lambda e: e["order_id"]):
        lines = [f"{entry['order_id']}: {entry['task_id']}"]
        lines.append(_kind(loader, entry))
        extras = [f"timeout {entry.get('timeout', 300)} s"]
        if entry.get("retries"):
            extras.append(f"retries {entry['retries']}")
        if "foreach" in entry:
            extras.append(f"foreach {_short(entry['foreach'])}")
        lines.append(", ".join(extras))
        for key in ("skip_if", "check"):
            if key in entry:
                lines.append(f"{key}: {_short(entry[key])}")
        nodes.append(
            {
                "id": f"s{entry['order_id']}",
                "order_id": entry["order_id"],
                "lines": lines,
                "deps": dependencies_of(entry),
            }
        )
    return nodes


def _short(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(loader: Any, entry: dict) -> str:
    try:
        definition = loader.load_task_definition(
            entry["task_id"], extra_variables={"item": "", "item_index": 0}
        )
    except Exception:  # noqa: BLE001 - the validator reports it
        return "unknown task"
    kind = str(definition.get("type", "?"))
    if kind == "execution":
        return f"execution ({(definition.get('protocol') or {}).get('name', '?')})"
    if kind == "transfer":
        source = ((definition.get("source") or {}).get("protocol") or {}).get("name")
        dests = [
            (d.get("protocol") or {}).get("name", "?")
            for d in definition.get("destination") or []
        ]
        return f"transfer ({source} -> {', '.join(dests) or 'none'})"
    return kind


def mermaid(nodes: list[dict], outcomes: dict[int, str] | None = None) -> str:
    """Render the nodes as a Mermaid flowchart."""
    out = ["flowchart TD"]
    for node in nodes:
        label = "<br/>".join(_mermaid_text(line) for line in node["lines"])
        out.append(f'    {node["id"]}["{label}"]')
    for node in nodes:
        for dep in node["deps"]:
            if dep.on == ON_SUCCESS:
                out.append(f"    s{dep.order_id} --> {node['id']}")
            else:
                out.append(f"    s{dep.order_id} -. {dep.on} .-> {node['id']}")
    for outcome, colour in COLOURS.items():
        members = [
            n["id"] for n in nodes if (outcomes or {}).get(n["order_id"]) == outcome
        ]
        if members:
            out.append(f"    classDef {outcome} fill:{colour}")
            out.append(f"    class {','.join(members)} {outcome}")
    return "\n".join(out) + "\n"


def _mermaid_text(text: str) -> str:
    return (
        text.replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
    )


def dot(nodes: list[dict], name: str, outcomes: dict[int, str] | None = None) -> str:
    """Render the nodes as a Graphviz DOT digraph."""
    out = [f"digraph {_dot_string(name)} {{", "    node [shape=box];"]
    for node in nodes:
        label = "\\n".join(_dot_escape(line) for line in node["lines"])
        attrs = [f'label="{label}"']
        outcome = (outcomes or {}).get(node["order_id"])
        if outcome in COLOURS:
            attrs.append(f'style=filled, fillcolor="{COLOURS[outcome]}"')
        out.append(f"    {node['id']} [{', '.join(attrs)}];")
    for node in nodes:
        for dep in node["deps"]:
            edge = f"    s{dep.order_id} -> {node['id']}"
            if dep.on != ON_SUCCESS:
                edge += f' [label="{dep.on}", style=dashed]'
            out.append(edge + ";")
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot_string(text: str) -> str:
    return f'"{_dot_escape(text)}"'


def svg(dot_text: str) -> str:
    """Render DOT text to SVG with Graphviz.

    Raises:
        GraphError: ``dot`` is not installed or fails.
    """
    program = shutil.which("dot")
    if program is None:
        raise GraphError(
            "--graph svg needs the Graphviz 'dot' command, which is not installed "
            "(install graphviz, or use --graph dot and render it elsewhere)"
        )
    proc = subprocess.run(
        [program, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        raise GraphError(f"dot failed: {proc.stderr.strip()}")
    return proc.stdout


def run_outcomes(run_id: str, task_id: str) -> dict[int, str]:
    """Return the step outcomes of batch ``task_id`` in run ``run_id``.

    Read from the resume markers of the run's batch log
    (``<log dir>/<run id>/*_B_<task id>*.log``): this is the one place to
    point at the run records store when it exists.

    Raises:
        GraphError: the run has no log of this batch.
    """
    directory = os.path.join(os.environ.get("OTF_LOG_DIRECTORY", "logs"), run_id)
    suffixes = (f"_B_{task_id}.log", f"_B_{task_id}_failed.log")
    try:
        logs = sorted(n for n in os.listdir(directory) if n.endswith(suffixes))
    except OSError:
        logs = []
    if not logs:
        raise GraphError(f"no log of batch {task_id} in run {run_id} ({directory})")
    outcomes: dict[int, str] = {}
    with open(
        os.path.join(directory, logs[-1]), encoding="utf-8", errors="replace"
    ) as log:
        for line in log:
            found = _MARK.search(line)
            if found:
                outcomes[int(found.group(1))] = _STATUS_OUTCOME.get(
                    found.group(2), "failure"
                )
    return outcomes
