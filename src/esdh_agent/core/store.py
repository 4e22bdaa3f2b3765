"""The snapshot store: atomic, immutable, lock-guarded commits under ``data/snapshots/``.

A build writes into a private staging directory under ``data/.staging/``; commit fsyncs
every file and the directory, then renames it into place without overwriting, while
holding the workspace lock. A crash at any point leaves either nothing or the complete
snapshot; staging leftovers are removed by the next build.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from esdh_agent.core.faults import crash_point
from esdh_agent.core.manifest import Manifest
from esdh_agent.errors import (
    SnapshotConflict,
    SnapshotCorrupt,
    SnapshotError,
    SnapshotNameError,
    SnapshotNotFound,
)

__all__ = [
    "NAME_PATTERN",
    "CommitResult",
    "SnapshotStore",
    "check_name",
    "fsync_dir",
    "process_alive",
    "sha256_file",
    "write_atomic",
]

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
MANIFEST = "manifest.json"


def check_name(name: str) -> str:
    """Return ``name`` if it is a safe snapshot name, else raise SnapshotNameError."""
    if not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise SnapshotNameError(
            f"invalid snapshot name {name!r}",
            hint="use lowercase letters, digits, '.', '_' and '-' (no '..', no '/'), "
            "starting with a letter or digit, at most 80 characters",
        )
    return name


@dataclass(frozen=True)
class CommitResult:
    status: Literal["committed", "unchanged"]
    path: Path
    manifest: Manifest


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, text: str, *, mode: int = 0o644) -> None:
    """Write ``text`` to ``target`` so readers see the old file or the whole new one: a
    temporary file beside it, fsynced, then renamed over it. OSError propagates; the
    temporary file never stays behind."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fsync_tree(path: Path) -> None:
    """fsync every file below ``path``, then each directory (deepest first)."""
    for child in path.iterdir():
        if child.is_dir():
            fsync_tree(child)
        elif child.is_file():
            fd = os.open(child, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(path)


_RENAME_NOREPLACE = 1
_libc = None


def rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``, failing with FileExistsError if ``dst`` exists."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is not None:
        at_fdcwd = -100
        result = renameat2(
            at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), _RENAME_NOREPLACE
        )
        if result == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, "exists", str(dst))
        if err not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(err, os.strerror(err), str(dst))
    if dst.exists():  # fallback without renameat2: the workspace lock makes this safe
        raise FileExistsError(errno.EEXIST, "exists", str(dst))
    os.rename(src, dst)


class SnapshotStore:
    """Committed snapshots of one workspace."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = data_dir / "snapshots"
        self.staging_root = data_dir / ".staging"
        self.lock_path = data_dir / ".lock"

    # -- reading ---------------------------------------------------------------------------

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and (p / MANIFEST).is_file()
        )

    def manifest(self, name: str) -> Manifest:
        path = self.path(name)
        if not (path / MANIFEST).is_file():
            raise SnapshotNotFound(
                f"no snapshot named {name!r}", hint="`esdh-agent snapshots list` shows them"
            )
        return read_manifest(path)

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The workspace lock: one commit at a time, across processes."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def staging(self, name: str) -> Iterator[Path]:
        """A private staging directory, removed unless it was committed."""
        check_name(name)
        self.staging_root.mkdir(parents=True, exist_ok=True)
        self.clean_staging()
        path = self.staging_root / f"{name}.{os.getpid()}.{secrets.token_hex(4)}"
        path.mkdir()
        try:
            yield path
        finally:
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)

    def clean_staging(self) -> list[str]:
        """Remove staging directories left by processes that no longer run."""
        removed: list[str] = []
        if not self.staging_root.is_dir():
            return removed
        for child in self.staging_root.iterdir():
            parts = child.name.rsplit(".", 2)
            pid = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
            if pid is not None and process_alive(pid):
                continue
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
        return removed

    def commit(self, staged: Path, manifest: Manifest) -> CommitResult:
        """Write the manifest, fsync, and move the staged snapshot into place atomically."""
        name = check_name(manifest.name)
        target = self.root / name
        if not staged.exists():
            # A resumed commit whose first attempt was killed after the rename: the bundle is
            # already in place. Committing is idempotent, so compare and report.
            if target.exists():
                return self._existing(target, manifest)
            raise SnapshotError(
                f"the staged bundle for {name!r} is gone ({staged})", hint="run the slice again"
            )
        (staged / MANIFEST).write_text(
            json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=False) + "\n",
            encoding="utf-8",
        )
        crash_point("before_fsync")
        fsync_tree(staged)
        self.root.mkdir(parents=True, exist_ok=True)
        with self.lock():
            if target.exists():
                return self._existing(target, manifest)
            crash_point("before_rename")
            try:
                rename_noreplace(staged, target)
            except FileExistsError:
                return self._existing(target, manifest)
            except OSError as exc:
                raise SnapshotError(f"cannot commit snapshot {name!r}: {exc.strerror}") from None
            crash_point("after_rename")
            fsync_dir(self.root)
            crash_point("after_dir_fsync")
        return CommitResult("committed", target, manifest)

    def _existing(self, target: Path, manifest: Manifest) -> CommitResult:
        existing = read_manifest(target)
        if existing.content_hash == manifest.content_hash:
            return CommitResult("unchanged", target, existing)
        raise SnapshotConflict(
            f"snapshot {manifest.name!r} already exists with different content "
            f"({existing.content_hash[:19]}… vs {manifest.content_hash[:19]}…)",
            hint="committed snapshots are immutable: choose another --name or --version",
        )


def process_alive(pid: object) -> bool:
    """Whether a process with this id exists (anything but an int: no)."""
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: Path) -> Manifest:
    """Load ``path/manifest.json``; a broken manifest is reported as a corrupt snapshot."""
    file = path / MANIFEST
    try:
        return Manifest.model_validate_json(file.read_bytes())
    except FileNotFoundError:
        raise SnapshotNotFound(f"no manifest in {path}") from None
    except (ValidationError, ValueError) as exc:
        raise SnapshotCorrupt(
            f"manifest is unreadable: {str(exc).splitlines()[0]}", location=str(file)
        ) from None
