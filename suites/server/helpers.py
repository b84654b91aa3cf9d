"""The server suite's side of a test: the CA driven over ACME, the user's mail through the world.

ACME requests go through :class:`rfc8823.acme.driver.AcmeDriver`, which hands responses back raw
so a test asserts on exactly what the CA answered. The user's side of the mail goes through the
world: challenge emails land in ``world.store``, replies are built with ``ResponseEmail`` and
submitted through the world's submission port, whose provider DKIM-signs them and relays them to
the CA's reply listener (RFC 8823 §3.2 (8)). ``ServerSuite.check`` and ``expect_refused`` record
a finding on the rule a check judges before they assert, so a failure is reported on that rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from rfc8823.acme.driver import Account, AcmeDriver, OrderHandle, expect_problem, problem_of
from rfc8823.acme.identifier import EMAIL_REPLY_00
from rfc8823.acme.problems import PROBLEM_CONTENT_TYPE, Problem, ProblemType
from rfc8823.domains import to_a_label
from rfc8823.findings import broken, passed
from rfc8823.messages.challenge import ChallengeAuth, authenticate_challenge
from rfc8823.messages.headers import parse_acme_subject
from rfc8823.messages.mime import parse_message
from rfc8823.messages.response import ResponseEmail
from rfc8823.report.plugin import Conformance
from rfc8823.targets import ServerCapabilities, ServerEndpoints
from rfc8823.tokens import Concatenation
from rfc8823.world.keys import KeyKind, cached_key
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.sendmail import SendResult, send_message_async
from rfc8823.world.world import World

SHARED_ACCOUNT_KEY = "server-suite-account"
MAIL_BEFORE_POST = 2.0
"""Seconds to wait for the challenge email after the authz fetch before POSTing first (AMB-3)."""

Rules = str | tuple[str, ...]
"""The requirement ID, or IDs, that one check judges."""


@dataclass(frozen=True)
class Timeouts:
    """Bounds on every wait: mail delivery, state changes, and HTTP requests (seconds)."""

    mail: float = 10.0
    state: float = 10.0
    http: float = 10.0


def token_part1_of(raw: bytes) -> str | None:
    """token-part1 as a receiver reads it from a challenge email's Subject (CHAL-SUBJ-1..3)."""
    subject = parse_message(raw).first("Subject")
    return parse_acme_subject(subject).token_part1 if subject is not None else None


def same_mailbox(address: str) -> str:
    """An address as a mailbox key: local part exact, domain in lower-case A-labels."""
    local, at, domain = address.rpartition("@")
    return f"{local}@{to_a_label(domain)}" if at else address


def fresh_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 account key: a fresh account without a key cache entry (ES256, A-JWS-3)."""
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class ChallengeFlow:
    """One email identifier's authorization, from fetch to reply (RFC 8823 §3 steps 3-8)."""

    suite: ServerSuite
    order: OrderHandle
    authz_url: str
    address: str
    authz: dict[str, Any] = field(default_factory=dict)
    challenge: dict[str, Any] = field(default_factory=dict)
    email: ReceivedMessage | None = None
    posted: bool = False

    @property
    def account(self) -> Account:
        """The account that ordered."""
        return self.order.account

    @property
    def challenge_url(self) -> str:
        """The email-reply-00 challenge URL."""
        return str(self.challenge["url"])

    @property
    def token_part2(self) -> str:
        """The challenge object's ``token`` (CHAL-OBJ-2)."""
        return str(self.challenge["token"])

    @property
    def token_part1(self) -> str:
        """token-part1 from the challenge email's Subject."""
        assert self.email is not None, "no challenge email received yet"
        token = token_part1_of(self.email.data)
        assert token is not None, "observed a challenge Subject without token-part1"
        return token

    async def fetch_authz(self) -> dict[str, Any]:
        """POST-as-GET the authorization and pick its email-reply-00 challenge (FLOW-2)."""
        self.authz = await self.account.fetch(self.authz_url)
        challenges = self.authz.get("challenges", [])
        found = [c for c in challenges if isinstance(c, dict) and c.get("type") == EMAIL_REPLY_00]
        assert found, f"observed challenges {challenges!r}; expected an {EMAIL_REPLY_00} one"
        self.challenge = found[0]
        return self.authz

    async def receive(self, *, post_if_silent: bool = True) -> ReceivedMessage:
        """The challenge email; POSTs the challenge first if none came soon after the fetch.

        docs/decisions.md#decision-4 / AMB-3: some CAs mail only at the challenge POST.
        """
        timeouts = self.suite.timeouts
        if not self.challenge:
            await self.fetch_authz()
        if self.email is not None:
            return self.email
        first_wait = MAIL_BEFORE_POST if post_if_silent and not self.posted else timeouts.mail
        try:
            self.email = await self.suite.next_mail(self.address, first_wait)
        except TimeoutError:
            if not post_if_silent or self.posted:
                raise
            await self.post()
            self.email = await self.suite.next_mail(self.address, timeouts.mail)
        return self.email

    def reply(
        self, *, reading: Concatenation = Concatenation.STRING, thumbprint: str | None = None
    ) -> ResponseEmail:
        """The conforming reply builder for the received email (unsigned: the provider signs)."""
        assert self.email is not None, "no challenge email received yet"
        return ResponseEmail.answering(
            self.email.data,
            identifier=self.address,
            thumbprint=thumbprint or self.account.thumbprint,
            token_part2=self.token_part2,
            reading=reading,
        )

    async def answer(self, builder: ResponseEmail | None = None) -> SendResult:
        """Submit the reply as the user; the provider DKIM-signs it and relays it to the CA."""
        data = (builder or self.reply()).build()
        return await self.suite.submit(self.address, data)

    async def post(self, payload: Mapping[str, Any] | None = None) -> httpx.Response:
        """The readiness POST of the challenge, ``{}`` by default (RFC 8555 §7.5.1)."""
        response = await self.account.post(self.challenge_url, dict(payload or {}))
        self.posted = True
        return response

    async def wait_challenge(self, *statuses: str) -> dict[str, Any]:
        """The challenge once its status is one of ``statuses`` (default: valid) or terminal."""
        return await self.account.wait_for_status(
            self.challenge_url, statuses or ("valid",), self.suite.timeouts.state
        )

    async def complete(self, builder: ResponseEmail | None = None) -> dict[str, Any]:
        """Receive, answer, POST, and return the challenge once valid (asserted)."""
        await self.receive()
        await self.answer(builder)
        if not self.posted:
            response = await self.post()
            assert response.status_code == 200, (
                f"observed challenge POST HTTP {response.status_code}: {response.text[:300]}"
            )
        challenge = await self.wait_challenge("valid")
        assert challenge.get("status") == "valid", (
            f"observed challenge {challenge.get('status')!r} after a conforming reply and POST "
            f"(error: {challenge.get('error')}); expected valid"
        )
        return challenge


class ServerSuite:
    """What a server test works with: the world, the CA's endpoints and capabilities, ACME."""

    def __init__(
        self,
        world: World,
        endpoints: ServerEndpoints,
        capabilities: ServerCapabilities,
        acme: AcmeDriver,
        timeouts: Timeouts,
        conformance: Conformance,
    ) -> None:
        self.world = world
        self.endpoints = endpoints
        self.capabilities = capabilities
        self.acme = acme
        self.timeouts = timeouts
        self.conformance = conformance
        self._taken: set[int] = set()

    def check(self, rules: Rules, holds: bool, observed: str, expected: str) -> None:
        """Record a finding on each rule checked, then fail unless it holds.

        A failed test is then judged by the rule it broke, not by every ID it covers
        (docs/verdicts.md); the failure message names the rule, so a WARN-level break counts too.
        """
        ids = (rules,) if isinstance(rules, str) else rules
        findings = [(passed if holds else broken)(rid, observed, expected) for rid in ids]
        self.conformance.record(*findings)
        if not holds:
            pytest.fail("; ".join(str(f) for f in findings), pytrace=False)

    def expect_refused(
        self, rules: Rules, response: httpx.Response, *types: ProblemType, status: int | None = None
    ) -> Problem:
        """The CA refuses as ``rules`` demand, with one of ``types`` (and ``status``), as an
        RFC 7807 problem document (A-ERR-1); findings on each, then ``expect_problem``.

        RFC 8555 §6.7.
        """
        names = " or ".join(t.short_name for t in types) or "any problem type"
        shown = f"HTTP {response.status_code} {response.headers.get('Content-Type')}: "
        shown += response.text[:300]
        self.check(rules, response.status_code >= 400, shown, f"an error ({names})")
        media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        problem = problem_of(response)
        self.check(
            "A-ERR-1",
            media == PROBLEM_CONTENT_TYPE and problem is not None,
            shown,
            f"an {PROBLEM_CONTENT_TYPE} problem document",
        )
        assert problem is not None
        wanted = names + (f" with HTTP {status}" if status is not None else "")
        self.check(
            rules,
            (not types or problem.type in types)
            and (status is None or response.status_code == status),
            f"problem type {problem.type}, {shown}",
            wanted,
        )
        return expect_problem(response, *types, status=status)

    async def account(self, *, fresh: bool = False, kind: KeyKind = "p256") -> Account:
        """The suite's shared account, or (``fresh``) a new one with a new key."""
        key = fresh_key() if fresh else cached_key(f"{SHARED_ACCOUNT_KEY}-{kind}", kind)
        return await self.acme.account(key)

    def new_address(self, domain: str = "example.test") -> str:
        """A mailbox nobody has used (tests isolate by address)."""
        return self.world.new_address(domain)

    async def order(self, account: Account, *addresses: str) -> OrderHandle:
        """newOrder for these addresses (default: one fresh address)."""
        return await account.new_order(*(addresses or (self.new_address(),)))

    async def flows(self, order: OrderHandle) -> list[ChallengeFlow]:
        """One flow per authorization of ``order``, each authorization fetched."""
        flows: list[ChallengeFlow] = []
        for url in order.authorizations:
            authz = await order.account.fetch(url)
            value = authz.get("identifier", {}).get("value")
            flow = ChallengeFlow(self, order, url, str(value))
            flow.authz = authz
            await flow.fetch_authz()
            flows.append(flow)
        return flows

    async def flow(
        self, account: Account | None = None, address: str | None = None, *, receive: bool = True
    ) -> ChallengeFlow:
        """An order for one address (default: fresh), its authz fetched, email received."""
        account = account or await self.account()
        order = await self.order(account, address or self.new_address())
        flow = (await self.flows(order))[0]
        if receive:
            await flow.receive()
        return flow

    async def ready_order(
        self, account: Account | None = None, *addresses: str
    ) -> tuple[OrderHandle, dict[str, Any]]:
        """An order whose every authorization was validated by a conforming reply: ``ready``."""
        account = account or await self.account()
        order = await self.order(account, *addresses)
        for flow in await self.flows(order):
            await flow.complete()
        body = await account.wait_for_status(order.url, ("ready",), self.timeouts.state)
        assert body.get("status") == "ready", (
            f"observed order {body.get('status')!r} with every authorization valid; expected ready"
        )
        return order, body

    async def next_mail(self, address: str, timeout: float) -> ReceivedMessage:  # noqa: ASYNC109
        """The next message to ``address`` this test has not taken yet.

        Addresses compare with the local part exact and the domain in lower-case A-labels, so
        a CA may write an IDN domain either way (RFC 5890).
        """
        wanted = same_mailbox(address)

        def unseen_for_address(message: ReceivedMessage) -> bool:
            return message.seq not in self._taken and any(
                same_mailbox(rcpt) == wanted for rcpt in message.rcpt_tos
            )

        found = await self.world.store.wait_until(unseen_for_address, timeout)
        self._taken.add(found.seq)
        return found

    async def submit(
        self, sender: str, data: bytes, rcpts: Sequence[str] | None = None
    ) -> SendResult:
        """Send as the user through submission (AUTH); the sender's provider DKIM-signs.

        A non-ASCII sender cannot log in over SMTP AUTH, so its message is signed with its
        provider's key here and handed over as the provider's MX would.
        """
        domain = sender.rpartition("@")[2]
        self.world.sign_outbound(domain)
        return await send_message_async(
            self.world.submission.host,
            self.world.submission.port,
            mail_from=sender,
            rcpt_tos=list(rcpts or [self.endpoints.challenge_from]),
            data=data,
            tls="starttls",
            ssl_context=self.world.client_ssl_context(),
            auth=self.world.submission_login(sender),
            smtputf8=not sender.isascii(),
            timeout=self.timeouts.mail,
        )

    async def deliver_direct(
        self,
        sender: str,
        data: bytes,
        *,
        source_domain: str | None = None,
        source_address: str | None = None,
        rcpts: Sequence[str] | None = None,
    ) -> SendResult:
        """Hand a message straight to the CA's reply SMTP, unsigned by any provider.

        It comes from the SPF-authorised address of ``source_domain`` (default: the sender's
        domain), as if that domain's MX relayed it untouched; or from ``source_address``, an
        address that SPF may not allow (e.g. ``UNAUTHORISED_SOURCE``).
        """
        host, port = self.endpoints.reply_smtp
        if source_address is None:
            origin = self.world.domain((source_domain or sender.rpartition("@")[2]).lower())
            source_address, helo = origin.source_ip, f"mx.{origin.name}"
        else:
            helo = "relay.invalid"
        return await send_message_async(
            host,
            port,
            mail_from=sender,
            rcpt_tos=list(rcpts or [self.endpoints.challenge_from]),
            data=data,
            source_address=source_address,
            helo=helo,
            smtputf8=not sender.isascii(),
            timeout=self.timeouts.mail,
        )

    async def settle(self) -> None:
        """Wait until the CA has dealt with the mail sent so far: a control reply validates.

        A black-box barrier: a fresh order's conforming reply goes out after the mail under
        test, so once it validates, a CA that handles mail in arrival order has judged the
        earlier mail too.
        """
        flow = await self.flow()
        await flow.complete()

    async def mail_barrier(self) -> ReceivedMessage:
        """Wait until a control order's challenge email arrives: earlier mail would be in too."""
        flow = await self.flow()
        assert flow.email is not None
        return flow.email

    def challenge_auth(self, raw: bytes) -> ChallengeAuth:
        """DKIM and S/MIME verdicts on a challenge email (world DNS; the CA's S/MIME roots)."""
        return authenticate_challenge(
            raw,
            resolver=self.world.resolver,
            trust_anchors=list(self.endpoints.smime_trust_anchors),
        )

    def mail_to(self, *addresses: str) -> list[ReceivedMessage]:
        """Every message delivered so far to any of ``addresses`` (taken or not)."""
        wanted = {same_mailbox(address) for address in addresses}
        return [
            message
            for message in self.world.store.messages()
            if any(same_mailbox(rcpt) in wanted for rcpt in message.rcpt_tos)
        ]
