"""One enrollment, the same client code for every server: the reference client's ACME layer
(:class:`~rfc8823.client.acme_client.AcmeClient`) and the world's mail.

An ``email`` enrollment (RFC 8823 §3): a new account (ES256, which every server here takes),
an order for a fresh world address, the authorization, the challenge email taken from the
world's mailbox, the reply built by :meth:`ResponseEmail.answering` and submitted through the
world's submission port (whose provider DKIM-signs it and relays it to the CA), the challenge
POST, finalize with a CSR, the certificate download. A ``dns`` enrollment (pebble, RFC 8555
alone) has no mail: its challenge is valid at once (``PEBBLE_VA_ALWAYS_VALID``).

Every step is timed; every wait is bounded (HTTP answers, mail, polling); a step that fails
raises :class:`StepFailed` naming it.
"""

from __future__ import annotations

import secrets
import ssl
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from rfc8823.acme.identifier import IDENTIFIER_DNS, Identifier
from rfc8823.acme.objects import AuthorizationStatus, ChallengeStatus, OrderStatus
from rfc8823.client.acme_client import AcmeClient, AcmeResponse, PollPolicy
from rfc8823.client.errors import EnrollmentError
from rfc8823.client.keys import new_account_key
from rfc8823.csr import build_csr
from rfc8823.messages.response import ResponseEmail
from rfc8823.tokens import jwk_thumbprint
from rfc8823.world.keys import cached_key
from rfc8823.world.sendmail import SendError, send_message_async
from rfc8823.world.world import World

__all__ = [
    "POLL",
    "STAGES",
    "Clock",
    "Enrollment",
    "Peer",
    "StepFailed",
    "UserMail",
    "enroll",
]

IdentifierType = Literal["email", "dns"]
STAGES = (
    "account",
    "order",
    "authorization",
    "challenge_mail",
    "reply",
    "validation",
    "finalize",
    "download",
)
"""The client-side stages of one enrollment, in order (a ``dns`` one has no mail stages)."""
POLL = PollPolicy(first=0.005, factor=2.0, ceiling=0.5, retry_after_cap=1.0)
"""Polling for every server alike: 5 ms first, doubling to 0.5 s; Retry-After capped at 1 s."""
USER_DOMAIN = "example.test"
_CERT_KEY = "bench-certificate"


class StepFailed(Exception):
    """An enrollment step did not happen; ``step`` is one of :data:`STAGES`."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail


@dataclass(frozen=True)
class Peer:
    """A server under benchmark as the client sees it."""

    name: str
    directory: str
    trust: ssl.SSLContext
    identifier: IdentifierType = "email"
    http_timeout: float = 30.0
    """Bound on one HTTP answer (a CA that validates during the challenge POST is slow)."""
    state_timeout: float = 30.0
    """Bound on polling an authorization or order to its next state."""


@dataclass(frozen=True)
class UserMail:
    """The users' side of mail in the world: their mailboxes and their provider."""

    world: World
    mail_timeout: float = 30.0

    def new_address(self) -> str:
        """A fresh address whose provider DKIM-signs what it submits (RFC 8823 §3.2)."""
        self.world.sign_outbound(USER_DOMAIN)
        return self.world.new_address(USER_DOMAIN, prefix="bench")

    async def challenge(self, address: str) -> bytes:
        """The next challenge email delivered to ``address``."""
        try:
            message = await self.world.store.next_for(address, self.mail_timeout)
        except TimeoutError as error:
            raise StepFailed("challenge_mail", str(error)) from None
        return message.data

    async def submit(self, address: str, recipient: str, data: bytes) -> None:
        """Submit ``data`` as ``address`` through the world's submission port (STARTTLS, AUTH)."""
        world = self.world
        try:
            await send_message_async(
                world.submission.host,
                world.submission.port,
                mail_from=address,
                rcpt_tos=[recipient],
                data=data,
                tls="starttls",
                ssl_context=world.client_ssl_context(),
                auth=world.submission_login(address),
                timeout=self.mail_timeout,
            )
        except SendError as error:
            raise StepFailed("reply", str(error)) from None


@dataclass
class Clock:
    """Milliseconds per finished stage of one enrollment, and the stage it is in."""

    stages: dict[str, float] = field(default_factory=dict)
    current: str = "start"

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name``; an ACME error in it fails that step."""
        self.current = name
        started = time.perf_counter()
        try:
            yield
        except EnrollmentError as error:
            raise StepFailed(name, _without_url(error)) from None
        self.stages[name] = (time.perf_counter() - started) * 1000


class _Client(AcmeClient):
    """The reference client's ACME layer, counting its signed POSTs (each one JWS the server
    verifies)."""

    posts = 0

    async def post(self, *args: Any, **kwargs: Any) -> AcmeResponse:
        self.posts += 1
        return await super().post(*args, **kwargs)


@dataclass(frozen=True)
class Enrollment:
    """One finished enrollment: its stages (ms) and how many JWS requests it signed."""

    stages: Mapping[str, float]
    posts: int

    @property
    def total_ms(self) -> float:
        """The sum of its stages."""
        return sum(self.stages.values())


async def enroll(peer: Peer, mail: UserMail | None, clock: Clock | None = None) -> Enrollment:
    """One enrollment against ``peer``; ``mail`` for ``email`` identifiers (None for ``dns``);
    ``clock`` shows the stage it is in while it runs.

    StepFailed names the step that did not happen; waits are bounded by the peer's timeouts.
    """
    if (mail is None) != (peer.identifier == IDENTIFIER_DNS):
        raise ValueError("an email enrollment needs the users' mail, a dns one none")
    clock = clock or Clock()
    key = new_account_key("es256")
    address = mail.new_address() if mail is not None else ""
    if mail is not None:
        identifier = Identifier.email(address)
        contact = f"mailto:{address}"
    else:
        identifier = Identifier(IDENTIFIER_DNS, f"bench-{secrets.token_hex(6)}.{USER_DOMAIN}")
        contact = f"mailto:admin@{USER_DOMAIN}"
    async with _Client(
        peer.directory, key, verify=peer.trust, timeout=peer.http_timeout, poll=POLL
    ) as client:
        with clock.stage("account"):
            await client.account(contact=(contact,))
        with clock.stage("order"):
            handle = await client.new_order([identifier])
        with clock.stage("authorization"):
            authz_url = handle.order.authorizations[0]
            authz = await client.authorization(authz_url)
            wanted = "email-reply-00" if mail is not None else "http-01"
            challenge = next((c for c in authz.challenges if c.type == wanted), None)
            if challenge is None or challenge.token is None:
                raise StepFailed("authorization", f"no {wanted} challenge with a token offered")
            token = challenge.token
        if mail is not None:
            with clock.stage("challenge_mail"):
                raw = await mail.challenge(address)
            with clock.stage("reply"):
                reply = ResponseEmail.answering(
                    raw,
                    identifier=address,
                    thumbprint=jwk_thumbprint(key),
                    token_part2=token,
                ).build()
                if challenge.from_ is None:
                    raise StepFailed("reply", "the challenge object names no from address")
                await mail.submit(address, challenge.from_, reply)
        with clock.stage("validation"):
            answered = await client.respond(challenge.url)
            if answered.status != ChallengeStatus.VALID:
                authz = await client.wait_authorization(authz_url, peer.state_timeout)
                if authz.status != AuthorizationStatus.VALID:
                    raise StepFailed("validation", f"authorization {authz.status.value}")
        with clock.stage("finalize"):
            ready = await client.wait_order(handle.url, (OrderStatus.READY,), peer.state_timeout)
            final = await client.finalize(handle, _csr(identifier))
            if final.status != OrderStatus.VALID:
                final = await client.wait_order(
                    handle.url, (OrderStatus.VALID,), peer.state_timeout
                )
            certificate_url = final.certificate or ready.certificate
            if certificate_url is None:
                raise StepFailed("finalize", "a valid order without a certificate URL")
        with clock.stage("download"):
            await client.certificate(certificate_url)
        return Enrollment(clock.stages, client.posts)


def _without_url(error: EnrollmentError) -> str:
    """The client's error without the resource URL, so equal failures count as one reason."""
    status = f" (HTTP {error.status})" if error.status is not None else ""
    text = f"{error.step}{status}: {error.detail}"
    if error.problem is not None:
        text += f" [{error.problem.type}: {error.problem.detail}]"
    return text


def _csr(identifier: Identifier) -> bytes:
    """A CSR for the identifier (an address, or a DNS name for pebble), one cached P-256 key."""
    key = cached_key(_CERT_KEY, "p256")
    if identifier.type == IDENTIFIER_DNS:
        san = x509.SubjectAlternativeName([x509.DNSName(identifier.value)])
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .add_extension(san, critical=False)
            .sign(key, hashes.SHA256())
        )
    else:
        csr = build_csr(key, [identifier.value], "both")
    return csr.public_bytes(Encoding.DER)
