"""The ``esdh-agent`` command line: thin commands over the layers below.

Exit codes (shared by every command): 0 success, 1 error, 2 usage, 3 refused by critics,
4 awaiting approval, 5 validation found error-level findings, 6 `critic eval` found cases
with no recording to replay.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from esdh_agent import __version__
from esdh_agent.cli import (
    admin,
    cassettes,
    critic,
    demo,
    generate,
    housekeeping,
    plan,
    run,
    serve,
    slices,
    snapshots,
)
from esdh_agent.cli.common import STATE, WorkspaceOpt

__all__ = ["app", "main"]

app = typer.Typer(
    name="esdh-agent",
    help="Governed, reproducible synthetic insurance test data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"esdh-agent {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    workspace: WorkspaceOpt = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """ESDH agent: plan, generate, validate and commit governed synthetic snapshots."""
    STATE.workspace = workspace
    STATE.debug = debug or STATE.debug


app.command("generate")(generate.generate_command)
app.command("validate")(generate.validate_command)
app.command("init")(admin.init_command)
app.add_typer(snapshots.app, name="snapshots")
app.add_typer(plan.app, name="plan")
app.add_typer(run.run_app, name="run")
app.command("resume")(run.resume_command)
app.command("approvals")(run.approvals_command)
app.command("graph")(run.graph_command)
app.add_typer(run.transcripts_app, name="transcripts")
app.add_typer(critic.critic_app, name="critic")
app.add_typer(cassettes.app, name="cassettes")
app.add_typer(slices.app, name="slices")
app.command("serve")(serve.serve_command)
app.command("demo")(demo.demo_command)
snapshots.app.command("prune")(housekeeping.snapshots_prune)
app.add_typer(housekeeping.runs_app, name="runs")
app.add_typer(admin.contracts_app, name="contracts")
app.add_typer(admin.vocab_app, name="vocab")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user mistakes become one red line and an exit code, never a traceback.

    A reader that stops early (``esdh-agent … | head -1``) ends the command quietly with exit
    code 0, as Unix filters do.
    """
    try:
        code = _run(argv)
        sys.stdout.flush()  # a closed pipe shows up here, not in the interpreter's last flush
    except BrokenPipeError:
        return _stdout_closed()
    except SystemExit as exc:
        # Typer turns a broken pipe into sys.exit(1) (after pacifying stdout's last flush).
        if isinstance(exc.__context__, BrokenPipeError):
            return _stdout_closed()
        raise
    return code


def _stdout_closed() -> int:
    """Point stdout at devnull (the Python-documented way: the interpreter's final flush
    must not fail again) and report success."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (captured in tests)
        pass
    return 0


def _run(argv: list[str] | None) -> int:
    from esdh_agent.errors import EsdhError, ExitCode

    args = sys.argv[1:] if argv is None else argv
    STATE.debug = "--debug" in args
    try:
        code = app(args=args, prog_name="esdh-agent", standalone_mode=False)
    except BrokenPipeError:
        raise
    except EsdhError as exc:
        if STATE.debug:
            raise
        _error_line(exc.one_line())
        return int(exc.exit_code)
    except KeyboardInterrupt:
        _error_line("interrupted; nothing was committed")
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        _error_line("aborted")
        return 1
    except Exception as exc:
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()  # the command-line parser's own usage errors (exit code 2)
            return int(exc.exit_code)  # type: ignore[attr-defined]
        if STATE.debug:
            raise
        _error_line(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
        return int(ExitCode.ERROR)
    return code if isinstance(code, int) else 0


def _error_line(text: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/] {escape(text)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
