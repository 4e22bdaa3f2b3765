"""Load YAML/JSON files into pydantic models with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from esdh_agent.errors import EsdhError, WorkspaceError

__all__ = [
    "FAST_LOADER",
    "NodeSource",
    "describe_validation_error",
    "load_model",
    "load_yaml",
    "parse_model",
]

M = TypeVar("M", bound=BaseModel)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps the composed node tree for line lookups."""


FAST_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it: about 12x faster than the pure-Python
one on the request grammar (which every agent run reads). Node trees, needed only to name the
line of a value a model rejects, are composed on demand by the pure-Python loader, whose marks
can be shifted (front matter)."""

NodeSource = Callable[[], Any]
"""Returns the composed node tree of a document, only when an error needs a line number."""


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the value at ``loc`` in a composed YAML tree (best effort)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    node, line = value_node, key_node.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def describe_validation_error(error: ValidationError) -> tuple[tuple[int | str, ...], str]:
    """The first problem of a pydantic error as (location, short message)."""
    first = error.errors()[0]
    loc = tuple(first["loc"])
    key_error = bool(loc) and loc[-1] == "[key]"
    if key_error:
        loc = loc[:-1]
    field = ".".join(str(p) for p in loc) or "(top level)"
    kind = first["type"]
    text = str(first["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        message = f"unknown field '{field}'"
    elif kind == "missing":
        message = f"missing field '{field}'"
    elif key_error:
        parent = ".".join(str(p) for p in loc[:-1])
        message = f"{parent}: key {loc[-1]!r} is not allowed: {text}"
    elif text.startswith(str(loc[-1]) if loc else "\0"):
        message = text
    else:
        message = f"{field}: {text}" if loc else text
    more = error.error_count() - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return loc, message


def load_yaml(path: Path, *, error: type[EsdhError] = WorkspaceError) -> tuple[Any, NodeSource]:
    """Parse a YAML (or JSON) file; return (data, a source of its node tree for line lookups).

    Syntax errors name the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {path}: {exc}") from None
    try:
        data = yaml.load(text, Loader=FAST_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise error(f"invalid YAML: {exc.problem}", location=where) from None
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}", location=str(path)) from None
    return data, lambda: yaml.compose(text, Loader=_Loader)


def parse_model(
    model: type[M],
    data: Any,
    *,
    source: str,
    node: Any = None,
    error: type[EsdhError] = WorkspaceError,
    hint: str | None = None,
) -> M:
    """Validate ``data`` into ``model``; on failure raise ``error`` naming source and line.

    ``node`` is the document's node tree, or a ``NodeSource`` called only on failure."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"expected a mapping, found {type(data).__name__}", location=source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc, message = describe_validation_error(exc)
        tree = node() if callable(node) else node
        line = _line_of(tree, loc) if tree is not None else None
        raise error(message, location=f"{source}:{line}" if line else source, hint=hint) from None


def load_model(
    path: Path,
    model: type[M],
    *,
    error: type[EsdhError] = WorkspaceError,
    hint: str | None = None,
) -> M:
    """Load a YAML or JSON file into ``model`` with located errors."""
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise error(f"file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise error(f"cannot read {path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise error(f"invalid JSON: {exc.msg}", location=f"{path}:{exc.lineno}") from None
        return parse_model(model, data, source=str(path), error=error, hint=hint)
    data, node = load_yaml(path, error=error)
    return parse_model(model, data, source=str(path), node=node, error=error, hint=hint)
