"""The ``esdh-agent`` command line (the commands live in ``cli.app``).

The console script imports this package and calls ``main``, which imports the commands only
then: worker processes start from a server that runs the console script again (to stand in
for ``__main__``), and this keeps that to an empty package instead of the whole command line.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line (see ``esdh_agent.cli.app.main``)."""
    from esdh_agent.cli.app import main as run

    return run(argv)
