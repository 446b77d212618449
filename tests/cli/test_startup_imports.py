"""Start-up cost: which heavy modules a successful ``task-run`` imports.

Each test runs ``task-run --noop`` in a fresh interpreter through a small
wrapper that prints the names in ``sys.modules`` once ``main()`` returned.
With a validation cache hit (a definition that passed before against the
same schemas) nothing of jsonschema is imported at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.helpers import python_marked_json, python_stdout, write_json

# Pulled in by urllib.request; none of them is needed to run a task locally.
NETWORK_STACK = ("urllib.request", "http.client", "email", "ssl")
# What schema validation costs (jsonschema and its dependencies).
VALIDATION_STACK = (
    "jsonschema",
    "referencing",
    "attrs",
    "rpds",
    "jsonschema_specifications",
    "opentaskpy.config.schemas",
    "opentaskpy.config.schema_registry",
)

_WRAPPER = (
    "import json, sys\n"
    "from opentaskpy.cli.task_run import main\n"
    "sys.argv = ['task-run', *sys.argv[1:]]\n"
    "main()\n"
    "print('MODULES=' + json.dumps(sorted(sys.modules)))\n"
)


def small_transfer(cfg: Path, tmp_path: Path, templated: bool = True) -> None:
    """A local-to-local transfer task ``small`` in ``cfg``."""
    variables = '{"YEAR": "{{ now().year }}"}' if templated else '{"YEAR": "2026"}\r\n'
    (cfg / "variables.json.j2").write_text(variables)
    write_json(
        cfg / "small.json",
        {
            "type": "transfer",
            "source": {
                "directory": str(tmp_path / "src"),
                "fileRegex": "a.txt",
                "protocol": {"name": "local"},
            },
            "destination": [
                {"directory": str(tmp_path / "dst"), "protocol": {"name": "local"}}
            ],
        },
    )


def noop_modules(
    cfg: Path, cwd: Path, env: dict[str, str], noop: bool = True
) -> set[str]:
    """Run ``task-run [--noop] -t small`` and return the modules it loaded."""
    args = [*(["--noop"] if noop else []), "-t", "small", "-c", str(cfg)]
    modules, _ = python_marked_json(_WRAPPER, args, "MODULES", env=env, cwd=cwd)
    return set(modules)


def test_plain_run_never_imports_the_network_stack(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    small_transfer(cfg_dir, tmp_path)
    modules = noop_modules(cfg_dir, isolated_env, {"OTF_VALIDATION_CACHE": "0"})
    assert "jsonschema" in modules  # the definition really was validated
    assert not modules & set(NETWORK_STACK), sorted(modules & set(NETWORK_STACK))


def test_cache_hit_run_imports_no_validation_or_network_stack(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    small_transfer(cfg_dir, tmp_path)
    env = {"OTF_VALIDATION_CACHE_DIR": str(tmp_path / "validation-cache")}
    first = noop_modules(cfg_dir, isolated_env, env)
    assert "jsonschema" in first  # a miss: validated for real, then stored
    second = noop_modules(cfg_dir, isolated_env, env)
    heavy = set(VALIDATION_STACK + NETWORK_STACK)
    assert not second & heavy, sorted(second & heavy)
    assert "opentaskpy.config.validation_cache" in second


def test_error_reporting_module_does_not_import_referencing() -> None:
    code = (
        "import sys\n"
        "import opentaskpy.cli.error_report\n"
        "print(sorted(m for m in ('referencing', 'attrs', 'jsonschema') "
        "if m in sys.modules))\n"
    )
    assert python_stdout(code) == "[]\n"


def test_templates_are_compiled_only_when_there_are_some(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    """No template delimiters anywhere: jinja2 is never imported (and no PGP
    key: nor is gnupg); a template in the variables brings jinja2 back."""
    env = {"OTF_VALIDATION_CACHE_DIR": str(tmp_path / "validation-cache")}
    small_transfer(cfg_dir, tmp_path, templated=False)
    noop_modules(cfg_dir, isolated_env, env)  # fill the validation cache
    plain = noop_modules(cfg_dir, isolated_env, env)
    assert "opentaskpy.config.loader" in plain
    assert not {"jinja2", "gnupg"} & plain, sorted({"jinja2", "gnupg"} & plain)
    small_transfer(cfg_dir, tmp_path, templated=True)
    assert "jinja2" in noop_modules(cfg_dir, isolated_env, env)


def test_a_successful_local_transfer_loads_no_error_reporting_or_introspection(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    """Error reporting is imported only for an error; nothing on the local
    path needs ``inspect`` (dataclasses), ``pathlib``, ``subprocess`` (the
    execution machinery) or the SSH/PGP stacks."""
    (tmp_path / "src").mkdir()
    (tmp_path / "dst").mkdir()
    (tmp_path / "src" / "a.txt").write_text("payload")
    small_transfer(cfg_dir, tmp_path, templated=False)
    env = {"OTF_VALIDATION_CACHE_DIR": str(tmp_path / "validation-cache")}
    noop_modules(cfg_dir, isolated_env, env, noop=False)
    (tmp_path / "dst" / "a.txt").unlink()
    modules = noop_modules(cfg_dir, isolated_env, env, noop=False)
    assert (tmp_path / "dst" / "a.txt").read_text() == "payload"
    assert "opentaskpy.fs.localfs" in modules  # it really ran
    unwanted = {
        "opentaskpy.cli.error_report",
        "inspect",
        "pathlib",
        "subprocess",
        "jinja2",
        "gnupg",
        "paramiko",
        "tenacity",
        "regex",  # "a.txt" cannot backtrack: matched with re
    }
    assert not unwanted & modules, sorted(unwanted & modules)


def test_noop_sftp_transfer_imports_no_ssh_stack_nor_shutil(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path
) -> None:
    """``--noop`` of an SFTP transfer stops before connecting: no paramiko.
    argparse's help formatter, built for every option, gets its width
    without ``shutil`` (which drags in ``bz2`` and ``lzma``)."""
    (cfg_dir / "variables.json.j2").write_text('{"YEAR": "2026"}')
    protocol = {"name": "sftp", "credentials": {"username": "u"}}
    write_json(
        cfg_dir / "small.json",
        {
            "type": "transfer",
            "source": {
                "hostname": "127.0.0.1",
                "directory": "/tmp",
                "fileRegex": "a.txt",
                "protocol": protocol,
            },
            "destination": [
                {"hostname": "127.0.0.2", "directory": "/tmp", "protocol": protocol}
            ],
        },
    )
    env = {"OTF_VALIDATION_CACHE_DIR": str(tmp_path / "validation-cache")}
    noop_modules(cfg_dir, isolated_env, env)  # fill the validation cache
    modules = noop_modules(cfg_dir, isolated_env, env)
    assert "opentaskpy.taskrun" in modules  # it really ran
    unwanted = {"paramiko", "cryptography", "shutil", "bz2", "lzma", "jsonschema"}
    assert not unwanted & modules, sorted(unwanted & modules)


#: Not needed by ``--noop`` of a validated definition whose templates are
#: plain ``{{ NAME }}`` references (see opentaskpy.config.templating.render_plain).
NOT_FOR_A_PLAIN_NOOP = {
    "jinja2",
    "jsonschema",
    "paramiko",
    "regex",
    "typing",  # names for annotations only: TYPE_CHECKING = False
    "hashlib",  # loads OpenSSL; the validation cache hashes with _sha256
    "datetime",  # the log prefix comes from time
}


@pytest.mark.parametrize("protocol", ["local", "sftp"])
def test_noop_of_a_cached_definition_with_plain_references_imports_only_its_needs(
    cfg_dir: Path, tmp_path: Path, isolated_env: Path, protocol: str
) -> None:
    (cfg_dir / "variables.json.j2").write_text(
        json.dumps({"SRC_DIR": str(tmp_path / "src"), "PORT": 22})
    )
    end: dict = {"protocol": {"name": "local"}}
    if protocol == "sftp":
        end = {
            "hostname": "127.0.0.1",
            "protocol": {
                "name": "sftp",
                "port": "{{ PORT }}",
                "credentials": {"username": "u"},
            },
        }
    definition = {
        "type": "transfer",
        "source": {"directory": "{{ SRC_DIR }}", "fileRegex": "a.txt", **end},
        "destination": [{"directory": "/tmp", **end}],
    }
    text = json.dumps(definition).replace('"{{ PORT }}"', "{{ PORT }}")  # a number
    (cfg_dir / "small.json.j2").write_text(text)
    env = {"OTF_VALIDATION_CACHE_DIR": str(tmp_path / "validation-cache")}
    first = noop_modules(cfg_dir, isolated_env, env)
    assert "jsonschema" in first  # validated for real once, then cached
    modules = noop_modules(cfg_dir, isolated_env, env)
    assert "opentaskpy.taskrun" in modules  # it really ran
    assert not NOT_FOR_A_PLAIN_NOOP & modules, sorted(NOT_FOR_A_PLAIN_NOOP & modules)
