"""Benchmark the deterministic core: real snapshot builds, peak RSS, and a naive yardstick.

Run ``python benchmarks/bench_core.py --help``; see benchmarks/README.md for what each number
means. Targets are informational: the exit code is 0 unless something crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import platform
import random
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
from faker import Faker
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from esdh_agent.core.contract import PROFILE_NAMESPACE, Person, Profile, Vehicle
from esdh_agent.core.generator import generate_block
from esdh_agent.core.layout import compile_layout
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.store import SnapshotStore
from esdh_agent.core.validate import ValidationContext, Validator, check_block
from esdh_agent.core.vin import VIN_ALPHABET, WEIGHTS, YEAR_CODES, transliteration_table
from esdh_agent.core.vocab import Vocabulary
from esdh_agent.engines.local import default_workers
from esdh_agent.pipeline import build_snapshot, library_versions
from esdh_agent.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
TARGET_WALL_1M, STRETCH_WALL_1M = 8.0, 5.0
TARGET_GEN_RATIO, TARGET_VAL_RATIO, TARGET_RSS_MB = 100.0, 5.0, 1500.0
VIN_CHARS = VIN_ALPHABET.decode()
VIN_VALUES = {chr(i): int(v) for i, v in enumerate(transliteration_table()) if v >= 0}
VIN_WEIGHTS = [int(w) for w in WEIGHTS]
SPELL = {"@": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "#": "0123456789"}
SPELL["*"] = SPELL["@"] + SPELL["#"]
console = Console(width=110)


# --- peak RSS of the process tree ---------------------------------------------------------


@dataclass
class Peak:
    mb: float = 0.0


class RssSampler:
    """Samples RSS of this process plus all its descendants (forkserver, workers) every 20 ms."""

    def __init__(self, interval: float = 0.02) -> None:
        self.process = psutil.Process()
        self.interval = interval
        self.peak = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.thread.start()

    def total(self) -> int:
        total = 0
        with contextlib.suppress(psutil.Error):
            for proc in [self.process, *self.process.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_info().rss
        return total

    def sample(self) -> None:
        total = self.total()
        with self.lock:
            self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            self.sample()

    @contextlib.contextmanager
    def section(self) -> Iterator[Peak]:
        """Peak process-tree RSS (MB) between entering and leaving the block."""
        with self.lock:
            self.peak = 0
        self.sample()
        peak = Peak()
        try:
            yield peak
        finally:
            self.sample()
            peak.mb = self.peak / 1e6

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


# --- vectorized core ----------------------------------------------------------------------


def run_build(ws: Workspace, store: SnapshotStore, persons: int, workers: int) -> dict[str, Any]:
    """One real snapshot build (CSV) into the throwaway store."""
    plan = GenerationPlan(person_count=persons)
    result = build_snapshot(
        plan,
        vocab=ws.vocabulary(),
        store=store,
        marker=ws.policy().required_marker,
        name=f"bench-{persons}",
        formats=("csv",),
        workers=workers,
        provenance={"command": "bench", "tool": "benchmarks/bench_core.py"},
    )
    s = result.seconds
    return {
        "persons": persons,
        "workers": workers,
        "rows": result.rows,
        "records": sum(result.rows.values()),
        "findings": {"errors": result.report.errors, "warnings": result.report.warnings},
        "seconds": {
            "generate": s["generate"],
            "validate_block": s["validate"],
            "validate_global": s["validate_global"],
            "encode": s["encode"],
            "write": s["write"],
            "commit": s["commit"],
            "wall": s["wall"],
        },
    }


def vectorized_inprocess(plan: GenerationPlan, vocab: Vocabulary, marker: str) -> dict[str, Any]:
    """Generation and validation of ``plan`` in this process, one Arrow thread (one core)."""
    previous = pa.cpu_count()
    pa.set_cpu_count(1)
    try:
        start = time.perf_counter()
        layout = compile_layout(plan, vocab, marker)
        generate = time.perf_counter() - start
        ctx = ValidationContext(vocab=vocab, as_of=plan.as_of_date, marker=marker, plan=plan)
        validator, validate, records = Validator(ctx), 0.0, 0
        for spec in layout.blocks:
            t0 = time.perf_counter()
            block = generate_block(layout, spec)
            t1 = time.perf_counter()
            offsets = {
                "persons": spec.person_start,
                "vehicles": spec.vehicle_start,
                "profiles": spec.person_start,
            }
            validator.add(check_block(ctx, block, offsets))
            generate += t1 - t0
            validate += time.perf_counter() - t1
            records += sum(table.num_rows for table in block.values())
            del block
        t0 = time.perf_counter()
        report = validator.finish()
        validate += time.perf_counter() - t0
    finally:
        pa.set_cpu_count(previous)
    return {
        "records": records,
        "generate_s": generate,
        "validate_s": validate,
        "findings": report.errors,
    }


# --- the naive yardstick ------------------------------------------------------------------


def years_ago(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # Feb 29
        return day.replace(year=day.year - years, day=28)


def vin_check_digit(vin: str) -> str:
    total = sum(VIN_VALUES[ch] * w for ch, w in zip(vin, VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


class Naive:
    """The yardstick: the default plan done per row with Faker, ``random`` and pydantic.

    Plain loops on purpose. Shares are drawn at random (no exact quotas). City/ZIP come from
    a Faker call over the governed ZIP table so the rows pass the same ZIP/city/state rule.
    """

    def __init__(self, plan: GenerationPlan, vocab: Vocabulary, marker: str) -> None:
        self.plan, self.marker = plan, marker
        self.fake = Faker("en_US")
        self.fake.seed_instance(plan.seed)
        self.rng = random.Random(plan.seed)
        zips, cities = vocab.zip_codes.to_pylist(), vocab.zip_cities.to_pylist()
        self.zips = {
            s: list(zip(zips[o : o + k], cities[o : o + k], strict=True))
            for s, (o, k) in vocab.zip_state_offsets.items()
        }
        self.triples = {(z, c, s) for s, pairs in self.zips.items() for z, c in pairs}
        self.licence_formats = {
            s: ([f.format for f in fs], [f.share for f in fs])
            for s, fs in vocab.licence_formats.formats.items()
        }
        self.models: dict[tuple[str, str], list[tuple[str, list[int], list[str]]]] = {}
        lo, hi = plan.model_year_min, plan.model_year_max
        for make, entries in vocab.catalogue.makes.items():
            for e in entries:
                years = [y for a, b in e.years for y in range(max(a, lo), min(b, hi) + 1)]
                if years:
                    self.models.setdefault((make, e.body_style), []).append((e.model, years, e.wmi))
        self.licences: set[tuple[str, str]] = set()

    def pick(self, shares: dict[Any, float]) -> Any:
        return self.rng.choices(list(shares), weights=list(shares.values()))[0]

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def licence(self, state: str) -> str:
        formats, shares = self.licence_formats[state]
        fmt = self.rng.choices(formats, weights=shares)[0]
        while True:
            number = "".join(self.rng.choice(SPELL[ch]) if ch in SPELL else ch for ch in fmt)
            if (state, number) not in self.licences:
                self.licences.add((state, number))
                return number

    def vin(self, wmi: str, year: int) -> str:
        chars = [*wmi, *self.rng.choices(VIN_CHARS, k=5), "0", YEAR_CODES[(year - 1980) % 30]]
        chars += self.rng.choices(VIN_CHARS, k=7)
        chars[8] = vin_check_digit("".join(chars))
        return "".join(chars)

    def generate(self) -> tuple[list[Person], list[Vehicle], list[Profile]]:
        plan, rng, fake, marker = self.plan, self.rng, self.fake, self.marker
        bands = {band: band.share for band in plan.age_bands}
        persons: list[Person] = []
        vehicles: list[Vehicle] = []
        profiles: list[Profile] = []
        for _ in range(plan.person_count):
            lob, state, band = self.pick(plan.lob_mix), self.pick(plan.state_mix), self.pick(bands)
            age = rng.randint(band.min_age, band.max_age)
            oldest = years_ago(plan.as_of_date, age + 1) + dt.timedelta(days=1)
            span = (years_ago(plan.as_of_date, age) - oldest).days
            zip5, city = fake.random_element(self.zips[state])
            if rng.random() < plan.zip_plus4_rate:
                zip5 = f"{zip5}-{rng.randint(1, 9999):04d}"
            line2 = fake.secondary_address() if rng.random() < plan.address_line_2_rate else None
            person = Person(
                person_id=self.uuid4(),
                first_name=fake.first_name(),
                last_name=fake.last_name(),
                date_of_birth=oldest + dt.timedelta(days=rng.randint(0, span)),
                driver_license_number=self.licence(state),
                driver_license_state=state,
                address_line_1=fake.street_address(),
                address_line_2=line2,
                city=city,
                state=state,
                postal_code=zip5,
                lob_type=lob,
                synthetic_source=marker,
            )
            persons.append(person)
            owned = []
            for _ in range(self.pick(plan.vehicles_per_person)):
                make, body = self.pick(plan.make_mix), self.pick(plan.body_style_mix[lob])
                model, years, wmis = rng.choice(self.models[(make, body)])
                year = rng.choice(years)
                owned.append(
                    Vehicle(
                        vehicle_id=self.uuid4(),
                        person_id=person.person_id,
                        vin=self.vin(rng.choice(wmis), year),
                        make=make,
                        model=model,
                        model_year=year,
                        body_style=body,
                        risk_rating=self.pick(plan.risk_mix[lob]),
                        lob_type=lob,
                        garaging_state=state,
                        garaging_postal_code=zip5,
                        synthetic_source=marker,
                    )
                )
            vehicles += owned
            first = owned[0]
            profiles.append(
                Profile(
                    profile_id=str(
                        uuid.uuid5(PROFILE_NAMESPACE, f"{person.person_id}:{first.vehicle_id}")
                    ),
                    person_id=person.person_id,
                    vehicle_id=first.vehicle_id,
                    full_name=f"{person.first_name} {person.last_name}",
                    lob_type=lob,
                    residence_state=state,
                    city=city,
                    postal_code=zip5,
                    garaging_state=state,
                    primary_vehicle_vin=first.vin,
                    vehicle_summary=f"{first.model_year} {first.make} {first.model}",
                    risk_rating=first.risk_rating,
                    synthetic_source=marker,
                )
            )
        return persons, vehicles, profiles

    def validate(self, rows: dict[str, list[dict[str, Any]]]) -> Counter[str]:
        """Per row: pydantic model_validate, then the same family of rules in plain Python."""
        bad: Counter[str] = Counter()
        models: dict[str, type[BaseModel]] = {
            "persons": Person,
            "vehicles": Vehicle,
            "profiles": Profile,
        }
        for entity, model in models.items():
            for row in rows[entity]:
                try:
                    model.model_validate(row)
                except ValidationError:
                    bad[f"contract.{entity}"] += 1
                if row["synthetic_source"] != self.marker:
                    bad["governance.marker"] += 1
        as_of = self.plan.as_of_date
        person_ids: dict[str, dict[str, Any]] = {}
        licences: set[tuple[str, str]] = set()
        for row in rows["persons"]:
            bad["unique.person_id"] += row["person_id"] in person_ids
            person_ids[row["person_id"]] = row
            dob = row["date_of_birth"]
            age = as_of.year - dob.year - ((as_of.month, as_of.day) < (dob.month, dob.day))
            bad["domain.licence_age"] += not 16 <= age <= 99
            triple = (row["postal_code"][:5], row["city"], row["state"])
            bad["domain.zip_city_state"] += triple not in self.triples
            licence = (row["driver_license_state"], row["driver_license_number"])
            bad["unique.licence"] += licence in licences
            licences.add(licence)
        vehicle_ids: dict[str, dict[str, Any]] = {}
        vins: set[str] = set()
        for row in rows["vehicles"]:
            bad["unique.vehicle_id"] += row["vehicle_id"] in vehicle_ids
            vehicle_ids[row["vehicle_id"]] = row
            vin = row["vin"]
            bad["unique.vin"] += vin in vins
            vins.add(vin)
            bad["fk.vehicle_person"] += row["person_id"] not in person_ids
            bad["domain.vin_check_digit"] += vin_check_digit(vin) != vin[8]
            bad["domain.vin_year_code"] += YEAR_CODES[(row["model_year"] - 1980) % 30] != vin[9]
        profile_ids: set[str] = set()
        profiled: set[str] = set()
        for row in rows["profiles"]:
            bad["unique.profile_id"] += row["profile_id"] in profile_ids
            profile_ids.add(row["profile_id"])
            bad["unique.profile_person"] += row["person_id"] in profiled
            profiled.add(row["person_id"])
            bad["fk.profile_person"] += row["person_id"] not in person_ids
            bad["fk.profile_vehicle"] += row["vehicle_id"] not in vehicle_ids
        return +bad  # drop zero counts


def run_yardstick(plan: GenerationPlan, vocab: Vocabulary, marker: str) -> dict[str, Any]:
    start = time.perf_counter()
    naive = Naive(plan, vocab, marker)
    persons, vehicles, profiles = naive.generate()
    generate = time.perf_counter() - start
    rows = {  # dumping to dicts is outside both timings: the validator's input
        "persons": [p.model_dump() for p in persons],
        "vehicles": [v.model_dump() for v in vehicles],
        "profiles": [p.model_dump() for p in profiles],
    }
    del persons, vehicles, profiles
    start = time.perf_counter()
    bad = naive.validate(rows)
    validate = time.perf_counter() - start
    return {
        "records": sum(len(r) for r in rows.values()),
        "generate_s": generate,
        "validate_s": validate,
        "findings": sum(bad.values()),
        "findings_by_rule": dict(bad),
    }


# --- reporting ----------------------------------------------------------------------------


def rate(records: int, seconds: float) -> float:
    return records / seconds if seconds > 0 else float("inf")


def fmt_rate(value: float) -> str:
    return f"{value / 1e6:,.2f} M/s" if value >= 1e6 else f"{value / 1e3:,.1f} k/s"


def build_table(builds: list[dict[str, Any]]) -> Table:
    workers = builds[0]["workers"]
    table = Table(title=f"Snapshot builds (CSV, {workers} worker(s))", title_justify="left")
    table.add_column("phase")
    for b in builds:
        table.add_column(f"{b['persons']:,} p · s", justify="right")
        table.add_column(f"{b['records']:,} rec/s", justify="right")
    phases = [
        ("generate  (Σ workers)", ["generate"]),
        ("validate  block (Σ workers)", ["validate_block"]),
        ("validate  global", ["validate_global"]),
        ("validate  block + global", ["validate_block", "validate_global"]),
        ("encode CSV (Σ workers)", ["encode"]),
        ("write + checksum", ["write"]),
        ("commit (fsync + rename)", ["commit"]),
        ("END-TO-END wall", ["wall"]),
    ]
    for label, keys in phases:
        cells = []
        for b in builds:
            seconds = sum(b["seconds"][k] for k in keys)
            cells += [f"{seconds:.3f}", fmt_rate(rate(b["records"], seconds))]
        table.add_row(label, *cells, style="bold" if keys == ["wall"] else None)
    table.add_row(
        "peak RSS, process tree", *[c for b in builds for c in (f"{b['rss_mb']:,.0f} MB", "")]
    )
    cpu = ["generate", "validate_block", "encode"]
    table.add_row(
        "Σ block CPU-s ÷ wall",
        *[
            c
            for b in builds
            for c in (f"{sum(b['seconds'][k] for k in cpu) / b['seconds']['wall']:.2f}×", "")
        ],
    )
    return table


def yardstick_table(y: dict[str, Any]) -> Table:
    vec, naive = y["vectorized"], y["naive"]
    table = Table(
        title=f"Vectorized vs naive yardstick at {y['persons']:,} persons ({vec['records']:,} "
        f"records), one process, one core",
        title_justify="left",
    )
    for name in ("step", "vectorized s", "vectorized rec/s", "naive s", "naive rec/s", "ratio"):
        table.add_column(name, justify="left" if name == "step" else "right")
    for step in ("generate", "validate"):
        table.add_row(
            step,
            f"{vec[step + '_s']:.3f}",
            fmt_rate(rate(vec["records"], vec[step + "_s"])),
            f"{naive[step + '_s']:.2f}",
            fmt_rate(rate(naive["records"], naive[step + "_s"])),
            f"{y['ratios'][step]:,.1f}×",
        )
    return table


def targets(builds: list[dict[str, Any]], y: dict[str, Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    million = next((b for b in builds if b["persons"] == 1_000_000), None)

    def add(name: str, value: float | None, goal: str, ok: bool | None, unit: str) -> None:
        status = "n/a" if ok is None else ("PASS" if ok else "MISS")
        out.append({"target": name, "value": value, "goal": goal, "unit": unit, "status": status})

    wall = million["seconds"]["wall"] if million else None
    add(
        "end-to-end 1M persons",
        wall,
        f"< {TARGET_WALL_1M:g} s",
        None if wall is None else wall < TARGET_WALL_1M,
        "s",
    )
    add(
        "  stretch",
        wall,
        f"< {STRETCH_WALL_1M:g} s",
        None if wall is None else wall < STRETCH_WALL_1M,
        "s",
    )
    gen = y["ratios"]["generate"] if y else None
    add(
        "generation vs yardstick",
        gen,
        f"≥ {TARGET_GEN_RATIO:g}×",
        None if gen is None else gen >= TARGET_GEN_RATIO,
        "×",
    )
    val = y["ratios"]["validate"] if y else None
    add(
        "validation vs per-row pydantic",
        val,
        f"≥ {TARGET_VAL_RATIO:g}×",
        None if val is None else val >= TARGET_VAL_RATIO,
        "×",
    )
    rss = million["rss_mb"] if million else None
    add(
        "peak RSS at 1M",
        rss,
        f"< {TARGET_RSS_MB:,.0f} MB",
        None if rss is None else rss < TARGET_RSS_MB,
        "MB",
    )
    return out


def targets_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Targets (informational)", title_justify="left")
    for name in ("target", "value", "goal", "status"):
        table.add_column(name, justify="right" if name == "value" else "left")
    colors = {"PASS": "green", "MISS": "red", "n/a": "dim"}
    for r in rows:
        value = "—" if r["value"] is None else f"{r['value']:,.2f} {r['unit']}"
        status = f"[{colors[r['status']]}]{r['status']}[/]"
        table.add_row(r["target"], value, r["goal"], status)
    return table


# --- main ---------------------------------------------------------------------------------


def parse_count(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k build + 5k yardstick (CI)")
    parser.add_argument("--sizes", help="persons per build, comma-separated (default 200k,1M)")
    parser.add_argument("--workers", type=int, default=default_workers(), help="worker processes")
    parser.add_argument(
        "--yardstick-size", type=parse_count, help="persons (default 200k; 0: skip)"
    )
    parser.add_argument("--tmpdir", type=Path, help="where the throwaway store goes")
    parser.add_argument("--json", type=Path, help="write every number to this JSON file")
    args = parser.parse_args(argv)
    sizes = [
        parse_count(s) for s in (args.sizes or ("20k" if args.quick else "200k,1M")).split(",")
    ]
    yard_size = (
        args.yardstick_size
        if args.yardstick_size is not None
        else (5_000 if args.quick else 200_000)
    )
    ws = Workspace.open(REPO)
    policy, vocab = ws.policy(), ws.vocabulary()
    cap = policy.records.max_persons
    if args.workers < 1 or any(not 1 <= n <= cap for n in [*sizes, yard_size or 1]):
        parser.error(f"sizes must be 1..{cap:,} (the policy cap) and --workers at least 1")

    sampler = RssSampler()
    env = {
        "python": platform.python_version(),
        "cpus": default_workers(),
        "workers": args.workers,
        "libraries": library_versions(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    console.print(
        f"[dim]bench_core: {env['cpus']} CPU(s), {args.workers} worker(s), Python "
        f"{env['python']}, sizes {sizes}, yardstick {yard_size:,}[/]"
    )
    builds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="esdh-bench-", dir=args.tmpdir) as tmp:
        store = SnapshotStore(Path(tmp) / "data")
        for persons in sizes:
            console.print(f"[dim]building {persons:,} persons…[/]")
            with sampler.section() as peak:
                build = run_build(ws, store, persons, args.workers)
            build["rss_mb"] = peak.mb
            builds.append(build)
            shutil.rmtree(store.root)  # keep disk use flat between sizes

    yard: dict[str, Any] | None = None
    if yard_size:
        plan = GenerationPlan(person_count=yard_size)
        marker = policy.required_marker
        console.print(f"[dim]vectorized, in-process, {yard_size:,} persons…[/]")
        with sampler.section() as vec_peak:
            vec = vectorized_inprocess(plan, vocab, marker)
        console.print(f"[dim]naive yardstick, {yard_size:,} persons (slow)…[/]")
        with sampler.section() as naive_peak:
            naive = run_yardstick(plan, vocab, marker)
        vec["rss_mb"], naive["rss_mb"] = vec_peak.mb, naive_peak.mb
        ratios = {
            step: rate(vec["records"], vec[f"{step}_s"])
            / rate(naive["records"], naive[f"{step}_s"])
            for step in ("generate", "validate")
        }
        yard = {"persons": yard_size, "vectorized": vec, "naive": naive, "ratios": ratios}
    sampler.close()

    console.print()
    console.print(build_table(builds))
    console.print(
        "[dim]Block phases (generate, validate block, encode) run in the workers: they are "
        "CPU-seconds summed across workers, so their rec/s is per core. write + checksum runs "
        "in a writer thread overlapping the workers. END-TO-END wall is real elapsed time. "
        "Peak RSS sums the parent, forkserver and worker processes (shared pages counted "
        "once per process).[/]"
    )
    if yard:
        console.print()
        console.print(yardstick_table(yard))
        console.print(
            f"[dim]Both sides single-core. Vectorized validation runs every rule (contract, "
            f"fk, profile, unique, domain, governance, plan); the naive side does model_validate "
            f"plus a subset. Findings: vectorized {yard['vectorized']['findings']}, naive "
            f"{yard['naive']['findings']}. Peak RSS: vectorized {yard['vectorized']['rss_mb']:,.0f}"
            f" MB, naive {yard['naive']['rss_mb']:,.0f} MB.[/]"
        )
    goals = targets(builds, yard)
    console.print()
    console.print(targets_table(goals))
    if args.json:
        report = {"environment": env, "builds": builds, "yardstick": yard, "targets": goals}
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"[dim]wrote {args.json}[/]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
