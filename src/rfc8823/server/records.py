"""Records of the reference CA's store and the RFC 8555 §7.1.6 transition rules (A-STATE-1).

Frozen snapshots of stored rows, the reply-log verdicts, and ``check_transition``; the store
(``server.store``) reads and writes them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
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
class AccountRecord:
    """A stored account (RFC 8555 §7.1.2)."""

    id: str
    jwk: Mapping[str, Any]
    thumbprint: str
    contact: tuple[str, ...]
    status: AccountStatus
    eab_kid: str | None
    created_at: float


@dataclass(frozen=True)
class OrderRecord:
    """A stored order; ``authz_ids`` in identifier order (RFC 8555 §7.1.3, A-ORD-2)."""

    id: str
    account_id: str
    status: OrderStatus
    identifiers: tuple[Identifier, ...]
    authz_ids: tuple[str, ...]
    expires: float
    error: Problem | None
    certificate_id: str | None
    created_at: float


@dataclass(frozen=True)
class AuthzRecord:
    """A stored authorization; ``address`` is the identifier in comparable form (I18N-5)."""

    id: str
    order_id: str
    account_id: str
    identifier: Identifier
    address: str
    status: AuthorizationStatus
    expires: float
    challenge_ids: tuple[str, ...]
    created_at: float


@dataclass(frozen=True)
class ChallengeRecord:
    """A stored challenge with the email-reply-00 progress (RFC 8823 §3;
    docs/decisions.md#decision-4)."""

    id: str
    authz_id: str
    type: str
    status: ChallengeStatus
    token_part2: str
    token_part1: str | None
    message_id: str | None
    sent_at: float | None
    send_error: str | None
    client_posted_at: float | None
    reply_accepted_at: float | None
    error: Problem | None
    validated: float | None


@dataclass(frozen=True)
class CertificateRecord:
    """An issued certificate: leaf DER, the PEM chain served for download, revocation."""

    id: str
    order_id: str
    account_id: str
    serial: str
    der: bytes
    pem_chain: str
    not_after: float
    revoked_at: float | None
    revocation_reason: int | None


@dataclass(frozen=True)
class ReplyRecord:
    """One received reply and what the CA made of it (reasons are requirement IDs)."""

    id: int
    received_at: float
    mail_from: str
    peer: str
    size: int
    token_part1: str | None
    challenge_id: str | None
    verdict: ReplyVerdict
    reasons: tuple[str, ...]
    detail: str


def problem_text(problem: Problem | None) -> str | None:
    return None if problem is None else json.dumps(problem.to_json())


def problem_of(text: str | None) -> Problem | None:
    return None if text is None else Problem.from_json(json.loads(text))


def account_record(row: sqlite3.Row) -> AccountRecord:
    return AccountRecord(
        id=row["id"],
        jwk=json.loads(row["jwk"]),
        thumbprint=row["thumbprint"],
        contact=tuple(json.loads(row["contact"])),
        status=AccountStatus(row["status"]),
        eab_kid=row["eab_kid"],
        created_at=row["created_at"],
    )


def challenge_record(row: sqlite3.Row) -> ChallengeRecord:
    return ChallengeRecord(
        id=row["id"],
        authz_id=row["authz_id"],
        type=row["type"],
        status=ChallengeStatus(row["status"]),
        token_part2=row["token_part2"],
        token_part1=row["token_part1"],
        message_id=row["message_id"],
        sent_at=row["sent_at"],
        send_error=row["send_error"],
        client_posted_at=row["client_posted_at"],
        reply_accepted_at=row["reply_accepted_at"],
        error=problem_of(row["error"]),
        validated=row["validated"],
    )


def certificate_record(row: sqlite3.Row) -> CertificateRecord:
    return CertificateRecord(
        id=row["id"],
        order_id=row["order_id"],
        account_id=row["account_id"],
        serial=row["serial"],
        der=bytes(row["der"]),
        pem_chain=row["pem_chain"],
        not_after=row["not_after"],
        revoked_at=row["revoked_at"],
        revocation_reason=row["revocation_reason"],
    )


def reply_record(row: sqlite3.Row) -> ReplyRecord:
    return ReplyRecord(
        id=row["id"],
        received_at=row["received_at"],
        mail_from=row["mail_from"],
        peer=row["peer"],
        size=row["size"],
        token_part1=row["token_part1"],
        challenge_id=row["challenge_id"],
        verdict=ReplyVerdict(row["verdict"]),
        reasons=tuple(json.loads(row["reasons"])),
        detail=row["detail"],
    )
