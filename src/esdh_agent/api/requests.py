"""What /generate reads: a JSON body (POST) or query parameters (GET), never anything else.

Both say the same things — ``records`` (or its synonym ``count``), ``seed``, ``randomize``
and ``name`` — and a POST body may also carry a whole ``plan``. Unknown fields and unknown
query parameters are rejected (422), so a typo is an error rather than a silently ignored
option. Bodies are strict (no coercion: ``"5"``, ``5.0`` or ``true`` is not a record count);
query strings are text, so there ``records`` must be plain decimal digits, ``randomize`` a
boolean word (``true``/``false``/``1``/``0``) and ``seed`` digits or ``random``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from esdh_agent.core.plan import DEFAULT_PLAN, GenerationPlan
from esdh_agent.core.store import NAME_PATTERN

__all__ = [
    "DEFAULT_RECORDS",
    "DEFAULT_SEED",
    "MAX_SEED",
    "GenerateQuery",
    "GenerateRequest",
]

DEFAULT_SEED = DEFAULT_PLAN.seed
DEFAULT_RECORDS = 5
MAX_SEED = 2**63 - 1
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
Absent = SkipJsonSchema[None]  # a query parameter is sent or not; "null" is no value
_DIGITS = re.compile(r"[0-9]{1,40}")
_SEED_ERROR = f"must be an integer from 0 to {MAX_SEED}, or 'random'"

RECORDS_DOC = (
    "Number of persons (default 5). /generate/vehicle returns their vehicles, "
    "/generate/profile their profiles. Above the server's cap is rejected, never cut."
)
COUNT_DOC = "Synonym of records (the name of the response's row count); send one of the two."
SEED_DOC = (
    "Seed of every random stream (0 to 2^63-1), or 'random' for a fresh one. The response "
    "names the seed used, so any call can be reproduced."
)
RANDOMIZE_DOC = "Draw a fresh seed (as seed='random'); the given seed is not used."
NAME_DOC = (
    "Snapshot name the id columns are keyed on: the rows equal those of `esdh-agent generate "
    "--name NAME` with the same plan and seed. Default: the name `esdh-agent generate` gives "
    "the plan without --name (the dataset version for the default plan)."
)


def _check_name(value: str | None) -> str | None:
    if value is not None and (not NAME_PATTERN.fullmatch(value) or ".." in value):
        raise ValueError(
            "must be a snapshot name: lowercase letters, digits, '.', '_' and '-' (no '..'), "
            "starting with a letter or digit, at most 80 characters"
        )
    return value


def _same_number(records: int | None, count: int | None) -> None:
    if records is not None and count is not None and records != count:
        raise ValueError(
            f"records={records} and count={count} name the same number of persons; send one"
        )


class GenerateRequest(BaseModel):
    """What to generate: ``records`` persons (and their vehicles and profiles) from a seed.

    With a ``plan`` (a GenerationPlan as JSON, e.g. a snapshot manifest's ``plan``), the plan
    decides everything; ``records``/``count`` and ``seed``, when sent too, replace its
    ``person_count`` and ``seed``.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"records": 5, "seed": DEFAULT_SEED}]},
    )

    records: int = Field(DEFAULT_RECORDS, ge=1, description=RECORDS_DOC)
    count: int | None = Field(None, ge=1, description=COUNT_DOC)
    seed: Seed | Literal["random"] = Field(DEFAULT_SEED, description=SEED_DOC)
    randomize: bool = Field(False, description=RANDOMIZE_DOC)
    name: str | None = Field(None, max_length=80, description=NAME_DOC)
    plan: GenerationPlan | None = Field(
        None,
        description="A whole GenerationPlan (`esdh-agent plan schema`): validated, checked "
        "against the governance policy and capped like any request.",
    )

    @field_validator("seed", mode="wrap")
    @classmethod
    def _one_seed_error(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """One clear message instead of one per member of the int-or-'random' union."""
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(_SEED_ERROR) from None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        return _check_name(value)

    @model_validator(mode="after")
    def _one_number(self) -> GenerateRequest:
        _same_number(self.records if "records" in self.model_fields_set else None, self.count)
        return self

    def persons(self) -> int | None:
        """The number of persons asked for, or None when the plan's ``person_count`` rules."""
        if self.count is not None:
            return self.count
        if "records" in self.model_fields_set or self.plan is None:
            return self.records
        return None

    def given_seed(self) -> int | Literal["random"] | None:
        """The seed asked for, or None when the plan's own seed rules."""
        if self.randomize:
            return "random"
        if "seed" in self.model_fields_set or self.plan is None:
            return self.seed
        return None


class GenerateQuery(BaseModel):
    """The query parameters of ``GET /generate/*``: the body fields but ``plan``, as text."""

    model_config = ConfigDict(extra="forbid")

    records: int | Absent = Field(None, ge=1, description=RECORDS_DOC)
    count: int | Absent = Field(None, ge=1, description=COUNT_DOC)
    # The patterns document the values (and guide schema-driven clients); the validators
    # below check them with clearer messages.
    seed: str | Absent = Field(
        None,
        description=SEED_DOC,
        examples=["20251101"],
        json_schema_extra={"pattern": "^(random|[0-9]{1,19})$"},
    )
    randomize: bool | Absent = Field(None, description=RANDOMIZE_DOC)
    name: str | Absent = Field(
        None, description=NAME_DOC, json_schema_extra={"pattern": NAME_PATTERN.pattern}
    )

    @field_validator("records", "count", "randomize", mode="wrap")
    @classmethod
    def _one_error(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: Any) -> Any:
        """One clear message per parameter (not one per member of the ``X | None`` union)."""
        if info.field_name == "randomize":
            message = "must be true or false (or 1/0, yes/no, on/off)"
        else:
            message = "must be a whole number from 1 up, written in digits, e.g. 3"
            if isinstance(value, str) and not _DIGITS.fullmatch(value):
                raise ValueError(message)
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(message) from None

    @field_validator("seed")
    @classmethod
    def _seed(cls, value: str | None) -> str | None:
        if value is None or value == "random":
            return value
        if not _DIGITS.fullmatch(value) or int(value) > MAX_SEED:
            raise ValueError(_SEED_ERROR)
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        return _check_name(value)

    @model_validator(mode="after")
    def _one_number(self) -> GenerateQuery:
        _same_number(self.records, self.count)
        return self

    def to_request(self) -> GenerateRequest:
        """The equivalent body (already validated here, so this cannot fail)."""
        body: dict[str, Any] = self.model_dump(exclude_none=True)
        if "seed" in body and body["seed"] != "random":
            body["seed"] = int(body["seed"])
        return GenerateRequest.model_validate(body)
