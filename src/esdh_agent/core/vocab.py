"""The governed data the generator draws from, loaded from a workspace's ``governance/``.

Name, street and ZIP pools (``governance/vocabularies/``, extracted from pinned libraries),
the licence-format table and the vehicle catalogue. Everything here is hashed into the
manifest (``Vocabulary.digest``), so a changed vocabulary is visible in every snapshot.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from esdh_agent.core.contract import CONTRACT_STATES, BodyStyle, ContractState
from esdh_agent.core.plan import check_shares
from esdh_agent.core.yamlio import load_model
from esdh_agent.errors import WorkspaceError

__all__ = [
    "LicenceFormat",
    "LicenceFormats",
    "VehicleCatalogue",
    "VehicleModel",
    "Vocabulary",
    "governed_files",
    "load_vocabulary",
]

_FORMAT_CHARS = re.compile(r"^[@#*A-Z0-9-]{5,16}$")
_WMI = re.compile(r"^[A-HJ-NPR-Z0-9]{3}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LicenceFormat(_Strict):
    """One licence-number format of a state: '@' letter, '#' digit, '*' either, else literal."""

    format: str = Field(description="Format string, e.g. '@#######'.")
    share: float = Field(ge=0.0, le=1.0, description="Share of the state's persons.")
    note: str = ""

    @field_validator("format")
    @classmethod
    def _within_contract(cls, value: str) -> str:
        if not _FORMAT_CHARS.match(value):
            raise ValueError(
                f"format {value!r} does not fit the contract pattern ^[A-Z0-9-]{{5,16}}$"
            )
        return value

    def capacity(self) -> int:
        """How many distinct numbers this format can spell."""
        size = 1
        for ch in self.format:
            size *= {"@": 26, "#": 10, "*": 36}.get(ch, 1)
        return size

    def regex(self) -> str:
        """A regular expression matching exactly this format."""
        parts = {"@": "[A-Z]", "#": "[0-9]", "*": "[A-Z0-9]"}
        return "".join(parts.get(ch, re.escape(ch)) for ch in self.format)


class LicenceFormats(_Strict):
    """governance/licence_formats.yaml"""

    formats: dict[ContractState, list[LicenceFormat]]

    @field_validator("formats")
    @classmethod
    def _complete(
        cls, value: dict[ContractState, list[LicenceFormat]]
    ) -> dict[ContractState, list[LicenceFormat]]:
        missing = [s for s in CONTRACT_STATES if s not in value]
        if missing:
            raise ValueError(f"no licence formats for {', '.join(missing)}")
        for state, formats in value.items():
            check_shares(f"formats.{state}", {f.format: f.share for f in formats})
        return value


class VehicleModel(_Strict):
    """A model of the catalogue."""

    model: str = Field(min_length=1, max_length=40)
    body_style: BodyStyle
    years: list[tuple[int, int]] = Field(min_length=1)
    wmi: list[str] = Field(min_length=1)

    @field_validator("wmi")
    @classmethod
    def _wmi(cls, value: list[str]) -> list[str]:
        for wmi in value:
            if not _WMI.match(wmi):
                raise ValueError(f"WMI {wmi!r} is not three VIN characters")
        return value


class VehicleCatalogue(_Strict):
    """governance/vehicle_catalogue.yaml"""

    makes: dict[str, list[VehicleModel]]


def governed_files(governance: Path) -> list[Path]:
    """Every file the generator reads, in a fixed order (what the vocabulary hash covers)."""
    vocab_dir = governance / "vocabularies"
    files = sorted(p for p in vocab_dir.iterdir() if p.is_file()) if vocab_dir.is_dir() else []
    return [*files, governance / "licence_formats.yaml", governance / "vehicle_catalogue.yaml"]


def _read_lines(path: Path) -> pa.Array:
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    except FileNotFoundError:
        raise WorkspaceError(
            f"vocabulary file missing: {path}",
            hint="run `esdh-agent vocab extract` or restore the workspace's governance/",
        ) from None
    if not lines:
        raise WorkspaceError("vocabulary file is empty", location=str(path))
    return pa.array(lines, pa.string())


@dataclass(frozen=True)
class Vocabulary:
    """Pools and tables for generation, plus the digest of the files they came from."""

    digest: str
    first_names: pa.Array
    last_names: pa.Array
    apostrophe_last_names: pa.Array
    non_ascii_first_names: pa.Array
    non_ascii_last_names: pa.Array
    street_names: pa.Array
    street_suffixes: pa.Array
    unit_designators: pa.Array
    zip_codes: pa.Array
    zip_cities: pa.Array
    zip_state_offsets: dict[str, tuple[int, int]]
    licence_formats: LicenceFormats
    catalogue: VehicleCatalogue
    files: dict[str, str] = field(default_factory=dict)


def _load_zips(path: Path) -> tuple[pa.Array, pa.Array, dict[str, tuple[int, int]]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise WorkspaceError(f"vocabulary file missing: {path}") from None
    by_state: dict[str, list[tuple[str, str]]] = {s: [] for s in CONTRACT_STATES}
    for line, row in enumerate(rows, start=2):
        state = row.get("state", "")
        if state not in by_state or not re.fullmatch(r"[0-9]{5}", row.get("zip_code", "")):
            raise WorkspaceError("malformed ZIP row", location=f"{path}:{line}")
        by_state[state].append((row["zip_code"], row["city"]))
    zips: list[str] = []
    cities: list[str] = []
    offsets: dict[str, tuple[int, int]] = {}
    for state in CONTRACT_STATES:
        if not by_state[state]:
            raise WorkspaceError(f"no ZIP codes for {state}", location=str(path))
        offsets[state] = (len(zips), len(by_state[state]))
        for zip_code, city in by_state[state]:
            zips.append(zip_code)
            cities.append(city)
    return pa.array(zips, pa.string()), pa.array(cities, pa.string()), offsets


@lru_cache(maxsize=8)
def _load(governance: str, stamp: tuple[tuple[str, int, int], ...]) -> Vocabulary:
    root = Path(governance)
    vocab_dir = root / "vocabularies"
    files: dict[str, str] = {}
    outer = hashlib.sha256()
    for path in governed_files(root):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise WorkspaceError(f"governed file missing: {path}") from None
        digest = hashlib.sha256(data).hexdigest()
        rel = path.relative_to(root).as_posix()
        files[rel] = digest
        outer.update(f"{rel}\t{digest}\n".encode())
    zips, cities, offsets = _load_zips(vocab_dir / "zip_codes.csv")
    return Vocabulary(
        digest=outer.hexdigest(),
        first_names=_read_lines(vocab_dir / "first_names.txt"),
        last_names=_read_lines(vocab_dir / "last_names.txt"),
        apostrophe_last_names=_read_lines(vocab_dir / "apostrophe_last_names.txt"),
        non_ascii_first_names=_read_lines(vocab_dir / "non_ascii_first_names.txt"),
        non_ascii_last_names=_read_lines(vocab_dir / "non_ascii_last_names.txt"),
        street_names=_read_lines(vocab_dir / "street_names.txt"),
        street_suffixes=_read_lines(vocab_dir / "street_suffixes.txt"),
        unit_designators=_read_lines(vocab_dir / "unit_designators.txt"),
        zip_codes=zips,
        zip_cities=cities,
        zip_state_offsets=offsets,
        licence_formats=load_model(root / "licence_formats.yaml", LicenceFormats),
        catalogue=load_model(root / "vehicle_catalogue.yaml", VehicleCatalogue),
        files=files,
    )


def load_vocabulary(governance: Path) -> Vocabulary:
    """Load (and cache, until a file changes) the vocabulary of a governance directory."""
    stamp = tuple(
        (p.name, st.st_mtime_ns, st.st_size)
        for p in governed_files(governance)
        if (st := p.stat() if p.exists() else None) is not None
    )
    return _load(str(governance.resolve()), stamp)


def zip_index_arrays(
    vocab: Vocabulary, states: np.ndarray, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (offset, size) of each row's state's slice of the ZIP table."""
    offsets = np.array([vocab.zip_state_offsets[s][0] for s in names], dtype=np.int64)
    sizes = np.array([vocab.zip_state_offsets[s][1] for s in names], dtype=np.int64)
    return offsets[states], sizes[states]
