"""Crash points for the crash-safety harness.

``crash_point(name)`` does nothing unless ``ESDH_CRASH_AT`` names it, in which case the
process kills itself with SIGKILL on the spot — no cleanup, no finally blocks, exactly like a
power cut or an OOM kill. Tests set the variable in a child process and then check that
nothing partial is visible and the next run recovers. Points are listed in ``CRASH_POINTS``.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_POINTS", "crash_point"]

CRASH_POINTS = (
    "write_data",  # a block of data is on disk, more are coming
    "before_manifest",  # all data files written, manifest not yet
    "before_fsync",  # manifest written, nothing fsynced yet
    "before_rename",  # staged and fsynced, not yet renamed into place
    "after_rename",  # renamed into place, directory not yet fsynced
    "after_dir_fsync",  # committed and durable, process still running
    "node:ground",
    "node:planner",
    "node:policy_gate",
    "node:generate",
    "node:validate",
    "node:critic",
    "node:decide",
    "node:commit",
)


def crash_point(name: str) -> None:
    """SIGKILL this process if ``ESDH_CRASH_AT`` is ``name`` (test harness only)."""
    if os.environ.get("ESDH_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
