"""Generated files committed to a workspace (contracts, vocabularies, critic cases): find the
stale ones, write them."""

from __future__ import annotations

from pathlib import Path

__all__ = ["stale_files", "write_files"]


def stale_files(files: dict[Path, str]) -> list[Path]:
    """The files missing on disk or whose committed text differs from ``files``."""
    return [
        p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text
    ]


def write_files(files: dict[Path, str]) -> list[Path]:
    """Write every file (parents created); return the ones that changed."""
    stale = stale_files(files)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return stale
