"""Text of a plan for people (``task-run --plan``; ``--json`` prints the dict)."""

from __future__ import annotations

import json
import time
from typing import Any


def render(plan: dict[str, Any], notes: list[str] | None = None) -> str:
    """Return the plan as indented text lines."""
    lines: list[str] = []
    _task(plan, lines, "")
    for note in notes or []:
        lines.append(f"note: {note}")
    lines.append("Nothing was run, sent or written (plan only).")
    return "\n".join(lines) + "\n"


def _task(plan: dict[str, Any], lines: list[str], pad: str) -> None:
    lines.append(f"{pad}Plan of {plan.get('type')} {plan.get('task_id')}")
    if plan.get("error"):
        lines.append(f"{pad}  error: {plan['error']}")
    kind = plan.get("type")
    if kind == "transfer":
        _transfer(plan, lines, pad + "  ")
    elif kind == "execution":
        _execution(plan, lines, pad + "  ")
    elif kind == "batch":
        _batch(plan, lines, pad + "  ")


def _where(end: dict[str, Any]) -> str:
    host = end.get("hostname")
    place = f"{host}:{end.get('directory', '')}" if host else end.get("directory", "")
    return f"{end.get('protocol')} {place}".rstrip()


def _stamp(mtime: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(mtime))


def _transfer(plan: dict[str, Any], lines: list[str], pad: str) -> None:
    source = plan["source"]
    pattern = source.get("fileRegex")
    lines.append(f"{pad}source: {_where(source)} (files matching {pattern})")
    if source.get("conditionals"):
        lines.append(f"{pad}  conditionals: {json.dumps(source['conditionals'])}")
    for condition in plan.get("conditions") or []:
        what = {k: v for k, v in condition.items() if k != "kind"}
        lines.append(
            f"{pad}condition (not waited for): {condition['kind']} {json.dumps(what)}"
        )
    lines.append(f"{pad}{len(plan.get('files') or [])} file(s) would be sent")
    for path in plan.get("excluded_by_conditionals") or []:
        lines.append(f"{pad}  excluded by conditionals: {path}")
    if plan.get("outcome_if_run"):
        lines.append(f"{pad}a run {plan['outcome_if_run']}")
    for dest in plan.get("destinations") or []:
        target = _where(dest)
        if dest.get("recipients"):
            target += " to " + ", ".join(dest["recipients"])
        lines.append(f"{pad}destination {dest['index']}: {target}")
        for entry in dest["files"]:
            state = {True: "already delivered (ledger)", False: "to send"}.get(
                entry["delivered"], "to send (ledger unknown)"
            )
            lines.append(
                f"{pad}  {entry['source_path']}  {entry['size']} B  "
                f"{_stamp(entry['mtime'])}  -> {entry['dest_path']}  [{state}]"
            )
        if dest.get("also"):
            lines.append(f"{pad}  also: {json.dumps(dest['also'])}")
    action = plan.get("post_copy_action")
    if action:
        kind = action["action"]
        lines.append(f"{pad}then, after every destination succeeded: {kind}")
        for step in action["files"]:
            target = f" -> {step['target']}" if step.get("target") else ""
            lines.append(f"{pad}  {step['source_path']}{target}")


def _execution(plan: dict[str, Any], lines: list[str], pad: str) -> None:
    lines.append(f"{pad}{plan.get('protocol')} on {', '.join(plan.get('hosts') or [])}")
    if plan.get("directory"):
        lines.append(f"{pad}in {plan['directory']}")
    lines.append(f"{pad}command: {plan.get('command')}")


def _batch(plan: dict[str, Any], lines: list[str], pad: str) -> None:
    resume = plan.get("resume") or {}
    if resume.get("from"):
        where = resume.get("run") or resume.get("log")
        lines.append(f"{pad}resume: from {resume['from']} {where}")
    if resume.get("note"):
        lines.append(f"{pad}resume: {resume['note']}")
    for step in plan.get("steps") or []:
        label = f"{step['order_id']} ({step['task_id']})"
        if step["skipped_on_resume"]:
            lines.append(f"{pad}step {label}: skipped on resume (succeeded last time)")
            continue
        wave = "never starts" if step["wave"] is None else f"wave {step['wave']}"
        after = ", ".join(
            f"{d['order_id']}" + ("" if d["on"] == "success" else f" ({d['on']})")
            for d in step["depends_on"]
        )
        lines.append(
            f"{pad}step {label}: {wave}" + (f", after {after}" if after else "")
        )
        for key in ("skip_if", "check", "retries", "never_starts", "error"):
            if key in step:
                lines.append(f"{pad}  {key}: {step[key]}")
        if step.get("plan"):
            _task(step["plan"], lines, pad + "  ")
        for instance in step.get("instances") or []:
            if instance.get("skipped_on_resume"):
                lines.append(
                    f"{pad}  item {instance['number']} ({instance['item']}): "
                    "skipped on resume"
                )
            elif instance.get("plan"):
                lines.append(f"{pad}  item {instance['number']} ({instance['item']}):")
                _task(instance["plan"], lines, pad + "    ")
            elif instance.get("error"):
                lines.append(f"{pad}  error: {instance['error']}")
