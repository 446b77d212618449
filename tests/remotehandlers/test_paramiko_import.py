"""paramiko is imported without ``invoke``, which stays importable for others."""

from __future__ import annotations

from support.helpers import python_stdout


def run_python(code: str) -> str:
    return python_stdout(code).strip()


def test_ssh_handlers_do_not_load_invoke_and_invoke_still_imports():
    out = run_python(
        "import sys\n"
        "import opentaskpy.remotehandlers.ssh, opentaskpy.remotehandlers.sftp\n"
        "import paramiko.config\n"
        "print('invoke' in sys.modules, paramiko.config.invoke is None)\n"
        "import invoke\n"
        "print(invoke.__name__)\n"
    )
    assert out.splitlines() == ["False True", "invoke"]


def test_nothing_changes_when_paramiko_was_imported_first():
    out = run_python(
        "import paramiko, paramiko.config\n"
        "import opentaskpy.remotehandlers.ssh\n"
        "print(paramiko.config.invoke is not None)\n"
    )
    assert out == "True"


def test_paramiko_version_is_read_without_importlib_metadata():
    out = run_python(
        "import sys\n"
        "import opentaskpy.remotehandlers.ssh\n"
        "import paramiko\n"
        "print('importlib.metadata' in sys.modules)\n"
        "version = paramiko.__version__\n"
        "import importlib.metadata\n"
        "from importlib import metadata\n"
        "print(version == importlib.metadata.version('paramiko'))\n"
        "print(metadata is sys.modules['importlib.metadata'])\n"
        "print(type(metadata).__name__, metadata.packages_distributions is not None)\n"
    )
    assert out.splitlines() == ["False", "True", "True", "module True"]


def test_importlib_metadata_imported_first_is_left_alone():
    out = run_python(
        "import importlib.metadata as before\n"
        "import opentaskpy.remotehandlers.ssh, sys\n"
        "print(sys.modules['importlib.metadata'] is before)\n"
    )
    assert out == "True"
