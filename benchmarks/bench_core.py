"""Benchmark the deterministic core: real snapshot builds, process-tree RSS, naive yardstick.

    python benchmarks/bench_core.py [--quick] [--sizes 200k,1M] [--workers N]
        [--yardstick-size 200k] [--repeat N] [--json FILE]

See benchmarks/README.md for what each number means. Targets are informational: the exit
code is 0 unless something crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import operator
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from esdh_agent.core.generator import generate_block
from esdh_agent.core.layout import compile_layout
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.store import SnapshotStore
from esdh_agent.core.validate import ValidationContext, Validator, check_block
from esdh_agent.core.vocab import Vocabulary
from esdh_agent.engines.local import available_cpus, default_workers
from esdh_agent.engines.pipeline import build_snapshot, library_versions
from esdh_agent.workspace import Workspace
from yardstick import run_yardstick

REPO = Path(__file__).resolve().parents[1]
WALL_1M, STRETCH_1M, GEN_RATIO, VAL_RATIO, RSS_1M_MB = 8.0, 5.0, 100.0, 5.0, 1500.0
VAL_VS_GEN = 0.6
"""Validation (block + global) CPU at most this share of generation CPU, same build."""
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "≤": operator.le,
    "≥": operator.ge,
}
BLOCK_PHASES = ("generate", "validate_block", "encode")
console = Console(width=112)


@dataclass
class Usage:
    """What a measured section used: peak memory (MB) and CPU seconds."""

    rss_mb: float = 0.0
    pss_mb: float = 0.0
    cpu_parent_s: float = 0.0
    cpu_children_s: float = 0.0
    cpu_other_s: float = 0.0


def _busy(times: Any) -> float:
    """User + system CPU seconds in a psutil cpu_times tuple (per process or system-wide)."""
    return float(sum(getattr(times, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq")))


class TreeSampler:
    """Every 20 ms, RSS summed over this process and all its descendants (forkserver, workers)
    and each descendant's CPU time (last value seen before it exits); every 200 ms also PSS,
    which splits shared pages between processes (reading it costs ~1 ms per process)."""

    def __init__(self, interval: float = 0.02, pss_every: int = 10) -> None:
        self.me = psutil.Process()
        self.interval, self.pss_every, self.peak, self.peak_pss = interval, pss_every, 0, 0
        self.cpu: dict[tuple[int, float], float] = {}
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)
        self.thread.start()

    def sample(self, pss: bool = False) -> None:
        procs, rss, total_pss, cpu = [self.me], 0, 0, {}
        with contextlib.suppress(psutil.Error):
            procs += self.me.children(recursive=True)
        for proc in procs:
            with contextlib.suppress(psutil.Error), proc.oneshot():
                mem = proc.memory_full_info() if pss else proc.memory_info()
                rss, total_pss = rss + mem.rss, total_pss + getattr(mem, "pss", 0)
                if proc is not self.me:
                    cpu[(proc.pid, proc.create_time())] = _busy(proc.cpu_times())
        with self.lock:
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, total_pss)
            self.cpu.update(cpu)

    def _run(self) -> None:
        tick = 0
        while not self.stop.wait(self.interval):
            tick += 1
            self.sample(pss=tick % self.pss_every == 0)

    @contextlib.contextmanager
    def section(self) -> Iterator[Usage]:
        """Peak memory and CPU of the tree (and of every other process) inside the block."""
        self.sample(pss=True)
        with self.lock:
            self.peak, self.peak_pss, before = 0, 0, dict(self.cpu)
        parent, system, usage = _busy(self.me.cpu_times()), _busy(psutil.cpu_times()), Usage()
        try:
            yield usage
        finally:
            self.sample(pss=True)
            with self.lock:
                usage.rss_mb, usage.pss_mb = self.peak / 1e6, self.peak_pss / 1e6
                usage.cpu_children_s = sum(v - before.get(k, 0.0) for k, v in self.cpu.items())
            usage.cpu_parent_s = _busy(self.me.cpu_times()) - parent
            ours = usage.cpu_parent_s + usage.cpu_children_s
            usage.cpu_other_s = max(0.0, _busy(psutil.cpu_times()) - system - ours)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def run_build(ws: Workspace, store: SnapshotStore, persons: int, workers: int) -> dict[str, Any]:
    """One real snapshot build (CSV) into the throwaway store; the snapshot is then removed."""
    result = build_snapshot(
        GenerationPlan(person_count=persons),
        vocab=ws.vocabulary(),
        store=store,
        marker=ws.policy().required_marker,
        name=f"bench-{persons}",
        formats=("csv",),
        workers=workers,
        provenance={"command": "bench", "tool": "benchmarks/bench_core.py"},
    )
    shutil.rmtree(result.commit.path)
    s = result.seconds
    keys = {"validate_block": "validate"}
    phases = (*BLOCK_PHASES, "validate_global", "write", "commit", "wall")
    return {
        "persons": persons,
        "workers": workers,
        "rows": result.rows,
        "records": sum(result.rows.values()),
        "errors": result.report.errors,
        "seconds": {p: s[keys.get(p, p)] for p in phases},
    }


def vectorized_inprocess(plan: GenerationPlan, vocab: Vocabulary, marker: str) -> dict[str, Any]:
    """Generate and validate ``plan`` in this process with one Arrow thread (one core)."""
    previous = pa.cpu_count()
    pa.set_cpu_count(1)
    try:
        start = time.perf_counter()
        layout = compile_layout(plan, vocab, marker)
        generate, validate, records = time.perf_counter() - start, 0.0, 0
        ctx = ValidationContext(vocab=vocab, as_of=plan.as_of_date, marker=marker, plan=plan)
        validator = Validator(ctx)
        for spec in layout.blocks:
            t0 = time.perf_counter()
            block = generate_block(layout, spec)
            t1 = time.perf_counter()
            starts = (spec.person_start, spec.vehicle_start, spec.person_start)
            offsets = dict(zip(("persons", "vehicles", "profiles"), starts, strict=True))
            validator.add(check_block(ctx, block, offsets))
            generate, validate = generate + t1 - t0, validate + time.perf_counter() - t1
            records += sum(table.num_rows for table in block.values())
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


# --- reporting ----------------------------------------------------------------------------


def rate(records: int, seconds: float) -> float:
    return records / seconds if seconds > 0 else float("inf")


def fmt_rate(value: float) -> str:
    return f"{value / 1e6:,.2f} M/s" if value >= 1e6 else f"{value / 1e3:,.1f} k/s"


def build_table(builds: list[dict[str, Any]]) -> Table:
    table = Table(
        title=f"Snapshot builds: CSV, {builds[0]['workers']} worker(s)", title_justify="left"
    )
    table.add_column("phase")
    for b in builds:
        table.add_column(f"{b['persons']:,} p: s", justify="right")
        table.add_column(f"{b['records']:,} rec/s", justify="right")
    phases = [
        ("generate (CPU, Σ blocks)", ["generate"]),
        ("validate: block (CPU, Σ blocks)", ["validate_block"]),
        ("validate: global", ["validate_global"]),
        ("validate: block + global", ["validate_block", "validate_global"]),
        ("encode CSV (CPU, Σ blocks)", ["encode"]),
        ("write + checksum", ["write"]),
        ("commit (fsync + rename)", ["commit"]),
        ("END-TO-END wall", ["wall"]),
    ]
    for label, keys in phases:
        cells = []
        for b in builds:
            seconds = sum(b["seconds"][k] for k in keys)
            cells += [f"{seconds:.3f}", fmt_rate(rate(b["records"], seconds))]
        table.add_row(label, *cells, style="bold" if label.startswith("END") else None)
    extra: dict[str, Callable[[dict[str, Any]], str]] = {
        "peak RSS, process tree": lambda b: f"{b['rss_mb']:,.0f} MB",
        "peak PSS, process tree": lambda b: f"{b['pss_mb']:,.0f} MB",
        "CPU s: parent/workers/others": lambda b: "/".join(
            f"{b[k]:.1f}" for k in ("cpu_parent_s", "cpu_children_s", "cpu_other_s")
        ),
        "our cores busy (CPU s ÷ wall)": lambda b: f"{b['cores_busy']:.2f}",
    }
    for label, cell in extra.items():
        table.add_row(label, *[c for b in builds for c in (cell(b), "")])
    return table


def yardstick_table(y: dict[str, Any]) -> Table:
    vec, naive = y["vectorized"], y["naive"]
    table = Table(
        title=f"Vectorized vs naive at {y['persons']:,} persons ({vec['records']:,} records), "
        "single core",
        title_justify="left",
    )
    for name in ("step", "vectorized s", "vectorized rec/s", "naive s", "naive rec/s", "ratio"):
        table.add_column(name, justify="left" if name == "step" else "right")
    for step in ("generate", "validate"):
        v, n = vec[f"{step}_s"], naive[f"{step}_s"]
        table.add_row(
            step,
            f"{v:.3f}",
            fmt_rate(rate(vec["records"], v)),
            f"{n:.2f}",
            fmt_rate(rate(naive["records"], n)),
            f"{y['ratios'][step]:,.1f}×",
        )
    return table


def validation_share(build: dict[str, Any]) -> float:
    """Validation CPU (block checks summed over workers + global checks) ÷ generation CPU."""
    s = build["seconds"]
    return float((s["validate_block"] + s["validate_global"]) / s["generate"])


def targets(
    builds: list[dict[str, Any]], y: dict[str, Any] | None, quick: bool = False
) -> list[dict[str, Any]]:
    million = next((b for b in builds if b["persons"] == 1_000_000), None)
    wall = million["seconds"]["wall"] if million else None
    rss = million["rss_mb"] if million else None
    gen, val = (y["ratios"]["generate"], y["ratios"]["validate"]) if y else (None, None)
    rows: list[tuple[str, float | None, str, str, float]] = [
        ("end-to-end 1M persons", wall, "s", "<", WALL_1M),
        ("  stretch", wall, "s", "<", STRETCH_1M),
        ("generation vs yardstick", gen, "×", "≥", GEN_RATIO),
        ("validation vs per-row pydantic", val, "×", "≥", VAL_RATIO),
        ("peak RSS at 1M persons", rss, "MB", "<", RSS_1M_MB),
    ]
    share = million or (builds[0] if quick and builds else None)
    if share is not None:
        at = "1M" if share is million else f"{share['persons']:,} (quick)"
        name = f"validation (block + global) vs generation CPU at {at}"
        rows.insert(4, (name, validation_share(share), "×", "≤", VAL_VS_GEN))
    out = []
    for name, value, unit, op, limit in rows:
        ok = None if value is None else COMPARE[op](value, limit)
        status = "n/a" if ok is None else ("PASS" if ok else "MISS")
        goal = f"{op} {limit:,g} {unit}"
        out.append({"target": name, "value": value, "unit": unit, "goal": goal, "status": status})
    return out


def targets_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Targets (informational)", title_justify="left")
    for name in ("target", "value", "goal", "status"):
        table.add_column(name, justify="right" if name == "value" else "left")
    colors = {"PASS": "green", "MISS": "red", "n/a": "dim"}
    for r in rows:
        value = "—" if r["value"] is None else f"{r['value']:,.2f} {r['unit']}"
        table.add_row(r["target"], value, r["goal"], f"[{colors[r['status']]}]{r['status']}[/]")
    return table


def print_report(builds: list[dict[str, Any]], yard: dict[str, Any] | None) -> None:
    console.print()
    console.print(build_table(builds))
    console.print(
        "[dim]generate, validate block and encode: CPU seconds of the thread that ran each, "
        "summed over all blocks (in-process, block i is encoded on a thread while block i+1 "
        "is generated and validated; with a pool, in the workers), so their rec/s is per "
        "thread. write + checksum runs in a writer thread overlapping them. END-TO-END wall is "
        "real elapsed time. "
        "RSS sums parent, forkserver and workers (shared pages count once per process).[/]"
    )
    if yard:
        vec, naive = yard["vectorized"], yard["naive"]
        console.print()
        console.print(yardstick_table(yard))
        console.print(
            "[dim]Vectorized validation runs every rule (contract, fk, profile, unique, domain, "
            "governance, plan quotas); the naive side runs model_validate plus licence age, ZIP/"
            "city/state, VIN check digit and year, FKs, uniqueness and marker. Error findings: "
            f"vectorized {vec['findings']}, naive {naive['findings']}. Peak RSS: vectorized "
            f"{vec['rss_mb']:,.0f} MB, naive {naive['rss_mb']:,.0f} MB. CPU s used by other "
            f"processes meanwhile: {vec['cpu_other_s']:.1f} / {naive['cpu_other_s']:.1f}.[/]"
        )
    console.print()


# --- main ---------------------------------------------------------------------------------


def parse_count(text: str) -> int:
    """'200000', '200_000', '200k' or '1M'."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def parse_sizes(text: str) -> list[int]:
    return [parse_count(part) for part in text.split(",")]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the deterministic core.")
    parser.add_argument("--quick", action="store_true", help="20k build, 5k yardstick (CI)")
    parser.add_argument("--sizes", type=parse_sizes, help="persons per build (default 200k,1M)")
    parser.add_argument("--workers", type=int, default=default_workers(), help="build workers")
    parser.add_argument(
        "--yardstick-size", type=parse_count, help="persons (default 200k; 0: skip)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="builds per size; best wall kept")
    parser.add_argument("--tmpdir", type=Path, help="parent of the throwaway snapshot store")
    parser.add_argument("--json", type=Path, help="write every number to this JSON file")
    args = parser.parse_args(argv)
    args.sizes = args.sizes or ([20_000] if args.quick else [200_000, 1_000_000])
    if args.yardstick_size is None:
        args.yardstick_size = 5_000 if args.quick else 200_000
    if args.workers < 1 or args.repeat < 1 or args.yardstick_size < 0:
        parser.error("--workers and --repeat must be at least 1, --yardstick-size at least 0")
    return args


def measured_build(
    sampler: TreeSampler, ws: Workspace, store: SnapshotStore, persons: int, workers: int
) -> dict[str, Any]:
    with sampler.section() as usage:
        build = run_build(ws, store, persons, workers)
    cpu = usage.cpu_parent_s + usage.cpu_children_s
    return {**build, **vars(usage), "cores_busy": cpu / build["seconds"]["wall"]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ws = Workspace.open(REPO)
    policy, vocab = ws.policy(), ws.vocabulary()
    cap = policy.records.max_persons
    if any(not 1 <= n <= cap for n in [*args.sizes, args.yardstick_size or 1]):
        raise SystemExit(f"bench_core: sizes must be 1..{cap:,} persons (the workspace policy cap)")
    env = {
        "python": platform.python_version(),
        "cpus": available_cpus(),
        "workers": args.workers,
        "repeat": args.repeat,
        "libraries": library_versions(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    console.print(
        f"[dim]bench_core: {env['cpus']} CPU(s), {args.workers} worker(s), Python "
        f"{env['python']}, sizes {args.sizes}, yardstick {args.yardstick_size:,}[/]"
    )
    sampler = TreeSampler()
    builds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="esdh-bench-", dir=args.tmpdir) as tmp:
        store = SnapshotStore(Path(tmp) / "data")
        for persons in args.sizes:
            runs = []
            for i in range(args.repeat):
                console.print(f"[dim]build {persons:,} persons ({i + 1}/{args.repeat})…[/]")
                runs.append(measured_build(sampler, ws, store, persons, args.workers))
            best = min(runs, key=lambda r: r["seconds"]["wall"])
            builds.append({**best, "walls": [r["seconds"]["wall"] for r in runs]})

    yard: dict[str, Any] | None = None
    if args.yardstick_size:
        plan, marker = GenerationPlan(person_count=args.yardstick_size), policy.required_marker
        console.print(f"[dim]vectorized in-process, {args.yardstick_size:,} persons…[/]")
        with sampler.section() as vec_usage:
            vec = vectorized_inprocess(plan, vocab, marker)
        console.print(f"[dim]naive yardstick, {args.yardstick_size:,} persons (slow)…[/]")
        with sampler.section() as naive_usage:
            naive = run_yardstick(plan, vocab, marker)
        vec |= {"rss_mb": vec_usage.rss_mb, "cpu_other_s": vec_usage.cpu_other_s}
        naive |= {"rss_mb": naive_usage.rss_mb, "cpu_other_s": naive_usage.cpu_other_s}
        ratios = {
            step: rate(vec["records"], vec[f"{step}_s"])
            / rate(naive["records"], naive[f"{step}_s"])
            for step in ("generate", "validate")
        }
        yard = {"persons": args.yardstick_size, "vectorized": vec, "naive": naive, "ratios": ratios}
    sampler.close()

    print_report(builds, yard)
    goals = targets(builds, yard, args.quick)
    console.print(targets_table(goals))
    if args.json:
        report = {"environment": env, "builds": builds, "yardstick": yard, "targets": goals}
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"[dim]wrote {args.json}[/]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
