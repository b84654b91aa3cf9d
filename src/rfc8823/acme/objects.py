"""ACME resource objects as typed, immutable data (RFC 8555 §7.1; RFC 8823 §3 challenge).

Each field is declared once with its JSON member (:mod:`rfc8823.acme.fields`); ``to_json()``
(what a server sends) and ``from_json()`` (what a client reads; ``ValueError`` naming the
member when the JSON is not such an object) follow from the declarations. Timestamps are
aware ``datetime`` values, written as RFC 3339 UTC strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from rfc8823.acme.fields import (
    FLAG,
    TEXT,
    TEXTS,
    TIME,
    WireObject,
    format_time,
    member,
    nested,
    nested_array,
    parse_time,
    status,
)
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

PROBLEM = nested(Problem)


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


@dataclass(frozen=True, slots=True)
class DirectoryMeta(WireObject):
    """The directory's ``meta`` object (RFC 8555 §7.1.1)."""

    WHAT: ClassVar[str] = "directory meta"

    terms_of_service: str | None = field(default=None, metadata=member("termsOfService", TEXT))
    website: str | None = field(default=None, metadata=member("website", TEXT))
    caa_identities: tuple[str, ...] = field(
        default=(), metadata=member("caaIdentities", TEXTS, omit_default=True)
    )
    external_account_required: bool = field(
        default=False, metadata=member("externalAccountRequired", FLAG, omit_default=True)
    )


@dataclass(frozen=True, slots=True)
class Directory(WireObject):
    """The directory object: the server's entry points (RFC 8555 §7.1.1; A-DIR-1)."""

    WHAT: ClassVar[str] = "directory"

    new_nonce: str = field(metadata=member("newNonce", TEXT))
    new_account: str = field(metadata=member("newAccount", TEXT))
    new_order: str = field(metadata=member("newOrder", TEXT))
    revoke_cert: str = field(metadata=member("revokeCert", TEXT))
    key_change: str = field(metadata=member("keyChange", TEXT))
    new_authz: str | None = field(default=None, metadata=member("newAuthz", TEXT))
    meta: DirectoryMeta | None = field(default=None, metadata=member("meta", nested(DirectoryMeta)))


@dataclass(frozen=True, slots=True)
class Account(WireObject):
    """An account object (RFC 8555 §7.1.2)."""

    WHAT: ClassVar[str] = "account"

    status: AccountStatus = field(metadata=member("status", status(AccountStatus)))
    contact: tuple[str, ...] = field(default=(), metadata=member("contact", TEXTS))
    terms_of_service_agreed: bool | None = field(
        default=None, metadata=member("termsOfServiceAgreed", FLAG)
    )
    orders: str | None = field(default=None, metadata=member("orders", TEXT))


@dataclass(frozen=True, slots=True)
class Challenge(WireObject):
    """A challenge object; for ``email-reply-00``, ``token`` is token-part2 and ``from_`` the
    address the challenge email comes from (RFC 8823 §3; CHAL-OBJ-1..3; RFC 8555 §7.1.5).

    Other challenge types parse too; the members they lack stay None.
    """

    WHAT: ClassVar[str] = "challenge"

    type: str = field(metadata=member("type", TEXT))
    url: str = field(metadata=member("url", TEXT))
    status: ChallengeStatus = field(metadata=member("status", status(ChallengeStatus)))
    token: str | None = field(default=None, metadata=member("token", TEXT))
    from_: str | None = field(default=None, metadata=member("from", TEXT))
    validated: datetime | None = field(default=None, metadata=member("validated", TIME))
    error: Problem | None = field(default=None, metadata=member("error", PROBLEM))


@dataclass(frozen=True, slots=True)
class Authorization(WireObject):
    """An authorization object (RFC 8555 §7.1.4; A-AUTHZ-1)."""

    WHAT: ClassVar[str] = "authorization"

    identifier: Identifier = field(metadata=member("identifier", nested(Identifier)))
    status: AuthorizationStatus = field(metadata=member("status", status(AuthorizationStatus)))
    challenges: tuple[Challenge, ...] = field(
        metadata=member("challenges", nested_array(Challenge))
    )
    expires: datetime | None = field(default=None, metadata=member("expires", TIME))
    wildcard: bool | None = field(default=None, metadata=member("wildcard", FLAG))

    def challenge_of_type(self, kind: str = EMAIL_REPLY_00) -> Challenge | None:
        """The first challenge of type ``kind`` (FLOW-2), or None."""
        return next((c for c in self.challenges if c.type == kind), None)


@dataclass(frozen=True, slots=True)
class Order(WireObject):
    """An order object (RFC 8555 §7.1.3; A-ORD-1)."""

    WHAT: ClassVar[str] = "order"

    status: OrderStatus = field(metadata=member("status", status(OrderStatus)))
    identifiers: tuple[Identifier, ...] = field(
        metadata=member("identifiers", nested_array(Identifier))
    )
    authorizations: tuple[str, ...] = field(
        metadata=member("authorizations", TEXTS, if_absent=[])
    )
    finalize: str = field(metadata=member("finalize", TEXT))
    expires: datetime | None = field(default=None, metadata=member("expires", TIME))
    not_before: datetime | None = field(default=None, metadata=member("notBefore", TIME))
    not_after: datetime | None = field(default=None, metadata=member("notAfter", TIME))
    error: Problem | None = field(default=None, metadata=member("error", PROBLEM))
    certificate: str | None = field(default=None, metadata=member("certificate", TEXT))
