"""Build a snapshot from a plan: layout → blocks (generate, validate, encode) → write → commit.

This is what ``esdh-agent generate`` and the agent's generate node call. The data is
validated before anything is committed: error-level findings stop the build and the
staging directory is removed. Everything streams block by block — an engine (local or Dask)
yields blocks in order, a writer thread writes them (one file per entity, or one part per
block), the validator keeps per-block findings, tallies and key hashes that spill to disk
past a fixed budget — so memory does not grow with the row count.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import platform
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from esdh_agent import __version__
from esdh_agent.core.blockwork import (
    VALUE_LIBRARIES,
    BlockOutput,
    BlockTask,
    Checked,
    check_generated,
    encode_checked,
)
from esdh_agent.core.contract import (
    CONTRACT_VERSION,
    ENTITIES,
    DatasetMetadata,
    arrow_schema,
    contract_documents,
)
from esdh_agent.core.faults import crash_point
from esdh_agent.core.generator import GENERATOR_VERSION
from esdh_agent.core.layout import BLOCK_SIZE, compile_layout
from esdh_agent.core.manifest import (
    BlockEntry,
    EntityEntry,
    FileEntry,
    Manifest,
    content_hash,
)
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import ValidationReport
from esdh_agent.core.store import CommitResult, SnapshotStore, check_name
from esdh_agent.core.validate import ValidationContext, Validator
from esdh_agent.core.vocab import Vocabulary
from esdh_agent.engines import make_engine
from esdh_agent.engines.local import available_cpus
from esdh_agent.engines.options import check_formats, check_layout
from esdh_agent.engines.ownfiles import FilesTask, shared_staging, write_block
from esdh_agent.engines.writer import BlockWriter
from esdh_agent.errors import SnapshotConflict, SnapshotError, ValidationFailed

__all__ = [
    "VALUE_LIBRARIES",
    "BuildResult",
    "StagedBundle",
    "build_snapshot",
    "commit_bundle",
    "contract_hash",
    "invalid",
    "library_versions",
    "metadata_bytes",
    "os_errors",
    "stage_bundle",
]

Progress = Callable[[int, int], None]


def library_versions() -> dict[str, str]:
    """Exact versions of every library that shapes generated values."""
    return {name: version(name) for name in VALUE_LIBRARIES}


def contract_hash() -> str:
    text = json.dumps(contract_documents(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def metadata_bytes(plan: GenerationPlan, rows: dict[str, int]) -> bytes:
    """metadata.json: DatasetMetadata derived from the plan only (no wall-clock time)."""
    meta = DatasetMetadata(
        dataset_version=plan.dataset_version,
        generated_at=dt.datetime.combine(plan.as_of_date, dt.time()),
        record_count_persons=rows.get("persons", 0),
        record_count_vehicles=rows.get("vehicles", 0),
        record_count_profiles=rows.get("profiles", 0),
        notes=f"Synthetic data, not real people. Seed {plan.seed}; plan sha256 "
        f"{plan.plan_hash()[:16]}.",
    )
    return (json.dumps(meta.model_dump(mode="json"), indent=2) + "\n").encode()


@dataclass
class BuildResult:
    """What a build did: the commit (or why not), the report and where time went."""

    commit: CommitResult
    report: ValidationReport
    rows: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class StagedBundle:
    """A generated, validated bundle in a staging directory, ready to commit or discard."""

    path: Path
    manifest: Manifest
    report: ValidationReport
    rows: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def os_errors(where: Path) -> Iterator[None]:
    """Turn operating-system failures into one SnapshotError naming the path."""
    try:
        yield
    except OSError as exc:
        raise SnapshotError(
            f"cannot write the snapshot: {exc.strerror or exc}",
            location=str(exc.filename or where),
            hint="check free space and permissions; nothing was committed",
        ) from None


def stage_bundle(
    plan: GenerationPlan,
    *,
    vocab: Vocabulary,
    marker: str,
    name: str,
    target: Path,
    formats: tuple[str, ...] = ("csv",),
    workers: int = 1,
    progress: Progress | None = None,
    block_size: int = BLOCK_SIZE,
    engine: str = "local",
    scheduler: str | None = None,
    layout: str = "single",
    spill_dir: Path | None = None,
) -> StagedBundle:
    """Generate ``plan`` into the empty directory ``target``, validating every block.

    ``name`` is the snapshot's name: the id columns are keyed on it as well as on the seed
    (ADR 0001), so the same plan under two names gives disjoint ids and otherwise equal
    columns, and the same plan, seed and name always give the same bytes.

    Writes the data files and metadata.json and returns the manifest to commit (without a
    commit time) and the full validation report. Nothing is committed here. ``engine``
    (``local`` or ``dask``), ``workers``, ``scheduler`` (an existing Dask cluster) and
    ``layout`` (``single`` or ``parts``) never change the content hash. Key hashes for the
    uniqueness rules spill to a temporary directory under ``spill_dir`` (default: beside
    ``target``) once they pass the validator's memory budget.
    """
    check_name(name)
    formats = check_formats(formats)
    files_layout = check_layout(layout)
    runner = make_engine(engine, workers, scheduler)
    seconds: dict[str, float] = {"generate": 0.0, "validate": 0.0, "encode": 0.0}
    wall = time.perf_counter()
    compiled = compile_layout(plan, vocab, marker, block_size, name=name)
    ctx = ValidationContext(vocab=vocab, as_of=plan.as_of_date, marker=marker, plan=plan)
    entities = {e: EntityEntry(rows=0, columns=arrow_schema(e).names, blocks=[]) for e in ENTITIES}
    task = BlockTask(layout=compiled, ctx=ctx, formats=formats, parts=files_layout == "parts")
    total = len(compiled.blocks)
    target.mkdir(parents=True, exist_ok=True)
    pooled = not runner.in_process(total)
    running = workers if pooled else 1  # blocks computed at once
    validator = Validator(
        ctx, spill_dir=spill_dir or target.parent, threads=min(running, available_cpus())
    )
    writer = BlockWriter(target, formats, files_layout)
    with contextlib.ExitStack() as stack:
        try:
            if pooled:  # workers write their own files (ADR 0005)
                probe = stack.enter_context(shared_staging(target, files_layout))
                job = FilesTask(task, str(target), probe)
                blocks = stack.enter_context(
                    contextlib.closing(runner.map(write_block, job, range(total)))
                )
            else:
                checked = stack.enter_context(
                    contextlib.closing(runner.map(check_generated, task, range(total)))
                )
                blocks = stack.enter_context(contextlib.closing(_encoded_behind(task, checked)))
            for done, out in enumerate(blocks, start=1):
                writer.add(out)
                for entity, rows in out.rows.items():
                    entry = entities[entity]
                    entry.rows += rows
                    entry.blocks.append(
                        BlockEntry(rows=rows, bytes=out.sizes[entity], sha256=out.digests[entity])
                    )
                for phase, value in out.seconds.items():
                    seconds[phase] += value
                # The last block of each worker ends the build at once: keep its keys.
                validator.add(out.check, spill=total - done >= running)
                del out
                if progress:
                    progress(done, total)
            # The whole-dataset rules first: the writer thread finishes its last files
            # meanwhile (close waits for it).
            t = time.perf_counter()
            report = validator.finish()
            seconds["validate_global"] = time.perf_counter() - t
            t = time.perf_counter()
            rows = {e: entry.rows for e, entry in entities.items()}
            files = writer.close(rows)
            seconds["write"] = writer.seconds + time.perf_counter() - t
        except BaseException:
            writer.abort()
            raise
        finally:
            validator.close()
    crash_point("before_manifest")
    meta = metadata_bytes(plan, rows)
    (target / "metadata.json").write_bytes(meta)
    meta_sha = hashlib.sha256(meta).hexdigest()
    files.append(FileEntry(path="metadata.json", bytes=len(meta), sha256=meta_sha))
    manifest = Manifest(
        name=name,
        dataset_version=plan.dataset_version,
        content_hash=content_hash(entities, meta_sha),
        seed=plan.seed,
        plan=plan.model_dump(mode="json"),
        plan_hash=plan.plan_hash(),
        marker=marker,
        entities=entities,
        files=sorted(files, key=lambda f: f.path),
        generator={
            "name": "esdh-agent",
            "version": __version__,
            "generator_version": GENERATOR_VERSION,
            "block_size": block_size,
            "libraries": library_versions(),
            "python": platform.python_version(),
        },
        vocabulary={"hash": vocab.digest, "files": dict(vocab.files)},
        contract={"version": CONTRACT_VERSION, "hash": contract_hash()},
        validation={
            "errors": report.errors,
            "warnings": report.warnings,
            "rules": len(report.rules),
        },
        committed_at="",
    )
    seconds["stage_wall"] = time.perf_counter() - wall
    return StagedBundle(path=target, manifest=manifest, report=report, rows=rows, seconds=seconds)


def _encoded_behind(
    task: BlockTask, checked: Iterable[Checked]
) -> Generator[BlockOutput, None, None]:
    """Blocks of an in-process build, in order, each encoded on a thread while the next one
    is generated and checked here.

    Encoding runs mostly without the GIL (ADR 0005, amendment 3), so one process keeps about
    one and a half cores busy instead of one and a fifth; at most one block is being encoded
    while the next is made. Closing this waits for the encoding under way.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="esdh-encode") as encoder:
        pending: Future[BlockOutput] | None = None
        for block in checked:
            future = encoder.submit(encode_checked, task, block)
            del block
            if pending is not None:
                yield pending.result()
            pending = future
        if pending is not None:
            yield pending.result()


def invalid(report: ValidationReport) -> ValidationFailed:
    """The error for a bundle with error-level findings (nothing is committed)."""
    first = next(f for f in report.findings if f.severity == "error")
    where = f"{first.entity}.{first.field}" if first.field else first.entity
    return ValidationFailed(
        f"validation found {report.errors} error-level finding(s); nothing was committed "
        f"(first: {first.rule} on {where}: {first.message})",
        hint="add --json to see every finding",
        report=report,
    )


def commit_bundle(
    store: SnapshotStore, bundle: StagedBundle, provenance: dict[str, Any] | None = None
) -> CommitResult:
    """Commit a staged bundle atomically under its manifest's name."""
    manifest = bundle.manifest.model_copy(
        update={
            "provenance": dict(provenance or {}),
            "committed_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        }
    )
    with os_errors(store.data_dir):
        try:
            return store.commit(bundle.path, manifest)
        except SnapshotConflict as exc:
            raise _explained(store, manifest.name, exc) from None


def _explained(store: SnapshotStore, name: str, conflict: SnapshotConflict) -> SnapshotConflict:
    """The conflict, explained when the committed snapshot is another generator version's."""
    try:
        made_by = str(store.manifest(name).generator.get("generator_version", "unrecorded"))
    except SnapshotError:
        return conflict
    if made_by == GENERATOR_VERSION:
        return conflict
    return SnapshotConflict(
        f"snapshot {name!r} was made by generator {made_by}; this is generator "
        f"{GENERATOR_VERSION}, which gives other values for the same plan (CHANGELOG: Values)",
        hint="committed snapshots are immutable: choose another --name, or remove the old one",
    )


def build_snapshot(
    plan: GenerationPlan,
    *,
    vocab: Vocabulary,
    store: SnapshotStore,
    marker: str,
    name: str,
    formats: tuple[str, ...] = ("csv",),
    workers: int = 1,
    provenance: dict[str, Any] | None = None,
    progress: Progress | None = None,
    block_size: int = BLOCK_SIZE,
    engine: str = "local",
    scheduler: str | None = None,
    layout: str = "single",
) -> BuildResult:
    """Generate, validate and atomically commit a snapshot of ``plan`` under ``name``.

    Error-level validation findings raise ValidationFailed (carrying the report) and
    commit nothing. Operating-system failures (a full disk, a path that cannot be written)
    become one SnapshotError naming the path. The staging directory is always removed, and
    so is the validator's key spill (kept in the store's staging area, where a crashed
    build's leftovers are cleaned). ``engine``, ``workers``, ``scheduler`` and ``layout``
    are as in ``stage_bundle``: none of them changes the content hash.
    """
    wall = time.perf_counter()
    with os_errors(store.data_dir), store.staging(check_name(name)) as staged:
        bundle = stage_bundle(
            plan,
            vocab=vocab,
            marker=marker,
            name=name,
            target=staged,
            formats=formats,
            workers=workers,
            progress=progress,
            block_size=block_size,
            engine=engine,
            scheduler=scheduler,
            layout=layout,
            spill_dir=store.staging_root,
        )
        if not bundle.report.ok:
            raise invalid(bundle.report)
        t = time.perf_counter()
        commit = commit_bundle(store, bundle, provenance)
        bundle.seconds["commit"] = time.perf_counter() - t
    bundle.seconds["wall"] = time.perf_counter() - wall
    return BuildResult(
        commit=commit, report=bundle.report, rows=bundle.rows, seconds=bundle.seconds
    )
