"""Locating lookup plugins and loading filter/plugin files from the config dir.

Plugin modules are looked up as ``opentaskpy.plugins.lookup.<name>`` (already
imported, or importable — including namespace contributions of addons and
dotted names such as ``aws.ssm``), then as
``<configDir>/plugins/lookup/<name>.py``.
"""

from __future__ import annotations

import glob
import importlib
import importlib.util
import logging
import os
import re
import sys
import threading
from types import FunctionType, ModuleType

from opentaskpy.exceptions import ErrorClass, OTFError, reraise
from opentaskpy.verbosity import VERBOSE1, VERBOSE2

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

LOOKUP_NAMESPACE = "opentaskpy.plugins.lookup"
_VALID_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
# Executing plugin/filter files and registering them in sys.modules must not
# interleave between the threads of a batch.
_load_lock = threading.RLock()


class PluginNotFoundError(KeyError, OTFError):
    """No module and no config-dir file provides the lookup plugin.

    A ``KeyError``, which is what callers of ``lookup()`` catch.
    """

    error_class = ErrorClass.CONFIGURATION

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def load_module_from_file(
    module_name: str, path: str, register: bool = False
) -> ModuleType:
    """Execute ``path`` as a module named ``module_name``.

    Args:
        module_name: the module's ``__name__``.
        path: the ``.py`` file.
        register: also store it in ``sys.modules`` (plugins stay cached for
            the rest of the process).

    Returns:
        The executed module.
    """
    with _load_lock:
        if register and module_name in sys.modules:
            return sys.modules[module_name]
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:  # pragma: no cover
            raise ImportError(f"Cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        if register:
            sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            if register:
                sys.modules.pop(module_name, None)
            raise
        return module


def find_lookup_module(
    plugin: str, config_dir: str, logger: logging.Logger
) -> tuple[ModuleType | None, str]:
    """Return the plugin module (or ``None``) and why it was not found.

    Args:
        plugin: the name given to ``lookup()``, e.g. ``file`` or ``aws.ssm``.
        config_dir: the configuration directory.
        logger: for the level-11 ``ModuleNotFoundError`` line.
    """
    if (
        not isinstance(plugin, str)
        or not plugin
        or "/" in plugin
        or "\\" in plugin
        or ".." in plugin
    ):
        return None, f"invalid lookup plugin name {plugin!r}"
    module_name = f"{LOOKUP_NAMESPACE}.{plugin}"
    module = sys.modules.get(module_name)
    if module is not None:
        return module, ""
    reason = f"{plugin!r} is not an importable module name"
    # Installed plugins need a dotted identifier; a config-dir file can be
    # named anything (e.g. plugins/lookup/my-plug.py).
    if _VALID_NAME.match(plugin):
        try:
            return importlib.import_module(module_name), ""
        except ModuleNotFoundError as err:
            logger.log(VERBOSE2, f"Plugin {module_name} not importable: {err}")
            reason = f"{err}"
    path = f"{config_dir}/plugins/lookup/{plugin}.py"
    if os.path.isfile(path):
        return load_module_from_file(module_name, path, register=True), ""
    return None, f"{reason}; no file {path}"


def load_custom_filters(config_dir: str, logger: logging.Logger) -> dict[str, Callable]:
    """Every function found in ``<configDir>/filters/*.py``, by name."""
    filters: dict[str, Callable] = {}
    filters_dir = f"{config_dir}/filters"
    if not os.path.isdir(filters_dir):
        return filters
    for path in sorted(glob.glob(f"{filters_dir}/*.py")):
        stem = os.path.basename(path)[: -len(".py")]
        try:
            module = load_module_from_file(stem, path)
        except Exception as exc:  # name the broken filter file in the error
            reraise(exc, config_file=path)
        for name, value in vars(module).items():
            if isinstance(value, FunctionType):
                filters[name] = value
                logger.log(VERBOSE1, f"Registered custom filter: {name} from {path}")
    return filters


def module_functions(module: ModuleType) -> dict[str, Callable]:
    """Every function object in a module's namespace, by name."""
    return {n: v for n, v in vars(module).items() if isinstance(v, FunctionType)}


class LazyResolvedDict(dict):
    """A dict of raw values resolved only when read (lookup ``globals``).

    Args:
        values: the raw values (copied shallowly).
        resolver: called as ``resolver(value, resolve_lookups=flag)``.
        resolve_lookups: passed to the resolver; when false, strings that
            contain ``lookup(`` are returned unresolved.
    """

    def __init__(
        self, values: dict, resolver: Callable[..., Any], resolve_lookups: bool = False
    ):
        super().__init__(values)
        self._resolver = resolver
        self._resolve_lookups = resolve_lookups

    def _wrap(self, value: Any) -> Any:
        if isinstance(value, dict):
            return LazyResolvedDict(value, self._resolver, self._resolve_lookups)
        if isinstance(value, list):
            return [self._wrap(item) for item in value]
        return self._resolver(value, resolve_lookups=self._resolve_lookups)

    def __getitem__(self, key: Any) -> Any:
        return self._wrap(super().__getitem__(key))

    def get(self, key: Any, default: Any = None) -> Any:
        """Return the resolved value of ``key``, or ``default`` if absent."""
        return self[key] if key in self else default  # noqa: SIM401 (resolves)


def run_plugin(
    module: ModuleType | None, plugin: str, reason: str, kwargs: dict
) -> str:
    """Run lookup plugin ``plugin`` (``module``, or ``None`` when not found).

    A failure is raised with one line saying which plugin failed and why;
    the result is registered as a secret unless the plugin says it is not
    one (``RESULT_IS_SECRET = False``).

    Raises:
        PluginNotFoundError: ``module`` is ``None`` (``reason`` says why).
    """
    from opentaskpy import otflogging
    from opentaskpy.config import locate

    try:
        if module is None:
            raise PluginNotFoundError(
                f"Couldn't find lookup plugin '{plugin}': {reason}"
            )
        result = module.run(**kwargs)
    except Exception as err:
        if isinstance(err, OTFError) and err.plugin:
            raise  # a nested lookup, already described
        err.add_note(f"raised by lookup plugin '{plugin}'")
        text = locate.plain_text(err)
        if type(err) is KeyError:
            text = f"plugin not found ({text})"
        if f"lookup plugin '{plugin}'" not in text:
            text = f"lookup plugin '{plugin}' failed: {text}"
        reraise(err, plugin=plugin, summary=text)
    # Lookups fetch secrets (files, vaults); a plugin whose results are
    # not secret says so, or a random "7" would mask every "7" logged.
    if getattr(module, "RESULT_IS_SECRET", True):
        otflogging.register_secret(result)
    return str(result)
