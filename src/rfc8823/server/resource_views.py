"""JSON views of accounts, orders, authorizations and challenges (RFC 8555 §7.1.2-7.1.5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from rfc8823.acme.objects import (
    Account,
    Authorization,
    AuthorizationStatus,
    Challenge,
    ChallengeStatus,
    Order,
)
from rfc8823.server.config import ServerConfig
from rfc8823.server.records import AccountRecord, AuthzRecord, ChallengeRecord, OrderRecord
from rfc8823.server.responses import resource_url
from rfc8823.server.store import Store
from rfc8823.tokens import new_token_part


class ResourceViews:
    """Renders stored records as the ACME objects a client reads, with absolute URLs."""

    def __init__(self, config: ServerConfig, store: Store, clock: Callable[[], float]) -> None:
        self.config = config
        self.store = store
        self.clock = clock

    def account(self, request: Request, record: AccountRecord) -> dict[str, Any]:
        """An account object (RFC 8555 §7.1.2)."""
        return Account(
            status=record.status,
            contact=record.contact,
            orders=resource_url(request, f"acme/acct/{record.id}/orders"),
        ).to_json()

    def order(self, request: Request, record: OrderRecord) -> dict[str, Any]:
        """An order object (RFC 8555 §7.1.3)."""
        authz_ids = record.authz_ids
        if self.config.faults.on("order-drops-valid-authorizations"):
            now = self.clock()
            authorizations = [self.store.authorization(a, now) for a in authz_ids]
            authz_ids = tuple(
                a.id for a in authorizations if a and a.status is not AuthorizationStatus.VALID
            )
        return Order(
            status=record.status,
            identifiers=record.identifiers,
            authorizations=tuple(resource_url(request, f"acme/authz/{a}") for a in authz_ids),
            finalize=resource_url(request, f"acme/order/{record.id}/finalize"),
            expires=_time(record.expires),
            error=record.error,
            certificate=(
                resource_url(request, f"acme/cert/{record.certificate_id}")
                if record.certificate_id is not None
                else None
            ),
        ).to_json()

    def challenge(self, request: Request, record: ChallengeRecord) -> Challenge:
        """An email-reply-00 challenge object (RFC 8555 §7.1.5; RFC 8823 §3)."""
        return Challenge(
            type=record.type,
            url=resource_url(request, f"acme/chall/{record.id}"),
            status=record.status,
            token=record.token_part2,
            from_=self.config.challenge_from,
            validated=(
                _time(record.validated)
                if record.validated is not None
                and not self.config.faults.on("valid-challenge-without-validated")
                else None
            ),
            error=(
                None
                if record.status is ChallengeStatus.INVALID
                and self.config.faults.on("invalid-challenge-without-error")
                else record.error
            ),
        )

    def authorization(self, request: Request, record: AuthzRecord) -> dict[str, Any]:
        """An authorization object; a valid one lists only its valid challenge (RFC 8555 §7.1.4)."""
        challenges = self.store.challenges_of(record.id)
        decoys: tuple[Challenge, ...] = ()
        if record.status is AuthorizationStatus.VALID:
            challenges = [c for c in challenges if c.status is ChallengeStatus.VALID]
        else:
            kinds = self.config.decoy_challenge_types
            decoys = tuple(_decoy(request, record, kind) for kind in kinds)
        hide_expiry = record.status is AuthorizationStatus.VALID and self.config.faults.on(
            "valid-authz-without-expires"
        )
        return Authorization(
            identifier=record.identifier,
            status=record.status,
            challenges=(*decoys, *(self.challenge(request, c) for c in challenges)),
            expires=None if hide_expiry else _time(record.expires),
        ).to_json()


def _decoy(request: Request, record: AuthzRecord, kind: str) -> Challenge:
    """A challenge of another type, listed before email-reply-00, that leads nowhere."""
    return Challenge(
        type=kind,
        url=resource_url(request, f"acme/chall/decoy-{kind}-{record.id}"),
        status=ChallengeStatus.PENDING,
        token=new_token_part(16),
    )


def _time(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
