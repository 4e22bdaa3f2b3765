"""JSON Schemas for structured output that weaker servers can turn into grammars.

Pydantic's schemas use ``$ref``, ``propertyNames`` and regular-expression ``pattern``s; some
OpenAI-compatible servers handle none of them. ``structured_schema`` inlines references, turns
enum-keyed mappings into objects with explicit optional properties and leaves patterns to the
pydantic validation that follows. ``field_guide`` is the compact, deterministic description
of the fields that goes into the prompt text.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

__all__ = ["field_guide", "structured_schema"]


_DROPPED = ("$defs", "title", "pattern")
"""Keywords left out: titles are noise, and some servers' grammar builders mis-parse regular
expression patterns (pydantic still checks them, and a violation is re-asked)."""


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].split("/")[-1]]
            merged = {**_inline(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
            return merged
        out = {k: _inline(v, defs) for k, v in node.items() if k not in _DROPPED}
        names = out.pop("propertyNames", None)
        if isinstance(names, dict) and "enum" in names and "additionalProperties" in out:
            value = out.pop("additionalProperties")
            out["properties"] = {str(key): value for key in names["enum"]}
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def structured_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with references inlined and enum-keyed maps made explicit."""
    raw = model.model_json_schema()
    schema: dict[str, Any] = _inline(raw, raw.get("$defs", {}))
    return schema


def field_guide(model: type[BaseModel]) -> str:
    """One line per field: name, JSON type and description (deterministic)."""
    schema = structured_schema(model)
    lines = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or "/".join(
            str(p.get("type")) for p in prop.get("anyOf", []) if isinstance(p, dict)
        )
        text = " ".join(str(prop.get("description", "")).split())
        default = prop.get("default")
        suffix = f" Default: {json.dumps(default, sort_keys=True)}." if default is not None else ""
        lines.append(f"- {name} ({kind}): {text}{suffix}")
    return "\n".join(lines)
