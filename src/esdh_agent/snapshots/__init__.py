"""Committed snapshots on disk: read, validate, verify, diff, reproduce (``operations``) and
prune (``prune``). The store itself (staging, fsync, rename, lock) and the manifest are part of
the deterministic core (``core.store``, ``core.manifest``)."""
