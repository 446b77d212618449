"""Plain ``{{ NAME }}`` references are substituted without Jinja, identically.

:func:`opentaskpy.config.templating.render_plain` must either return exactly
what Jinja (the loader's environment) renders, or decline (``None``) so that
Jinja renders the text with its own errors. Each case below is rendered both
ways.
"""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest

from opentaskpy.config.loader import ConfigLoader
from opentaskpy.config.templating import render_plain
from support.helpers import write_json

CONTEXT = {
    "A": "alpha",
    "B": "/b/dir",
    "N": 7,
    "F": 1.5,
    "T": True,
    "L": [1, 2],
    "D": {"k": "v"},
    "Z": None,
    "BRACES": "{{ A }}",  # a value is inserted as is, never rendered again
    "true": "shadowed",  # Jinja reads a constant, not this variable
    "self": "shadowed",
    "now": "a variable named like a filter",
}

#: Texts render_plain substitutes itself.
PLAIN = [
    '{"a": "{{ A }}"}',
    '{"a": "{{A}}", "b": "{{  B\t}}", "n": {{ N }}, "f": {{ F }}, "t": "{{ T }}"}',
    '{"a": "{{\nA\n}}"}\n',  # one trailing newline is dropped, as Jinja does
    '{"a": "{{ A }}"}\n\n',
    '{"a": "{{ A }}}}", "b": "}} %} #}", "c": "{ {{ B }} }"}',
    '{"a": "{{ BRACES }}"}',
    '{"a": "{{ now }}"}',
    "{{ A }}{{ B }}",
    "x{{ A }}",
]

#: Texts left to Jinja: other syntax, other value types, undefined names...
NOT_PLAIN = [
    '{"a": "{{ A | upper }}"}',
    '{"a": "{{ A.x }}"}',
    '{"a": "{{- A }}"}',
    '{"a": "{{ A -}}"}',
    '{"a": "{{ L }}"}',
    '{"a": "{{ D }}"}',
    '{"a": "{{ Z }}"}',
    '{"a": "{{ true }}"}',
    '{"a": "{{ self }}"}',
    '{"a": "{{ MISSING }}"}',
    '{"a": "{{ A }}", "b": "{% if N %}x{% endif %}"}',
    '{"a": "{{ A }}", "b": "{# note #}"}',
    '{"a": "{{{ A }}}"}',
    '{"a": "{{ A }}"}\r\n',
    '{"a": "{{ A }} {{ "{{" }}"}',
    '{"a": "{{ \u00e9 }}"}',
]


def _jinja(text: str) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return env.from_string(text).render(CONTEXT)


@pytest.mark.parametrize("text", PLAIN)
def test_plain_references_render_as_jinja_does(text: str) -> None:
    rendered = render_plain(text, CONTEXT)
    assert rendered is not None
    assert rendered == _jinja(text)


@pytest.mark.parametrize("text", NOT_PLAIN)
def test_anything_else_is_left_to_jinja(text: str) -> None:
    assert render_plain(text, CONTEXT) is None


def test_a_plain_task_and_variables_load_as_with_jinja(
    cfg_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Variables referencing variables (resolved over several passes) and a
    task referencing them load to what the Jinja path gives (lazy mode
    always takes that path)."""
    variables = {"ROOT": "/data", "IN": "{{ ROOT }}/in", "DEEP": "{{ IN }}/x"}
    (cfg_dir / "variables.json.j2").write_text(json.dumps(variables))
    task = {
        "type": "execution",
        "protocol": {"name": "local"},
        "directory": "{{ DEEP }}",
        "command": "echo {{ ROOT }}",
    }
    write_json(cfg_dir / "t.json", task)
    plain = ConfigLoader(str(cfg_dir))
    definition = plain.load_task_definition("t")
    assert plain._template_env is None  # Jinja was never needed
    assert definition["directory"] == "/data/in/x"
    assert definition["command"] == "echo /data"
    monkeypatch.setenv("OTF_LAZY_LOAD_VARIABLES", "1")
    lazy = ConfigLoader(str(cfg_dir))
    assert lazy.load_task_definition("t") == definition
    assert lazy._template_env is not None


def test_an_undefined_name_still_fails_as_before(cfg_dir: Path) -> None:
    write_json(cfg_dir / "t.json", {"type": "execution", "directory": "{{ NOPE }}"})
    with pytest.raises(jinja2.UndefinedError) as info:
        ConfigLoader(str(cfg_dir)).load_task_definition("t")
    assert "'NOPE' is undefined" in str(info.value)
    assert "t.json" in str(info.value)


def test_an_environment_set_by_the_caller_renders_every_template(
    cfg_dir: Path,
) -> None:
    (cfg_dir / "variables.json.j2").write_text('{"A": "x"}')
    write_json(cfg_dir / "t.json", {"type": "execution", "directory": "{{ A }}"})
    loader = ConfigLoader(str(cfg_dir))
    loader.template_env = jinja2.Environment(finalize=lambda value: f"<{value}>")
    assert loader.load_task_definition("t")["directory"] == "<x>"
