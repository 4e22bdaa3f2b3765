"""Benchmark the agent's overhead: a replayed baseline run against `esdh-agent generate` of the
same plan, and the start-up time of `esdh-agent --help`.

    python benchmarks/bench_agent.py [--quick] [--repeat N]

Each command runs as a fresh process (what a user or CI pays), in a new workspace created
by `esdh-agent init`; the median of --repeat runs is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ESDH = Path(sys.executable).parent / "esdh-agent"
GOALS = {"overhead_s": 2.0, "help_s": 0.5}


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([str(ESDH), *args], env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"`esdh-agent {' '.join(args)}` failed:\n{done.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of each (CI)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    results: dict[str, list[float]] = {"help": [], "generate": [], "replay": []}
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY",)}
        env.update(ESDH_LLM_BASE_URL="http://203.0.113.7:9/v1", ESDH_LLM_MODE="replay")
        for i in range(repeat):
            ws = Path(tmp) / f"ws{i}"
            subprocess.run([str(ESDH), "init", str(ws)], check=True, capture_output=True)
            results["help"].append(timed(["--help"], env, ws))
            # The baseline slice's plan is the v0.1 baseline; generate writes it under v0.1.
            results["generate"].append(timed(["generate"], env, ws))
            results["replay"].append(timed(["run", "slice-generation"], env, ws))
    med = {k: statistics.median(v) for k, v in results.items()}
    overhead = med["replay"] - med["generate"]
    print(
        f"esdh-agent --help                        {med['help']:.3f} s  "
        f"(goal < {GOALS['help_s']} s: {'PASS' if med['help'] < GOALS['help_s'] else 'MISS'})"
    )
    print(f"esdh-agent generate (baseline plan)      {med['generate']:.3f} s")
    print(f"esdh-agent run slice-generation (replay) {med['replay']:.3f} s")
    print(
        f"agent overhead over generate             {overhead:.3f} s  "
        f"(goal < {GOALS['overhead_s']} s: "
        f"{'PASS' if overhead < GOALS['overhead_s'] else 'MISS'})"
    )
    print(f"median of {repeat} fresh-process run(s) each")
    if args.json:
        args.json.write_text(
            json.dumps({"runs": results, "median": med, "overhead_s": overhead}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
