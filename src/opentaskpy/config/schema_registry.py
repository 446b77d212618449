"""Locating schema files and resolving ``$ref`` URIs between them.

Helpers for :mod:`opentaskpy.config.schemas`:

* :func:`schema_location` maps a protocol name to its schema root and short
  name, importing addon packages on demand.
* :func:`retrieve` is the ``referencing.Registry`` retrieve function:
  ``http://localhost/<rest>`` is served from the core schema root and
  ``file://`` URIs from disk.
* :data:`REGISTRY` is the shared registry built on :func:`retrieve`.
* :func:`record_usage` collects the schema files and addon packages one
  validation used (for :mod:`opentaskpy.config.validation_cache`).

Relative references inside a schema file must resolve against the location
the file was retrieved from, never against its declared ``$id`` (several
shipped and addon files carry copy-pasted ``$id`` values). The resource is
therefore built from the file contents with the top-level ``$id`` removed, so
the retrieval URI is the only base URI.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.resources
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import attrs
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from opentaskpy.exceptions import ProtocolImportError, UnknownProtocolError, wrap

CORE_SCHEMA_ROOT = Path(str(importlib.resources.files("opentaskpy.config") / "schemas"))
LOCALHOST_PREFIX = "http://localhost/"

_cache_lock = threading.Lock()
# file path -> ((mtime_ns, size), resource); re-read only when the file changes.
_resource_cache: dict[str, tuple[tuple[int, int], Resource[Any]]] = {}
_recorders = threading.local()


@dataclass
class SchemaUsage:
    """What one validation used, collected by :func:`record_usage`.

    Attributes:
        files: every schema file read, ``{path: (st_mtime_ns, st_size)}`` as
            stamped when it was read.
        protocol_files: the protocols' own schema files (:func:`schema_uri`).
        packages: the addon packages whose ``schemas`` directory was used.
    """

    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    protocol_files: set[str] = field(default_factory=set)
    packages: set[str] = field(default_factory=set)


@contextlib.contextmanager
def record_usage() -> Iterator[SchemaUsage]:
    """Collect the schema files and packages used in this thread meanwhile."""
    usage = SchemaUsage()
    active: list[SchemaUsage] = _recorders.__dict__.setdefault("active", [])
    active.append(usage)
    try:
        yield usage
    finally:
        active.remove(usage)


def _active_recorders() -> list[SchemaUsage]:
    return list(getattr(_recorders, "active", ()))


@attrs.frozen
class SchemaNotFoundError(Unresolvable):
    """No schema file exists for a protocol.

    A subclass of ``referencing.exceptions.Unresolvable`` (what jsonschema
    raises for an unresolvable ``$ref``), so callers catching jsonschema's
    type still catch it; its text additionally
    names the protocol and the missing file. It is raised before validation
    starts instead of surfacing as jsonschema's wrapped referencing error
    whose message only contains the URI.
    """

    protocol: str
    path: str

    def __str__(self) -> str:
        return (
            f"Unresolvable: {self.ref} (no schema for protocol {self.protocol!r}: "
            f"{self.path} does not exist)"
        )


def schema_location(protocol_name: str) -> tuple[Path, str]:
    """Return the schema root directory and short name for a protocol.

    Core protocols (no dot) use the bundled schema root. For an addon class
    path ``a.b.c.<module>.<Class>`` the package ``a.b.c`` is imported and its
    ``schemas`` directory is used; the short name is ``<module>``.

    Args:
        protocol_name: ``protocol.name`` from a task definition.

    Returns:
        ``(schema_root, short_name)``.

    Raises:
        ModuleNotFoundError: the addon package cannot be imported. The type is
            kept from the spec; the message names the protocol.
    """
    if "." not in protocol_name:
        return CORE_SCHEMA_ROOT, protocol_name
    parts = protocol_name.split(".")
    package = ".".join(parts[:-2])
    short = parts[-2]
    if not package:
        detail = "an addon protocol must be '<package>.<module>.<Class>'"
        raise wrap(
            ModuleNotFoundError(
                f"Unknown protocol {protocol_name!r}: {detail}", name=protocol_name
            ),
            UnknownProtocolError,
            protocol=protocol_name,
            cause=detail,
        )
    try:
        importlib.import_module(package)
    except ModuleNotFoundError as exc:
        detail = f"cannot import schema package {package!r} ({exc})"
        raise wrap(
            ModuleNotFoundError(
                f"Unknown protocol {protocol_name!r}: {detail}", name=exc.name
            ),
            UnknownProtocolError,
            protocol=protocol_name,
            cause=detail,
        ) from exc
    except Exception as exc:  # the addon package itself fails while importing
        detail = (
            f"importing schema package {package!r} failed ({type(exc).__name__}: {exc})"
        )
        raise wrap(
            ModuleNotFoundError(f"Protocol {protocol_name!r}: {detail}", name=package),
            ProtocolImportError,
            protocol=protocol_name,
            cause=detail,
        ) from exc
    for usage in _active_recorders():
        usage.packages.add(package)
    return Path(str(importlib.resources.files(package) / "schemas")), short


def schema_uri(protocol_name: str, relative: str) -> str:
    """Return the ``file://`` URI of a protocol's schema file.

    Args:
        protocol_name: the protocol name (core or addon class path).
        relative: path below the schema root; ``{short}`` is replaced by the
            protocol's short name, e.g. ``"transfer/{short}_source.json"``.

    Raises:
        SchemaNotFoundError: the file does not exist.
        ModuleNotFoundError: the addon package cannot be imported.
    """
    root, short = schema_location(protocol_name)
    path = root / relative.format(short=short)
    uri = path.as_uri()
    if not path.is_file():
        raise SchemaNotFoundError(ref=uri, protocol=protocol_name, path=str(path))
    for usage in _active_recorders():
        usage.protocol_files.add(str(path))
    return uri


def _uri_to_path(uri: str) -> Path:
    """Map a schema URI to the file it is served from.

    ``file://`` paths are percent-decoded as ``Path.as_uri()`` encodes them
    (what ``urllib.request.url2pathname`` does on POSIX, without importing
    ``urllib.request``, which drags in ``http.client``, ``email`` and ``ssl``).
    """
    if uri.startswith(LOCALHOST_PREFIX):
        rest = urlsplit(uri).path.lstrip("/")
        return CORE_SCHEMA_ROOT / unquote(rest)
    parts = urlsplit(uri)
    if parts.scheme != "file":
        raise ValueError(f"Cannot retrieve schema {uri!r}: unsupported URI scheme")
    if os.name == "nt":  # pragma: no cover - drive letters and UNC hosts
        from urllib.request import url2pathname

        return Path(url2pathname(parts.path))
    return Path(unquote(parts.path))


def _load_resource(path: Path) -> Resource[Any]:
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    key = str(path)
    for usage in _active_recorders():
        usage.files[key] = stamp
    with _cache_lock:
        cached = _resource_cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    contents = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(contents, dict) and "$id" in contents:
        contents = {k: v for k, v in contents.items() if k != "$id"}
    resource = Resource.from_contents(contents, default_specification=DRAFT202012)
    with _cache_lock:
        _resource_cache[key] = (stamp, resource)
    return resource


def retrieve(uri: str) -> Resource[Any]:
    """Retrieve a schema resource for ``referencing``.

    ``http://localhost/<rest>`` maps to ``<core schema root>/<rest>``;
    ``file://`` URIs map to the local file. Resources are cached per file and
    re-read when the file's mtime or size changes.
    """
    return _load_resource(_uri_to_path(uri))


REGISTRY: Registry[Any] = Registry(retrieve=retrieve)  # type: ignore[call-arg]
