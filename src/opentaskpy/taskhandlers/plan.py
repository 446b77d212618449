"""``task-run --plan``: what a task would do, found out without doing it.

A plan loads the task like a run, then, for a transfer, lists the source
(list and stat only: no watch is waited for, nothing is read, moved,
written or deleted anywhere) and works out, per destination, each file's
name there after ``rename`` and whether the delivery ledger says it is
there already, and the post-copy action that would follow. An execution
shows its command and hosts. A batch shows its steps in the order they
would start, which of them a resume would skip, and the plan of each step.

The plan is a plain ``dict`` (the ``--plan --json`` output);
:mod:`opentaskpy.taskhandlers.planview` turns it into text.
"""

from __future__ import annotations

import copy
import logging
import posixpath
import re
from typing import Any

from opentaskpy.fs import fileops
from opentaskpy.runs.fields import definition_sha256
from opentaskpy.taskhandlers import conditionals
from opentaskpy.taskhandlers.planbatch import plan_batch
from opentaskpy.taskhandlers.planrecords import PlanRecords
from opentaskpy.taskhandlers.protocols import resolve_protocol

_QUIET = logging.getLogger("opentaskpy.plan.quiet")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


class Planner:
    """Builds the plans of one ``task-run --plan`` (and of a batch's steps)."""

    def __init__(self, config_loader: Any, global_config: dict, config_dir: str):
        """Bind to the loader and global variables of the configuration."""
        self.config_loader = config_loader
        self.global_config = global_config
        self.config_dir = config_dir
        self.records = PlanRecords()

    def plan(self, task_id: str, definition: dict) -> dict[str, Any]:
        """Return the plan of ``task_id`` (``definition`` is not modified)."""
        pristine = copy.deepcopy(definition)
        kind = pristine.get("type")
        sha = definition_sha256(pristine)
        head = {"task_id": task_id, "type": kind, "definition_sha256": sha}
        if kind == "transfer":
            return head | self.transfer(task_id, pristine, sha)
        if kind == "execution":
            return head | execution_plan(pristine)
        if kind == "batch":
            return head | plan_batch(self, task_id, pristine, sha)
        return head | {"error": f"unknown task type {kind!r}"}

    def load(self, task_id: str, extra: dict | None = None) -> dict:
        """Load a step's definition (rendered with ``extra`` variables)."""
        loader = self.config_loader
        return dict(loader.load_task_definition(task_id, extra_variables=extra))

    # -- transfers -----------------------------------------------------------

    def transfer(self, task_id: str, definition: dict, sha: str) -> dict[str, Any]:
        """Plan a transfer: list the source, then every destination's files."""
        source = definition["source"]
        plan: dict[str, Any] = {
            "source": _end(source),
            "conditions": watch_conditions(source),
        }
        try:
            listed = self._list(task_id, source)
        except Exception as exc:  # noqa: BLE001 - a plan reports, never raises
            plan["error"] = f"listing the source failed: {_line(exc)}"
            listed = {}
        files = dict(listed)
        if source.get("conditionals") and files:
            conditionals.check_conditionals(files, source["conditionals"], _QUIET)
        plan["files"] = [_file(path, meta) for path, meta in sorted(files.items())]
        plan["excluded_by_conditionals"] = sorted(set(listed) - set(files))
        if not files and "error" not in plan:
            plan["outcome_if_run"] = (
                "succeeds without sending (error: false)"
                if source.get("error") is False
                else "fails: no file matches"
            )
        destinations = definition.get("destination") or []
        plan["destinations"] = [
            self._destination(task_id, sha, source, index, spec, files)
            for index, spec in enumerate(destinations, start=1)
        ]
        plan["post_copy_action"] = post_copy_plan(source, files)
        return plan

    def _list(self, task_id: str, source: dict) -> dict:
        """List the source through its protocol handler (read-only)."""
        spec = copy.deepcopy(source)
        spec["task_id"] = task_id
        name = spec["protocol"]["name"]
        handler = resolve_protocol(name, "T")(spec)
        self._handler_vars(name, handler)
        try:
            listed = handler.list_files(
                directory=spec.get("directory"), file_pattern=spec.get("fileRegex")
            )
            return dict(listed or {})
        finally:
            handler.tidy()

    def _handler_vars(self, name: str, handler: Any) -> None:
        entries = self.global_config.get("global_protocol_vars")
        if not hasattr(handler, "set_handler_vars") or not isinstance(entries, list):
            return
        for entry in entries:
            if isinstance(entry, dict) and entry.get("name") == name:
                values = {k: v for k, v in entry.items() if k != "name"}
                handler.set_handler_vars(values)
                return

    def _destination(
        self, task_id: str, sha: str, source: dict, index: int, spec: dict, files: dict
    ) -> dict[str, Any]:
        delivered = self.records.delivered_paths(task_id, sha, source, spec, files)
        directory = spec.get("directory")
        out = []
        for path, meta in sorted(files.items()):
            name = fileops.apply_rename(posixpath.basename(path), spec.get("rename"))
            entry = _file(path, meta)
            entry["dest_name"] = name
            entry["dest_path"] = fileops.join(directory, name) if directory else name
            entry["delivered"] = None if delivered is None else path in delivered
            out.append(entry)
        result = {"index": index, **_end(spec), "files": out}
        result["ledger"] = "unknown" if delivered is None else "read"
        if spec.get("recipients"):
            result["recipients"] = list(spec["recipients"])
        flags = [k for k in ("flags", "encryption", "mode") if spec.get(k)]
        if flags:
            result["also"] = {k: spec[k] for k in flags}
        return result


def _end(spec: dict) -> dict[str, Any]:
    """Protocol, host and directory (and pattern) of a source or destination."""
    end: dict[str, Any] = {"protocol": (spec.get("protocol") or {}).get("name")}
    for key in ("hostname", "directory", "fileRegex"):
        if spec.get(key) is not None:
            end[key] = spec[key]
    if spec.get("conditionals"):
        end["conditionals"] = spec["conditionals"]
    return end


def _file(path: str, meta: dict) -> dict[str, Any]:
    return {
        "source_path": path,
        "size": int(meta.get("size") or 0),
        "mtime": float(meta.get("modified_time") or 0),
    }


def _line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    from opentaskpy.otflogging import redact

    return str(redact(text))


def watch_conditions(source: dict) -> list[dict[str, Any]]:
    """Return the watches a run would wait for, as conditions (not waited for)."""
    found = []
    log = source.get("logWatch")
    if log:
        found.append(
            {
                "kind": "log watch",
                "log": f"{log.get('directory')}/{log.get('log')}",
                "contentRegex": log.get("contentRegex"),
                "timeout": log.get("timeout", 60),
            }
        )
    if "fileWatch" in source:
        watch = source.get("fileWatch") or {}
        found.append(
            {
                "kind": "file watch",
                "directory": watch.get("directory") or source.get("directory"),
                "fileRegex": watch.get("fileRegex") or source.get("fileRegex"),
                "timeout": watch.get("timeout", 60),
                "watchOnly": bool(watch.get("watchOnly")),
            }
        )
    return found


def post_copy_plan(source: dict, files: dict) -> dict[str, Any] | None:
    """Return what the source's post-copy action would do to each file."""
    action = source.get("postCopyAction")
    if not action:
        return None
    kind = action.get("action")
    steps = []
    for path in sorted(files):
        name = posixpath.basename(path)
        if kind == "delete":
            steps.append({"source_path": path, "then": "delete"})
            continue
        destination = str(action.get("destination") or "")
        if kind == "move":
            target = fileops.join(destination.rstrip("/") or "/", name)
        else:
            folder = posixpath.dirname(destination) or "/"
            renamed = re.sub(action.get("pattern", ""), action.get("sub", ""), name)
            target = fileops.join(folder, renamed)
        steps.append({"source_path": path, "then": kind, "target": target})
    return {"action": kind, "after": "every destination succeeded", "files": steps}


def execution_plan(definition: dict) -> dict[str, Any]:
    """Command, directory and hosts of an execution."""
    protocol = (definition.get("protocol") or {}).get("name")
    hosts = definition.get("hosts") or (
        [definition["hostname"]] if definition.get("hostname") else ["localhost"]
    )
    return {
        "protocol": protocol,
        "hosts": list(hosts),
        "directory": definition.get("directory"),
        "command": definition.get("command"),
    }
