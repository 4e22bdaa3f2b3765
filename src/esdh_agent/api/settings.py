"""API settings from the environment, and the check that keeps an open API on loopback.

Settings come from the environment rather than a workspace file because they are about the
deployment (a secret token, a cap for this server), not about the governed data. Nothing in
this module imports FastAPI, so ``esdh-agent serve`` refuses an unsafe bind before loading it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from esdh_agent.errors import InputError

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_RECORDS",
    "ENV_MAX_BODY_BYTES",
    "ENV_MAX_RECORDS",
    "ENV_TOKEN",
    "MIN_TOKEN_LENGTH",
    "ApiConfigError",
    "ApiSettings",
    "UnsafeBindError",
    "check_bind",
    "is_loopback",
]

ENV_TOKEN = "ESDH_API_TOKEN"
ENV_MAX_RECORDS = "ESDH_API_MAX_RECORDS"
ENV_MAX_BODY_BYTES = "ESDH_API_MAX_BODY_BYTES"
DEFAULT_MAX_RECORDS = 1000
DEFAULT_MAX_BODY_BYTES = 64 * 1024
MIN_TOKEN_LENGTH = 16
_MAX_RECORDS_CEILING = 100_000  # one JSON response per request: keep it far below the policy


class ApiConfigError(InputError):
    """The API's environment settings are malformed (a bad number, a weak token)."""


class UnsafeBindError(InputError):
    """A bind address beyond loopback was asked for without an API token."""


class ApiSettings(BaseModel):
    """How this server behaves: its bearer token and its limits per request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr | None = Field(
        None,
        description="Bearer token every endpoint but /healthz requires; None: no auth "
        "(loopback only).",
    )
    max_records: int = Field(
        DEFAULT_MAX_RECORDS,
        ge=1,
        le=_MAX_RECORDS_CEILING,
        description="Most persons one /generate request may ask for; more is rejected.",
    )
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest request body accepted; larger bodies get 413.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        """Read ESDH_API_TOKEN, ESDH_API_MAX_RECORDS and ESDH_API_MAX_BODY_BYTES."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if ENV_TOKEN in env:
            values["token"] = env[ENV_TOKEN]
        for var, field in (
            (ENV_MAX_RECORDS, "max_records"),
            (ENV_MAX_BODY_BYTES, "max_body_bytes"),
        ):
            raw = env.get(var)
            if raw is not None and raw.strip():
                try:
                    values[field] = int(raw.strip())
                except ValueError:
                    raise ApiConfigError(f"{var}={raw!r} is not an integer") from None
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            var = ENV_MAX_RECORDS if first["loc"][0] == "max_records" else ENV_MAX_BODY_BYTES
            raise ApiConfigError(f"{var}: {first['msg']}") from None

    @field_validator("token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None) -> SecretStr | None:
        """However the settings are built, a weak token is refused (ApiConfigError)."""
        if value is not None:
            _check_token(value.get_secret_value())
        return value

    def token_bytes(self) -> bytes | None:
        """The token as bytes for constant-time comparison; None when auth is off."""
        return None if self.token is None else self.token.get_secret_value().encode()


def _check_token(token: str) -> None:
    """Raise ApiConfigError unless the token is long enough and safe in an HTTP header."""
    if not token:
        raise ApiConfigError(
            f"{ENV_TOKEN} is set but empty",
            hint=f"unset it, or set a random token of at least {MIN_TOKEN_LENGTH} characters",
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ApiConfigError(
            f"{ENV_TOKEN} is shorter than {MIN_TOKEN_LENGTH} characters",
            hint='generate one: python -c "import secrets; print(secrets.token_urlsafe(32))"',
        )
    if not all(33 <= ord(c) <= 126 for c in token):
        raise ApiConfigError(
            f"{ENV_TOKEN} must be printable ASCII without spaces",
            hint='generate one: python -c "import secrets; print(secrets.token_urlsafe(32))"',
        )


def is_loopback(host: str) -> bool:
    """True if binding ``host`` keeps the server reachable from this machine only.

    Host names other than ``localhost`` are not resolved: what a name points to can change
    after the check, so only literal loopback addresses (127.0.0.0/8, ::1, IPv4-mapped
    127.x) and ``localhost`` count. ``0.0.0.0`` and ``::`` (every interface) do not.
    """
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name in ("localhost", "localhost."):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def check_bind(host: str, settings: ApiSettings) -> None:
    """Refuse to serve beyond loopback unless a bearer token protects the API."""
    if settings.token is None and not is_loopback(host):
        raise UnsafeBindError(
            f"refusing to bind {host!r} without an API token: anyone who can reach it could "
            "use the API",
            hint=f"bind 127.0.0.1 (the default), or set {ENV_TOKEN} to a random token of at "
            f"least {MIN_TOKEN_LENGTH} characters",
        )
