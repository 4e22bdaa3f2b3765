"""The console script's entry point stays light: worker processes run it again."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from esdh_agent import __version__


def test_the_console_script_enters_through_the_light_package() -> None:
    (script,) = entry_points(group="console_scripts", name="esdh-agent")
    assert script.value == "esdh_agent.cli:main"


def test_importing_the_entry_point_does_not_import_the_commands() -> None:
    """The forkserver runs the console script as ``__mp_main__`` for every pool: that must not
    import the whole command line (typer, rich and every command module)."""
    code = (
        "import sys, esdh_agent.cli; "
        "print('esdh_agent.cli.app' in sys.modules, 'typer' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_the_entry_point_runs_the_command_line() -> None:
    code = "import sys, esdh_agent.cli; sys.exit(esdh_agent.cli.main(['--version']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0
    assert __version__ in done.stdout
