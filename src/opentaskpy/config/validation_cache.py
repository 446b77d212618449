"""Remember task definitions that already passed schema validation.

:func:`validate` and :func:`find_violation` sit in front of
:mod:`opentaskpy.config.schemas`: a definition that passed before against
unchanged schema files is valid without importing ``jsonschema``. Only
successes are stored. An entry (one JSON file per sha256 of kind, canonical
definition and validating code) lists the schema files read and where each
addon schema package was found; all must be unchanged for a hit. Directory:
``OTF_VALIDATION_CACHE_DIR``, else ``$XDG_CACHE_HOME`` or ``~/.cache`` +
``opentaskpy/validation`` (0700, entries 0600, ignored unless only the user
can write it). ``OTF_VALIDATION_CACHE=0`` disables it; any error falls back
to real validation silently.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import sys

from opentaskpy.digests import sha256

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

    from opentaskpy.config.schema_errors import SchemaViolation
    from opentaskpy.config.schema_registry import SchemaUsage

CACHE_DIR_ENV = "OTF_VALIDATION_CACHE_DIR"
SWITCH_ENV = "OTF_VALIDATION_CACHE"
MAX_ENTRIES = 2000
_FORMAT = 1
_OFF = {"0", "false", "no", "off"}
# Modules whose code decides what "valid" means (inline schemas, $ref rules).
_SOURCES = ("schemas.py", "schema_registry.py", "schema_errors.py", __file__)


def validate(kind: str, definition: dict[str, Any]) -> bool:
    """Validate like ``schemas.validate_<kind>_json``, skipping known successes.

    Args:
        kind: ``"transfer"``, ``"execution"`` or ``"batch"``.
        definition: the rendered task definition; it is not modified.

    Returns:
        ``True`` when valid; otherwise (after the real validator printed and
        logged the error) ``False``.
    """
    entry = entry_path(kind, definition)
    if entry is not None and _hit(entry):
        return True
    from opentaskpy.config import schema_registry, schemas

    with schema_registry.record_usage() as usage:
        valid = schemas.validate_json(kind, definition)
    if valid and entry is not None:
        _store(entry, usage)
    return valid


def find_violation(kind: str, definition: dict[str, Any]) -> SchemaViolation | None:
    """``schemas.find_violation``, answering ``None`` for known successes.

    Raises:
        The exceptions of :func:`opentaskpy.config.schemas.find_violation`.
    """
    entry = entry_path(kind, definition)
    if entry is not None and _hit(entry):
        return None
    from opentaskpy.config import schema_registry, schemas

    with schema_registry.record_usage() as usage:
        violation = schemas.find_violation(kind, definition)
    if violation is None and entry is not None:
        _store(entry, usage)
    return violation


def cache_dir() -> str | None:
    """Return the cache directory, or ``None`` when the cache is disabled.

    (Paths are plain strings here: importing ``pathlib`` would cost every
    run a few milliseconds of start-up.)
    """
    if os.environ.get(SWITCH_ENV, "").strip().lower() in _OFF:
        return None
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return configured
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        base = xdg
    else:
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "opentaskpy", "validation")


def entry_path(kind: str, definition: dict[str, Any]) -> str | None:
    """Return the entry file for a definition, or ``None`` if not cacheable."""
    try:
        directory = cache_dir()
        if directory is None:
            return None
        canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"))
        digest = sha256()
        for part in (kind, canonical, _environment()):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        return os.path.join(directory, f"{digest.hexdigest()}.json")
    except Exception:  # noqa: BLE001 - the cache must never break a run
        return None


@functools.cache
def _environment() -> str:
    """Identity of the code that validates: format, versions and file stamps."""
    here = os.path.dirname(__file__)
    parts = [f"format {_FORMAT}", f"opentaskpy {_version()}"]
    parts += [f"{name} {_stamp(os.path.join(here, name))}" for name in _SOURCES]
    spec = importlib.util.find_spec("jsonschema")
    origin = spec.origin if spec is not None else None
    parts.append(f"jsonschema {origin}")
    if origin:
        parts.append(_stamp(origin))
        parts.append(_stamp(os.path.join(os.path.dirname(origin), "validators.py")))
    return "\n".join(parts)


def _version() -> str:
    """Return the installed opentaskpy version (from its dist-info name).

    ``importlib.metadata`` would cost ~50 ms (it imports ``email``).
    """
    for entry in sys.path:
        with contextlib.suppress(OSError):
            for name in os.listdir(entry or "."):
                if name.startswith("opentaskpy-") and name.endswith(".dist-info"):
                    return name.removeprefix("opentaskpy-").removesuffix(".dist-info")
    return "unknown"


def _stamp(path: str) -> str:
    try:
        stat = os.stat(path)
    except OSError:
        return "missing"
    return f"{stat.st_mtime_ns}:{stat.st_size}"


def _package_identity(package: str) -> list[str] | None:
    """Where an addon schema package is found (imports its parents only)."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        return None
    return [spec.origin or "", *(spec.submodule_search_locations or [])]


def _trusted(directory: str) -> bool:
    """Whether only this user can have written the entries in ``directory``."""
    stat = os.stat(directory)
    return stat.st_uid == os.getuid() and not stat.st_mode & 0o022


def _hit(entry: str) -> bool:
    """Whether ``entry`` exists and every file and package it lists is unchanged."""
    try:
        if not _trusted(os.path.dirname(entry)):
            return False
        with open(entry, encoding="utf-8") as handle:
            data = json.load(handle)
        if data["format"] != _FORMAT:
            return False
        for path, mtime_ns, size in data["files"]:
            stat = os.stat(path)
            if [stat.st_mtime_ns, stat.st_size] != [mtime_ns, size]:
                return False
        for package, identity in data["packages"]:
            if identity is None or _package_identity(package) != identity:
                return False
        with contextlib.suppress(OSError):
            os.utime(entry)  # recently used entries survive pruning
        return True
    except Exception:  # noqa: BLE001 - corrupt entry, unreadable directory...
        return False


def _store(entry: str, usage: SchemaUsage) -> None:
    """Record a success in ``entry`` (atomically); errors are ignored."""
    temp: str | None = None
    try:
        if not usage.protocol_files <= usage.files.keys():
            # A protocol's schema was not read during the validation: the
            # validator must have kept it from before, so the list of files
            # it depends on is unknown. Do not cache.
            return
        data = {
            "format": _FORMAT,
            "files": sorted([path, *stamp] for path, stamp in usage.files.items()),
            "packages": sorted([n, _package_identity(n)] for n in usage.packages),
        }
        directory = os.path.dirname(entry)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _trusted(directory):
            return
        stem = os.path.basename(entry).removesuffix(".json")
        temp = os.path.join(
            directory, f".{stem}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        )
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        with os.fdopen(os.open(temp, flags, 0o600), "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(temp, entry)
        temp = None
        _prune(directory)
    except Exception:  # noqa: BLE001 - read-only home, permission denied...
        pass
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _prune(directory: str) -> None:
    """Delete the least recently used half when over :data:`MAX_ENTRIES`."""
    names = [n for n in os.listdir(directory) if n.endswith((".json", ".tmp"))]
    if len(names) <= MAX_ENTRIES:
        return
    stamped: list[tuple[int, str]] = []
    for name in names:
        with contextlib.suppress(OSError):
            stamped.append((os.stat(os.path.join(directory, name)).st_mtime_ns, name))
    stamped.sort()
    for _, name in stamped[: len(stamped) // 2]:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(directory, name))
