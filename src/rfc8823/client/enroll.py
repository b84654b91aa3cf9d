"""One S/MIME enrollment, start to finish: ``await enroll(EnrollConfig(...))``.

Account, order for the ``email`` identifier, authorization, the email-reply-00 exchange, CSR,
finalize, download, files. The challenge follows docs/decisions.md#decision-4 (AMB-3): after
fetching the authorization the client waits briefly for the challenge email; if it comes, the client
answers it and then POSTs the challenge (A-CHAL-3); if not, it POSTs first and keeps waiting,
so it works with servers that mail at authorization fetch and with those that mail only after
the POST. Everything is bounded by the timeouts in :class:`Timeouts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dns.resolver
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from rfc8823.acme.identifier import EMAIL_REPLY_00, Identifier
from rfc8823.acme.jws import AccountPrivateKey
from rfc8823.acme.objects import Authorization, AuthorizationStatus, OrderStatus
from rfc8823.auth.resolver import DnsEndpoint, Resolver
from rfc8823.client.acme_client import (
    AcmeClient,
    AcmeStats,
    ExternalAccountBinding,
    OrderHandle,
    PollPolicy,
)
from rfc8823.client.answerer import Answered, ChallengeAnswerer, ChallengeVerifier, Refused
from rfc8823.client.decide import PendingChallenge
from rfc8823.client.errors import ChallengeError, EnrollmentError, EnrollmentTimeout, UsageError
from rfc8823.client.keys import AccountKeyType, CertKeyType, account_key_at, new_certificate_key
from rfc8823.client.ledger import AnsweredLedger
from rfc8823.client.mailbox import (
    ImapMailSource,
    MaildirMailSource,
    MailSource,
    SmtpMailSource,
)
from rfc8823.client.output import Credentials, write_credentials
from rfc8823.client.reply import DkimConfig, SubmissionConfig
from rfc8823.csr import (
    Usage,
    build_csr,
    encryption_bit,
    key_usage_bits,
    key_usage_for,
    key_usage_from_bits,
)
from rfc8823.faults import NO_FAULTS, FaultSet
from rfc8823.faults import client as client_faults
from rfc8823.messages.headers import domain_of
from rfc8823.tokens import b64url_encode, jwk_thumbprint, required_jwk_members
from rfc8823.world.imap import ImapTls

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SmtpListen:
    """Receive the challenge on an SMTP listener of the client's own (the user's MX)."""

    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True)
class MaildirSpec:
    """Read the challenge from a Maildir, polled every ``interval`` s."""

    path: Path
    interval: float = 0.1


@dataclass(frozen=True)
class ImapSpec:
    """Read the challenge from an IMAP folder, polled every ``interval`` s (no IDLE)."""

    host: str
    port: int
    user: str
    password: str
    tls: ImapTls = "none"
    folder: str = "INBOX"
    interval: float = 0.5


MailboxSpec = SmtpListen | MaildirSpec | ImapSpec


@dataclass(frozen=True)
class Timeouts:
    """Every bound of an enrollment, in seconds.

    ``email_grace``: the wait for the challenge email before POSTing first
    (docs/decisions.md#decision-4); ``email``: the whole wait for it; ``validation``: for the
    authorization to become valid after the POST; ``issuance``: for the order to become ready and
    then valid; ``http``: per request; ``total``: the whole enrollment.
    """

    email_grace: float = 2.0
    email: float = 60.0
    validation: float = 60.0
    issuance: float = 60.0
    http: float = 10.0
    total: float = 300.0


@dataclass(frozen=True)
class EnrollConfig:
    """What to enroll and how; see ``rfc8823 enroll --help`` for the meaning of each field.

    ``mailbox`` is a spec the client opens itself, or an already started :class:`MailSource`
    that the caller owns (useful when the caller must know the listener's port first).
    ``faults`` are off unless a self-validation run switches some on.
    """

    directory_url: str
    email: str
    mailbox: MailboxSpec | MailSource
    submission: SubmissionConfig
    out_dir: Path
    usage: Usage = "both"
    key_type: CertKeyType = "ec"
    account_key: Path | None = None
    account_key_type: AccountKeyType = "es256"
    contact: tuple[str, ...] = ()
    eab: ExternalAccountBinding | None = None
    ca_bundle: Path | None = None
    state_file: Path | None = None
    dkim: DkimConfig | None = None
    dns: DnsEndpoint | None = None
    smime_trust: tuple[Path, ...] = ()
    pkcs12: bool = False
    pkcs12_password: bytes | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    poll: PollPolicy = field(default_factory=PollPolicy)
    progress: Progress | None = None
    faults: FaultSet = NO_FAULTS


@dataclass(frozen=True)
class EnrollResult:
    """What happened: the account and order, the email answered, the files, the timings.

    ``answered`` is None when the authorization was already valid (reused); ``posted_first``
    says whether the challenge was POSTed before its email arrived (docs/decisions.md#decision-4).
    """

    email: str
    account_url: str
    account_created: bool
    order_url: str
    credentials: Credentials
    answered: Answered | None
    posted_first: bool
    refused: tuple[Refused, ...]
    timings: Mapping[str, float]
    acme: AcmeStats


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """A verifying client context trusting ``ca_bundle`` (system roots when None)."""
    try:
        return ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    except (OSError, ssl.SSLError) as error:
        raise UsageError("TLS", f"cannot load the CA bundle {ca_bundle}: {error}") from None


def system_dns_endpoint() -> DnsEndpoint:
    """The first name server of the system's resolver configuration, port 53."""
    try:
        servers = dns.resolver.Resolver().nameservers
    except dns.resolver.NoResolverConfiguration:
        servers = []
    if not servers:
        raise UsageError("DNS", "no system name server found; give one with --dns host:port")
    return DnsEndpoint(str(servers[0]), 53)


def open_mail_source(spec: MailboxSpec, *, email: str, context: ssl.SSLContext) -> MailSource:
    """The (not yet started) source a spec describes; an SMTP listener accepts only its domain."""
    if isinstance(spec, SmtpListen):
        return SmtpMailSource(spec.host, spec.port, accept_domains=[domain_of(email)])
    if isinstance(spec, MaildirSpec):
        return MaildirMailSource(spec.path, interval=spec.interval)
    return ImapMailSource(
        spec.host,
        spec.port,
        user=spec.user,
        password=spec.password,
        tls=spec.tls,
        ssl_context=context,
        folder=spec.folder,
        interval=spec.interval,
    )


@contextlib.asynccontextmanager
async def _mail_source(config: EnrollConfig, context: ssl.SSLContext) -> AsyncIterator[MailSource]:
    if not isinstance(config.mailbox, SmtpListen | MaildirSpec | ImapSpec):
        yield config.mailbox
        return
    source = open_mail_source(config.mailbox, email=config.email, context=context)
    try:
        await source.start_async()
    except OSError as error:
        raise EnrollmentError("mailbox", f"cannot open {source.description}: {error}") from None
    try:
        yield source
    finally:
        await source.stop_async()


class _Enrollment:
    """The state of one run: clients, timings, the step in progress (for timeout messages)."""

    def __init__(self, config: EnrollConfig) -> None:
        self.config = config
        self.step = "start"
        self.started = time.monotonic()
        self.marks: dict[str, float] = {}
        self.posted_first = False

    def say(self, text: str) -> None:
        log.info("%s", text)
        if self.config.progress is not None:
            self.config.progress(text)

    def enter(self, step: str) -> None:
        self.step = step

    def mark(self, name: str) -> None:
        self.marks[name] = time.monotonic() - self.started

    async def run(self) -> EnrollResult:
        config = self.config
        key = new_certificate_key(config.key_type)
        try:
            csr = _certificate_request(key, config.email, config.usage, config.faults)
        except ValueError as error:
            raise UsageError("CSR", str(error)) from None
        forgets = config.faults.on(client_faults.FORGETS_ANSWERS)
        ledger = AnsweredLedger(None if forgets else config.state_file)
        account_key, _ = account_key_at(config.account_key, config.account_key_type)
        context = tls_context(config.ca_bundle)
        resolver = Resolver(config.dns or system_dns_endpoint())
        acme = AcmeClient(
            config.directory_url,
            account_key,
            verify=context,
            timeout=config.timeouts.http,
            poll=config.poll,
            faults=config.faults,
        )
        submission = config.submission
        if submission.ssl_context is None and submission.tls != "none":
            submission = dataclasses.replace(submission, ssl_context=context)
        async with acme, _mail_source(config, context) as source:
            self.say(f"waiting for the challenge email on {source.description}")
            answerer = ChallengeAnswerer(
                source=source,
                verifier=ChallengeVerifier(resolver, config.smime_trust),
                ledger=ledger,
                submission=submission,
                thumbprint=_account_thumbprint(account_key, config.faults),
                dkim=config.dkim,
                faults=config.faults,
            )
            self.enter("account")
            handle = await acme.account(contact=config.contact, eab=config.eab)
            verb = "created" if handle.created else "reusing"
            self.say(f"account {verb}: {handle.url}")
            self.mark("account")
            self.enter("newOrder")
            identifier = Identifier.email(config.email)
            if config.faults.on(client_faults.ORDERS_DNS_IDENTIFIER):
                identifier = Identifier("dns", config.email)
            order = await acme.new_order([identifier])
            self.say(f"order {order.url} for {config.email}")
            self.mark("order")
            answered = None
            for url in order.order.authorizations:
                answered = await self._authorize(acme, answerer, url) or answered
            self.mark("validated")
            chain = await self._issue(acme, order, csr.public_bytes(serialization.Encoding.DER))
            self.mark("issued")
        credentials = write_credentials(
            config.out_dir,
            config.email,
            key,
            chain,
            pkcs12_password=config.pkcs12_password,
            with_pkcs12=config.pkcs12,
        )
        self.say(f"certificate written to {credentials.chain_path}, key to {credentials.key_path}")
        self.mark("total")
        return EnrollResult(
            email=config.email,
            account_url=handle.url,
            account_created=handle.created,
            order_url=order.url,
            credentials=credentials,
            answered=answered,
            posted_first=self.posted_first,
            refused=tuple(answerer.refused),
            timings=dict(self.marks),
            acme=acme.stats,
        )

    async def _authorize(
        self, acme: AcmeClient, answerer: ChallengeAnswerer, url: str
    ) -> Answered | None:
        """Complete one authorization per docs/decisions.md#decision-4; None if it was already
        valid."""
        timeouts = self.config.timeouts
        self.enter("authorization")
        authz = await acme.authorization(url)
        if authz.status == AuthorizationStatus.VALID:
            self.say(f"authorization {url} is already valid")
            return None
        pending = _pending_challenge(authz, url)
        wrong_url = self.config.faults.on(client_faults.POSTS_TO_AUTHORIZATION)
        ready_url = url if wrong_url else pending.challenge_url
        answerer.expect(pending)
        missing = self.config.faults.on(client_faults.MISSES_MAIL_ALREADY_THERE)
        if missing and isinstance(answerer.source, ImapMailSource):
            await answerer.source.skip_present()
        self.enter("challenge email")
        started = time.monotonic()
        answered = await answerer.answer_one(timeouts.email_grace)
        if answered is None:
            self.posted_first = True
            self.say(
                f"no challenge email within {timeouts.email_grace:g} s; "
                "POSTing the challenge first and waiting on"
            )
            self.enter("challenge")
            await acme.respond(ready_url)
            self.enter("challenge email")
            remaining = timeouts.email - (time.monotonic() - started)
            answered = await answerer.answer_one(max(remaining, 0.0))
            if answered is None:
                answerer.done_with(pending)
                raise _no_answer(answerer, timeouts.email, pending)
            self.say(f"answered challenge email {answered.challenge_message_id}")
        else:
            self.say(f"answered challenge email {answered.challenge_message_id}; POSTing")
            self.enter("challenge")
            await acme.respond(ready_url)
        self.enter("validation")
        await acme.wait_authorization(url, timeouts.validation)
        self.say(f"authorization {url} is valid")
        return answered

    async def _issue(self, acme: AcmeClient, order: OrderHandle, csr_der: bytes) -> bytes:
        timeouts = self.config.timeouts
        self.enter("order")
        await acme.wait_order(order.url, {OrderStatus.READY}, timeouts.issuance)
        self.enter("finalize")
        await acme.finalize(order, csr_der)
        self.say(f"finalized with a {self.config.key_type} key for {self.config.usage} use")
        self.enter("order")
        done = await acme.wait_order(order.url, {OrderStatus.VALID}, timeouts.issuance)
        if done.certificate is None:
            raise EnrollmentError("order", "the valid order names no certificate", url=order.url)
        self.enter("certificate")
        return await acme.certificate(done.certificate)


def _certificate_request(
    key: CertificateIssuerPrivateKeyTypes, email: str, usage: Usage, faults: FaultSet = NO_FAULTS
) -> x509.CertificateSigningRequest:
    """The CSR for ``email`` asking for ``usage`` (RFC 8823 §3.3); ValueError if impossible.

    ``faults`` (self-validation) drop the rfc822Name or widen the keyUsage.
    """
    if faults.on(client_faults.CSR_WITHOUT_SAN):
        return build_csr(key, [], usage, subject_cn=email)
    extra: set[str] = set()
    if usage == "signing" and faults.on(client_faults.CSR_SIGNING_CAN_ENCRYPT):
        extra.add(encryption_bit(key) or "keyEncipherment")
    if usage == "encryption" and faults.on(client_faults.CSR_ENCRYPTION_CAN_SIGN):
        extra.add("digitalSignature")
    if not extra:
        return build_csr(key, [email], usage)
    bits = key_usage_bits(key_usage_for(usage, key)) | extra
    return build_csr(key, [email], None, extra_extensions=[(key_usage_from_bits(bits), True)])


def _account_thumbprint(key: AccountPrivateKey, faults: FaultSet = NO_FAULTS) -> str:
    """The RFC 7638 thumbprint of the account key (KA-2, A-KA-1).

    The fault ``client-spaced-thumbprint`` (self-validation) hashes the JWK members
    as JSON with spaces, which is not the RFC 7638 form.
    """
    if faults.on(client_faults.SPACED_THUMBPRINT):
        text = json.dumps(required_jwk_members(key), sort_keys=True)
        return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())
    return jwk_thumbprint(key)


def _pending_challenge(authz: Authorization, url: str) -> PendingChallenge:
    """The email-reply-00 challenge of an authorization (FLOW-2, CHAL-OBJ-2/3)."""
    challenge = authz.challenge_of_type(EMAIL_REPLY_00)
    if challenge is None:
        offered = ", ".join(c.type for c in authz.challenges) or "none"
        raise ChallengeError(
            "authorization", f"no {EMAIL_REPLY_00} challenge offered (offered: {offered})", url=url
        )
    if not challenge.token:
        raise ChallengeError(
            "authorization", "the challenge has no token (token-part2, CHAL-OBJ-2)", url=url
        )
    if not challenge.from_:
        raise ChallengeError(
            "authorization",
            "the challenge has no 'from' (CHAL-OBJ-3), so its email cannot be checked",
            url=url,
        )
    return PendingChallenge(authz.identifier.value, challenge.from_, challenge.token, challenge.url)


def _no_answer(
    answerer: ChallengeAnswerer, waited: float, pending: PendingChallenge
) -> ChallengeError:
    if answerer.refused:
        reasons = " | ".join(f"{r.origin}: {r.refusal}" for r in answerer.refused)
        detail = f"every challenge email was refused: {reasons}"
    else:
        detail = (
            f"no challenge email from {pending.challenge_from} to {pending.identifier} "
            f"arrived within {waited:g} s"
        )
    return ChallengeError("challenge email", detail, url=pending.challenge_url)


def check_identifier(address: str) -> None:
    """Refuse, before any request, an address an ``email`` order must not carry.

    RFC 8823 §3 forbids ``*`` anywhere in the identifier (ID-EMAIL-3), although RFC 5322
    allows it in a local part; the client is the first to enforce it.
    """
    if "*" in address:
        raise UsageError(
            "identifier",
            f"{address!r} contains '*', which an email identifier must not (RFC 8823 §3)",
        )


async def enroll(config: EnrollConfig) -> EnrollResult:
    """Run one enrollment; raises an :class:`EnrollmentError` subclass when it cannot finish.

    Nothing is written unless the certificate was issued (key and chain together).
    """
    if not config.faults.on(client_faults.ORDERS_ASTERISK):
        check_identifier(config.email)
    run = _Enrollment(config)
    scope = asyncio.timeout(config.timeouts.total)
    try:
        async with scope:
            return await run.run()
    except TimeoutError:
        if not scope.expired():
            raise
        raise EnrollmentTimeout(
            run.step, f"the enrollment did not finish within {config.timeouts.total:g} s"
        ) from None
