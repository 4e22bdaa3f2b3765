"""A run's transcript as a readable timeline in the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from esdh_agent.agents.models import verdict_state

__all__ = ["print_timeline"]


def _short(value: Any, limit: int = 160) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_timeline(record: dict[str, Any], events: list[dict[str, Any]], console: Console) -> None:
    """Plan and revisions, gate, validator, verdicts with findings, re-asks, tokens, commit."""
    console.print(
        f"[bold]run {record['run_id']}[/] slice {record['slice_id']} — "
        f"{record.get('status')} (llm {record.get('llm_mode')})"
    )
    tokens: dict[str, int] = {}
    latency: dict[str, int] = {}
    for e in events:
        node, kind = e["node"], e["type"]
        head = f"[dim]{e['ts'][11:19]}[/] [cyan]{node:<26}[/]"
        if kind == "llm_response":
            key = node
            tokens[key] = (
                tokens.get(key, 0)
                + (e.get("prompt_tokens") or 0)
                + (e.get("completion_tokens") or 0)
            )
            latency[key] = latency.get(key, 0) + (e.get("latency_ms") or 0)
            console.print(
                f"{head} response ({e.get('mode')}, {e.get('finish_reason')}, "
                f"{e.get('completion_tokens')} tok, {e.get('latency_ms')} ms): "
                f"{escape(_short(e.get('content', ''), 120))}"
            )
        elif kind == "llm_request":
            console.print(f"{head} request to {e.get('model')} ({e.get('mode')})")
        elif kind in ("reask", "structured_failed"):
            console.print(f"{head} [yellow]{kind}[/]: {escape('; '.join(e.get('errors', [])))}")
        elif kind == "mode_rejected":
            console.print(f"{head} server rejected {e['mode']}; using {e['next_mode']}")
        elif kind == "llm_error":
            console.print(
                f"{head} [red]model error[/] {e.get('status') or ''} "
                f"{escape(_short(e.get('error', '')))}"
            )
        elif kind == "proposal":
            state = "valid" if e.get("valid") else f"invalid, dropped {e.get('dropped')}"
            console.print(
                f"{head} revision {e.get('revision')}: proposal {state}: "
                f"{escape(_short(e.get('proposal')))}"
            )
        elif kind == "decision":
            extra = e.get("decision") or e.get("outcome")
            notes = "; ".join(e.get("notes", []) or [])
            console.print(
                f"{head} [bold]{extra}[/] {escape(_short(notes))} "
                f"{escape(_short(e.get('reason') or ''))}"
            )
        elif kind == "approval":
            verb = "approved" if e.get("approved") else "rejected"
            console.print(
                f"{head} [bold]{verb}[/] by {escape(str(e.get('by')))}: "
                f"{escape(str(e.get('comment')))}"
            )
        elif kind == "tool_result":
            detail = e.get("rows") or e.get("summary")
            console.print(f"{head} {e.get('tool')}: {escape(_short(detail))}")
        elif kind == "verdict":
            state = verdict_state(e)
            colour = "green" if e["passed"] else "red"
            score = "" if e.get("score") is None else f" score {e['score']:.2f}"
            console.print(
                f"{head} [{colour}]{state}[/]{score} (revision {e.get('revision')}): "
                f"{escape(_short(e.get('summary') or ''))}"
            )
            ordered = sorted(e.get("findings", []), key=lambda f: not f.get("blocking"))
            for f in ordered[:8]:
                mark = "[red]blocking[/]" if f.get("blocking") else f"[dim]{f.get('status')}[/]"
                console.print(
                    f"{'':36} {mark} {f.get('severity')} {escape(f.get('rule') or '')}"
                    f" {escape(_short(f.get('message', ''), 100))} — "
                    f"[dim]{escape(_short(f.get('reason', ''), 80))}[/]"
                )
        elif kind == "commit":
            console.print(
                f"{head} [green]{e.get('status')}[/] {e.get('name')} {e.get('content_hash')}"
            )
        elif kind in ("run_start", "run_resume", "run_end", "run_error"):
            console.print(
                f"{head} {kind} {escape(_short(e.get('status') or e.get('error') or ''))}"
            )
    if tokens:
        console.print(
            "[bold]model use per node[/]: "
            + ", ".join(
                f"{k} {tokens[k]:,} tok / {latency.get(k, 0) / 1000:.1f} s" for k in sorted(tokens)
            )
        )
