"""The client suite's CA: the reference server configured as a test peer.

It is the suite's instrument, not the thing under test, so the client suite may read what it
knows (the challenges it issued, every request the client made) through :class:`PeerCa`
without importing :mod:`rfc8823.server` itself. Each test varies its behaviour with a
:class:`PeerBehaviour`: when the challenge email goes out (AMB-3), token-part1 length and
padding (AMB-1, AMB-2), the challenge variation to send, ``badNonce`` injection and
``Retry-After`` (RFC 8555 §6.5, §8.2), decoy challenge types (FLOW-2), and an authorization
fetch answered only once the test opens its gate (FLOW-8). A client target
declares :class:`PeerVariants` once for the run: compatibility modes of deployed CAs under
which its tests are judged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TypeVar

from rfc8823.messages.headers import parse_acme_subject
from rfc8823.messages.mime import parse_message
from rfc8823.server.app import LoggedRequest, RequestLog
from rfc8823.server.config import ChallengeVariant, MailAt, ServerConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.world.service import Service
from rfc8823.world.world import World

__all__ = [
    "IssuedChallenge",
    "LoggedRequest",
    "MailAt",
    "PeerBehaviour",
    "PeerCa",
    "PeerVariants",
    "VariantNote",
]

T = TypeVar("T")


@dataclass(frozen=True)
class VariantNote:
    """One variant in force, for an INFO line on the row it changes the judging of."""

    requirement: str
    name: str
    what: str


@dataclass(frozen=True)
class PeerVariants:
    """Compatibility modes of the suite's CA that a client target declares for the whole run.

    ``dns_address_identifiers``: the CA takes a ``dns`` identifier holding the address, and a
    dNSName repeating it in the CSR, as the ``email`` identifier they mean, as deployed CAs
    serving certbot-based clients do (AMB-4); the client's deviation is still judged on its own
    rows (FLOW-1, CSR-ID-1). ``unsigned_challenges``: the CA signs its challenges neither with
    DKIM nor S/MIME, for a client that cannot verify them (it must then answer unsigned mail,
    which CHAL-AUTH-1 reports). ``mail_at``: when the CA mails in tests that do not choose
    (AMB-3; FLOW-7 tests both).
    """

    dns_address_identifiers: bool = False
    unsigned_challenges: bool = False
    mail_at: MailAt = "authz"

    def __post_init__(self) -> None:
        if self.mail_at not in ("authz", "post"):
            raise ValueError(f"mail_at must be 'authz' or 'post', not {self.mail_at!r}")
        for name in ("dns_address_identifiers", "unsigned_challenges"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")

    def notes(self) -> tuple[VariantNote, ...]:
        """The variants in force (none for the reference CA's own behaviour)."""
        found: list[VariantNote] = []
        if self.dns_address_identifiers:
            what = "the CA accepts a dns identifier and a dNSName holding the address"
            found += [
                VariantNote("FLOW-1", "dns-address-identifier", what),
                VariantNote("CSR-ID-1", "dns-address-identifier", what),
            ]
        if self.unsigned_challenges:
            what = "the CA signs its challenges neither with DKIM nor with S/MIME"
            found.append(VariantNote("CHAL-AUTH-1", "unsigned-challenges", what))
        if self.mail_at != "authz":
            what = f"the CA mails the challenge at the {self.mail_at} unless a test chooses"
            found.append(VariantNote("FLOW-7", f"mail-at-{self.mail_at}", what))
        return tuple(found)


@dataclass(frozen=True)
class PeerBehaviour:
    """What the suite's CA does in one test; the defaults are the reference CA's, except that
    no ``Retry-After`` is sent unless asked for (so a client polls at its own pace).

    ``mail_at`` None takes the run's :class:`PeerVariants` choice; ``reject_nonces`` answers the
    first N signed requests ``badNonce``; ``variant`` rewrites the challenge builder just before
    it is built (e.g. ``lambda e: e.with_subject_folded()``); ``gate_authorization`` holds the
    answer to the authorization fetch that sends the challenge email until
    :meth:`PeerCa.open_gate` (bounded by the CA's send timeout).
    """

    mail_at: MailAt | None = None
    token_part1_octets: int = 24
    token_part1_padded: bool = False
    retry_after: int = 0
    reject_nonces: int = 0
    decoy_challenge_types: tuple[str, ...] = ()
    variant: ChallengeVariant | None = None
    gate_authorization: bool = False


@dataclass(frozen=True)
class IssuedChallenge:
    """A challenge as the CA knows it: URL, both token parts as sent, and the ordering account.

    ``token_part1`` is written as the email carried it (with ``=`` padding when the CA pads);
    ``thumbprint`` is the RFC 7638 thumbprint of the account that ordered (KA-2).
    """

    url: str
    identifier: str
    token_part1: str
    token_part2: str
    message_id: str | None
    thumbprint: str
    status: str


class PeerCa(Service):
    """One reference CA for one test: challenges to ``smarthost``, every request logged, under
    the run's ``variants``."""

    def __init__(
        self,
        world: World,
        *,
        challenge_from: str,
        smarthost: tuple[str, int],
        behaviour: PeerBehaviour,
        variants: PeerVariants | None = None,
    ) -> None:
        self.world = world
        self.behaviour = behaviour
        self.variants = variants or PeerVariants()
        self._gate = threading.Event() if behaviour.gate_authorization else None
        config = ServerConfig(
            resolver=world.dns_endpoint,
            smarthost=smarthost,
            challenge_from=challenge_from,
            mail_at=behaviour.mail_at or self.variants.mail_at,
            token_part1_octets=behaviour.token_part1_octets,
            token_part1_padded=behaviour.token_part1_padded,
            retry_after=behaviour.retry_after,
            reject_nonces=behaviour.reject_nonces,
            decoy_challenge_types=behaviour.decoy_challenge_types,
            challenge_variant=behaviour.variant,
            record_requests=True,
            authorization_gate=self._gate,
            accept_dns_address_identifiers=self.variants.dns_address_identifiers,
            sign_challenges=not self.variants.unsigned_challenges,
        )
        self.server = ReferenceServer(config, pki=world.pki)

    def start(self) -> Self:
        """Start serving on ephemeral loopback ports."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving (an authorization fetch held at the gate is answered); safe twice."""
        self.open_gate()
        self.server.stop()

    def open_gate(self) -> None:
        """Answer the authorization fetch held by ``gate_authorization`` (no-op otherwise)."""
        if self._gate is not None:
            self._gate.set()

    @property
    def directory_url(self) -> str:
        """The ACME directory URL."""
        return self.server.directory_url

    @property
    def ca_bundle(self) -> Path:
        """The PEM its HTTPS chains to (the world's TLS CA, which the submission server shares)."""
        return self.server.ca_bundle

    @property
    def challenge_from(self) -> str:
        """The ``from`` of its challenges."""
        return self.server.config.challenge_from

    @property
    def reply_endpoint(self) -> tuple[str, int]:
        """Its reply listener: where mail for the ``from`` domain must go."""
        return self.server.reply_endpoint

    @property
    def _log(self) -> RequestLog:
        log = self.server.acme.requests
        if log is None:
            raise RuntimeError("the peer CA keeps no request log")
        return log

    def requests(self) -> tuple[LoggedRequest, ...]:
        """Every request the client made so far, in order."""
        return self._log.entries()

    async def wait_for_requests(
        self,
        predicate: Callable[[tuple[LoggedRequest, ...]], T | None],
        timeout: float,  # noqa: ASYNC109
        what: str = "",
    ) -> T:
        """The first non-None value of ``predicate`` over the request log (event-driven)."""
        return await self._log.wait_until(predicate, timeout, what=what)

    def reject_next_nonces(self, count: int = 1) -> None:
        """Answer the next ``count`` signed requests ``badNonce`` (A-NONCE-2)."""
        self.server.acme.reject_next_nonces(count)

    def internal_errors(self) -> list[str]:
        """The suite CA's own crashes so far (500 answers, engine failures): harness errors."""
        return self.server.internal_errors()

    def challenge_of(self, challenge_email: bytes) -> IssuedChallenge | None:
        """The challenge whose email this is, by the token-part1 in its Subject."""
        subject = parse_message(challenge_email).first("Subject")
        token = parse_acme_subject(subject).token_part1 if subject is not None else None
        if token is None:
            return None
        store, engine = self.server.store, self.server.engine
        record = store.challenge_by_token_part1(token.rstrip("="))
        if record is None or record.token_part1 is None:
            return None
        authz = store.authorization(record.authz_id, self.server.clock())
        account = store.account(authz.account_id) if authz is not None else None
        if authz is None or account is None:
            return None
        return IssuedChallenge(
            url=f"{self.server.base_url}acme/chall/{record.id}",
            identifier=authz.identifier.value,
            token_part1=engine.written_token_part1(record.token_part1),
            token_part2=record.token_part2,
            message_id=record.message_id,
            thumbprint=account.thumbprint,
            status=record.status.value,
        )
