"""Load-test the HTTP API: concurrent POST /generate/bundle for a fixed time, with abuse mixed in.

    python benchmarks/bench_api.py [--quick] [--seconds S] [--concurrency N] [--records R]
                                   [--abuse-share F] [--json FILE]

The API runs under uvicorn on a free loopback port in a thread of this process, over a fresh
workspace made by `esdh-agent init` (the same as `esdh-agent serve`, default settings: cap
1000 persons, 64 KiB bodies). N client threads, each with its own keep-alive connection, send
requests back to back for S seconds after a short warm-up. A share of them (--abuse-share) is
abuse the server must refuse with a 4xx and survive: malformed JSON, a record count above the
cap, a 100 KiB body, unknown fields, a wrong content type.

Reported: throughput (requests/s and persons/s) and p50/p95/p99/max latency of the valid
requests, the status mix, and errors — a valid request that did not get 200, an abusive one
that got anything but a 4xx, or a failed connection. The exit code is 1 when there was any
error. Client and server share one process (and its GIL): the numbers are a lower bound of
what a dedicated server process does on the same machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GOALS = {"p95_ms": 250.0, "errors": 0}
ABUSE: list[tuple[str, bytes, str]] = [
    ("malformed JSON", b'{"records": 5,', "application/json"),
    ("above the cap", b'{"records": 1000000}', "application/json"),
    ("oversized body", b'{"records": 1, "pad": "' + b"x" * 100_000 + b'"}', "application/json"),
    ("unknown field", b'{"records": 2, "output_path": "../../etc"}', "application/json"),
    ("not JSON", b"records=5", "application/x-www-form-urlencoded"),
    ("negative count", b'{"records": -5, "seed": -1}', "application/json"),
]


@dataclass
class Tally:
    """What one client thread saw."""

    latencies: list[float] = field(default_factory=list)  # seconds, valid requests only
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    persons: int = 0


@contextmanager
def serve(workspace: Path) -> Iterator[int]:
    """The API under uvicorn on 127.0.0.1 (a free port) in a thread; yields the port."""
    import uvicorn

    from esdh_agent.api.app import create_app
    from esdh_agent.api.settings import ApiSettings
    from esdh_agent.workspace import Workspace

    app = create_app(Workspace.open(workspace), ApiSettings())
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sys.exit("the API did not start")
        time.sleep(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def client(
    port: int, until: float, measure_from: float, records: int, abuse_share: float, seed: int
) -> Tally:
    """Send requests back to back until ``until``; count those started after ``measure_from``."""
    rng = random.Random(seed)
    tally = Tally()
    conn: http.client.HTTPConnection | None = None
    valid = json.dumps({"records": records, "seed": 20251101}).encode()
    while (now := time.monotonic()) < until:
        measured = now >= measure_from
        abusive = rng.random() < abuse_share
        label, body, content_type = rng.choice(ABUSE) if abusive else ("valid", valid, "")
        content_type = content_type or "application/json"
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            started = time.perf_counter()
            conn.request(
                "POST", "/generate/bundle", body=body, headers={"Content-Type": content_type}
            )
            response = conn.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            if response.getheader("connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            if measured:
                tally.errors[f"{label}: {type(exc).__name__}"] += 1
            if conn is not None:
                conn.close()
            conn = None
            continue
        if not measured:
            continue
        status = response.status
        tally.statuses[f"{'abuse' if abusive else 'valid'} {status}"] += 1
        if abusive:
            if not 400 <= status < 500:
                tally.errors[f"{label}: HTTP {status}"] += 1
            continue
        if status != 200:
            tally.errors[f"valid: HTTP {status}"] += 1
            continue
        tally.latencies.append(elapsed)
        tally.persons += json.loads(payload)["counts"]["persons"]
    if conn is not None:
        conn.close()
    return tally


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from esdh_agent.workspace import init_workspace

    with tempfile.TemporaryDirectory() as tmp, serve(init_workspace(Path(tmp) / "ws")) as port:
        start = time.monotonic()
        measure_from = start + args.warmup
        until = measure_from + args.seconds
        results: list[Tally] = [Tally() for _ in range(args.concurrency)]

        def work(i: int) -> None:
            results[i] = client(port, until, measure_from, args.records, args.abuse_share, i)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(args.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - measure_from
    latencies = [x for t in results for x in t.latencies]
    statuses: Counter[str] = sum((t.statuses for t in results), Counter())
    errors: Counter[str] = sum((t.errors for t in results), Counter())
    total = sum(statuses.values())
    ms = [x * 1000 for x in latencies]
    return {
        "seconds": round(wall, 2),
        "concurrency": args.concurrency,
        "records_per_request": args.records,
        "abuse_share": args.abuse_share,
        "requests": total,
        "valid_ok": len(latencies),
        "requests_per_s": round(total / wall, 1),
        "valid_per_s": round(len(latencies) / wall, 1),
        "persons_per_s": round(sum(t.persons for t in results) / wall, 1),
        "latency_ms": {
            "p50": round(percentile(ms, 50), 1),
            "p95": round(percentile(ms, 95), 1),
            "p99": round(percentile(ms, 99), 1),
            "max": round(max(ms, default=0.0), 1),
            "mean": round(statistics.fmean(ms), 1) if ms else 0.0,
        },
        "statuses": dict(sorted(statuses.items())),
        "errors": sum(errors.values()),
        "error_kinds": dict(sorted(errors.items())),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI: 4 s, 4 clients (~6 s)")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds (20)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=None, help="client threads (8)")
    parser.add_argument("--records", type=int, default=10, help="persons per request")
    parser.add_argument("--abuse-share", type=float, default=0.2, help="share of bad requests")
    parser.add_argument("--json", type=Path, help="write every number here")
    args = parser.parse_args()
    args.seconds = args.seconds or (4.0 if args.quick else 20.0)
    args.concurrency = args.concurrency or (4 if args.quick else 8)
    if not (0 <= args.abuse_share <= 1 and args.concurrency >= 1 and args.records >= 1):
        parser.error("--abuse-share must be 0-1, --concurrency and --records at least 1")
    result = run(args)
    lat = result["latency_ms"]
    p95_ok = lat["p95"] <= GOALS["p95_ms"]
    print(
        f"POST /generate/bundle, {result['concurrency']} clients, {result['records_per_request']}"
        f" persons/request, {result['abuse_share']:.0%} abuse, {result['seconds']} s measured"
    )
    print(
        f"throughput       {result['requests_per_s']} req/s ({result['valid_per_s']} valid/s, "
        f"{result['persons_per_s']:,} persons/s)"
    )
    print(
        f"latency (valid)  p50 {lat['p50']} ms  p95 {lat['p95']} ms  p99 {lat['p99']} ms  "
        f"max {lat['max']} ms  (goal p95 <= {GOALS['p95_ms']:g} ms: "
        f"{'PASS' if p95_ok else 'MISS'})"
    )
    print(f"statuses         {result['statuses']}")
    print(
        f"errors           {result['errors']} {result['error_kinds'] or ''}"
        f"(goal {GOALS['errors']}: {'PASS' if result['errors'] == 0 else 'FAIL'})"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
