"""Every operation fuzzed from its own OpenAPI schema with schemathesis, in-process (ASGI).

Schemathesis reads ``/openapi.json`` and generates requests that follow the schema
(positive) and that break it (negative: wrong types, missing or extra fields, out-of-range
values, odd path parameters). Whatever it sends: no 5xx, every response matches the status
codes, content types and bodies the schema documents, and invalid input is refused.

Bounded for CI: at most ``MAX_EXAMPLES`` examples per operation, a fixed seed (the same
requests every run), no shrinking database, no network (the app is called in-process). A
snapshot and an agent run exist, so the by-name operations can also succeed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from esdh_agent.api.app import create_app
from esdh_agent.api.settings import ApiSettings
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.engines.pipeline import build_snapshot

from tests.api.conftest import RecordedRun
from tests.conftest import MARKER

CAP = 20
MAX_EXAMPLES = 50
OPERATIONS = [
    "GET /",
    "GET /healthz",
    "GET /generate/person",
    "GET /generate/vehicle",
    "GET /generate/profile",
    "GET /generate/bundle",
    "POST /generate/person",
    "POST /generate/vehicle",
    "POST /generate/profile",
    "POST /generate/bundle",
    "GET /snapshots",
    "GET /snapshots/{name}",
    "GET /snapshots/{name}/files",
    "GET /snapshots/{name}/files/{file_path}",
    "GET /runs",
    "GET /runs/{run_id}",
    "GET /runs/{run_id}/view",
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module")
def fuzz_app(recorded_run: RecordedRun) -> Iterator[FastAPI]:
    ws = recorded_run.workspace  # holds a replayed agent run and its committed snapshot
    if "tiny-v0.1" not in ws.store().names():
        build_snapshot(
            GenerationPlan(person_count=5, seed=3),
            vocab=ws.vocabulary(),
            store=ws.store(),
            marker=MARKER,
            name="tiny-v0.1",
        )
    yield create_app(ws, ApiSettings(max_records=CAP))
    print("\nschemathesis examples per operation:", dict(sorted(TALLY.items())))


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, database="none")
    return schema


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    """A new endpoint fails here until it is added to OPERATIONS (and so fuzzed)."""
    assert sorted(r.ok().label for r in api_schema.get_all_operations()) == sorted(OPERATIONS)


CASES = [
    *[(label, GenerationMode.POSITIVE) for label in OPERATIONS],
    # Only request bodies and /generate's query parameters can break the schema: path
    # parameters are any string.
    *[(label, GenerationMode.NEGATIVE) for label in OPERATIONS if "/generate/" in label],
]


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{a} {b.value}" for a, b in CASES])
def test_an_operation_survives_its_own_schema(
    api_schema: Any, label: str, mode: GenerationMode
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        TALLY[f"{label} ({mode.value})"] += 1
        response = case.call()
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        case.validate_response(response, checks=CHECKS)

    fuzz()
