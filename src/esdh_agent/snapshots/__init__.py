"""Committed snapshots on disk: read, validate, verify, diff, reproduce (``operations``) and
prune (``prune``). The store itself (staging, fsync, rename, lock) and the manifest are part of
the deterministic core (``core.store``, ``core.manifest``)."""

from esdh_agent.snapshots.operations import (
    Reproduction,
    VerifyResult,
    diff_snapshots,
    read_tables,
    reproduce,
    validate_path,
    verify,
)

__all__ = [
    "Reproduction",
    "VerifyResult",
    "diff_snapshots",
    "read_tables",
    "reproduce",
    "validate_path",
    "verify",
]
