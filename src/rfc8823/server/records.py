"""Records of the reference CA's store and the RFC 8555 §7.1.6 transition rules (A-STATE-1).

Frozen snapshots of stored rows, the reply-log verdicts, and ``check_transition``; the store
(``server.store``) reads and writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rfc8823.acme.identifier import Identifier
from rfc8823.acme.objects import (
    AccountStatus,
    AuthorizationStatus,
    ChallengeStatus,
    OrderStatus,
)
from rfc8823.acme.problems import Problem
from rfc8823.server.columns import (
    BLOB,
    DERIVED,
    GENERATED,
    JSON_OBJECT,
    JSON_STRINGS,
    PROBLEM,
    StoredRecord,
    column,
    status_column,
)


class IllegalTransition(ValueError):
    """A state change RFC 8555 §7.1.6 does not allow (e.g. valid back to pending)."""


class ReplyVerdict(StrEnum):
    """What the CA did with one received reply (the durable reply log)."""

    VALIDATED = "validated"
    """Acceptable, and the client had POSTed: the challenge is now valid."""
    ACCEPTED = "accepted"
    """Acceptable; the challenge waits for the client's POST (docs/decisions.md#decision-4)."""
    INCORRECT = "incorrect"
    """From the identifier, authentic, but the wrong response: challenge invalid (SRV-VAL-2)."""
    IGNORED = "ignored"
    """Not acceptable (unauthenticated, List-*, malformed, ...); logged, no state change."""
    UNMATCHED = "unmatched"
    """No challenge with this token-part1 (unknown or replayed token; SRV-VAL-3)."""
    DUPLICATE = "duplicate"
    """The challenge is already valid (SRV-VAL-6)."""
    LATE = "late"
    """The authorization is expired, deactivated or no longer pending (SRV-VAL-4, A-AUTHZ-2)."""


_ORDER_MOVES: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.READY, OrderStatus.INVALID}),
    OrderStatus.READY: frozenset({OrderStatus.PROCESSING, OrderStatus.INVALID}),
    OrderStatus.PROCESSING: frozenset({OrderStatus.VALID, OrderStatus.INVALID}),
}
_AUTHZ_MOVES: Mapping[AuthorizationStatus, frozenset[AuthorizationStatus]] = {
    AuthorizationStatus.PENDING: frozenset(
        {
            AuthorizationStatus.VALID,
            AuthorizationStatus.INVALID,
            AuthorizationStatus.DEACTIVATED,
            AuthorizationStatus.EXPIRED,
        }
    ),
    AuthorizationStatus.VALID: frozenset(
        {
            AuthorizationStatus.DEACTIVATED,
            AuthorizationStatus.EXPIRED,
            AuthorizationStatus.REVOKED,
        }
    ),
}
_CHALLENGE_MOVES: Mapping[ChallengeStatus, frozenset[ChallengeStatus]] = {
    ChallengeStatus.PENDING: frozenset({ChallengeStatus.PROCESSING}),
    ChallengeStatus.PROCESSING: frozenset({ChallengeStatus.VALID, ChallengeStatus.INVALID}),
}
_ACCOUNT_MOVES: Mapping[AccountStatus, frozenset[AccountStatus]] = {
    AccountStatus.VALID: frozenset({AccountStatus.DEACTIVATED, AccountStatus.REVOKED}),
}
_MOVES: Mapping[str, Mapping[Any, frozenset[Any]]] = {
    "orders": _ORDER_MOVES,
    "authorizations": _AUTHZ_MOVES,
    "challenges": _CHALLENGE_MOVES,
    "accounts": _ACCOUNT_MOVES,
}
IDENTIFIERS = column(
    lambda text: tuple(Identifier.from_json(item) for item in json.loads(text)),
    lambda identifiers: json.dumps([identifier.to_json() for identifier in identifiers]),
)
"""An order's identifier objects, kept as a JSON array."""
IDENTIFIER_PARTS = column(
    lambda parts: Identifier(*parts),
    lambda identifier: (identifier.type, identifier.value),
    names=("identifier_type", "identifier_value"),
)
"""An authorization's identifier, kept as its type and value columns."""
STATUS_TYPES: Mapping[str, type[StrEnum]] = {
    "orders": OrderStatus,
    "authorizations": AuthorizationStatus,
    "challenges": ChallengeStatus,
    "accounts": AccountStatus,
}


def check_transition(table: str, current: StrEnum, new: StrEnum) -> None:
    """Raise :class:`IllegalTransition` unless ``current`` may become ``new`` (A-STATE-1)."""
    if new not in _MOVES[table].get(current, frozenset()):
        kind = table.removesuffix("s")
        raise IllegalTransition(
            f"{kind} cannot go from {current.value!r} to {new.value!r} (RFC 8555 §7.1.6)"
        )


@dataclass(frozen=True)
class AccountRecord(StoredRecord):
    """A stored account (RFC 8555 §7.1.2)."""

    id: str
    jwk: Mapping[str, Any] = field(metadata=JSON_OBJECT)
    thumbprint: str
    contact: tuple[str, ...] = field(metadata=JSON_STRINGS)
    status: AccountStatus = field(metadata=status_column(AccountStatus))
    eab_kid: str | None
    created_at: float


@dataclass(frozen=True)
class OrderRecord(StoredRecord):
    """A stored order; ``authz_ids`` in identifier order (RFC 8555 §7.1.3, A-ORD-2)."""

    id: str
    account_id: str
    status: OrderStatus = field(metadata=status_column(OrderStatus))
    identifiers: tuple[Identifier, ...] = field(metadata=IDENTIFIERS)
    authz_ids: tuple[str, ...] = field(metadata=DERIVED)
    expires: float
    error: Problem | None = field(metadata=PROBLEM)
    certificate_id: str | None
    created_at: float


@dataclass(frozen=True)
class AuthzRecord(StoredRecord):
    """A stored authorization; ``address`` is the identifier in comparable form (I18N-5)."""

    id: str
    order_id: str
    account_id: str
    identifier: Identifier = field(metadata=IDENTIFIER_PARTS)
    address: str
    status: AuthorizationStatus = field(metadata=status_column(AuthorizationStatus))
    expires: float
    challenge_ids: tuple[str, ...] = field(metadata=DERIVED)
    created_at: float


@dataclass(frozen=True)
class ChallengeRecord(StoredRecord):
    """A stored challenge with the email-reply-00 progress (RFC 8823 §3;
    docs/decisions.md#decision-4)."""

    id: str
    authz_id: str
    type: str
    status: ChallengeStatus = field(metadata=status_column(ChallengeStatus))
    token_part2: str
    token_part1: str | None
    message_id: str | None
    sent_at: float | None
    send_error: str | None
    client_posted_at: float | None
    reply_accepted_at: float | None
    error: Problem | None = field(metadata=PROBLEM)
    validated: float | None


@dataclass(frozen=True)
class CertificateRecord(StoredRecord):
    """An issued certificate: leaf DER, the PEM chain served for download, revocation."""

    id: str
    order_id: str
    account_id: str
    serial: str
    der: bytes = field(metadata=BLOB)
    pem_chain: str
    not_after: float
    revoked_at: float | None
    revocation_reason: int | None


@dataclass(frozen=True)
class ReplyRecord(StoredRecord):
    """One received reply and what the CA made of it (reasons are requirement IDs)."""

    id: int = field(metadata=GENERATED)
    received_at: float
    mail_from: str
    peer: str
    size: int
    token_part1: str | None
    challenge_id: str | None
    verdict: ReplyVerdict = field(metadata=status_column(ReplyVerdict))
    reasons: tuple[str, ...] = field(metadata=JSON_STRINGS)
    detail: str


TABLE_RECORDS: Mapping[str, type[StoredRecord]] = {
    "accounts": AccountRecord,
    "orders": OrderRecord,
    "authorizations": AuthzRecord,
    "challenges": ChallengeRecord,
    "certificates": CertificateRecord,
    "replies": ReplyRecord,
}
"""The record each table of the store holds."""
