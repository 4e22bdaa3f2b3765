"""Operations on snapshots on disk: read, validate, verify, diff and reproduce."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from esdh_agent.core.contract import ENTITIES, arrow_schema
from esdh_agent.core.layout import BLOCK_SIZE
from esdh_agent.core.manifest import Manifest, content_hash
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import Finding, ValidationReport
from esdh_agent.core.store import MANIFEST, SnapshotStore, read_manifest, sha256_file
from esdh_agent.core.validate import ValidationContext, validate_tables
from esdh_agent.errors import InputError, SnapshotCorrupt
from esdh_agent.pipeline import build_snapshot, library_versions
from esdh_agent.workspace import Workspace

__all__ = [
    "Reproduction",
    "diff_snapshots",
    "read_tables",
    "reproduce",
    "validate_path",
    "verify",
]


def _read_csv(path: Path, entity: str) -> tuple[pa.Table, list[Finding]]:
    """Read one entity's CSV as strings, then coerce to the contract types."""
    schema = arrow_schema(entity)
    findings: list[Finding] = []
    try:
        raw = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(autogenerate_column_names=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={f.name: pa.string() for f in schema},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except FileNotFoundError:
        raise InputError(f"missing {path.name}", location=str(path.parent)) from None
    except pa.ArrowInvalid as exc:
        raise InputError(
            f"unreadable CSV: {str(exc).splitlines()[0]}", location=str(path)
        ) from None
    expected = schema.names
    if raw.column_names != expected:
        missing = [c for c in expected if c not in raw.column_names]
        extra = [c for c in raw.column_names if c not in expected]
        detail = (
            f"missing {', '.join(missing)}"
            if missing
            else f"unexpected {', '.join(extra)}"
            if extra
            else "columns out of contract order"
        )
        raise InputError(
            f"{path.name} does not have the contract's columns: {detail}",
            location=str(path),
            hint=f"expected, in order: {', '.join(expected)}",
        )
    columns = []
    for f in schema:
        values = raw.column(f.name)
        if f.type == pa.string():
            columns.append(values)
            continue
        if f.type == pa.date32():
            parsed = pc.cast(
                pc.strptime(values, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32()
            )
        else:
            ok = pc.match_substring_regex(values, r"^-?[0-9]{1,9}$")
            parsed = pc.cast(pc.if_else(ok, values, None), f.type)
        bad = pc.and_(values.is_valid(), parsed.is_null())
        count = pc.sum(bad).as_py() or 0
        if count:
            findings.append(
                Finding(
                    rule="contract.type",
                    entity=entity,
                    field=f.name,
                    severity="error",
                    count=count,
                    message=f"{f.name} is not a valid {f.type}",
                )
            )
        columns.append(parsed)
    return pa.Table.from_arrays(columns, schema=schema), findings


def read_tables(path: Path) -> tuple[dict[str, pa.Table], list[Finding]]:
    """The three entity tables of a snapshot directory, typed, plus type findings."""
    if not path.is_dir():
        raise InputError(
            f"{path} is not a directory",
            hint="pass a snapshot directory holding persons.csv, vehicles.csv, profiles.csv",
        )
    tables: dict[str, pa.Table] = {}
    findings: list[Finding] = []
    for entity in ENTITIES:
        table, found = _read_csv(path / f"{entity}.csv", entity)
        tables[entity] = table
        findings += found
    return tables, findings


def _as_of(path: Path, manifest: Manifest | None, as_of: dt.date | None) -> dt.date:
    if as_of is not None:
        return as_of
    if manifest is not None:
        return GenerationPlan.model_validate(manifest.plan).as_of_date
    meta = path / "metadata.json"
    if meta.is_file():
        try:
            stamp = json.loads(meta.read_text(encoding="utf-8"))["generated_at"]
            return dt.datetime.fromisoformat(stamp).date()
        except (ValueError, KeyError, TypeError):
            pass
    return dt.date.today()


def validate_path(ws: Workspace, path: Path, as_of: dt.date | None = None) -> ValidationReport:
    """Validate a snapshot directory, committed here or produced by someone else."""
    manifest = read_manifest(path) if (path / MANIFEST).is_file() else None
    tables, type_findings = read_tables(path)
    plan = GenerationPlan.model_validate(manifest.plan) if manifest else None
    ctx = ValidationContext(
        vocab=ws.vocabulary(),
        as_of=_as_of(path, manifest, as_of),
        marker=manifest.marker if manifest else ws.policy().required_marker,
        plan=plan,
    )
    report = validate_tables(ctx, tables)
    return ValidationReport.merge(
        [*type_findings, *report.findings], report.rows, [*report.rules, "contract.type"]
    )


@dataclass
class VerifyResult:
    name: str
    problems: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(store: SnapshotStore, name: str) -> VerifyResult:
    """Recompute every checksum and the content hash; name each file that changed."""
    try:
        manifest = store.manifest(name)
    except SnapshotCorrupt as exc:
        return VerifyResult(name, [exc.one_line()])
    root = store.path(name)
    result = VerifyResult(name)
    listed = {f.path for f in manifest.files} | {MANIFEST}
    for extra in sorted(p.name for p in root.iterdir() if p.name not in listed):
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
    for entity, contents in manifest.entities.items():
        with (root / f"{entity}.csv").open("rb") as handle:
            handle.readline()  # the header is not part of any block
            for index, block in enumerate(contents.blocks):
                chunk = handle.read(block.bytes)
                if hashlib.sha256(chunk).hexdigest() != block.sha256:
                    result.problems.append(f"{entity}.csv: block {index} differs from manifest")
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
    name: str
    expected: str
    actual: str
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


def reproduce(ws: Workspace, name: str, workers: int = 1) -> Reproduction:
    """Regenerate a snapshot from its manifest in a scratch store; compare content hashes."""
    store = ws.store()
    manifest = store.manifest(name)
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
    return Reproduction(name, manifest.content_hash, actual, warnings)
