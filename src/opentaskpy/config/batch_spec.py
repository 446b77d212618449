"""Reading a batch's ``tasks`` entries: dependencies, retries, foreach.

Every flow-control field is optional; an entry without them behaves as a
step always has (run once, after its dependencies succeeded). The scheduler,
the validator and the graph read the entries through these functions so
that they agree on defaults and on the two forms of a dependency.
"""

from __future__ import annotations

from typing import Any, NamedTuple

#: What a dependency asks of the step it names.
ON_SUCCESS = "success"
ON_FAILURE = "failure"
ON_ANY = "any"
DEPENDENCY_KINDS = (ON_SUCCESS, ON_FAILURE, ON_ANY)


class Dependency(NamedTuple):
    """One dependency of a step: the order id it waits for and on what."""

    order_id: int
    on: str = ON_SUCCESS


def dependencies_of(entry: dict[str, Any]) -> list[Dependency]:
    """Return the dependencies of a ``tasks`` entry, in either form.

    ``dependencies`` holds order ids (wait for success) or objects
    ``{"order_id": N, "on": "success|failure|any"}``.
    """
    found: list[Dependency] = []
    for item in entry.get("dependencies") or []:
        if isinstance(item, dict):
            found.append(Dependency(item["order_id"], item.get("on", ON_SUCCESS)))
        else:
            found.append(Dependency(item))
    return found


def find_cycle(graph: dict[int, list[int]]) -> list[int] | None:
    """Return one dependency cycle as ``[a, b, ..., a]``, or ``None``.

    Args:
        graph: order id -> the order ids it depends on (unknown ids ignored).
    """
    state: dict[int, int] = {}  # 1 = on the current path, 2 = done
    path: list[int] = []

    def visit(node: int) -> list[int] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def expressions_of(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the ``(field, expression)`` pairs of an entry that are expressions."""
    found: list[tuple[str, str]] = [
        (key, entry[key]) for key in ("skip_if", "check") if key in entry
    ]
    if isinstance(entry.get("foreach"), str):
        found.append(("foreach", entry["foreach"]))
    return found
