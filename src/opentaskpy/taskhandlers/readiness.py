"""Whether a not-started batch step may start, must wait, or never will.

A dependency asks for its step's success (status ``COMPLETED``: today's
meaning, which includes ``continue_on_fail`` failures and skipped steps),
its failure, or any final state. A step whose success dependency can never
be met is *blocked* (it never starts and the batch fails, as before); one
whose failure dependency succeeded instead is skipped.
"""

from __future__ import annotations

from typing import Any

from opentaskpy.config.batch_spec import ON_FAILURE, ON_SUCCESS

#: Outcomes that satisfy a dependency on failure (a step that never ran
#: because its own dependency failed counts as failed).
FAILED_OUTCOMES = ("failure", "timeout", "killed", "blocked")


class Readiness:
    """Decides readiness over a batch's ``task_order_tree`` (lock held by caller).

    Results for not-started steps are memoised for one scheduling pass, so a
    long chain of waiting steps costs linear time per pass.
    """

    def __init__(self, tree: dict[int, dict[str, Any]]):
        """Bind to the tree the scheduler runs."""
        self.tree = tree
        self._memo: dict[int, str | None] = {}

    def new_pass(self) -> None:
        """Forget memoised results: statuses may have changed since."""
        self._memo = {}

    def outcome(self, order_id: int) -> str | None:
        """Return a step's final outcome, ``"blocked"`` if it can never run."""
        entry = self.tree.get(order_id)
        if entry is None:
            return "blocked"
        if entry.get("outcome"):
            return str(entry["outcome"])
        if entry["status"] == "COMPLETED":
            return "success"
        if entry["status"] != "NOT_STARTED":
            return None
        if order_id in self._memo:
            return self._memo[order_id]
        self._memo[order_id] = None  # a cycle waits forever: never final
        state = "blocked" if self.state(order_id)[0] == "blocked" else None
        self._memo[order_id] = state
        return state

    def state(self, order_id: int) -> tuple[str, str]:
        """Return ``("ready"|"wait"|"blocked"|"skip", reason)`` for a step."""
        waiting = False
        skip = ""
        for dependency in self.tree[order_id]["dependencies"]:
            outcome = self.outcome(dependency.order_id)
            if outcome is None:
                waiting = True
                continue
            status = self.tree.get(dependency.order_id, {}).get("status")
            if dependency.on == ON_SUCCESS and status != "COMPLETED":
                return "blocked", ""
            if dependency.on == ON_FAILURE and outcome not in FAILED_OUTCOMES:
                skip = skip or (
                    f"it runs only when task {dependency.order_id} fails "
                    f"(outcome: {outcome})"
                )
        if skip:
            return "skip", skip
        return ("wait", "") if waiting else ("ready", "")
