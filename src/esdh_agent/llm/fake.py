"""A scripted fake model for unit tests: answers per node from a script, no network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from esdh_agent.llm.protocol import CallResult, M, StructuredModel

__all__ = ["ScriptedLLM"]

Answer = dict[str, Any] | str | Callable[[str, str], dict[str, Any] | str]


class ScriptedLLM(StructuredModel):
    """A ``StructuredModel`` like LLMClient; answers come from ``script``.

    ``script`` maps a node name (``planner``, ``critic:plan-fidelity``) to a list of answers
    used in order (the last one repeats). An answer is a JSON-able dict, a raw string, or a
    callable ``(system, user) -> answer``. Every call is kept in ``calls`` for assertions.
    """

    def __init__(self, script: dict[str, list[Answer]]) -> None:
        self.script = script
        self.calls: list[dict[str, Any]] = []
        self.models_used: set[str] = set()

    def structured(
        self,
        *,
        node: str,
        model: str,
        system: str,
        user: str,
        schema: type[M],
        max_reasks: int,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> CallResult[M]:
        import json

        answers = self.script.get(node, [])
        index = sum(1 for c in self.calls if c["node"] == node)
        self.calls.append({"node": node, "model": model, "system": system, "user": user})
        self.models_used.add(model)
        if not answers:
            return CallResult(None, 1, "fake", ["no scripted answer"], "")
        answer = answers[min(index, len(answers) - 1)]
        if callable(answer):
            answer = answer(system, user)
        raw = answer if isinstance(answer, str) else json.dumps(answer)
        try:
            return CallResult(schema.model_validate_json(raw), 1, "fake", [], raw)
        except ValidationError as exc:
            return CallResult(None, 1, "fake", [str(e["msg"]) for e in exc.errors()], raw)
