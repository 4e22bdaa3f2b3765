"""Reviewers' views of agent runs: one run's timeline against another's (``diff``) and a
self-contained, filterable HTML page (``html``, with ``html_critics``, ``html_events``,
``markup`` and ``assets``). ``request`` reads what was asked and where each plan field came
from, ``events`` how the model calls went (attempts, the expected mode fallback); both are
shared with ``transcripts show``. The transcript sink is ``llm.transcript``."""
