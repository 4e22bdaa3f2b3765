"""Small, escaping HTML builders shared by the run page's modules.

Every value goes through ``esc`` (a transcript holds model output), so no builder here can
emit markup it was given as text.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from itertools import zip_longest

from esdh_agent.transcripts.diff import critic_of

__all__ = ["attrs", "details", "esc", "js", "kv", "pre", "slug", "table", "ul"]


def esc(value: object) -> str:
    """Escape any value for text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def js(value: object) -> str:
    """Compact JSON of a value (to show, escaped by the caller)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def pre(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return f"<pre><code>{esc(text)}</code></pre>"


def details(summary: str, body: str, cls: str = "") -> str:
    klass = f' class="{esc(cls)}"' if cls else ""
    return f"<details{klass}><summary>{esc(summary)}</summary>{body}</details>"


def ul(items: Iterable[object]) -> str:
    lis = "".join(f"<li>{esc(i)}</li>" for i in items)
    return f"<ul>{lis}</ul>" if lis else '<span class="muted">none</span>'


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def attrs(node: str, extra: str = "") -> str:
    """The filter attributes of an element that belongs to ``node``."""
    cls = f"filterable {extra}".strip()
    return f'class="{esc(cls)}" data-node="{esc(node)}" data-critic="{esc(critic_of(node))}"'


def table(head: Iterable[str], rows: list[str], row_attrs: Iterable[str] = ()) -> str:
    heads = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join(f"<tr {a}>{r}</tr>" for r, a in zip_longest(rows, row_attrs, fillvalue="") if r)
    return f"<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def kv(pairs: Iterable[tuple[str, str]], ident: str = "") -> str:
    """A definition list; values are markup already built (escape them first)."""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs)
    ident_attr = f' id="{esc(ident)}"' if ident else ""
    return f'<dl class="kv"{ident_attr}>{items}</dl>'
