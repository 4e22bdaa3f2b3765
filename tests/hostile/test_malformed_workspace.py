"""Careless workspace files: each is one clear line naming the file and the line to fix, a
non-zero exit code, no traceback, and nothing written anywhere."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from esdh_agent.workspace import Workspace

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


@dataclass(frozen=True)
class Breakage:
    file: str  # relative to the workspace root
    old: str  # text replaced (must occur once); "" appends
    new: str
    message: str  # what the error line must say
    line_of: str  # text on the line the error must point at (its first occurrence)


def _add_slice(name: str) -> Breakage:
    return Breakage(
        "mop/index.yaml",
        "  - impossible-14\n",
        f"  - impossible-14\n  - {name}\n",
        f"slices lists '{name}', but prompts/{name}.md does not exist",
        f"  - {name}",
    )


CASES = {
    "broken YAML front matter": Breakage(
        "prompts/messy-names.md",
        "owner: ",
        "owner: [unclosed\nx: ",
        "invalid front matter",
        "x: ",
    ),
    "front matter never closed": Breakage(
        "prompts/messy-names.md", "\n---\n", "\n\n", "front matter is not closed", "---"
    ),
    "critic template without pass_threshold": Breakage(
        "critics/plan-fidelity.md",
        "pass_threshold:",
        "#pass_threshold:",
        "missing field 'pass_threshold'",
        "id: plan-fidelity",
    ),
    "critic listed but missing": Breakage(
        "mop/index.yaml",
        "llm: [plan-fidelity,",
        "llm: [no-such-critic, plan-fidelity,",
        "critics/llm lists 'no-such-critic', but critics/no-such-critic.md does not exist",
        "llm: [no-such-critic",
    ),
    "policy with an unknown key": Breakage(
        "governance/policy.yaml",
        "records:\n",
        "records:\n  max_rows_per_request: 5\n",
        "unknown field 'records.max_rows_per_request'",
        "  max_rows_per_request: 5",
    ),
    "policy that is not YAML": Breakage(
        "governance/policy.yaml",
        "allowed_states: [CA, AZ, NV, OR, WA]",
        "allowed_states: [CA, AZ, NV, OR, WA]]",
        "invalid YAML",
        "allowed_states",
    ),
    "index naming a missing slice": _add_slice("ghost-slice"),
    "index with an unknown key": Breakage(
        "mop/index.yaml",
        "max_reasks: 2\n",
        "max_reasks: 2\nskip_critics: true\n",
        "unknown field 'skip_critics'",
        "skip_critics: true",
    ),
    "index with a negative retry wait": Breakage(
        "mop/index.yaml",
        "  max_retries: 3\n",
        "  max_retries: 3\n  backoff_seconds: -1\n",
        "llm.backoff_seconds: Input should be greater than or equal to 0",
        "  backoff_seconds: -1",
    ),
    "slice with an unknown pinned field": Breakage(
        "prompts/over-cap.md",
        "  seed: 120000\n",
        "  seed: 120000\n  output_path: ../../etc\n",
        "pinned field 'output_path' is not a plan field",
        "  output_path: ../../etc",
    ),
    "slice pinning an empty marker": Breakage(
        "prompts/over-cap.md",
        "  seed: 120000\n",
        '  seed: 120000\n  synthetic_source: ""\n',
        "pinned field 'synthetic_source' is not a plan field",
        "  synthetic_source:",
    ),
    "slice pinning a state outside the contract": Breakage(
        "prompts/over-cap.md",
        "  seed: 120000\n",
        "  seed: 120000\n  state_mix: {TX: 1.0}\n",
        "pinned requirements are not a valid plan: state_mix",
        "  state_mix: {TX: 1.0}",
    ),
    "slice whose id differs from its file": Breakage(
        "prompts/messy-names.md",
        "id: messy-names",
        "id: ../../etc",
        "id",
        "id: ../../etc",
    ),
}


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            stat = path.lstat()
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_file_is_one_located_line_and_nothing_is_written(
    cli: Cli, workspace: Workspace, case: str
) -> None:
    broken = CASES[case]
    path = workspace.root / broken.file
    text = path.read_text(encoding="utf-8")
    assert text.count(broken.old) >= 1, f"fixture drifted: {broken.old!r} not in {broken.file}"
    path.write_text(text.replace(broken.old, broken.new, 1), encoding="utf-8")
    expected_line = next(
        n
        for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1)
        if broken.line_of in line
    )
    before = _listing(workspace.root.parent)

    result = cli("run", "slice-generation")

    assert result.code != 0
    assert "Traceback" not in result.err + result.out
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), lines[0]
    assert broken.message in lines[0], lines[0]
    located = re.search(re.escape(str(path)) + r":(\d+)", lines[0])
    assert located, f"the error does not name {broken.file} and a line: {lines[0]}"
    assert int(located.group(1)) == expected_line, lines[0]
    assert _listing(workspace.root.parent) == before  # nothing written, inside or out
