"""A run's budget for model use: the limits (``Budgets``) and what has been spent (``Budget``)."""

from __future__ import annotations

import threading
import time

from pydantic import BaseModel, ConfigDict, Field

from esdh_agent.errors import BudgetExceeded

__all__ = ["Budget", "Budgets"]


class Budgets(BaseModel):
    """A run's limits on model use (mop/index.yaml ``budgets``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_calls: int = Field(60, ge=1)
    max_tokens: int = Field(600_000, ge=1)
    max_seconds: float = Field(1800, gt=0)


class Budget:
    """Calls, tokens and wall-clock time a run may spend on models."""

    def __init__(self, limits: Budgets) -> None:
        self.limits = limits
        self.calls = 0
        self.tokens = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()  # critics call in parallel

    def before_call(self) -> None:
        with self._lock:
            self._check()
            self.calls += 1

    def _check(self) -> None:
        elapsed = time.monotonic() - self.started
        if self.calls >= self.limits.max_calls:
            raise BudgetExceeded(
                f"run budget exhausted: {self.calls} model calls made "
                f"(max_calls {self.limits.max_calls})"
            )
        if self.tokens >= self.limits.max_tokens:
            raise BudgetExceeded(
                f"run budget exhausted: {self.tokens} tokens used "
                f"(max_tokens {self.limits.max_tokens})"
            )
        if elapsed >= self.limits.max_seconds:
            raise BudgetExceeded(
                f"run budget exhausted: {elapsed:.0f} s elapsed "
                f"(max_seconds {self.limits.max_seconds:g})"
            )

    def spent(self, tokens: int) -> None:
        """Count tokens a response reports (a negative or missing count counts as 0)."""
        with self._lock:
            self.tokens += max(0, tokens)

    def remaining_seconds(self) -> float:
        return self.limits.max_seconds - (time.monotonic() - self.started)
