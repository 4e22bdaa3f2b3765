"""The v0.1 data contract: Person, Vehicle, Profile and DatasetMetadata.

These pydantic models are the single source of truth. The Arrow schemas the generator
writes, the vectorized checks the validator runs and the YAML contracts committed under
``governance/schemas/<version>/`` are all derived from them; a test fails when the committed
YAML is not current (``esdh-agent contracts write`` refreshes it). Field order is column
order and is part of the contract with existing consumers: never reorder.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

__all__ = [
    "CONTRACT_STATES",
    "CONTRACT_VERSION",
    "ENTITIES",
    "PROFILE_NAMESPACE",
    "UUID4_PATTERN",
    "UUID5_PATTERN",
    "ColumnRule",
    "DatasetMetadata",
    "Person",
    "Profile",
    "Vehicle",
    "arrow_schema",
    "column_rules",
    "contract_documents",
]

CONTRACT_VERSION = "v0.1"
PROFILE_NAMESPACE = uuid.UUID("6f1d5c7e-2b1a-5d8e-9a43-0e5b2c9d4f10")
"""Namespace of profile_id = UUIDv5(namespace, 'person_id:vehicle_id'). Never change it."""
UUID4_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
POSTAL_PATTERN = r"^[0-9]{5}(-[0-9]{4})?$"

UUID5_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
Uuid4 = Annotated[str, Field(pattern=UUID4_PATTERN, min_length=36, max_length=36)]
Uuid5 = Annotated[str, Field(pattern=UUID5_PATTERN, min_length=36, max_length=36)]
ContractState = Literal["CA", "AZ", "NV", "OR", "WA"]
CONTRACT_STATES: tuple[ContractState, ...] = ("CA", "AZ", "NV", "OR", "WA")
StateCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", min_length=2, max_length=2)]
PostalCode = Annotated[str, Field(pattern=POSTAL_PATTERN, min_length=5, max_length=10)]
LobType = Literal["Personal", "Commercial"]
BodyStyle = Literal["Sedan", "SUV", "Truck"]
RiskRating = Literal["Low", "Medium", "High"]
LOBS: tuple[LobType, ...] = ("Personal", "Commercial")
BODY_STYLES: tuple[BodyStyle, ...] = ("Sedan", "SUV", "Truck")
RISKS: tuple[RiskRating, ...] = ("Low", "Medium", "High")
Marker = Annotated[str, Field(min_length=1, max_length=100)]
Vin = Annotated[str, Field(pattern=r"^[A-HJ-NPR-Z0-9]{17}$", min_length=17, max_length=17)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Record):
    """A licensed driver and policy holder."""

    person_id: Uuid4 = Field(description="Random RFC 9562 version-4 UUID, lowercase.")
    first_name: str = Field(min_length=1, max_length=50, description="Given name.")
    last_name: str = Field(min_length=1, max_length=50, description="Family name.")
    date_of_birth: dt.date = Field(description="YYYY-MM-DD; licensed drivers are 16-99.")
    driver_license_number: str = Field(
        pattern=r"^[A-Z0-9-]{5,16}$",
        min_length=5,
        max_length=16,
        description="In the issuing state's real format (governance/licence_formats.yaml).",
    )
    driver_license_state: ContractState = Field(description="Issuing state.")
    address_line_1: str = Field(min_length=1, max_length=100, description="Street address.")
    address_line_2: str | None = Field(
        default=None, min_length=1, max_length=50, description="Apartment, suite or unit."
    )
    city: str = Field(min_length=1, max_length=50, description="City of the postal code.")
    state: StateCode = Field(description="Residence state (two letters).")
    postal_code: PostalCode = Field(description="ZIP (5 digits) or ZIP+4 (NNNNN-NNNN).")
    country: StateCode = Field(default="US", description="ISO country code.")
    lob_type: LobType = Field(description="Line of business.")
    synthetic_source: Marker = Field(description="Marker naming the synthetic generator.")


class Vehicle(_Record):
    """A vehicle owned by a person."""

    vehicle_id: Uuid4 = Field(description="Random RFC 9562 version-4 UUID, lowercase.")
    person_id: Uuid4 = Field(description="Owner; references Person.person_id.")
    vin: Vin = Field(description="North-American VIN with a valid check digit (position 9).")
    make: str = Field(min_length=1, max_length=30, description="Manufacturer.")
    model: str = Field(min_length=1, max_length=40, description="Model name.")
    model_year: int = Field(ge=2000, le=2024, description="Model year (VIN position 10).")
    body_style: BodyStyle = Field(description="Sedan, SUV or Truck.")
    risk_rating: RiskRating = Field(description="Underwriting risk band.")
    lob_type: LobType = Field(description="Line of business (the owner's).")
    garaging_state: StateCode = Field(description="State where the vehicle is garaged.")
    garaging_postal_code: PostalCode = Field(description="ZIP or ZIP+4 where garaged.")
    synthetic_source: Marker = Field(description="Marker naming the synthetic generator.")


class Profile(_Record):
    """One per person: the person joined with their primary (first) vehicle."""

    profile_id: Uuid5 = Field(description="UUIDv5 of 'person_id:vehicle_id' (project namespace).")
    person_id: Uuid4 = Field(description="References Person.person_id.")
    vehicle_id: Uuid4 = Field(description="References Vehicle.vehicle_id (primary vehicle).")
    full_name: str = Field(min_length=3, max_length=101, description="'first_name last_name'.")
    lob_type: LobType = Field(description="The person's line of business.")
    residence_state: StateCode = Field(description="The person's state.")
    city: str = Field(min_length=1, max_length=50, description="The person's city.")
    postal_code: PostalCode = Field(description="The person's postal code.")
    garaging_state: StateCode = Field(description="The primary vehicle's garaging state.")
    primary_vehicle_vin: Vin = Field(description="The primary vehicle's VIN.")
    vehicle_summary: str = Field(
        min_length=1, max_length=80, description="'<model_year> <make> <model>'."
    )
    risk_rating: RiskRating = Field(description="The primary vehicle's risk rating.")
    synthetic_source: Marker = Field(description="Marker naming the synthetic generator.")


class DatasetMetadata(_Record):
    """Counts and provenance of a dataset, written beside the data as metadata.json."""

    dataset_version: str = Field(pattern=r"^v[0-9]+\.[0-9]+(\.[0-9]+)?$", max_length=20)
    generated_at: dt.datetime = Field(description="Derived from the plan's as-of date.")
    record_count_persons: int = Field(ge=0)
    record_count_vehicles: int = Field(ge=0)
    record_count_profiles: int = Field(ge=0)
    notes: str = Field(default="", max_length=500)


ENTITIES: dict[str, type[_Record]] = {
    "persons": Person,
    "vehicles": Vehicle,
    "profiles": Profile,
}


@dataclass(frozen=True)
class ColumnRule:
    """What the contract says about one column, in a form the vectorized validator uses."""

    name: str
    kind: Literal["string", "date", "int"]
    required: bool
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    enum: tuple[str, ...] | None = None
    ge: int | None = None
    le: int | None = None
    description: str = ""


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """Return (inner type, optional?) for ``X | None``."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def _rule(name: str, info: FieldInfo) -> ColumnRule:
    inner, optional = _unwrap(info.annotation)
    enum: tuple[str, ...] | None = None
    kind: Literal["string", "date", "int"]
    if typing.get_origin(inner) is Literal:
        enum, kind = tuple(typing.get_args(inner)), "string"
    elif inner is dt.date:
        kind = "date"
    elif inner is int:
        kind = "int"
    else:
        kind = "string"
    values: dict[str, Any] = {}
    for meta in info.metadata:
        for attr in ("pattern", "min_length", "max_length", "ge", "le"):
            value = getattr(meta, attr, None)
            if value is not None:
                values[attr] = value
    return ColumnRule(
        name=name,
        kind=kind,
        required=not optional,
        enum=enum,
        description=info.description or "",
        **values,
    )


def column_rules(entity: str) -> list[ColumnRule]:
    """The contract's rules for each column of ``entity``, in column order."""
    model = ENTITIES[entity]
    return [_rule(name, info) for name, info in model.model_fields.items()]


_ARROW_TYPES = {"string": pa.string(), "date": pa.date32(), "int": pa.int32()}


def arrow_schema(entity: str) -> pa.Schema:
    """The Arrow schema of ``entity``'s columns, in contract order."""
    return pa.schema(
        [
            pa.field(rule.name, _ARROW_TYPES[rule.kind], nullable=not rule.required)
            for rule in column_rules(entity)
        ]
    )


_YAML_TYPES = {"string": "string", "date": "date (YYYY-MM-DD)", "int": "integer"}
_DOC_MODELS: dict[str, type[BaseModel]] = {**ENTITIES, "metadata": DatasetMetadata}


def contract_documents() -> dict[str, dict[str, Any]]:
    """The YAML contract documents, keyed by file stem, derived from the models."""
    documents: dict[str, dict[str, Any]] = {}
    for stem, model in _DOC_MODELS.items():
        fields = []
        for name, info in model.model_fields.items():
            rule = _rule(name, info)
            entry: dict[str, Any] = {
                "name": name,
                "type": "datetime" if info.annotation is dt.datetime else _YAML_TYPES[rule.kind],
                "required": rule.required,
            }
            for attr in ("pattern", "min_length", "max_length", "ge", "le"):
                value = getattr(rule, attr)
                if value is not None:
                    entry[attr] = value
            if rule.enum:
                entry["enum"] = list(rule.enum)
            if info.default is not None and not info.is_required() and info.default != "":
                entry["default"] = info.default
            if rule.description:
                entry["description"] = rule.description
            fields.append(entry)
        documents[stem] = {
            "contract_version": CONTRACT_VERSION,
            "entity": model.__name__,
            "description": (model.__doc__ or "").strip(),
            "fields": fields,
        }
    return documents
