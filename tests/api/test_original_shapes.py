"""The original system's consumers, replayed against this API: same requests, same shapes.

The shapes below are written down from the original ESDH repository
(github.com/dutchsloot84/enterprise-synthetic-data-hub, commit 6e92e4f): its Flask API
(src/enterprise_synthetic_data_hub/api/app.py), its model of the metadata
(src/enterprise_synthetic_data_hub/models/dataset_metadata.py), its golden responses
(tests/golden/*_seed20251101_count3.json, healthz_seed20251101.json) and its API tests
(tests/test_api.py, tests/api/test_demo_api.py, tests/smoke/test_api_contract.py). The
requests in ORIGINAL_REQUESTS are the ones those tests send, with what they assert. Nothing
is imported from that project: the shapes are data here.

A shape is a type (or a tuple of types), a dict of required keys (more keys may follow:
this API adds its own fields beside the original's) or a one-item list (every item). One
known difference, by design: a bad request is a 422 here (the original answered 400), in the
same ``{"error": {"code": "invalid_request", "message": ...}}`` shape.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import MARKER

PERSON = {
    "person_id": str,
    "first_name": str,
    "last_name": str,
    "date_of_birth": str,
    "driver_license_number": str,
    "driver_license_state": str,
    "address_line_1": str,
    "address_line_2": (str, type(None)),
    "city": str,
    "state": str,
    "postal_code": str,
    "country": str,
    "lob_type": str,
    "synthetic_source": str,
}
VEHICLE = {
    "vehicle_id": str,
    "person_id": str,
    "vin": str,
    "make": str,
    "model": str,
    "model_year": int,
    "body_style": str,
    "risk_rating": str,
    "lob_type": str,
    "garaging_state": str,
    "garaging_postal_code": str,
    "synthetic_source": str,
}
PROFILE = {
    "profile_id": str,
    "person_id": str,
    "vehicle_id": str,
    "full_name": str,
    "lob_type": str,
    "residence_state": str,
    "city": str,
    "postal_code": str,
    "garaging_state": str,
    "primary_vehicle_vin": str,
    "vehicle_summary": str,
    "risk_rating": str,
    "synthetic_source": str,
}
METADATA = {  # DatasetMetadata.model_dump(mode="json")
    "dataset_version": str,
    "generated_at": str,
    "record_count_persons": int,
    "record_count_vehicles": int,
    "record_count_profiles": int,
    "notes": (str, type(None)),
}
HEALTHZ = {
    "status": str,
    "dataset_version": str,
    "default_seed": int,
    "target_records": int,
    "version": str,
    "seed": int,
    "plan": {"steps": [str]},
}
COMMON = {"metadata": METADATA, "seed": int, "records_requested": int}
RESPONSES = {
    "/generate/person": {**COMMON, "persons": [PERSON], "record_count": int},
    "/generate/vehicle": {**COMMON, "vehicles": [VEHICLE], "record_count": int},
    "/generate/profile": {**COMMON, "profiles": [PROFILE], "record_count": int},
    "/generate/bundle": {
        **COMMON,
        "persons": [PERSON],
        "vehicles": [VEHICLE],
        "profiles": [PROFILE],
    },
}
# (method, path, JSON body, {dotted path in the response: expected value}); "len(x)" is the
# length of list x, "x[0].y" a field of its first item.
ORIGINAL_REQUESTS: list[tuple[str, str, Any, dict[str, Any]]] = [
    ("GET", "/healthz", None, {"status": "ok"}),
    (
        "POST",
        "/generate/person",
        {"records": 2, "randomize": True},
        {"len(persons)": 2, "metadata.record_count_persons": 2},
    ),
    (
        "POST",
        "/generate/person",
        {"records": 3, "seed": 123},
        {"len(persons)": 3, "records_requested": 3, "persons[0].synthetic_source": MARKER},
    ),
    (
        "POST",
        "/generate/bundle",
        {"records": 2},
        {
            "len(profiles)": 2,
            "metadata.record_count_profiles": 2,
            "profiles[0].synthetic_source": MARKER,
        },
    ),
    *[
        (
            "POST",
            path,
            {"records": 2, "seed": 20251101},
            {
                "seed": 20251101,
                "records_requested": 2,
                "metadata.record_count_persons": 2,
                "metadata.record_count_vehicles": 2,
                "metadata.record_count_profiles": 2,
                **({"record_count": 2} if path != "/generate/bundle" else {}),
            },
        )
        for path in RESPONSES
    ],
]
HEALTHZ_VALUES = {
    "version": "v0.1",
    "dataset_version": "v0.1",
    "default_seed": 20251101,
    "seed": 20251101,
    "target_records": 200,
}


def check_shape(value: Any, shape: Any, where: str = "$") -> None:
    """Assert ``value`` has ``shape`` (see the module docstring)."""
    if isinstance(shape, dict):
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r:.80}"
        for key, inner in shape.items():
            assert key in value, f"{where}: missing {key!r} (has {sorted(value)})"
            check_shape(value[key], inner, f"{where}.{key}")
    elif isinstance(shape, list):
        assert isinstance(value, list) and value, f"{where}: expected a non-empty list"
        for i, item in enumerate(value):
            check_shape(item, shape[0], f"{where}[{i}]")
    else:
        ok = isinstance(value, shape) and not (isinstance(value, bool) and shape is int)
        assert ok, f"{where}: expected {shape}, got {value!r:.80}"


def _lookup(payload: Any, path: str) -> Any:
    if path.startswith("len(") and path.endswith(")"):
        return len(_lookup(payload, path[4:-1]))
    for part in path.replace("[0]", ".0").split("."):
        payload = payload[int(part)] if part.isdigit() else payload[part]
    return payload


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    ORIGINAL_REQUESTS,
    ids=[f"{m} {p} {b}" for m, p, b, _ in ORIGINAL_REQUESTS],
)
def test_the_original_requests_get_the_original_shapes(
    client: TestClient, method: str, path: str, body: Any, expected: dict[str, Any]
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    check_shape(payload, HEALTHZ if path == "/healthz" else RESPONSES[path])
    for key, value in expected.items():
        assert _lookup(payload, key) == value, key


def test_healthz_has_the_original_fields_and_meanings(client: TestClient) -> None:
    payload = client.get("/healthz").json()
    check_shape(payload, HEALTHZ)
    for key, value in HEALTHZ_VALUES.items():
        assert payload[key] == value, key
    assert len(payload["plan"]["steps"]) >= 10


def test_generated_rows_are_linked_as_the_original_promised(client: TestClient) -> None:
    """The original's smoke contract: vehicles and profiles point at the bundle's persons,
    profiles at its vehicles; every id is set; the counts agree with the metadata."""
    payload = client.post("/generate/bundle", json={"records": 2, "seed": 20251101}).json()
    persons = {p["person_id"] for p in payload["persons"]}
    vehicles = {v["vehicle_id"] for v in payload["vehicles"]}
    assert {v["person_id"] for v in payload["vehicles"]} == persons
    assert {p["person_id"] for p in payload["profiles"]} == persons
    assert {p["vehicle_id"] for p in payload["profiles"]} == vehicles
    for entity in ("persons", "vehicles", "profiles"):
        assert payload["metadata"][f"record_count_{entity}"] == len(payload[entity])
        for row in payload[entity]:
            assert all(row[k] for k in row if k.endswith("_id")), row
    assert payload["metadata"]["generated_at"] == "2025-11-01T00:00:00"


def test_a_bad_request_has_the_original_error_shape(client: TestClient) -> None:
    """The original's smoke test sends {"records": 0, "seed": "abc"}: an error with code
    invalid_request. Here it is a 422 (the original said 400) naming the field."""
    response = client.post("/generate/person", json={"records": 0, "seed": "abc"})
    assert response.status_code == 422
    body = response.json()
    check_shape(body, {"error": {"code": str, "message": str}})
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["message"].startswith("records:")
