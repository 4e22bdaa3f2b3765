"""Operations on snapshots on disk: read, validate, verify, diff and reproduce.

Both file layouts (ADR 0008) are understood: ``single`` (``persons.csv``) and ``parts``
(``persons/part-00000.csv``, one self-contained file per block).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent import __version__
from esdh_agent.core.blockwork import CsvRows, decode_csv
from esdh_agent.core.contract import ENTITIES
from esdh_agent.core.generator import GENERATOR_VERSION
from esdh_agent.core.layout import BLOCK_SIZE
from esdh_agent.core.manifest import Manifest, content_hash, part_index, part_path
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import Finding, ValidationReport
from esdh_agent.core.store import MANIFEST, SnapshotStore, read_manifest, sha256_file
from esdh_agent.core.validate import (
    Block,
    ValidationContext,
    Validator,
    check_block,
    validate_tables,
)
from esdh_agent.engines.pipeline import build_snapshot, library_versions
from esdh_agent.errors import InputError, SnapshotCorrupt
from esdh_agent.workspace import Workspace

__all__ = [
    "Reproduction",
    "VerifyResult",
    "diff_snapshots",
    "inspect_path",
    "read_tables",
    "reproduce",
    "validate_path",
    "verify",
]


def _part_files(path: Path, entity: str) -> list[Path]:
    """The CSV parts of ``entity`` in block order (parts layout), or [] (single layout)."""
    folder = path / entity
    if not folder.is_dir():
        return []
    parts = [(part_index(f"{entity}/{p.name}"), p) for p in folder.glob("part-*.csv")]
    return [p for index, p in sorted((i, p) for i, p in parts if i is not None)]


def read_tables(path: Path) -> tuple[dict[str, pa.Table], list[Finding]]:
    """The three entity tables of a snapshot directory, typed, plus type findings.

    Either layout: ``persons.csv`` (single) or ``persons/part-*.csv`` in block order (parts).
    The whole data is loaded; ``validate_path`` streams committed snapshots block by block.
    """
    if not path.is_dir():
        raise InputError(
            f"{path} is not a directory",
            hint="pass a snapshot directory holding persons.csv, vehicles.csv, profiles.csv "
            "(or persons/, vehicles/, profiles/ with part-*.csv)",
        )
    tables: dict[str, pa.Table] = {}
    findings: list[Finding] = []
    for entity in ENTITIES:
        parts = _part_files(path, entity) if not (path / f"{entity}.csv").exists() else []
        pieces = [decode_csv(part, entity) for part in parts or [path / f"{entity}.csv"]]
        tables[entity] = pa.concat_tables([table for table, _ in pieces])
        findings += [finding for _, found in pieces for finding in found]
    return tables, ValidationReport.merge(findings, {}, []).findings


def _blocks(
    path: Path, manifest: Manifest
) -> Iterator[tuple[Block, dict[str, int], list[Finding]]]:
    """Each block's typed tables, first-row offsets and type findings, one block at a time:
    parts file by file, a single CSV streamed by the manifest's per-block row counts."""
    count = len(manifest.entities["persons"].blocks)
    parts = manifest.layout == "parts"
    streams = {} if parts else {e: CsvRows(path / f"{e}.csv", e) for e in ENTITIES}
    offsets = dict.fromkeys(ENTITIES, 0)
    for index in range(count):
        block: Block = {}
        findings: list[Finding] = []
        for entity in ENTITIES:
            if parts:
                table, found = decode_csv(path / part_path(entity, index, "csv"), entity)
            else:
                last = index == count - 1
                table, found = streams[entity].take(
                    None if last else manifest.entities[entity].blocks[index].rows
                )
            block[entity] = table
            findings += found
        yield block, dict(offsets), findings
        for entity, table in block.items():
            offsets[entity] += table.num_rows


def _generated_on(path: Path) -> dt.date:
    """The date a manifest-less snapshot says it was generated (else today)."""
    meta = path / "metadata.json"
    if meta.is_file():
        try:
            stamp = json.loads(meta.read_text(encoding="utf-8"))["generated_at"]
            return dt.datetime.fromisoformat(stamp).date()
        except (ValueError, KeyError, TypeError):
            pass
    return dt.date.today()


def validate_path(
    ws: Workspace,
    path: Path,
    as_of: dt.date | None = None,
    *,
    plan: GenerationPlan | None = None,
) -> ValidationReport:
    """Validate a snapshot directory: committed here, produced by someone else, or a bundle the
    agent staged. Every rule runs, CSV types included, whoever asks (see ``inspect_path``)."""
    return inspect_path(ws, path, as_of, plan=plan)[0]


def inspect_path(
    ws: Workspace,
    path: Path,
    as_of: dt.date | None = None,
    *,
    plan: GenerationPlan | None = None,
) -> tuple[ValidationReport, dict[str, pa.Table] | None]:
    """``validate_path``'s report, plus the whole tables when they were read in one piece
    (a directory without a manifest, such as a staged bundle), so a caller that also profiles
    the data does not read it twice; ``None`` when they were checked block by block.

    ``plan`` (a staged bundle's plan) stands in for the manifest's and sets the as-of date.
    With a manifest (either layout) the data is read and checked one block at a time, as it
    was generated, so memory stays bounded; without one, the whole tables are one block.
    """
    manifest = read_manifest(path) if (path / MANIFEST).is_file() else None
    if plan is None and manifest is not None:
        plan = GenerationPlan.model_validate(manifest.plan)
    ctx = ValidationContext(
        vocab=ws.vocabulary(),
        as_of=as_of or (plan.as_of_date if plan else _generated_on(path)),
        marker=manifest.marker if manifest else ws.policy().required_marker,
        plan=plan,
    )
    tables: dict[str, pa.Table] | None = None
    if manifest is None or not manifest.entities["persons"].blocks:
        tables, type_findings = read_tables(path)
        report = validate_tables(ctx, tables)
    else:
        validator = Validator(ctx)
        type_findings = []
        try:
            for block, offsets, found in _blocks(path, manifest):
                validator.add(check_block(ctx, block, offsets))
                type_findings += found
            report = validator.finish()
        finally:
            validator.close()
    merged = ValidationReport.merge(
        [*type_findings, *report.findings], report.rows, [*report.rules, "contract.type"]
    )
    return merged, tables


@dataclass
class VerifyResult:
    name: str
    problems: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _unlisted(root: Path, listed: set[str]) -> list[str]:
    """Files and folders under ``root`` that the manifest does not account for."""
    folders = {str(Path(p).parent) for p in listed if "/" in p}
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel not in listed and not (path.is_dir() and rel in folders):
            found.append(rel)
    return found


def _block_problems(root: Path, manifest: Manifest) -> list[str]:
    """Recompute every block digest from the CSV bytes (byte ranges, or part bodies)."""
    problems = []
    for entity, contents in manifest.entities.items():
        if manifest.layout == "parts":
            for index, block in enumerate(contents.blocks):
                name = part_path(entity, index, "csv")
                if manifest.file(name) is None:
                    problems.append(f"{name}: block {index} has no part in the manifest")
                    continue
                with (root / name).open("rb") as handle:
                    handle.readline()  # each part has its own header, outside the digest
                    chunk = handle.read()
                if len(chunk) != block.bytes or hashlib.sha256(chunk).hexdigest() != block.sha256:
                    problems.append(f"{name}: block {index} differs from manifest")
            continue
        with (root / f"{entity}.csv").open("rb") as handle:
            handle.readline()  # the header is not part of any block
            for index, block in enumerate(contents.blocks):
                chunk = handle.read(block.bytes)
                if hashlib.sha256(chunk).hexdigest() != block.sha256:
                    problems.append(f"{entity}.csv: block {index} differs from manifest")
    return problems


def verify(store: SnapshotStore, name: str) -> VerifyResult:
    """Recompute every checksum and the content hash; name each file that changed."""
    try:
        manifest = store.manifest(name)
    except SnapshotCorrupt as exc:
        return VerifyResult(name, [exc.one_line()])
    root = store.path(name)
    result = VerifyResult(name)
    listed = {f.path for f in manifest.files} | {MANIFEST}
    for extra in _unlisted(root, listed):
        result.problems.append(f"{extra}: not listed in the manifest")
    for entry in manifest.files:
        path = root / entry.path
        result.checked += 1
        if not path.is_file():
            result.problems.append(f"{entry.path}: missing")
            continue
        size = path.stat().st_size
        if size != entry.bytes:
            result.problems.append(f"{entry.path}: {size} bytes, manifest says {entry.bytes}")
        elif sha256_file(path) != entry.sha256:
            result.problems.append(f"{entry.path}: SHA-256 differs from the manifest")
    if result.problems:
        return result
    # The content hash from the CSV bytes themselves: block digests by byte range.
    result.problems += _block_problems(root, manifest)
    meta = manifest.file("metadata.json")
    if meta and content_hash(manifest.entities, meta.sha256) != manifest.content_hash:
        result.problems.append("manifest.json: content hash does not match its blocks")
    return result


def _distribution(table: pa.Table, column: str) -> dict[str, int]:
    counts = pc.value_counts(table.column(column)).to_pylist()
    return {str(c["values"]): int(c["counts"]) for c in counts if c["values"] is not None}


DIFF_COLUMNS = {
    "persons": ("lob_type", "state", "driver_license_state"),
    "vehicles": ("make", "body_style", "risk_rating", "model_year"),
    "profiles": ("risk_rating",),
}


def diff_snapshots(store: SnapshotStore, a: str, b: str) -> dict[str, Any]:
    """Counts, schema, plan fields and category distributions of two snapshots."""
    ma, mb = store.manifest(a), store.manifest(b)
    ta, _ = read_tables(store.path(a))
    tb, _ = read_tables(store.path(b))
    out: dict[str, Any] = {"a": a, "b": b, "content_equal": ma.content_hash == mb.content_hash}
    out["counts"] = {e: [ma.entities[e].rows, mb.entities[e].rows] for e in ENTITIES}
    out["schema"] = {
        e: {
            "a_only": [c for c in ma.entities[e].columns if c not in mb.entities[e].columns],
            "b_only": [c for c in mb.entities[e].columns if c not in ma.entities[e].columns],
        }
        for e in ENTITIES
    }
    out["plan"] = {
        k: [ma.plan.get(k), mb.plan.get(k)]
        for k in sorted(set(ma.plan) | set(mb.plan))
        if ma.plan.get(k) != mb.plan.get(k)
    }
    dists: dict[str, dict[str, dict[str, list[int]]]] = {}
    for entity, columns in DIFF_COLUMNS.items():
        for column in columns:
            da, db = _distribution(ta[entity], column), _distribution(tb[entity], column)
            changed = {
                k: [da.get(k, 0), db.get(k, 0)]
                for k in sorted(set(da) | set(db))
                if da.get(k, 0) != db.get(k, 0)
            }
            if changed:
                dists.setdefault(entity, {})[column] = changed
    out["distributions"] = dists
    return out


@dataclass
class Reproduction:
    """What ``reproduce`` found. ``actual`` is None when nothing was regenerated: the snapshot
    was made by another generator version, whose values this one cannot give."""

    name: str
    expected: str
    actual: str | None
    warnings: list[str]
    generator: str = GENERATOR_VERSION
    made_with: str | None = None

    @property
    def same_generator(self) -> bool:
        return self.generator == GENERATOR_VERSION

    @property
    def ok(self) -> bool:
        return self.same_generator and self.expected == self.actual

    def other_generator(self) -> str | None:
        """One line on why a snapshot of another generator version cannot be reproduced."""
        if self.same_generator:
            return None
        if self.made_with and self.made_with != __version__:
            how = f"re-generate it, or install esdh-agent {self.made_with} to reproduce it"
        else:
            how = "re-generate it, or reproduce it with the esdh-agent build that made it"
        return (
            f"{self.name} was made by generator {self.generator}; this is generator "
            f"{GENERATOR_VERSION} — its values cannot be reproduced by this version; {how}"
        )


def reproduce(ws: Workspace, name: str, workers: int = 1) -> Reproduction:
    """Regenerate a snapshot from its manifest in a scratch store; compare content hashes.

    A snapshot whose manifest records another generator version is not regenerated: the
    values differ by definition (see ``GENERATOR_VERSION``); ``Reproduction.other_generator``
    says so in one line.
    """
    store = ws.store()
    manifest = store.manifest(name)
    recorded_version = str(manifest.generator.get("generator_version", "unrecorded"))
    made_with = str(manifest.generator.get("version") or "") or None
    if recorded_version != GENERATOR_VERSION:
        return Reproduction(
            name, manifest.content_hash, None, [], generator=recorded_version, made_with=made_with
        )
    plan = GenerationPlan.model_validate(manifest.plan)
    vocab = ws.vocabulary()
    warnings = []
    if vocab.digest != manifest.vocabulary.get("hash"):
        warnings.append("the workspace's vocabularies differ from the ones the snapshot used")
    recorded = manifest.generator.get("libraries", {})
    for lib, have in library_versions().items():
        if recorded.get(lib) != have:
            warnings.append(f"{lib} is {have}, the snapshot was made with {recorded.get(lib)}")
    ws.data.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".reproduce-", dir=ws.data))
    try:
        result = build_snapshot(
            plan,
            vocab=vocab,
            store=SnapshotStore(scratch),
            marker=manifest.marker,
            name=name,
            workers=workers,
            block_size=int(manifest.generator.get("block_size", BLOCK_SIZE)),
        )
        actual = result.commit.manifest.content_hash
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Reproduction(name, manifest.content_hash, actual, warnings, made_with=made_with)
