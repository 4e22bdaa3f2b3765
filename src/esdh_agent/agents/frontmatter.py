"""Markdown files with YAML front matter: slice prompts, critic templates, the MOP."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

from esdh_agent.core.yamlio import FAST_LOADER, parse_model
from esdh_agent.errors import WorkspaceError

__all__ = ["Document", "read_document"]

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Document:
    """A parsed file: its front matter (validated), its body and where the body starts."""

    path: Path
    meta: Any
    body: str
    body_line: int
    sha256: str


def read_document(path: Path, model: type[M]) -> Document:
    """Read ``path``; the front matter must validate into ``model`` (errors name file:line)."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise WorkspaceError(f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"cannot read {path}: {exc}") from None
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise WorkspaceError(
            "missing YAML front matter (the file must start with '---')", location=f"{path}:1"
        )
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise WorkspaceError(
            "front matter is not closed with '---'", location=f"{path}:1"
        ) from None
    header = "\n".join(lines[1:end])
    try:
        data = yaml.load(header, Loader=FAST_LOADER)
    except yaml.MarkedYAMLError as exc:
        line = (exc.problem_mark.line + 2) if exc.problem_mark is not None else 1
        raise WorkspaceError(
            f"invalid front matter: {exc.problem}", location=f"{path}:{line}"
        ) from None
    meta = parse_model(
        model,
        data,
        source=str(path),
        node=lambda: _shift(yaml.compose(header, Loader=yaml.SafeLoader)),
    )
    body = "\n".join(lines[end + 1 :]).strip("\n") + "\n"
    return Document(
        path=path, meta=meta, body=body, body_line=end + 2, sha256=hashlib.sha256(raw).hexdigest()
    )


def _shift(node: Any) -> Any:
    """Front matter starts on line 2 of the file: shift the node marks by one line."""
    if node is None:
        return None
    stack = [node]
    while stack:
        current = stack.pop()
        for mark in (current.start_mark, current.end_mark):
            if mark is not None and not getattr(mark, "_esdh_shifted", False):
                mark.line += 1
                mark._esdh_shifted = True
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.extend([key, value])
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return node
