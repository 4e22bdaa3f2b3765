"""Assemble a slice's ledger: pinned requirements, the grammar's readings, the model's.

Precedence (docs/requests.md): a pinned value wins over the prose; the grammar's reading wins
over the model's; the model fills only what the grammar did not read. Every reading that
loses is kept in the ledger as ``overridden`` with the conflict recorded, so a reviewer sees
both the request's words and what decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from esdh_agent.ledger.model import (
    Conflict,
    Discarded,
    Ledger,
    Requirement,
    Unsupported,
    prose_hash,
)
from esdh_agent.ledger.verify import share_met

__all__ = ["assemble", "pinned_requirements"]

_SHARE_TARGETS = {"lob_mix": "lob", "state_mix": "state"}
_RATE_TARGETS = {"address_line_2_rate": "address_line_2", "zip_plus4_rate": "zip_plus4"}
_NAME_KEYS = {
    "hyphenated_names": "hyphenated",
    "apostrophe_names": "apostrophe",
    "long_names": "long",
    "non_ascii_names": "non_ascii",
    "max_length_fields": "max_length",
}


def _yaml_scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def pinned_requirements(pinned: dict[str, Any]) -> list[Requirement]:
    """The pinned front matter as requirements (ids P1, P2, ...; quote = the YAML entry).

    Pinned values are checked on the data like every other requirement, so a reviewer sees
    that the pins were honoured, not only that they were applied.
    """
    out: list[dict[str, Any]] = []

    def add(field: str, shown: Any, **kw: Any) -> None:
        out.append({"quote": f"{field}: {shown}", "plan_fields": [field.split(".")[0]], **kw})

    for field, value in pinned.items():
        if field in ("person_count", "seed", "dataset_version", "as_of_date"):
            add(field, _yaml_scalar(value), target=field, op="eq", value=_scalar(value))
        elif field in _SHARE_TARGETS and isinstance(value, dict):
            for key, share in value.items():
                add(
                    field,
                    f"{{{key}: {share}}}",
                    target=_SHARE_TARGETS[field],
                    key=str(key),
                    op="share",
                    value=float(share),
                )
        elif field == "vehicles_per_person" and isinstance(value, dict):
            for key, share in value.items():
                add(
                    field,
                    f"{{{key}: {share}}}",
                    target="vehicles_per_person",
                    key=str(key),
                    op="share",
                    value=float(share),
                )
        elif field == "age_bands" and isinstance(value, list):
            for band in value:
                if isinstance(band, dict) and {"min_age", "max_age", "share"} <= set(band):
                    key = f"{band['min_age']}-{band['max_age']}"
                    add(
                        field,
                        f"{key} share {band['share']}",
                        target="age",
                        key=key,
                        op="share",
                        value=float(band["share"]),
                    )
        elif field in ("model_year_min", "model_year_max"):
            op = "min" if field.endswith("min") else "max"
            add(field, value, target="model_year", op=op, value=int(value))
        elif field in _RATE_TARGETS:
            add(field, value, target=_RATE_TARGETS[field], op="share", value=float(value))
        elif field == "edge_cases" and isinstance(value, dict):
            for name, rate in value.items():
                if name in _NAME_KEYS:
                    target, key = "name_variant", _NAME_KEYS[name]
                elif name == "boundary_ages":
                    target, key = "boundary_age", None
                else:
                    continue
                add(
                    f"edge_cases.{name}",
                    rate,
                    target=target,
                    key=key,
                    op="share",
                    value=float(rate),
                )
    return [
        Requirement(id=f"P{i}", source="pinned", tolerance="exact", **item)
        for i, item in enumerate(out, start=1)
    ]


def _scalar(value: Any) -> int | str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    return str(value)


def _same_aspect(a: Requirement, b: Requirement) -> bool:
    """Do two readings speak of the same thing (so at most one of them can stand)?"""
    if a.target != b.target or a.op != b.op:
        return False
    return a.key == b.key


def _pin_agrees(pin: Requirement, req: Requirement) -> bool:
    """Does the pinned value honour the prose reading ("plenty of" and a pinned 0.15)?"""
    if pin.signature() == req.signature():
        return True
    if req.op == "share" and isinstance(pin.value, int | float):
        return share_met(float(pin.value), _share(req.value), req.tolerance, 10**6)
    return False


def _share(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def assemble(
    slice_id: str,
    prose: str,
    pinned: dict[str, Any],
    grammar: Iterable[Requirement],
    model: Iterable[Requirement] = (),
    *,
    grammar_sha256: str = "",
    unsupported: Iterable[Unsupported] = (),
    discarded: Iterable[Discarded] = (),
) -> Ledger:
    """The slice's ledger: pinned, then prose readings in prose order (grammar over model)."""
    pins = pinned_requirements(pinned)
    conflicts: list[Conflict] = []
    prose_reqs: list[Requirement] = []
    grammar_reqs = sorted(grammar, key=lambda r: (r.start, r.end))
    for req in grammar_reqs:
        prose_reqs.append(req.model_copy(update={"source": "grammar"}))
    for req in sorted(model, key=lambda r: (r.start, r.end)):
        req = req.model_copy(update={"source": "model"})
        rival = next((g for g in prose_reqs if _same_aspect(g, req)), None)
        if rival is None:
            prose_reqs.append(req)
            continue
        if rival.signature() == req.signature():
            continue  # the model agrees with the grammar: nothing to record twice
        conflicts.append(
            Conflict(
                kept=rival.id,
                other=req.model_copy(update={"status": "overridden"}),
                reason=f"the grammar reads {rival.label()}; the model read {req.label()}",
            )
        )
    prose_reqs.sort(key=lambda r: (r.start, r.end, r.source != "grammar"))
    renamed = {r.id: f"R{i}" for i, r in enumerate(prose_reqs, start=1)}
    prose_reqs = [r.model_copy(update={"id": f"R{i}"}) for i, r in enumerate(prose_reqs, 1)]
    conflicts = [c.model_copy(update={"kept": renamed.get(c.kept, c.kept)}) for c in conflicts]
    # A pinned value wins over a prose reading of the same aspect with another value.
    final: list[Requirement] = []
    for req in prose_reqs:
        pin = next((p for p in pins if _same_aspect(p, req)), None)
        if pin is not None and not _pin_agrees(pin, req):
            req = req.model_copy(
                update={
                    "status": "overridden",
                    "detail": f"pinned {pin.quote} wins over the prose",
                }
            )
            conflicts.append(
                Conflict(kept=pin.id, other=req, reason=f"pinned {pin.quote} wins over the prose")
            )
        final.append(req)
    return Ledger(
        slice_id=slice_id,
        prose_sha256=prose_hash(prose),
        grammar_sha256=grammar_sha256,
        pinned_fields=sorted(pinned),
        requirements=[*pins, *final],
        unsupported=list(unsupported),
        discarded=list(discarded),
        conflicts=conflicts,
    )
