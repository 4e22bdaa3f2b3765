"""Reviewers' views of agent runs: one run's timeline against another's (``diff``) and a
self-contained, filterable HTML page (``html``). The transcript sink is ``llm.transcript``."""
