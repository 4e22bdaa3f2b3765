"""The validator tool: a bundle (or a snapshot on disk) → a ValidationReport.

Row-level rules run per block, vectorized with Arrow compute, wherever the block is (a
worker process during generation). Rules that need the whole dataset — uniqueness and
plan conformance — run in ``Validator.finish`` over keys and tallies the blocks hand back.
Key hashes go to a ``KeyStore`` with a fixed memory budget that spills to disk, tallies are
small and findings are merged as they arrive, so a validator's memory does not grow with
the row count. Every finding is collected; only the caller decides what is fatal.

Dependencies run one way: this module → ``rules`` (the rule families) → ``checker``
(``Checker``, ``ValidationContext``, ``BlockCheck``) and ``keystore`` (``KeyStore``,
``KeyHashes``). The names callers have always imported from here are re-exported.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from esdh_agent.core import rules
from esdh_agent.core.checker import (
    ID_COLUMNS,
    Block,
    BlockCheck,
    Checker,
    ValidationContext,
    as_mask,
)
from esdh_agent.core.contract import ENTITIES
from esdh_agent.core.keystore import SPILL_BUDGET, KeyHashes, KeyStore
from esdh_agent.core.report import MAX_SAMPLES, Finding, ValidationReport

__all__ = [
    "ID_COLUMNS",
    "SPILL_BUDGET",
    "Block",
    "BlockCheck",
    "Checker",
    "KeyHashes",
    "KeyStore",
    "ValidationContext",
    "Validator",
    "as_mask",
    "check_block",
    "validate_tables",
]


def check_block(ctx: ValidationContext, block: Block, offsets: dict[str, int]) -> BlockCheck:
    """Run every row-level rule on one block (all three entities present)."""
    checker = Checker(block, offsets)
    for entity in ENTITIES:
        rules.contract(checker, entity)
    rules.persons(checker, ctx)
    rules.vehicles(checker, ctx)
    rules.profiles(checker)
    rules.hygiene(checker, ctx)
    rules.keys_and_tallies(checker, ctx)
    return checker.result


class Validator:
    """Accumulates block checks and runs the whole-dataset rules at the end.

    Findings are merged as blocks arrive (counts added, the first samples kept), tallies are
    small and key hashes go to a ``KeyStore`` that spills past ``budget`` bytes (default
    this module's ``SPILL_BUDGET``, read when the validator is made), so memory stays bounded
    whatever the number of blocks. ``finish`` (or ``close``) removes the spill files;
    ``threads`` check the uniqueness buckets side by side there (a build with a worker pool
    passes its worker count, as those cores are otherwise idle by then).
    """

    def __init__(
        self,
        ctx: ValidationContext,
        spill_dir: Path | None = None,
        budget: int | None = None,
        threads: int = 1,
    ) -> None:
        self.ctx = ctx
        self.threads = threads
        self.findings: dict[tuple[str, str, str | None, str], Finding] = {}
        self.rows: Counter[str] = Counter()
        self.rules: set[str] = set()
        self.keys = KeyStore(budget or SPILL_BUDGET, spill_dir)
        self.tallies: dict[str, Counter[str]] = {}

    def add(self, check: BlockCheck, spill: bool = True) -> None:
        """Merge one block's check. ``spill=False`` for the blocks that end a build: their
        keys are not spilled just to be read back, ``finish`` merges them with the spilled
        ones, bucket by bucket, on its threads."""
        for finding in check.findings:
            have = self.findings.get(finding.key())
            if have is None:
                self.findings[finding.key()] = finding.model_copy(deep=True)
            else:
                have.count += finding.count
                have.samples.extend(finding.samples[: max(MAX_SAMPLES - len(have.samples), 0)])
        self.rows.update(check.rows)
        self.rules |= check.rules
        for name, arrays in check.keys.items():
            for keys in arrays:
                self.keys.add(name, keys, spill=spill)
        for name, runs in check.key_runs.items():
            for run in runs:
                self.keys.add_run(name, run)
        for name, counts in check.tallies.items():
            self.tallies.setdefault(name, Counter()).update(counts)

    def finish(self) -> ValidationReport:
        try:
            findings = list(self.findings.values())
            findings += rules.uniqueness(self.keys, self.rules, self.threads)
        finally:
            self.close()
        if self.ctx.plan is not None:
            findings += rules.conformance(self.ctx.plan, self.tallies, dict(self.rows), self.rules)
        return ValidationReport.merge(findings, dict(self.rows), self.rules)

    def close(self) -> None:
        self.keys.close()


def validate_tables(ctx: ValidationContext, block: Block) -> ValidationReport:
    """Validate whole tables at once (one block): snapshots on disk, API payloads, tests."""
    validator = Validator(ctx)
    validator.add(check_block(ctx, block, {}))
    return validator.finish()
