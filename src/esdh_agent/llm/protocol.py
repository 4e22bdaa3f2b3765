"""The structured-model protocol: what agents ask a model client, and what they get back.

``LLMClient`` (an OpenAI-compatible endpoint) and ``ScriptedLLM`` (the scripted fake for
tests) both implement ``StructuredModel``, so a planner or a critic takes either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

__all__ = ["CallResult", "M", "StructuredModel"]

M = TypeVar("M", bound=BaseModel)
"""The pydantic model a structured call asks for."""


@dataclass
class CallResult(Generic[M]):
    """The outcome of one structured call, re-asks included.

    ``value`` is None when no valid answer came; ``refusal`` then holds the model's refusal,
    if that is why.
    """

    value: M | None
    attempts: int
    mode: str
    errors: list[str] = field(default_factory=list)
    raw: str = ""
    refusal: str | None = None
    raws: list[str] = field(default_factory=list)  # every attempt's answer, re-asks included


class StructuredModel(Protocol):
    """What a critic or the planner needs from a model client (LLMClient or a scripted fake)."""

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
        """Ask for one JSON object matching ``schema``; re-ask up to ``max_reasks`` times.

        Returns ``CallResult(value=None)`` when no valid answer came (errors listed) or the
        model refused (``refusal`` set).
        """
        ...
