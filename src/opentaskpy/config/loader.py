"""Configuration loading: variables files, task files and template rendering.

Covers variables discovery and eager/lazy
resolution, task lookup by id, rendering, runtime overrides, filters and
lookup plugins. One loader is shared by all the steps of a batch (in
threads), so the methods that mutate ``global_variables`` hold a lock.

Errors leave the loader as :class:`~opentaskpy.exceptions.OTFError` instances
(a jinja2, json or plugin error is wrapped in a class that is still of its
own type) carrying the file, the line or variable, and the lookup plugin;
JSON and ``UndefinedError`` messages are also prefixed with the path.
"""

from __future__ import annotations

import glob
import json
import os
import threading
from collections.abc import Callable

from opentaskpy import otflogging
from opentaskpy.config import (
    locate,
    lookups,
    overrides,
    task_files,
    templating,
    variables_files,
)
from opentaskpy.config.lookups import LazyResolvedDict as LazyResolvedDict
from opentaskpy.config.task_files import TaskFile
from opentaskpy.exceptions import InvalidConfigError, OTFError, reraise, wrap
from opentaskpy.filters import default_filters
from opentaskpy.verbosity import VERBOSE1, VERBOSE2

TYPE_CHECKING = False  # importing typing costs start-up time

if TYPE_CHECKING:  # imported on first render: plain tasks never load jinja2
    from typing import Any, NoReturn

    import jinja2

MAX_DEPTH = 5


class ConfigLoader:
    """Loads variables and task definitions from a configuration directory.

    Args:
        config_dir: the directory (``str`` or path-like).

    Attributes:
        config_dir: as given.
        global_variables: merged (resolved in eager mode) variables.
        file_cache: pre-loaded task/variables file paths → contents.
        lazy_load: ``OTF_LAZY_LOAD_VARIABLES == "1"`` at construction.
        template_env: the Jinja environment (created on first use).
        loaded_filters: the OTF filters registered (defaults and custom).
    """

    def __init__(self, config_dir: Any):
        self.logger = otflogging.init_logging("opentaskpy.config.loader")
        self.config_dir = config_dir
        self.logger.log(VERBOSE1, f"Looking in {config_dir}")
        self._lock = threading.RLock()
        self.global_variables: dict = {}
        self.file_cache: dict[str, str] = {}
        self._variables_sources: list[templating.VariablesSource] = []
        self._warned_partial: set[str] = set()

        self._template_env: jinja2.Environment | None = None
        # Plain {{ NAME }} texts skip Jinja, unless a caller set its own env.
        self._plain_render = True
        self.loaded_filters: dict[str, Callable] = {}
        self._load_filters()
        self._load_global_variables()
        self.lazy_load = os.environ.get("OTF_LAZY_LOAD_VARIABLES") == "1"
        self._resolve_templated_variables()
        self._preload_files()

    # ------------------------------------------------------------------
    # Construction steps
    # ------------------------------------------------------------------

    def _load_filters(self) -> None:
        filters = lookups.module_functions(default_filters)
        filters.update(lookups.load_custom_filters(str(self.config_dir), self.logger))
        self.loaded_filters = filters

    @property
    def template_env(self) -> jinja2.Environment:
        """The Jinja environment, created (and jinja2 imported) on first use."""
        if self._template_env is None:
            import jinja2

            env = jinja2.Environment(undefined=jinja2.StrictUndefined)
            env.filters.update(self.loaded_filters)
            # Every filter is also callable as a function (``{{ now() }}``):
            # compile_template copies the filter table into each template's
            # globals; the environment globals get it too for other users.
            env.globals.update(env.filters)
            env.globals["lookup"] = self.template_lookup
            self._template_env = env
        return self._template_env

    @template_env.setter
    def template_env(self, env: jinja2.Environment) -> None:
        self._template_env = env
        self._plain_render = False

    def _load_global_variables(self) -> None:
        """(Re)read and merge the variables files into ``global_variables``."""
        paths = variables_files.find(self.config_dir, self.logger)
        self._variables_sources, self.global_variables = variables_files.read(paths)

    def _variables_label(self) -> str:
        return ", ".join(path for path, _ in self._variables_sources)

    def _resolve_templated_variables(self) -> None:
        """Compile the variables and, in eager mode, resolve them."""
        with self._lock:
            text = json.dumps(self.global_variables)
            if not templating.needs_render(text):
                return
            first = None
            if not self.lazy_load:  # plain references only: no jinja2 at all
                first = templating.render_plain(text, self.global_variables)
            if first is None:
                template = self._compile_variables(text)
                if self.lazy_load:
                    return
            label = self._variables_label()

            def rerender(previous: str) -> str:
                context = templating.loads_named(previous, label, " (rendered)")
                plain = templating.render_plain(previous, context)
                if plain is not None:
                    return plain
                env = self.template_env
                return templating.compile_template(env, previous).render(context)

            try:
                if first is None:
                    first = template.render(self.global_variables)
                final, _ = templating.render_until_stable(
                    first,
                    rerender,
                    self.logger,
                    MAX_DEPTH,
                    templating.diverging_keys,
                )
            except Exception as err:
                import jinja2  # an error path: the cost does not matter here

                if not isinstance(err, jinja2.UndefinedError):
                    self._variables_error(err, label)
                if isinstance(err, OTFError) and err.config_file:
                    raise
                raise templating.variables_undefined_error(
                    self._variables_sources, err
                ) from err
            self.global_variables = templating.loads_named(
                final, label, " (after rendering templates)"
            )

    def _compile_variables(self, text: str) -> jinja2.Template:
        """Compile the merged variables text; a syntax error names file and key."""
        import jinja2

        env = self.template_env
        try:
            return templating.compile_template(env, text)
        except jinja2.TemplateSyntaxError as err:
            raise templating.variables_syntax_error(
                env, self._variables_sources, err
            ) from err

    def _variables_error(self, err: Exception, label: str) -> NoReturn:
        """Re-raise an error of the variables render naming file and variable."""
        path, position = locate.lookup_in_variables(err, self._variables_sources)
        err.add_note(f"while rendering {label}")
        reraise(err, config_file=path or label, json_path=position, position=position)

    def _preload_files(self) -> None:
        cache: dict[str, str] = {}
        for pattern in ("**/*.json", "**/*.json.j2"):
            for path in glob.glob(f"{self.config_dir}/{pattern}", recursive=True):
                try:
                    with open(path, encoding="utf-8", errors="replace") as handle:
                        cache[path] = handle.read()
                except OSError:
                    cache[path] = ""
        self.file_cache = cache

    # ------------------------------------------------------------------
    # Public API
    # ------------------------------------------------------------------

    def get_global_variables(self) -> dict:
        """Apply environment overrides to the global variables and return them."""
        with self._lock:
            overrides.apply_variable_overrides(
                self.global_variables, "global", self.logger
            )
            return self.global_variables

    def find_task_file(self, task_id: str) -> str:
        """Return the file of ``task_id``: exact name first, then end of name.

        See :func:`opentaskpy.config.task_files.find_task_file`.

        Raises:
            FileNotFoundError: no file matches.
            DuplicateConfigFileError: several files match equally well.
        """
        try:
            return task_files.find_task_file(
                self.file_cache, task_id, self._warned_partial, self.logger
            )
        except (FileNotFoundError, OTFError) as err:
            reraise(err, config_file=str(self.config_dir))

    def task_files(self) -> dict[str, str]:
        """Return every task id of the config directory and its file."""
        return task_files.task_ids(self.file_cache)

    def task_file_list(self) -> list[TaskFile]:
        """Return every task file of the config directory, duplicate ids included."""
        return task_files.task_file_list(self.file_cache, str(self.config_dir))

    def load_task_definition(
        self, task_id: str, cache: bool = True, extra_variables: dict | None = None
    ) -> dict:
        """Find, render and return the definition of ``task_id``.

        Args:
            task_id: the task id (file name without ``.json``/``.json.j2``).
            cache: if false, re-scan the config directory first.
            extra_variables: names visible to this render only (a batch's
                foreach ``item``); they never become global variables.

        Returns:
            A new dict on every call.
        """
        with self._lock:
            if not cache:
                self._preload_files()
            return self.load_task_file(self.find_task_file(task_id), extra_variables)

    def load_task_file(self, path: str, extra_variables: dict | None = None) -> dict:
        """Render and return the task definition in file ``path``.

        As :meth:`load_task_definition`, for a file its id cannot name alone
        (an id several files share).
        """
        with self._lock:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            if not path.endswith(".j2"):
                raw = templating.loads_named(text, path)
                task_vars = raw.get("variables") if isinstance(raw, dict) else None
                if isinstance(task_vars, dict):
                    # Persistent for the loader's lifetime (upstream quirk).
                    self.global_variables = self.global_variables | task_vars
            rendered = self._render_task(path, text, extra_variables)
            definition = templating.loads_named(
                rendered, path, " (after rendering templates)"
            )
            if not isinstance(definition, dict):
                raise InvalidConfigError(
                    f"{path}: a task definition must be an object", config_file=path
                )
            if isinstance(definition.get("variables"), dict):
                overrides.apply_variable_overrides(
                    definition["variables"], "task", self.logger
                )
            if definition.get("type") == "batch":
                self.logger.debug("Cannot apply overrides to batch tasks")
                return definition
            overrides.apply_attribute_overrides(definition, self.logger)
            return definition

    def _render_task(self, path: str, text: str, extra: dict | None = None) -> str:
        """Render a task file's text; a text without templates is returned as is."""
        if not templating.json_needs_render(text):
            return text
        if self._plain_render and not self.lazy_load:  # lazy: resolves names first
            plain = templating.render_plain(text, self._context(extra))
            if plain is not None:
                return plain
        import jinja2
        import jinja2.meta

        env = self.template_env
        try:
            ast = env.parse(text, name=path, filename=path)
        except jinja2.TemplateSyntaxError as err:
            raise templating.syntax_error(err, path) from err
        template = templating.compile_template(env, ast, path)
        try:
            if self.lazy_load:
                self._resolve_lazily(jinja2.meta.find_undeclared_variables(ast))
            return template.render(self._context(extra))
        except jinja2.UndefinedError as err:
            if isinstance(err, OTFError) and err.config_file:
                raise
            named = jinja2.UndefinedError(f"{path}: {err.message}")
            raise wrap(
                named,
                config_file=path,
                position=locate.line_in_file(err, path),
                summary=err.message,
            ) from err
        except Exception as err:
            plugin = err.plugin if isinstance(err, OTFError) else None
            call = locate.lookup_call(plugin) if plugin else None
            err.add_note(f"while rendering {path}")
            reraise(
                err, config_file=path, position=locate.line_in_file(err, path, call)
            )

    def _context(self, extra: dict | None) -> dict:
        """Return the global variables, with ``extra`` names over them if any."""
        return {**self.global_variables, **extra} if extra else self.global_variables

    def template_lookup(self, plugin: str, **kwargs: Any) -> str:
        """Run lookup plugin ``plugin`` (the ``lookup()`` template global).

        Returns:
            ``str()`` of the plugin's result, or ``noop`` when
            ``OTF_NOOP == "true"``.

        Raises:
            KeyError: the plugin cannot be found (and not in noop mode).
        """
        self.logger.log(
            VERBOSE2, f"Got call to lookup function {plugin} with kwargs {kwargs}"
        )
        resolved = {key: self._resolve_lookup_value(v) for key, v in kwargs.items()}
        with self._lock:  # consistent snapshot while another thread renders
            resolved["globals"] = LazyResolvedDict(
                self.global_variables, self._resolve_lookup_value, resolve_lookups=False
            )
        module, reason = lookups.find_lookup_module(
            plugin, str(self.config_dir), self.logger
        )
        if os.environ.get("OTF_NOOP") == "true":
            return "noop"
        return lookups.run_plugin(module, plugin, reason, resolved)

    def _resolve_lookup_value(self, value: Any, resolve_lookups: bool = True) -> Any:
        """Resolve templates in a lookup argument (dicts/lists element-wise)."""
        if isinstance(value, dict):
            return {
                k: self._resolve_lookup_value(v, resolve_lookups)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._resolve_lookup_value(v, resolve_lookups) for v in value]
        if isinstance(value, str):
            if not resolve_lookups and "lookup(" in value:
                return value
            return self._resolve_string(value)
        return value

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _resolve_string(self, value: str) -> str:
        """Resolve a string's templates against the current ``global_variables``."""
        if not templating.needs_render(value):
            return value
        env = self.template_env
        context = self.global_variables

        def render(text: str) -> str:
            return templating.compile_template(env, text).render(context)

        final, _ = templating.render_until_stable(
            render(value), render, self.logger, MAX_DEPTH
        )
        return final

    def _resolve_lazily(self, names: set[str]) -> None:
        """Lazy mode: resolve the referenced global variables in place."""
        for name in sorted(names):
            if name not in self.global_variables:
                continue
            value = self.global_variables[name]
            dumped = not isinstance(value, str)
            text = json.dumps(value) if dumped else value
            self.logger.info(f"Resolving variable {name}")
            try:
                resolved = self._resolve_string(text)
            except Exception as err:
                err.add_note(f"while resolving global variable '{name}'")
                raise
            self.global_variables[name] = json.loads(resolved) if dumped else resolved
