"""Benchmark scale-out: one big build per engine configuration, side by side.

    python benchmarks/bench_scale.py [--quick] [--persons 10M] [--runs local:1,local:2,dask:2]
        [--format csv,parquet] [--layout parts] [--repeat N] [--tmpdir DIR] [--json FILE]

Each run is a real ``build_snapshot`` of the default plan (3 records per person) into a
throwaway workspace made with ``init_workspace``, whose policy cap is raised for the
benchmark only (the shipped policy allows 2,000,000 persons). Each run is a fresh process
(this script with ``--child``), so no run inherits another's heap. Printed per run: wall time,
records per second, peak RSS and PSS of the whole process tree (this process, the forkserver
or the Dask nannies and workers), CPU split, and the content hash, which must be the same for
every run — every run uses one snapshot name, as ids are keyed on it (ADR 0001). A pooled
local run starts its pool's server before the clock and waits until it can fork workers, as
``esdh-agent generate`` starts it during its own imports, which hide it (ADR 0005, amendment
2); the table prints that start-up apart ("pool server start"). Then one
PASS/MISS line per target: each multi-worker run's wall time at most 0.67x ``local:1``'s (or,
when ``local:1`` already keeps more than 1.5 cores busy, at least 1.85 cores busy), peak RSS
under 1.5 GB, one content hash. Targets are printed, not asserted: the exit code is 0 unless
something crashed. On a shared machine, ``--repeat 3`` keeps each column's fastest run.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from bench_core import TreeSampler, fmt_rate, parse_count
from esdh_agent.core.plan import GenerationPlan, block_count
from esdh_agent.core.policy import enforce
from esdh_agent.engines.local import LocalEngine, available_cpus
from esdh_agent.engines.pipeline import build_snapshot, library_versions
from esdh_agent.workspace import Workspace, init_workspace

RSS_TARGET_MB = 1500.0
SPEEDUP_TARGET = 0.67
"""A multi-worker run's wall time as a fraction of ``local:1`` (in-process) at most this..."""
BUSY_FLOOR, BUSY_TARGET = 1.5, 1.85
"""...unless ``local:1`` already keeps more than BUSY_FLOOR cores busy: then the multi-worker
run must keep at least BUSY_TARGET busy (a second worker cannot double what is near two)."""
console = Console(width=120)


def scratch_workspace(root: Path, persons: int) -> Workspace:
    """A new workspace whose policy admits ``persons`` (for this benchmark only)."""
    ws_root = init_workspace(root / "ws")
    policy_path = ws_root / "governance" / "policy.yaml"
    policy = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
    policy["records"]["max_persons"] = max(persons, policy["records"]["max_persons"])
    policy_path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return Workspace.open(ws_root)


def parse_runs(text: str) -> list[tuple[str, int]]:
    """'local:1,local:2,dask:2' → [(engine, workers), …]."""
    runs = []
    for item in text.split(","):
        engine, _, workers = item.strip().partition(":")
        runs.append((engine, int(workers or 1)))
    return runs


def _ready() -> None:
    """Run by one process forked from the pool's server: it returns once the server is up."""


def start_pool(engine: str, workers: int, persons: int) -> float | None:
    """What ``esdh-agent generate`` does before it imports the build: start the local pool's
    server when the build will use one (``LocalEngine.start``). Waits until the server can
    fork a process, so its imports are not inside the measured wall; the command's own imports
    hide all but 0.08-0.1 s of them (measured, ADR 0005 amendment 4), which this leaves out.
    Returns the seconds that took, None without a pool. A Dask cluster's server starts inside
    the clock: the command hides only about 0.2 s of its 0.5 s."""
    runner = LocalEngine(workers)
    blocks = block_count(persons)
    if engine != "local" or runner.in_process(blocks):
        return None
    start = time.perf_counter()
    runner.start(blocks)
    probe = multiprocessing.get_context("forkserver").Process(target=_ready)
    probe.start()
    probe.join()
    return time.perf_counter() - start


def one_run(
    sampler: TreeSampler,
    ws: Workspace,
    persons: int,
    engine: str,
    workers: int,
    formats: tuple[str, ...],
    layout: str,
) -> dict[str, Any]:
    """Build, measure, delete. Returns every number of the run."""
    plan = GenerationPlan(person_count=persons)
    policy = ws.policy()
    enforce(policy, plan, "bench_scale")
    name = "scale"  # ids are keyed on the name (ADR 0001): one name, comparable hashes
    pool_start = start_pool(engine, workers, persons)
    with sampler.section() as usage:
        start = time.perf_counter()
        result = build_snapshot(
            plan,
            vocab=ws.vocabulary(),
            store=ws.store(),
            marker=policy.required_marker,
            name=name,
            formats=formats,
            workers=workers,
            engine=engine,
            layout=layout,
            provenance={"command": "bench", "tool": "benchmarks/bench_scale.py"},
        )
        wall = time.perf_counter() - start
    manifest = result.commit.manifest
    data_bytes = sum(f.bytes for f in manifest.files)
    shutil.rmtree(result.commit.path)
    records = sum(result.rows.values())
    cpu = usage.cpu_parent_s + usage.cpu_children_s
    return {
        "engine": engine,
        "workers": workers,
        "persons": persons,
        "records": records,
        "errors": result.report.errors,
        "wall_s": wall,
        "records_per_s": records / wall,
        "data_gb": data_bytes / 1e9,
        "files": len(manifest.files),
        "content_hash": manifest.content_hash,
        "pool_start_s": pool_start,
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
        **vars(usage),
        "cores_busy": cpu / wall,
    }


def _cpu(run: dict[str, Any]) -> str:
    return "/".join(f"{run[k]:.0f}" for k in ("cpu_parent_s", "cpu_children_s", "cpu_other_s"))


def _pool_start(run: dict[str, Any]) -> str:
    seconds = run.get("pool_start_s")
    return "—" if seconds is None else f"{seconds:.2f} s"


def report_table(runs: list[dict[str, Any]], formats: tuple[str, ...], layout: str) -> Table:
    first = runs[0]
    table = Table(
        title=f"{first['persons']:,} persons ({first['records']:,} records) → "
        f"{', '.join(formats)}, {layout} layout",
        title_justify="left",
    )
    table.add_column("")
    for run in runs:
        table.add_column(f"{run['engine']}, {run['workers']} worker(s)", justify="right")
    base = runs[0]["wall_s"]
    rows: list[tuple[str, Any]] = [
        ("wall", lambda r: f"{r['wall_s']:.1f} s"),
        ("pool server start, before the clock", _pool_start),
        ("records/s", lambda r: fmt_rate(r["records_per_s"])),
        ("speed-up vs first column", lambda r: f"{base / r['wall_s']:.2f}×"),
        ("peak RSS, process tree", lambda r: f"{r['rss_mb']:,.0f} MB"),
        ("peak PSS, process tree", lambda r: f"{r['pss_mb']:,.0f} MB"),
        ("CPU s: parent/children/others", _cpu),
        ("our cores busy (CPU s ÷ wall)", lambda r: f"{r['cores_busy']:.2f}"),
        ("validate: global (s)", lambda r: f"{r['seconds'].get('validate_global', 0):.1f}"),
        ("files / data written", lambda r: f"{r['files']:,} / {r['data_gb']:.2f} GB"),
        ("validation errors", lambda r: str(r["errors"])),
        ("content hash", lambda r: r["content_hash"][7:23] + "…"),
    ]
    for label, cell in rows:
        table.add_row(label, *[cell(r) for r in runs])
    return table


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "[red]MISS[/]"


def targets(runs: list[dict[str, Any]], same: bool) -> list[str]:
    """One PASS/MISS line per target: speed-up of every multi-worker run against local:1
    (or the cores-busy clause, when local:1 already keeps more than BUSY_FLOOR busy), peak
    RSS of every run, and one content hash for all."""
    lines = []
    base = next((r for r in runs if (r["engine"], r["workers"]) == ("local", 1)), None)
    for run in runs:
        label = f"{run['engine']}:{run['workers']}"
        if base is not None and run is not base and run["workers"] > 1:
            if base["cores_busy"] > BUSY_FLOOR:
                ok = run["cores_busy"] >= BUSY_TARGET
                lines.append(
                    f"{label}: local:1 keeps {base['cores_busy']:.2f} > {BUSY_FLOOR} cores busy, "
                    f"so cores busy {run['cores_busy']:.2f} (target >= {BUSY_TARGET}): "
                    f"{_verdict(ok)}"
                )
            else:
                ratio = run["wall_s"] / base["wall_s"]
                ok = ratio <= SPEEDUP_TARGET
                lines.append(
                    f"{label}: wall {ratio:.2f}x local:1 (target <= {SPEEDUP_TARGET}x; local:1 "
                    f"keeps {base['cores_busy']:.2f} <= {BUSY_FLOOR} cores busy): {_verdict(ok)}"
                )
        ok = run["rss_mb"] < RSS_TARGET_MB
        lines.append(
            f"{label}: peak RSS {run['rss_mb']:,.0f} MB (target < {RSS_TARGET_MB:,.0f} MB): "
            f"{_verdict(ok)}"
        )
    lines.append(f"content hash identical across runs: {_verdict(same)}")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark scale-out (engines, workers).")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="400k persons: 7 blocks, enough for a pool (CI)",
    )
    parser.add_argument("--persons", type=parse_count, help="persons per run (default 10M)")
    parser.add_argument(
        "--runs",
        type=parse_runs,
        default=parse_runs("local:1,local:2,dask:2"),
        help="engine:workers, comma-separated (default local:1,local:2,dask:2)",
    )
    parser.add_argument("--format", default="csv,parquet", help="formats (csv always)")
    parser.add_argument("--layout", default="parts", choices=("single", "parts"))
    parser.add_argument("--tmpdir", type=Path, help="parent of the throwaway workspace")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per column, interleaved; the fastest is kept"
    )
    parser.add_argument("--json", type=Path, help="write every number to this JSON file")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # one run, in this process
    args = parser.parse_args(argv)
    args.persons = args.persons or (400_000 if args.quick else 10_000_000)
    args.formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    return args


def child(args: argparse.Namespace) -> int:
    """One measured run in this fresh process; its numbers go to stdout as one JSON line."""
    (engine, workers), ws = args.runs[0], Workspace.open(args.child)
    sampler = TreeSampler()
    run = one_run(sampler, ws, args.persons, engine, workers, args.formats, args.layout)
    sampler.close()
    print(json.dumps(run))
    return 0


def spawn(args: argparse.Namespace, ws: Workspace, engine: str, workers: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        *("--child", str(ws.root), "--persons", str(args.persons)),
        *("--runs", f"{engine}:{workers}", "--format", args.format, "--layout", args.layout),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench_scale: run {engine}:{workers} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        return child(args)
    env = {
        "python": platform.python_version(),
        "cpus": available_cpus(),
        "libraries": library_versions(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    console.print(
        f"[dim]bench_scale: {env['cpus']} CPU(s), Python {env['python']}, "
        f"{args.persons:,} persons, runs {args.runs}, {args.format}, {args.layout} layout[/]"
    )
    best: dict[tuple[str, int], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="esdh-scale-", dir=args.tmpdir) as tmp:
        ws = scratch_workspace(Path(tmp), args.persons)
        for attempt in range(1, args.repeat + 1):  # interleaved, so noise hits every column
            for engine, workers in args.runs:
                console.print(f"[dim]{engine}, {workers} worker(s), run {attempt}…[/]")
                run = spawn(args, ws, engine, workers)
                kept = best.get((engine, workers))
                if kept is None or run["wall_s"] < kept["wall_s"]:
                    best[(engine, workers)] = run
    runs = [best[key] for key in args.runs]
    console.print()
    console.print(report_table(runs, args.formats, args.layout))
    same = len({r["content_hash"] for r in runs}) == 1
    for line in targets(runs, same):
        console.print(line)
    console.print(
        "[dim]Each run is a fresh process. RSS sums it and all its descendants (forkserver and "
        "workers, or the Dask workers; the Dask scheduler and nannies run in it), sampled every "
        "20 ms; shared pages count once per process, PSS splits them. CPU 'others' is every "
        "other process on the machine: a large value means the run was disturbed.[/]"
    )
    if args.json:
        report = {"environment": env, "runs": runs, "content_hash_identical": same}
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"[dim]wrote {args.json}[/]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
