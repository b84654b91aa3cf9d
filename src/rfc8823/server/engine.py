"""The email-reply-00 engine: send challenge emails, receive and judge replies (RFC 8823 §3).

docs/decisions.md#decision-4: the challenge email goes out when the authorization is first fetched
(or at the challenge POST if it has not yet); token-part1 and the Message-ID are stored before
sending, so a crash after the send loses nothing. Replies arrive on the CA's own SMTP listener; each
is matched by the token-part1 in its Subject (In-Reply-To only as a fallback, AMB-11),
authenticated, and judged by :func:`rfc8823.messages.response.inspect_response` — the one
place the response rules live. The challenge becomes valid once both an acceptable reply and
the client's POST are in, in either order.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import re
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from rfc8823.acme.problems import Problem, ProblemType
from rfc8823.auth.dkim import (
    CHALLENGE_RECOMMENDED_HEADERS,
    CHALLENGE_REQUIRED_HEADERS,
    DkimPrivateKey,
)
from rfc8823.auth.resolver import DnsError, Resolver
from rfc8823.auth.secure_headers import SecureField
from rfc8823.messages.challenge import ChallengeEmail
from rfc8823.messages.headers import (
    domain_of,
    format_challenge_subject,
    normalize_address,
    parse_acme_subject,
)
from rfc8823.messages.mime import make_message_id, parse_message
from rfc8823.messages.response import (
    DIGEST_RULES,
    ResponseExpectation,
    ResponseReport,
    authenticate_response,
    inspect_response,
)
from rfc8823.server.config import ServerConfig
from rfc8823.server.records import AuthzRecord, ChallengeRecord, ReplyVerdict
from rfc8823.server.reply_faults import (
    UNSIGNED_FROM_FAULT,
    Answering,
    misjudged,
    with_lenient_digests,
)
from rfc8823.server.store import Store
from rfc8823.tokens import (
    b64url_encode,
    new_token_part,
)
from rfc8823.values import SmimeIdentity
from rfc8823.world.keys import cached_key
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.pki import TestPki
from rfc8823.world.sendmail import SendError, send_message_async
from rfc8823.world.world import DKIM_SELECTORS

log = logging.getLogger(__name__)


FOREIGN_DKIM_DOMAIN = "other.test"
"""A test-world domain whose DKIM key signs challenges under ``challenge-dkim-other-domain``."""
SHORT_TOKEN_OCTETS = 8
"""token-part1 length under ``token-part1-short``: 64 bits, half the TOK-3 minimum."""
_MSG_ID = re.compile(r"<[^<>\s]+>")
_BODY = (
    "This is an ACME email-reply-00 challenge (RFC 8823) from {sender}, sent because a\n"
    "certificate was requested for {address}.\n\n"
    "If you asked for an S/MIME certificate, your ACME-aware mail client answers this\n"
    "message for you. If you did not, ignore it: nothing happens without a reply.\n"
)
"""The human-readable body; the body is not machine-processed (CHAL-BODY-1)."""


class DeliveryError(Exception):
    """The challenge email could not be handed to the next hop."""


def load_dkim_key(config: ServerConfig) -> DkimPrivateKey:
    """The CA's DKIM key: the configured PEM file, else the world's key for domain/selector."""
    if config.dkim_key_path is not None:
        key = serialization.load_pem_private_key(config.dkim_key_path.read_bytes(), None)
    else:
        kind = DKIM_SELECTORS.get(config.dkim_selector)
        if kind is None:
            raise ValueError(
                f"no world DKIM key for selector {config.dkim_selector!r}; configure dkim_key"
            )
        key = cached_key(f"dkim-{config.signing_domain}-{config.dkim_selector}", kind)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"a DKIM key is RSA or Ed25519, not {type(key).__name__}")
    return key


def judge(report: ResponseReport) -> Problem | None:
    """``incorrectResponse`` when an authentic reply from the identifier answers wrongly.

    Only digest faults count (SRV-VAL-2); any other rejection (unauthenticated, wrong From,
    List-*, no block) leaves the challenge alone, so strangers cannot fail it.
    """
    reasons = set(report.rejection_reasons)
    if report.acceptable or not report.authentic or not reasons or not reasons <= DIGEST_RULES:
        return None
    return Problem.of(
        ProblemType.INCORRECT_RESPONSE,
        "the reply from the identifier carries a wrong response "
        f"({', '.join(report.rejection_reasons)}; SRV-VAL-2)",
    )


class ChallengeEngine:
    """Sends challenge emails and applies judged replies to the store."""

    def __init__(
        self,
        config: ServerConfig,
        store: Store,
        *,
        clock: Callable[[], float],
        pki: TestPki | None = None,
    ) -> None:
        if config.resolver is None:
            raise ValueError("the CA needs a resolver (DNS host:port) for MX, DKIM, SPF, DMARC")
        self.config = config
        self.store = store
        self.clock = clock
        self.resolver = Resolver(config.resolver)
        self.dkim_key = load_dkim_key(config)
        self.smime_identity: SmimeIdentity | None = None
        pki = pki or TestPki.load()
        if config.smime_sign:
            self.smime_identity = pki.smime_signer(config.challenge_from)
        self._tls_trust = pki.client_ssl_context()
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: set[str] = set()
        self.internal_errors: list[str] = []
        """Bugs met while sending or judging (never a peer's bad input): each is a crash the
        suites report as ERROR, not a verdict on anyone's mail."""

    # -- sending -----------------------------------------------------------------------

    def request_send(self, challenge: ChallengeRecord, authz: AuthzRecord) -> ChallengeRecord:
        """Give the challenge its token-part1 (durably, once) and send its email if not yet sent.

        Called on authorization fetch and challenge POST (docs/decisions.md#decision-4, FLOW-3). A
        send that failed is retried with the same token-part1 (AMB-10). Needs a running event loop.
        """
        if challenge.token_part1 is None and self.config.faults.on("token-part1-reused"):
            self.store.take_token_part1(
                challenge.id,
                address_token(authz.address, self.config.token_part1_octets),
                make_message_id(self.config.challenge_domain),
            )
        if challenge.token_part1 is None:
            octets = self.config.token_part1_octets
            if self.config.faults.on("token-part1-short"):
                octets = SHORT_TOKEN_OCTETS
            challenge, _ = self.store.claim_token_part1(
                challenge.id,
                new_token_part(octets),
                make_message_id(self.config.challenge_domain),
            )
        if challenge.sent_at is None and challenge.id not in self._in_flight:
            self._in_flight.add(challenge.id)
            task = asyncio.get_running_loop().create_task(self._send(challenge, authz))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return challenge

    def resume(self) -> None:
        """Send the emails a previous process recorded but never sent (restart durability)."""
        for challenge in self.store.unsent_challenges():
            authz = self.store.authorization(challenge.authz_id, self.clock())
            if authz is not None:
                self.request_send(challenge, authz)

    def schedule_expiry_check(self) -> None:
        """With ``reply_wait_after_post`` set, re-apply expiry once the wait has run out."""
        wait = self.config.reply_wait_after_post
        if wait is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(wait, lambda: self.store.expire(self.clock()))

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait (bounded) for sends in progress, e.g. before stopping."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def build_challenge(self, challenge: ChallengeRecord, authz: AuthzRecord) -> bytes:
        """The challenge email for a challenge with a token-part1 (RFC 8823 §3.1), signed
        unless the configuration turns signing off (``sign_challenges``).

        A configured ``challenge_variant`` rewrites the finished builder (signatures
        included) just before it is built: how a test CA sends its variations.
        """
        if challenge.token_part1 is None or challenge.message_id is None:
            raise ValueError(f"challenge {challenge.id} has no token-part1 yet")
        address = authz.identifier.value
        email = ChallengeEmail(
            self.config.challenge_from,
            address,
            challenge.token_part1,
            message_id=challenge.message_id,
        ).with_body_text(_BODY.format(address=address, sender=self.config.challenge_from))
        if self.config.token_part1_padded:
            email = email.with_padding()
        if self.smime_identity is not None:
            email = self._smime_signed(email, self.smime_identity)
        if self.config.sign_challenges:
            email = email.signed_dkim(
                self.dkim_key,
                selector=self.config.dkim_selector,
                domain=self.config.signing_domain,
            )
        if self.config.faults:
            email = self._with_faults(email, address)
        if self.config.challenge_variant is not None:
            email = self.config.challenge_variant(email)
        return email.build()

    def _smime_signed(self, email: ChallengeEmail, identity: SmimeIdentity) -> ChallengeEmail:
        """S/MIME-signed with the configured header protection (CHAL-BODY-3, AMB-8), or as a
        CA with a header-protection fault signs it (self-validation)."""
        faults = self.config.faults
        if faults and faults.on("challenge-smime-unprotected"):
            return email.signed_smime(identity, header_protection="none")
        if faults and faults.on("challenge-smime-protects-other-subject"):
            kept = [SecureField(n, v) for n, v in email.header_fields() if n != "Subject"]
            other = format_challenge_subject(new_token_part(self.config.token_part1_octets))
            return email.signed_smime(
                identity,
                header_protection="rfc7508",
                secure_fields=[*kept, SecureField("Subject", other)],
            )
        return email.signed_smime(identity, header_protection=self.config.smime_header_protection)

    def _with_faults(self, email: ChallengeEmail, address: str) -> ChallengeEmail:
        """The challenge as a CA with the configured faults writes it (``CHALLENGE_FAULTS``)."""
        for name, write in CHALLENGE_FAULTS:
            if self.config.faults.on(name):
                email = write(self, email, address)
        return email

    def _resigned(self, email: ChallengeEmail, *, without: str) -> ChallengeEmail:
        """The challenge DKIM-signed again with an ``h=`` leaving out ``without``."""
        names = [
            name
            for name in (*CHALLENGE_REQUIRED_HEADERS, *CHALLENGE_RECOMMENDED_HEADERS)
            if name != without
        ]
        return email.unsigned().signed_dkim(
            self.dkim_key,
            selector=self.config.dkim_selector,
            domain=self.config.signing_domain,
            headers=names,
        )

    def _signed_abroad(self, email: ChallengeEmail) -> ChallengeEmail:
        """The challenge DKIM-signed by a domain other than its From domain."""
        foreign = self.config.with_overrides(dkim_domain=FOREIGN_DKIM_DOMAIN)
        return email.unsigned().signed_dkim(
            load_dkim_key(foreign), selector=self.config.dkim_selector, domain=FOREIGN_DKIM_DOMAIN
        )

    def written_token_part1(self, token_part1: str) -> str:
        """token-part1 as the challenge email writes it: with ``=`` padding when configured."""
        if not self.config.token_part1_padded:
            return token_part1
        return token_part1 + "=" * (-len(token_part1) % 4)

    async def _send(self, challenge: ChallengeRecord, authz: AuthzRecord) -> None:
        try:
            address = authz.identifier.value
            data = await asyncio.to_thread(self.build_challenge, challenge, authz)
            host, port = await asyncio.to_thread(self._next_hop, domain_of(address))
            local = address.rpartition("@")[0]
            if self.config.faults.on("challenge-to-postmaster"):
                local = "postmaster"
            rcpt = f"{local}@{domain_of(address)}"
            await send_message_async(
                host,
                port,
                mail_from=self.config.challenge_from,
                rcpt_tos=[rcpt],
                data=data,
                source_address=self.config.source_address,
                helo=self.config.signing_domain,
                smtputf8=not (rcpt.isascii() and data.isascii()),
                timeout=self.config.send_timeout,
                **self._smarthost_session(),
            )
        except (DeliveryError, SendError, OSError, ValueError) as error:
            log.warning("challenge email for %s not sent: %s", challenge.id, error)
            self.store.mark_sent(challenge.id, self.clock(), error=str(error))
        except Exception as error:
            log.exception("challenge email for %s failed", challenge.id)
            self.internal_errors.append(f"sending the challenge email {challenge.id}: {error!r}")
            self.store.mark_sent(challenge.id, self.clock(), error=repr(error))
        else:
            log.info("challenge email for %s sent to %s via %s:%d", challenge.id, rcpt, host, port)
            self.store.mark_sent(challenge.id, self.clock())
        finally:
            self._in_flight.discard(challenge.id)

    def _smarthost_session(self) -> dict[str, Any]:
        """TLS and AUTH for the smarthost (RFC 3207, RFC 8314, RFC 4954); nothing for an MX."""
        config = self.config
        if config.smarthost is None or config.smarthost_tls == "none":
            return {}
        auth = None
        if config.smarthost_user is not None and config.smarthost_password is not None:
            auth = (config.smarthost_user, config.smarthost_password)
        return {"tls": config.smarthost_tls, "ssl_context": self._tls_trust, "auth": auth}

    def _next_hop(self, domain: str) -> tuple[str, int]:
        """The smarthost, else the recipient domain's best MX on ``mx_port`` (RFC 5321 §5.1).

        Only loopback addresses are used: the CA never mails outside the test network.
        """
        if self.config.smarthost is not None:
            return self.config.smarthost
        try:
            hosts = [host for _, host in sorted(self.resolver.mx(domain))]
        except DnsError as error:
            raise DeliveryError(f"no MX for {domain}: {error}") from error
        if hosts == ["."]:
            raise DeliveryError(f"{domain} publishes a null MX (RFC 7505)")
        for host in hosts:
            try:
                addresses = self.resolver.a(host)
            except DnsError:
                continue
            for address in addresses:
                if ipaddress.ip_address(address).is_loopback:
                    return address, self.config.mx_port
        raise DeliveryError(f"no loopback address for the MX hosts {hosts} of {domain}")

    # -- replies -----------------------------------------------------------------------

    async def on_reply(self, message: ReceivedMessage) -> None:
        """Judge one received message; never raises (the SMTP listener's hook)."""
        try:
            await self._judge_reply(message)
        except Exception as error:
            log.exception("reply %d from <%s> could not be judged", message.seq, message.mail_from)
            self.internal_errors.append(f"judging reply {message.seq}: {error!r}")
            self._record(message, None, None, ReplyVerdict.IGNORED, ("internal",), "judge failed")

    def _find(self, raw: bytes) -> tuple[str | None, ChallengeRecord | None]:
        """The Subject's token-part1 and its challenge; In-Reply-To only without a token."""
        parsed = parse_message(raw)
        subject = parse_acme_subject(parsed.first("Subject") or "")
        token = subject.token_part1 if subject.token_alphabet_ok else None
        if token is not None:
            return token, self.store.challenge_by_token_part1(token.rstrip("="))
        for value in parsed.all("In-Reply-To"):
            for message_id in _MSG_ID.findall(value):
                found = self.store.challenge_by_message_id(message_id)
                if found is not None:
                    return None, found
        return None, None

    async def _judge_reply(self, message: ReceivedMessage) -> None:
        raw = message.data
        token, challenge = self._find(raw)
        if challenge is None:
            reason = "SRV-VAL-3" if token else "RESP-SUBJ-1"
            detail = f"no challenge has token-part1 {token!r}" if token else "no ACME token"
            self._record(message, token, None, ReplyVerdict.UNMATCHED, (reason,), detail)
            return
        now = self.clock()
        authz = self.store.authorization(challenge.authz_id, now)
        account = self.store.account(authz.account_id) if authz is not None else None
        if authz is None or account is None or challenge.token_part1 is None:
            self._record(message, token, challenge.id, ReplyVerdict.UNMATCHED, (), "orphan")
            return
        expect = ResponseExpectation(
            identifier=authz.identifier.value,
            challenge_from=self.config.challenge_from,
            challenge_reply_to=None,
            token_part1=self.written_token_part1(challenge.token_part1),
            token_part2=challenge.token_part2,
            thumbprint=account.thumbprint,
            challenge_message_id=challenge.message_id,
            other_thumbprints=self.store.other_thumbprints(authz.address, account.id),
            earlier_token_part1s=tuple(
                self.written_token_part1(other.token_part1)
                for other in self.store.challenges_for_address(authz.address, account.id)
                if other.token_part1 is not None and other.id != challenge.id
            ),
        )
        auth = await asyncio.to_thread(
            authenticate_response,
            raw,
            resolver=self.resolver,
            peer_ip=message.peer[0] or None,
            mail_from=message.mail_from,
            helo=message.helo,
            require_from=not self.config.faults.on(UNSIGNED_FROM_FAULT),
        )
        report = inspect_response(raw, expect, auth)
        faults = self.config.faults
        if faults:
            report = misjudged(report, raw, auth, faults)
            report = with_lenient_digests(report, faults, self._answering(expect, authz))
        incorrect = None if faults.on("wrong-digest-not-invalid") else judge(report)
        verdict = self.store.apply_reply(
            challenge.id, acceptable=report.acceptable, incorrect=incorrect, now=self.clock()
        )
        reasons = report.rejection_reasons
        if verdict is ReplyVerdict.LATE:
            reasons = ("SRV-VAL-4", "A-AUTHZ-2", *reasons)
        elif verdict is ReplyVerdict.DUPLICATE:
            reasons = ("SRV-VAL-6", *reasons)
        detail = "; ".join(str(f) for f in report.findings if f.requirement in reasons)
        self._record(message, token, challenge.id, verdict, reasons, detail or verdict.value)

    def _answering(self, expect: ResponseExpectation, authz: AuthzRecord) -> Answering:
        """This challenge and the account's challenges for the address, as a faulty digest
        check sees them (``reply_faults.DIGEST_FAULTS``)."""
        return Answering(
            expect.token_part1,
            expect.token_part2,
            expect.thumbprint,
            tuple(
                (self.written_token_part1(other.token_part1), other.token_part2)
                for other in self.store.challenges_for_address(authz.address, authz.account_id)
                if other.token_part1 is not None
            ),
        )

    def _record(
        self,
        message: ReceivedMessage,
        token: str | None,
        challenge_id: str | None,
        verdict: ReplyVerdict,
        reasons: tuple[str, ...],
        detail: str,
    ) -> None:
        level = logging.INFO if verdict in _QUIET else logging.WARNING
        log.log(
            level,
            "reply %d from <%s> for challenge %s: %s [%s] %s",
            message.seq,
            message.mail_from,
            challenge_id,
            verdict.value,
            ", ".join(reasons),
            detail[:500],
        )
        self.store.record_reply(
            received_at=message.received_at,
            mail_from=message.mail_from,
            peer=message.peer[0],
            size=len(message.data),
            token_part1=token,
            challenge_id=challenge_id,
            verdict=verdict,
            reasons=reasons,
            detail=detail[:4000],
        )


_QUIET = frozenset({ReplyVerdict.VALIDATED, ReplyVerdict.ACCEPTED, ReplyVerdict.DUPLICATE})


def address_token(address: str, octets: int) -> str:
    """token-part1 derived from the address alone: the same for every challenge to it."""
    digest = hashlib.sha256(normalize_address(address).encode("utf-8")).digest()
    return b64url_encode(digest[:octets])


ChallengeFault = Callable[[ChallengeEngine, ChallengeEmail, str], ChallengeEmail]
CHALLENGE_FAULTS: tuple[tuple[str, ChallengeFault], ...] = (
    ("challenge-without-auto-submitted", lambda _, e, __: e.without_header("Auto-Submitted")),
    ("challenge-without-date", lambda _, e, __: e.without_header("Date")),
    (
        "challenge-auto-submitted-without-type",
        lambda _, e, __: e.with_auto_submitted("auto-generated"),
    ),
    (
        "challenge-from-not-announced",
        lambda engine, e, __: e.with_from(f"noreply@{engine.config.challenge_domain}"),
    ),
    (
        "challenge-to-not-identifier",
        lambda engine, e, __: e.with_to(engine.config.challenge_from),
    ),
    (
        "challenge-to-postmaster",
        lambda _, e, address: e.with_to(f"postmaster@{domain_of(address)}"),
    ),
    ("challenge-subject-latin1", lambda _, e, __: e.with_subject_encoded("iso-8859-1")),
    (
        "challenge-subject-without-space",
        lambda _, e, __: e.with_subject(f"ACME:{e.written_token}"),
    ),
    ("token-part1-not-base64url", lambda _, e, __: e.with_subject(f"ACME: {e.written_token}===")),
    ("challenge-unsigned", lambda _, e, __: e.unsigned()),
    (
        "challenge-dkim-h-without-subject",
        lambda engine, e, __: engine._resigned(e, without="subject"),
    ),
    ("challenge-dkim-other-domain", lambda engine, e, __: engine._signed_abroad(e)),
)
"""Faults that write the challenge wrongly, each with how, applied in this order (the CA's
counterpart of the client's ``RESPONSE_FAULTS``; self-validation)."""
