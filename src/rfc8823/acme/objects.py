"""ACME resource objects as typed, immutable data (RFC 8555 §7.1; RFC 8823 §3 challenge).

Each object has ``to_json()`` (what a server sends) and ``from_json()`` (what a client reads;
``ValueError`` naming the member when the JSON is not such an object). Timestamps are aware
``datetime`` values, written as RFC 3339 UTC strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from rfc8823.acme.identifier import (
    EMAIL_REPLY_00,
    IDENTIFIER_DNS,
    IDENTIFIER_EMAIL,
    Identifier,
)
from rfc8823.acme.problems import Problem

__all__ = [
    "EMAIL_REPLY_00",
    "IDENTIFIER_DNS",
    "IDENTIFIER_EMAIL",
    "Account",
    "AccountStatus",
    "Authorization",
    "AuthorizationStatus",
    "Challenge",
    "ChallengeStatus",
    "Directory",
    "DirectoryMeta",
    "Identifier",
    "Order",
    "OrderStatus",
    "format_time",
    "parse_time",
]

_E = TypeVar("_E", bound=StrEnum)


class AccountStatus(StrEnum):
    """Account states (RFC 8555 §7.1.6)."""

    VALID = "valid"
    DEACTIVATED = "deactivated"
    REVOKED = "revoked"


class OrderStatus(StrEnum):
    """Order states (RFC 8555 §7.1.6)."""

    PENDING = "pending"
    READY = "ready"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"


class AuthorizationStatus(StrEnum):
    """Authorization states (RFC 8555 §7.1.6)."""

    PENDING = "pending"
    VALID = "valid"
    INVALID = "invalid"
    DEACTIVATED = "deactivated"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ChallengeStatus(StrEnum):
    """Challenge states (RFC 8555 §7.1.6)."""

    PENDING = "pending"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC text with second precision, e.g. ``2026-01-02T03:04:05Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object) -> datetime:
    """Parse an RFC 3339 timestamp into an aware ``datetime``; ``ValueError`` otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"a timestamp is a string, not {type(text).__name__}")
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment


def _fields(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} is a JSON object, not {type(data).__name__}")
    return data


def _string(fields: Mapping[str, Any], name: str, what: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{what} member {name!r} is missing or not a string")
    return value


def _optional_string(fields: Mapping[str, Any], name: str, what: str) -> str | None:
    return None if fields.get(name) is None else _string(fields, name, what)


def _strings(fields: Mapping[str, Any], name: str, what: str) -> tuple[str, ...]:
    value = fields.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{what} member {name!r} is not an array of strings")
    return tuple(value)


def _status(kind: type[_E], fields: Mapping[str, Any], what: str) -> _E:
    value = _string(fields, "status", what)
    try:
        return kind(value)
    except ValueError:
        raise ValueError(
            f"{what} status {value!r} is not one of {[s.value for s in kind]}"
        ) from None


def _optional_time(fields: Mapping[str, Any], name: str) -> datetime | None:
    value = fields.get(name)
    return None if value is None else parse_time(value)


def _optional_problem(fields: Mapping[str, Any]) -> Problem | None:
    value = fields.get("error")
    return None if value is None else Problem.from_json(value)


def _put(data: dict[str, Any], name: str, value: object) -> None:
    """Add a member unless it is absent (None); timestamps and problems are rendered."""
    if value is None:
        return
    if isinstance(value, datetime):
        data[name] = format_time(value)
    elif isinstance(value, Problem):
        data[name] = value.to_json()
    else:
        data[name] = value


@dataclass(frozen=True, slots=True)
class DirectoryMeta:
    """The directory's ``meta`` object (RFC 8555 §7.1.1)."""

    terms_of_service: str | None = None
    website: str | None = None
    caa_identities: tuple[str, ...] = ()
    external_account_required: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        data: dict[str, Any] = {}
        _put(data, "termsOfService", self.terms_of_service)
        _put(data, "website", self.website)
        if self.caa_identities:
            data["caaIdentities"] = list(self.caa_identities)
        if self.external_account_required:
            data["externalAccountRequired"] = True
        return data

    @classmethod
    def from_json(cls, data: object) -> DirectoryMeta:
        """Parse a ``meta`` object."""
        fields = _fields(data, "directory meta")
        return cls(
            terms_of_service=_optional_string(fields, "termsOfService", "meta"),
            website=_optional_string(fields, "website", "meta"),
            caa_identities=_strings(fields, "caaIdentities", "meta"),
            external_account_required=fields.get("externalAccountRequired") is True,
        )


@dataclass(frozen=True, slots=True)
class Directory:
    """The directory object: the server's entry points (RFC 8555 §7.1.1; A-DIR-1)."""

    new_nonce: str
    new_account: str
    new_order: str
    revoke_cert: str
    key_change: str
    new_authz: str | None = None
    meta: DirectoryMeta | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        data: dict[str, Any] = {
            "newNonce": self.new_nonce,
            "newAccount": self.new_account,
            "newOrder": self.new_order,
            "revokeCert": self.revoke_cert,
            "keyChange": self.key_change,
        }
        _put(data, "newAuthz", self.new_authz)
        if self.meta is not None:
            data["meta"] = self.meta.to_json()
        return data

    @classmethod
    def from_json(cls, data: object) -> Directory:
        """Parse a directory; every mandatory entry point must be present."""
        fields = _fields(data, "the directory")
        meta = fields.get("meta")
        return cls(
            new_nonce=_string(fields, "newNonce", "directory"),
            new_account=_string(fields, "newAccount", "directory"),
            new_order=_string(fields, "newOrder", "directory"),
            revoke_cert=_string(fields, "revokeCert", "directory"),
            key_change=_string(fields, "keyChange", "directory"),
            new_authz=_optional_string(fields, "newAuthz", "directory"),
            meta=DirectoryMeta.from_json(meta) if meta is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Account:
    """An account object (RFC 8555 §7.1.2)."""

    status: AccountStatus
    contact: tuple[str, ...] = ()
    terms_of_service_agreed: bool | None = None
    orders: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        data: dict[str, Any] = {"status": self.status.value, "contact": list(self.contact)}
        _put(data, "termsOfServiceAgreed", self.terms_of_service_agreed)
        _put(data, "orders", self.orders)
        return data

    @classmethod
    def from_json(cls, data: object) -> Account:
        """Parse an account object."""
        fields = _fields(data, "an account")
        agreed = fields.get("termsOfServiceAgreed")
        return cls(
            status=_status(AccountStatus, fields, "account"),
            contact=_strings(fields, "contact", "account"),
            terms_of_service_agreed=agreed if isinstance(agreed, bool) else None,
            orders=_optional_string(fields, "orders", "account"),
        )


@dataclass(frozen=True, slots=True)
class Challenge:
    """A challenge object; for ``email-reply-00``, ``token`` is token-part2 and ``from_`` the
    address the challenge email comes from (RFC 8823 §3; CHAL-OBJ-1..3; RFC 8555 §7.1.5).
    """

    type: str
    url: str
    status: ChallengeStatus
    token: str | None = None
    from_: str | None = None
    validated: datetime | None = None
    error: Problem | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object (``from_`` is written as ``from``)."""
        data: dict[str, Any] = {"type": self.type, "url": self.url, "status": self.status.value}
        _put(data, "token", self.token)
        _put(data, "from", self.from_)
        _put(data, "validated", self.validated)
        _put(data, "error", self.error)
        return data

    @classmethod
    def from_json(cls, data: object) -> Challenge:
        """Parse a challenge object of any type (members other types lack stay None)."""
        fields = _fields(data, "a challenge")
        return cls(
            type=_string(fields, "type", "challenge"),
            url=_string(fields, "url", "challenge"),
            status=_status(ChallengeStatus, fields, "challenge"),
            token=_optional_string(fields, "token", "challenge"),
            from_=_optional_string(fields, "from", "challenge"),
            validated=_optional_time(fields, "validated"),
            error=_optional_problem(fields),
        )


@dataclass(frozen=True, slots=True)
class Authorization:
    """An authorization object (RFC 8555 §7.1.4; A-AUTHZ-1)."""

    identifier: Identifier
    status: AuthorizationStatus
    challenges: tuple[Challenge, ...]
    expires: datetime | None = None
    wildcard: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        data: dict[str, Any] = {
            "identifier": self.identifier.to_json(),
            "status": self.status.value,
            "challenges": [challenge.to_json() for challenge in self.challenges],
        }
        _put(data, "expires", self.expires)
        _put(data, "wildcard", self.wildcard)
        return data

    @classmethod
    def from_json(cls, data: object) -> Authorization:
        """Parse an authorization object."""
        fields = _fields(data, "an authorization")
        challenges = fields.get("challenges")
        if not isinstance(challenges, list):
            raise ValueError("authorization member 'challenges' is not an array")
        wildcard = fields.get("wildcard")
        return cls(
            identifier=Identifier.from_json(fields.get("identifier")),
            status=_status(AuthorizationStatus, fields, "authorization"),
            challenges=tuple(Challenge.from_json(item) for item in challenges),
            expires=_optional_time(fields, "expires"),
            wildcard=wildcard if isinstance(wildcard, bool) else None,
        )

    def challenge_of_type(self, kind: str = EMAIL_REPLY_00) -> Challenge | None:
        """The first challenge of type ``kind`` (FLOW-2), or None."""
        return next((c for c in self.challenges if c.type == kind), None)


@dataclass(frozen=True, slots=True)
class Order:
    """An order object (RFC 8555 §7.1.3; A-ORD-1)."""

    status: OrderStatus
    identifiers: tuple[Identifier, ...]
    authorizations: tuple[str, ...]
    finalize: str
    expires: datetime | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    error: Problem | None = None
    certificate: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object."""
        data: dict[str, Any] = {"status": self.status.value}
        _put(data, "expires", self.expires)
        data["identifiers"] = [identifier.to_json() for identifier in self.identifiers]
        _put(data, "notBefore", self.not_before)
        _put(data, "notAfter", self.not_after)
        _put(data, "error", self.error)
        data["authorizations"] = list(self.authorizations)
        data["finalize"] = self.finalize
        _put(data, "certificate", self.certificate)
        return data

    @classmethod
    def from_json(cls, data: object) -> Order:
        """Parse an order object."""
        fields = _fields(data, "an order")
        identifiers = fields.get("identifiers")
        if not isinstance(identifiers, list):
            raise ValueError("order member 'identifiers' is not an array")
        return cls(
            status=_status(OrderStatus, fields, "order"),
            identifiers=tuple(Identifier.from_json(item) for item in identifiers),
            authorizations=_strings(fields, "authorizations", "order"),
            finalize=_string(fields, "finalize", "order"),
            expires=_optional_time(fields, "expires"),
            not_before=_optional_time(fields, "notBefore"),
            not_after=_optional_time(fields, "notAfter"),
            error=_optional_problem(fields),
            certificate=_optional_string(fields, "certificate", "order"),
        )
