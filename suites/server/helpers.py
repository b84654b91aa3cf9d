"""The server suite's side of a test: the CA driven over ACME, the user's mail through the world.

ACME requests go through :class:`rfc8823.acme.driver.AcmeDriver`, which hands responses back raw
so a test asserts on exactly what the CA answered. The user's side of the mail goes through the
world: challenge emails land in ``world.store``, replies are built with ``ResponseEmail`` and
submitted through the world's submission port, whose provider DKIM-signs them and relays them to
the CA's reply listener (RFC 8823 §3.2 (8)).

Two kinds of failure, kept apart (docs/verdicts.md): ``ServerSuite.check`` and
``expect_refused`` record a finding on the rule a check judges and stop the test for that rule;
the steps a test only *needs* (an account, an order, the challenge email, a validated reply, a
ready order, the barrier) stop it as BLOCKED on their prerequisite (``prerequisites.py``), so a
broken step is reported once, by its own test. The CA's state is read through the authorization
(RFC 8555 §7.1.4), never by POST-as-GET of a challenge URL, which some CAs take as a trigger.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from rfc8823.acme.driver import (
    TERMINAL,
    Account,
    AcmeDriver,
    OrderHandle,
    expect_problem,
    problem_of,
)
from rfc8823.acme.identifier import EMAIL_REPLY_00
from rfc8823.acme.problems import PROBLEM_CONTENT_TYPE, Problem, ProblemType
from rfc8823.domains import to_a_label
from rfc8823.messages.challenge import ChallengeAuth, authenticate_challenge
from rfc8823.messages.headers import parse_acme_subject, parse_single_address
from rfc8823.messages.mime import parse_message
from rfc8823.messages.response import ResponseEmail
from rfc8823.report.outcomes import Blocked, Prerequisite
from rfc8823.report.plugin import Conformance, Rules
from rfc8823.targets import ServerCapabilities, ServerEndpoints
from rfc8823.tokens import Concatenation, entropy_octets
from rfc8823.world.keys import KeyKind, PrivateKey, cached_key
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.sendmail import SendError, SendResult, send_message_async
from rfc8823.world.world import World

from .prerequisites import (
    ACCOUNT,
    AUTHORIZATION,
    BARRIER,
    CHALLENGE_EMAIL,
    ORDER,
    ORDER_READY,
    VALIDATION,
)

SHARED_ACCOUNT_KEY = "server-suite-account"
MAIL_BEFORE_POST = 2.0
"""Seconds to wait for the challenge email after the authz fetch before POSTing first (AMB-3)."""


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


def challenge_in(authz: Mapping[str, Any], url: str) -> dict[str, Any]:
    """The challenge at ``url`` as the authorization lists it ({} if it does not; §7.1.4)."""
    for challenge in authz.get("challenges", []) or []:
        if isinstance(challenge, dict) and challenge.get("url") == url:
            return challenge
    return {}


def needed(prerequisite: Prerequisite, error: BaseException) -> Blocked:
    """``error`` from a step a test only needs, as the BLOCKED it means
    (docs/decisions.md#decision-9)."""
    if isinstance(error, Blocked):
        return Blocked(prerequisite, error.observed)
    text = str(error) or type(error).__name__
    return Blocked(prerequisite, " ".join(text.split())[:500])


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
    mail_mark: int = -1
    """The world's last mail before this flow's authorization fetch: later CA mail that did not
    reach ``address`` is where its challenge went instead (``ServerSuite.misdirected``)."""

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
        """token-part1 from the challenge email's Subject (BLOCKED without one)."""
        assert self.email is not None, "no challenge email received yet"
        token = token_part1_of(self.email.data)
        if token is None:
            subject = parse_message(self.email.data).first("Subject")
            raise Blocked(CHALLENGE_EMAIL, f"a challenge Subject without token-part1: {subject!r}")
        return token

    async def fetch_authz(self) -> dict[str, Any]:
        """POST-as-GET the authorization and pick its email-reply-00 challenge (FLOW-2).

        BLOCKED on AUTHORIZATION when it cannot be read or offers no such challenge.
        """
        try:
            self.authz = await self.account.fetch(self.authz_url)
        except AssertionError as error:
            raise needed(AUTHORIZATION, error) from error
        challenges = self.authz.get("challenges", [])
        found = [c for c in challenges if isinstance(c, dict) and c.get("type") == EMAIL_REPLY_00]
        if not found:
            raise Blocked(
                AUTHORIZATION, f"challenges {challenges!r}, none of type {EMAIL_REPLY_00}"
            )
        self.challenge = found[0]
        return self.authz

    async def receive(self, *, post_if_silent: bool = True) -> ReceivedMessage:
        """The challenge email; POSTs the challenge first if none came soon after the fetch.

        docs/decisions.md#decision-4 / AMB-3: some CAs mail only at the challenge POST. BLOCKED on
        CHALLENGE_EMAIL when none arrives.
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
                raise self.no_email(first_wait) from None
            await self.post()
            try:
                self.email = await self.suite.next_mail(self.address, timeouts.mail)
            except TimeoutError:
                raise self.no_email(first_wait + timeouts.mail) from None
        return self.email

    def misdirected(self) -> list[ReceivedMessage]:
        """Challenge mail from the CA since this flow began that went to another mailbox."""
        return self.suite.misdirected(self.address, self.mail_mark)

    def no_email(self, waited: float) -> Blocked:
        """The BLOCKED of a challenge email that did not come (where it went, if elsewhere)."""
        astray = sorted({rcpt for message in self.misdirected() for rcpt in message.rcpt_tos})
        where = f"; challenge mail went to {astray}" if astray else ""
        posted = "after the challenge POST" if self.posted else "without a POST"
        return Blocked(
            CHALLENGE_EMAIL, f"no email to {self.address} within {waited:g} s {posted}{where}"
        )

    def reply(
        self, *, reading: Concatenation = Concatenation.STRING, thumbprint: str | None = None
    ) -> ResponseEmail:
        """The conforming reply builder for the received email (unsigned: the provider signs)."""
        assert self.email is not None, "no challenge email received yet"
        malformed = malformed_token_parts(self.token_part1, self.token_part2)
        if malformed:
            raise Blocked(VALIDATION, f"no key authorization can be formed: {malformed[1]}")
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

    async def read(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The challenge and its authorization now, read through the authorization only."""
        self.authz = await self.account.fetch(self.authz_url)
        return challenge_in(self.authz, self.challenge_url), self.authz

    async def final(self) -> bool:
        """Whether the challenge or its authorization is final now (read through the
        authorization): a final state changes no more (RFC 8555 §7.1.6)."""
        challenge, authz = await self.read()
        return challenge.get("status") in TERMINAL or authz.get("status") in TERMINAL

    async def wait_challenge(self, *statuses: str) -> dict[str, Any]:
        """The challenge once its status is one of ``statuses`` (default: valid) or terminal,
        or its authorization is final; polled through the authorization (bounded)."""
        wanted = frozenset(statuses or ("valid",))

        def settled(authz: Mapping[str, Any]) -> bool:
            status = challenge_in(authz, self.challenge_url).get("status")
            return status in wanted or status in TERMINAL or authz.get("status") in TERMINAL

        self.authz = await self.account.poll(self.authz_url, settled, self.suite.timeouts.state)
        return challenge_in(self.authz, self.challenge_url)

    async def complete(self, builder: ResponseEmail | None = None) -> dict[str, Any]:
        """Receive, answer, POST, and return the challenge once valid.

        What a test needs rather than judges: BLOCKED on VALIDATION when it does not happen.
        """
        await self.receive()
        try:
            await self.answer(builder)
            if not self.posted:
                response = await self.post()
                if response.status_code != 200:
                    raise Blocked(
                        VALIDATION,
                        f"challenge POST HTTP {response.status_code}: {response.text[:300]}",
                    )
            challenge = await self.wait_challenge("valid")
        except (AssertionError, OSError) as error:
            raise needed(VALIDATION, error) from error
        if challenge.get("status") != "valid":
            raise Blocked(
                VALIDATION,
                f"challenge {challenge.get('status')!r}, authorization "
                f"{self.authz.get('status')!r} after a conforming reply and POST "
                f"(error: {challenge.get('error')})",
            )
        return challenge


@dataclass
class BarrierState:
    """What this process learnt of the barrier: whether the CA keeps replies in flight
    (SRV-VAL-7) — unknown (None), held (""), or broken (what was observed)."""

    broken: str | None = None


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
        barrier: BarrierState,
    ) -> None:
        self.world = world
        self.endpoints = endpoints
        self.capabilities = capabilities
        self.acme = acme
        self.timeouts = timeouts
        self.conformance = conformance
        self.barrier = barrier
        self.refused: list[SendError] = []
        """Deliveries the CA's SMTP refused in this test (a reply refused at the door)."""
        self._taken: set[int] = set()

    def check(self, rules: Rules, holds: bool, observed: str, expected: str) -> None:
        """Record a finding on each rule checked, then stop the test for them unless it holds."""
        self.conformance.check(rules, holds, observed, expected)

    def fail(self, rules: Rules, observed: str, expected: str) -> NoReturn:
        """Record ``rules`` broken and stop the test for them."""
        self.conformance.fail(rules, observed, expected)

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
        assert problem is not None  # checked just above
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
        """The suite's shared account, or (``fresh``) a new one with a new key (BLOCKED on
        ACCOUNT when the CA will not register it)."""
        try:
            return await self.acme.account(self.account_key(fresh=fresh, kind=kind))
        except (AssertionError, OSError) as error:
            raise needed(ACCOUNT, error) from error

    def account_key(self, *, fresh: bool = False, kind: KeyKind = "p256") -> PrivateKey:
        """The suite's shared account key of ``kind``, or (``fresh``) a new P-256 key."""
        return fresh_key() if fresh else cached_key(f"{SHARED_ACCOUNT_KEY}-{kind}", kind)

    def new_address(self, domain: str = "example.test") -> str:
        """A mailbox nobody has used (tests isolate by address)."""
        return self.world.new_address(domain)

    async def order(self, account: Account, *addresses: str) -> OrderHandle:
        """newOrder for these addresses (default: one fresh address); BLOCKED on ORDER."""
        try:
            return await account.new_order(*(addresses or (self.new_address(),)))
        except (AssertionError, OSError) as error:
            raise needed(ORDER, error) from error

    async def flows(self, order: OrderHandle) -> list[ChallengeFlow]:
        """One flow per authorization of ``order``, each authorization fetched."""
        flows: list[ChallengeFlow] = []
        try:
            urls = order.authorizations
        except AssertionError as error:
            raise needed(ORDER, error) from error
        for url in urls:
            mark = self.mail_mark()
            try:
                authz = await order.account.fetch(url)
            except AssertionError as error:
                raise needed(AUTHORIZATION, error) from error
            value = authz.get("identifier", {}).get("value")
            flow = ChallengeFlow(self, order, url, str(value), mail_mark=mark)
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
        """An order whose every authorization was validated by a conforming reply: ``ready``
        (BLOCKED on ORDER_READY when it does not become so)."""
        account = account or await self.account()
        order = await self.order(account, *addresses)
        for flow in await self.flows(order):
            await flow.complete()
        try:
            body = await account.wait_for_status(order.url, ("ready",), self.timeouts.state)
        except AssertionError as error:
            raise needed(ORDER_READY, error) from error
        if body.get("status") != "ready":
            raise Blocked(
                ORDER_READY,
                f"order {body.get('status')!r} with every authorization valid "
                f"(error {body.get('error')})",
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

    def mail_mark(self) -> int:
        """The sequence number of the world's latest mail (-1 before any)."""
        return max((message.seq for message in self.world.store.messages()), default=-1)

    def misdirected(self, address: str, since: int = -1) -> list[ReceivedMessage]:
        """Challenge emails from the CA after mail ``since`` that no test has taken, addressed
        to a mailbox other than ``address``: where a challenge went when it did not reach
        ``address`` (SEC-11, and CHAL-HDR-2 when their To says so too)."""
        wanted = same_mailbox(address)
        return [
            message
            for message in self.world.store.messages()
            if message.seq > since
            and message.seq not in self._taken
            and self.sent_by_ca(message)
            and token_part1_of(message.data) is not None
            and any(same_mailbox(rcpt) != wanted for rcpt in message.rcpt_tos)
        ]

    def sent_by_ca(self, message: ReceivedMessage) -> bool:
        """Whether the CA sent ``message``: its envelope or From names the ``from`` address."""
        sender = self.endpoints.challenge_from.lower()
        header = (parse_message(message.data).first("From") or "").lower()
        return message.mail_from.lower() == sender or sender in header

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
        address that SPF may not allow (e.g. ``UNAUTHORISED_SOURCE``). A message the CA's SMTP
        refuses with a 5xx reply is kept in :attr:`refused` (a legitimate way to reject a
        forged reply) and returned as that reply; a broken session raises.
        """
        host, port = self.endpoints.reply_smtp
        if source_address is None:
            origin = self.world.domain((source_domain or sender.rpartition("@")[2]).lower())
            source_address, helo = origin.source_ip, f"mx.{origin.name}"
        else:
            helo = "relay.invalid"
        try:
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
        except SendError as error:
            if error.code is None or error.code < 500:
                raise
            self.refused.append(error)
            return SendResult(error.code, error.text, (), False, frozenset())

    async def settle(self, *flows: ChallengeFlow) -> None:
        """Wait until the CA has dealt with the mail sent so far: a control reply validates.

        A black-box barrier: a fresh order's conforming reply goes out after the mail under
        test, so once it validates, a CA that handles mail in arrival order has judged the
        earlier mail too. No wait when every flow in ``flows`` is already final: a final state
        changes no more (RFC 8555 §7.1.6), so there is nothing left to wait for.

        The barrier relies on the CA keeping replies it has not matched yet (SRV-VAL-7): this
        process checks that once (:meth:`replies_in_flight`, as
        ``test_replies_in_flight_are_each_judged`` does), and when it does not hold, or the
        control does not validate, the test is BLOCKED on BARRIER rather than judged on a
        reply the CA may have thrown away.
        """
        if flows and all([await flow.final() for flow in flows]):
            return
        try:
            if self.barrier.broken is None:
                held, observed = await self.replies_in_flight()
                self.barrier.broken = "" if held else observed
            if self.barrier.broken:
                raise Blocked(BARRIER, f"replies in flight are not kept: {self.barrier.broken}")
            flow = await self.flow()
            await flow.complete()
        except Blocked as error:
            raise needed(BARRIER, error) from error

    async def replies_in_flight(self) -> tuple[bool, str]:
        """Whether two enrollments whose replies are both in before either POST both validate,
        and what was seen (SRV-VAL-7).

        The later reply's challenge is POSTed first: a CA that scans one shared mailbox in
        arrival order meets the earlier reply on its way, and must leave it for its own
        challenge. BLOCKED on the step it needs when that does not happen.
        """
        earlier, later = await self.flow(), await self.flow()
        await earlier.answer()
        await later.answer()
        seen: list[str] = []
        valid = 0
        for name, flow in (("later", later), ("earlier", earlier)):
            response = await flow.post()
            status = (await flow.wait_challenge("valid")).get("status")
            valid += status == "valid"
            seen.append(
                f"the {name} reply's challenge {status}, authorization "
                f"{flow.authz.get('status')} (POST HTTP {response.status_code})"
            )
        return valid == 2, "; ".join(seen)

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


def malformed_token_parts(token_part1: str, token_part2: str) -> tuple[tuple[str, ...], str] | None:
    """The rows and the complaint when a token part is no base64url, so no key authorization
    can be formed (TOK-4 for the Subject's part, CHAL-OBJ-2 for the object's); else None.

    A strict client answers no such challenge (RFC 8823 §3.1 (1), RFC 8555 §8.1).
    """
    for rows, name, part in (
        (("TOK-4",), "token-part1", token_part1),
        (("CHAL-OBJ-2",), "token-part2", token_part2),
    ):
        try:
            entropy_octets(part)
        except ValueError as error:
            return rows, f"{name} {part!r}: {error}"
    return None


def misdirected_rows(astray: Sequence[ReceivedMessage], address: str) -> tuple[str, ...]:
    """The rows challenge mail that went elsewhere breaks: SEC-11 (another mailbox got the
    challenge, docs/decisions.md#decision-8), and CHAL-HDR-2 when a To of it does not name
    ``address`` either."""
    wanted = same_mailbox(address)
    to_elsewhere = any(
        same_mailbox(parse_single_address(parse_message(m.data).first("To") or "").addr_spec or "")
        != wanted
        for m in astray
    )
    return ("CHAL-HDR-2", "SEC-11") if to_elsewhere else ("SEC-11",)
