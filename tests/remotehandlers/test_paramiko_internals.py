"""The paramiko internals we rely on exist in the installed paramiko.

A paramiko release that renames or drops one fails here with one line per
internal (what changed and which of our modules needs it), before any SFTP
transfer breaks in an obscure way.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import paramiko

from opentaskpy.transport.ssh import paramiko_internals
from opentaskpy.transport.ssh.paramiko_internals import INTERNALS, KINDS, Internal
from support.helpers import REPO_ROOT

# src/opentaskpy (the module is opentaskpy/transport/ssh/paramiko_internals.py).
SRC = Path(paramiko_internals.__file__).resolve().parents[2]


def test_installed_paramiko_has_every_internal_we_use():
    missing = paramiko_internals.check()
    assert not missing, (
        f"paramiko {paramiko_internals.installed_version()} changed internals "
        "opentaskpy relies on (see opentaskpy/transport/ssh/"
        "paramiko_internals.py):\n  " + "\n  ".join(missing)
    )


def test_a_changed_internal_is_named_with_its_reason(monkeypatch):
    gone = Internal(
        "paramiko.sftp_client.SFTPClient", "_no_such_method", "a reason we need it"
    )
    renamed = Internal(
        "paramiko.sftp_client.SFTPClient",
        "_request",
        "synchronous requests",
        params=("self", "kind", "args"),
    )
    not_set = Internal(
        "paramiko.channel.Channel", "no_such_buffer", "buffers", kind="instance"
    )
    not_called = Internal(
        "paramiko.sftp_client.SFTPClient._read_response",
        "_no_such_callback",
        "answers",
        kind="mentions",
    )
    no_owner = Internal("paramiko.no_such_module.Thing", "x", "things")
    monkeypatch.setattr(
        paramiko_internals,
        "INTERNALS",
        (*INTERNALS, gone, renamed, not_set, not_called, no_owner),
    )
    assert paramiko_internals.check() == [
        "paramiko.sftp_client.SFTPClient._no_such_method: missing "
        "(a reason we need it)",
        "paramiko.sftp_client.SFTPClient._request: parameters are now "
        "('self', 't', 'args'), expected ('self', 'kind', 'args') "
        "(synchronous requests)",
        "paramiko.channel.Channel.no_such_buffer: no longer set (buffers)",
        "paramiko.sftp_client.SFTPClient._read_response._no_such_callback: "
        "no longer used there (answers)",
        "paramiko.no_such_module.Thing.x: paramiko.no_such_module.Thing is gone "
        "(things)",
    ]


def test_every_entry_is_complete():
    for entry in INTERNALS:
        assert entry.owner.startswith("paramiko."), entry
        assert entry.kind in KINDS, entry
        assert entry.why.strip(), entry


def _paramiko_modules() -> list[Path]:
    """Our modules that use paramiko."""
    return sorted(
        path
        for path in SRC.rglob("*.py")
        if "paramiko_import import paramiko" in path.read_text()
    )


def _paramiko_subclasses(path: Path, tree: ast.Module) -> set[str]:
    module_name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    module = __import__(module_name, fromlist=["_"])
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            mro = getattr(module, node.name).__mro__[1:]
            if any(k.__module__.startswith("paramiko") for k in mro):
                names.add(node.name)
    return names


def _private_names_used(path: Path) -> set[str]:
    """Private attribute names used on paramiko objects in ``path``.

    Every ``x._name`` except on ``self``/``cls``, plus, inside a subclass of
    a paramiko class, every ``self._name`` and every ``_name`` method.
    """
    tree = ast.parse(path.read_text())
    subclasses = _paramiko_subclasses(path, tree)
    found: set[str] = set()

    def visit(node: ast.AST, in_subclass: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_subclass or (
                isinstance(child, ast.ClassDef) and child.name in subclasses
            )
            if isinstance(child, ast.Attribute) and re.match(r"_[a-z]", child.attr):
                on_self = isinstance(child.value, ast.Name) and child.value.id in {
                    "self",
                    "cls",
                }
                if not on_self or in_subclass:
                    found.add(child.attr)
            if (
                in_subclass
                and isinstance(child, ast.FunctionDef)
                and re.match(r"_[a-z]", child.name)
            ):
                found.add(child.name)
            visit(child, inside)

    visit(tree, False)
    return found


# Private names of our own classes that the scan cannot tell from paramiko's.
OUR_OWN = {
    "_sftp": "ssh.py reads sshconn.SSHConnection's cached session",
    "_wire_buffer": "sftpwire.WireClient's receive buffer",
    "_wire_pos": "sftpwire.WireClient's read position in its buffer",
    "_wire_fill": "sftpwire.WireClient: receive until a packet is whole",
    "_wire_receive": "sftpwire.WireClient: one receive from the channel",
}


def test_every_private_paramiko_name_in_our_code_is_listed():
    listed = {entry.name for entry in INTERNALS} | set(OUR_OWN)
    unlisted = {}
    for path in _paramiko_modules():
        names = _private_names_used(path) - listed
        if names:
            unlisted[str(path.relative_to(SRC))] = sorted(names)
    assert not unlisted, (
        "private paramiko names used but not listed in "
        f"paramiko_internals.INTERNALS: {unlisted}"
    )


def test_the_scan_sees_the_pipelines():
    # The listing test above only means something if it finds our uses.
    names = set()
    for path in _paramiko_modules():
        names |= _private_names_used(path)
    assert {"_async_request", "_send_version", "_buffer_tobytes"} <= names


def test_pyproject_bounds_paramiko_below_the_next_major():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    (requirement,) = [
        r for r in pyproject["project"]["dependencies"] if r.startswith("paramiko")
    ]
    upper = re.search(r"<\s*(\d+)(?:\.0)*\s*(?:,|$)", requirement)
    assert upper, f"paramiko has no upper bound: {requirement!r}"
    installed_major = int(paramiko.__version__.split(".")[0])
    assert installed_major < int(upper.group(1)), (
        f"installed paramiko {paramiko.__version__} is outside {requirement!r}"
    )
