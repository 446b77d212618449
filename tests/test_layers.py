"""Imports between opentaskpy's modules go one way: down the layers, no circles.

Layers, top to bottom (a module may import its own layer and those below):

    entry points (cli, __main__) -> task runner (taskrun) -> task handlers
    -> protocol handlers (remotehandlers) -> file system (fs: listing,
    publishing, post-copy, streaming, the SFTP file system) -> SSH transport
    (transport.ssh: connections, options, host keys, SFTP pipelines) ->
    configuration (config, filters, plugins) -> run records (runs, with its
    own otf-runs command) -> base (otflogging, exceptions, redaction,
    progress, verbosity, and any module not placed in a layer yet)

What counts as an import: every ``import``/``from ... import`` statement of
an ``opentaskpy`` module anywhere in a file, read with ``ast``: at module
level, inside functions (lazy imports still tie the modules together, they
only defer the cost), under ``if TYPE_CHECKING`` (a type-only import still
means the lower module knows the higher one), and relative imports. Modules
imported by a computed name (``importlib.import_module(name)``, how protocol
classes and plugins are loaded) are not seen; nothing in a lower layer names a
higher module that way.

Known exceptions are listed below with their reason. The lists may only
shrink: an entry that no longer occurs fails the test until it is removed.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from support.helpers import SRC

PACKAGE_ROOT = SRC / "opentaskpy"

#: (layer, module-name prefixes), top to bottom. Unplaced modules are "base".
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("entry points", ("opentaskpy.__main__", "opentaskpy.cli")),
    ("task runner", ("opentaskpy.taskrun",)),
    ("task handlers", ("opentaskpy.taskhandlers",)),
    ("protocol handlers", ("opentaskpy.remotehandlers",)),
    ("file system", ("opentaskpy.fs",)),
    ("SSH transport", ("opentaskpy.transport",)),
    (
        "configuration",
        ("opentaskpy.config", "opentaskpy.filters", "opentaskpy.plugins"),
    ),
    ("run records", ("opentaskpy.runs",)),
]
BASE = "base"

#: Imports that go up a layer: (importer, imported) -> why it is still there.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}

#: Imports that close a circle: (importer, imported) -> why it is still there.
ALLOWED_CIRCLE_EDGES: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _resolve(name: str) -> str | None:
    """The longest prefix of ``name`` that is one of our modules (``from m import f``)."""
    while name:
        if _is_module(name):
            return name
        name = name.rpartition(".")[0]
    return None


def imported_names(source: str, module: str, is_package: bool) -> set[str]:
    """Dotted names of everything ``source`` imports, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_edges() -> set[tuple[str, str]]:
    """(importer, imported) for every import between two opentaskpy modules."""
    edges = set()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        module = module_name(path)
        names = imported_names(
            path.read_text(), module, is_package=path.name == "__init__.py"
        )
        for name in names:
            if not name.startswith("opentaskpy."):
                continue
            target = _resolve(name)
            if target and target != module:
                edges.add((module, target))
    return edges


def layer_of(module: str) -> tuple[int, str]:
    for rank, (layer, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(f"{p}.") for p in prefixes):
            return rank, layer
    return len(LAYERS), BASE


def upward(edges: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, b in edges if layer_of(b)[0] < layer_of(a)[0]}


def circles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe(edges: set[tuple[str, str]]) -> str:
    return "\n  ".join(
        f"{a} ({layer_of(a)[1]}) imports {b} ({layer_of(b)[1]})"
        for a, b in sorted(edges)
    )


def test_imports_point_down_the_layers():
    wrong = upward(import_edges()) - set(ALLOWED_UPWARD)
    assert not wrong, "imports against the layer order:\n  " + _describe(wrong)


def test_no_import_circles():
    edges = import_edges() - set(ALLOWED_CIRCLE_EDGES)
    found = circles(edges)
    assert not found, f"modules importing each other (directly or not): {found}"


def test_allow_lists_only_shrink():
    edges = import_edges()
    stale = (set(ALLOWED_UPWARD) | set(ALLOWED_CIRCLE_EDGES)) - edges
    assert not stale, (
        "these imports are gone; remove them from the allow-lists in "
        f"tests/test_layers.py: {sorted(stale)}"
    )
    not_upward = set(ALLOWED_UPWARD) - upward(edges)
    assert not not_upward, f"not imports against the layers: {sorted(not_upward)}"
    in_circles = {m for group in circles(edges) for m in group}
    not_circle = {e for e in ALLOWED_CIRCLE_EDGES if not set(e) <= in_circles}
    assert not not_circle, f"not part of a circle: {sorted(not_circle)}"


def test_file_system_and_transport_stay_below_the_handlers():
    """fs may use the SSH transport; neither knows protocol or task handlers."""
    above = ("opentaskpy.remotehandlers", "opentaskpy.taskhandlers", "opentaskpy.cli")
    wrong = {
        (a, b)
        for a, b in import_edges()
        if a.startswith(("opentaskpy.fs", "opentaskpy.transport"))
        and (
            b.startswith(above)
            or (a.startswith("opentaskpy.transport") and b.startswith("opentaskpy.fs"))
        )
    }
    assert not wrong, _describe(wrong)
    assert (
        layer_of("opentaskpy.fs.fileops")[0] > layer_of("opentaskpy.remotehandlers")[0]
    )
    assert (
        layer_of("opentaskpy.transport.ssh.sshconn")[0] > layer_of("opentaskpy.fs")[0]
    )


def test_the_scan_sees_lazy_type_only_and_relative_imports():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import opentaskpy.otflogging\n"
        "if TYPE_CHECKING:\n"
        "    from opentaskpy.taskhandlers.batch import Batch\n"
        "def later():\n"
        "    from opentaskpy.cli import task_run\n"
        "from . import fileops\n"
        "from .sshdest import SSHReceiving\n"
    )
    names = imported_names(source, "opentaskpy.remotehandlers.x", is_package=False)
    resolved = {_resolve(n) for n in names if n.startswith("opentaskpy.")}
    # opentaskpy.cli is a namespace directory (no module of its own).
    assert resolved - {None} == {
        "opentaskpy.otflogging",
        "opentaskpy.taskhandlers.batch",
        "opentaskpy.cli.task_run",
        "opentaskpy.remotehandlers",
        "opentaskpy.remotehandlers.fileops",
        "opentaskpy.remotehandlers.sshdest",
    }
    fake = {("opentaskpy.remotehandlers.x", "opentaskpy.taskhandlers.batch")}
    assert upward(fake) == fake


def test_circle_detection_finds_an_indirect_circle():
    edges = {("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}
    assert circles(edges) == [["a", "b", "c"]]


def test_every_layer_holds_modules():
    modules = {module_name(p) for p in PACKAGE_ROOT.rglob("*.py")}
    for rank, (layer, _) in enumerate(LAYERS):
        assert any(layer_of(m)[0] == rank for m in modules), layer
    assert layer_of("opentaskpy.otflogging") == (len(LAYERS), BASE)
