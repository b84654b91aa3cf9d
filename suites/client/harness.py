"""The client suite's side of each test: a CA, the mail paths around the client, one enrollment.

Mail flows as it would on the Internet, through hops the suite controls:

- the CA sends its challenge emails to the *challenge hop*, which files them into the
  client's mailbox (delivery to the SMTP endpoint the client listens on, a Maildir, or an IMAP
  INBOX in Dovecot), in arrival order, unless the test holds them;
- the client submits its response to the world's submission server, whose provider signs it
  (unless the client signs itself) and relays it to the CA's domain, which the world routes to
  the *response hop*; that hop records it and forwards it to the CA's reply listener.

A test can hold the CA's challenge, put mail of its own into the client's mailbox first
(forged, unsolicited, duplicated), then release it; and it reads what the client sent (the
CA's request log, the responses) afterwards. The hops and deliveries are in ``mailpaths``.

What a test only needs from the client (its order, a response, a certificate) stops it as
BLOCKED on that prerequisite when it does not happen (``prerequisites.py``,
docs/decisions.md#decision-9); what a test judges goes through findings. A message of the test's own
that does not reach the client's mailbox, or a crash of the suite's CA, is the harness's failure
(ERROR), never a verdict. RFC 8823 §3; docs/architecture.md#real-parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives import serialization

from rfc8823.csr import Usage
from rfc8823.findings import Finding, broken, info, passed
from rfc8823.messages.headers import parse_acme_subject
from rfc8823.messages.mime import parse_message
from rfc8823.messages.response import (
    ResponseExpectation,
    ResponseReport,
    authenticate_response,
    inspect_response,
)
from rfc8823.report.outcomes import Blocked, HarnessError, Prerequisite, RuleBroken
from rfc8823.report.plugin import Conformance
from rfc8823.targets.client import (
    ClientCapabilities,
    ClientUnderTest,
    DkimSigner,
    EnrollmentOutcome,
    EnrollmentRequest,
    ImapAccount,
    KeyType,
    MailboxAccess,
    MailboxKind,
    MailboxPacing,
    Submission,
)
from rfc8823.targets.client_plugin import ClientSuiteSettings
from rfc8823.targets.dovecot import Dovecot
from rfc8823.targets.peer_ca import IssuedChallenge, LoggedRequest, PeerBehaviour, PeerCa
from rfc8823.world.mailstore import ReceivedMessage
from rfc8823.world.ports import unused_port
from rfc8823.world.world import World

from .mailpaths import HOST, Hop, MaildirWriter, PacedDelivery, deliver_smtp, send
from .prerequisites import ANSWER, CERTIFICATE, CHALLENGE, CONTROL, READ

USER_DOMAIN = "example.test"
IDN_DOMAIN = "bücher.test"
"""The world's IDN domain in U-labels (``xn--bcher-kva.test``)."""
CA_DOMAIN = "ca.test"
DKIM_SELECTOR = "rsa"
_MARGIN = 5.0
QUIET_PER_ANSWER_TIME = 2.0
"""The quiet window after a must-not-answer challenge: this many times the client's own answer
time for a good challenge in this run, and never below ``--client-quiet``."""
T = TypeVar("T")
Picks = Callable[[ReceivedMessage], bool]
"""Whether a message is one a test looks for."""


def subject_token(raw: bytes) -> str | None:
    """token-part1 of a message's Subject, as a receiver reads it (None without one)."""
    subject = parse_message(raw).first("Subject")
    return parse_acme_subject(subject).token_part1 if subject is not None else None


def international_address(world: World, local_part: str) -> str:
    """A fresh internationalized address (RFC 6531): a non-ASCII local part at the user domain,
    or an ASCII one at the IDN domain written in U-labels."""
    domain = IDN_DOMAIN if local_part.isascii() else USER_DOMAIN
    return world.new_address(USER_DOMAIN, prefix=local_part).replace(USER_DOMAIN, domain)


def threads_under(raw: bytes, message_id: str | None) -> bool:
    """Whether a message's In-Reply-To or References names ``message_id`` (RFC 5322 §3.6.4)."""
    if not message_id:
        return False
    parsed = parse_message(raw)
    values = [*parsed.all("In-Reply-To"), *parsed.all("References")]
    return any(message_id.strip() in value for value in values)


def answering(token_part1: str, challenge: bytes | None = None) -> Picks:
    """Whether a response answers ``token_part1`` (padding ignored) or, given the
    ``challenge``, is threaded under its Message-ID whatever its Subject says: the one way the
    suite finds the client's response to a challenge, so a Subject the response inspector judges
    broken (RESP-SUBJ-1) never hides the response from a test that needs it."""
    wanted = token_part1.rstrip("=")
    message_id = parse_message(challenge).first("Message-ID") if challenge else None

    def answers(message: ReceivedMessage) -> bool:
        token = (subject_token(message.data) or "").rstrip("=")
        return token == wanted or threads_under(message.data, message_id)

    return answers


def quoted(message: ReceivedMessage) -> str:
    """A received message for an assertion message: its sender and Subject."""
    text = message.data.decode("utf-8", "replace")
    head = text.split("\r\n\r\n", 1)[0].splitlines()
    subject = next((line for line in head if line.lower().startswith("subject:")), "no Subject")
    return f"<{message.mail_from}> {subject.strip()}"


@dataclass
class ImapWatch:
    """What the suite's Dovecot shows of the client's IMAP mailbox: what it read, whether it
    opened the INBOX after a message was filed, and (by Message-ID) whether a session of the
    client was waiting in IDLE when the suite filed each message."""

    server: Dovecot
    account: ImapAccount
    watching_at_delivery: dict[str, bool] = field(default_factory=dict)

    def file(self, messages: Sequence[bytes]) -> None:
        """APPEND ``messages`` in one session (blocking), noting first whether the client was
        in IDLE."""
        watching = self.server.watching(self.account)
        for data in messages:
            message_id = parse_message(data).first("Message-ID")
            if message_id:
                self.watching_at_delivery[message_id.strip()] = watching
        self.server.append_many(self.account, messages)

    async def read(self, message_id: str, timeout: float) -> bool:  # noqa: ASYNC109
        """Whether the client read the message (FETCH of its content or ``\\Seen``), waiting
        at most ``timeout`` seconds."""
        return await self.server.wait_read(self.account, timeout, message_id=message_id)

    def opened_after(self, message_id: str) -> bool:
        """Whether a session of the client opened the INBOX after the message was filed."""
        return self.server.opened_after(self.account, message_id)


@dataclass
class Enrollment:
    """One enrollment of the client under test against its own CA, and what it left behind."""

    suite: ClientSuite
    address: str
    peer: PeerCa
    challenges: Hop
    responses: Hop
    request: EnrollmentRequest
    delivery: PacedDelivery
    imap: ImapWatch | None = None
    ca_domain: str = CA_DOMAIN
    task: asyncio.Task[EnrollmentOutcome] | None = None
    issued_challenge: IssuedChallenge | None = None
    result: EnrollmentOutcome | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def world(self) -> World:
        """The suite's world."""
        return self.suite.world

    @property
    def challenge_from(self) -> str:
        """The CA's ``from`` address."""
        return self.peer.challenge_from

    def requests(self) -> tuple[LoggedRequest, ...]:
        """Every request the client made to the CA."""
        return self.peer.requests()

    async def _before_the_end(
        self,
        waiting: Awaitable[T],
        now: Callable[[], T | None],
        what: str,
        prerequisite: Prerequisite,
    ) -> T:
        """``waiting``'s result, unless the client ends or the enrollment time runs out first:
        then BLOCKED on ``prerequisite`` (what the test needed did not happen)."""
        assert self.task is not None, "the enrollment was not started"
        pending = asyncio.ensure_future(waiting)
        limit = self.request.timeout + _MARGIN
        try:
            done, _ = await asyncio.wait(
                {pending, self.task}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not pending.done():
                pending.cancel()
        if pending in done:
            return pending.result()
        with contextlib.suppress(TimeoutError):
            await self.challenges.settle(self.suite.settings.quiet)
            await self.responses.settle(self.suite.settings.quiet)
        found = now()
        if found is not None:
            return found
        ended = self.task.result().describe() if self.task in done else f"running after {limit} s"
        raise Blocked(prerequisite, f"no {what}; the client: {ended}{self.mail_trace()}")

    async def sent_challenge(self) -> ReceivedMessage:
        """The first challenge email the CA sent (held or not)."""
        store = self.challenges.received

        def first() -> ReceivedMessage | None:
            messages = store.messages()
            return messages[0] if messages else None

        limit = self.request.timeout + _MARGIN
        return await self._before_the_end(
            store.wait_until(lambda _: True, limit),
            first,
            f"challenge email from the CA (newOrder payloads: {self.new_orders()})",
            CHALLENGE,
        )

    def new_orders(self) -> list[object]:
        """The JSON payloads of the client's newOrder requests so far (FLOW-1)."""
        return [r.payload_json() for r in self.requests() if r.url.endswith("/acme/new-order")]

    async def ca_challenge(self) -> IssuedChallenge:
        """What the CA knows of the challenge it sent (once it has sent it)."""
        sent = await self.sent_challenge()
        self.issued_challenge = self.issued_challenge or self.peer.challenge_of(sent.data)
        return self.require_issued_challenge()

    async def held_challenge(self) -> ReceivedMessage:
        """The CA's challenge email, held back from the client (``hold=True``)."""
        message = await self._before_the_end(
            self.challenges.next_held(),
            self.challenges.held_now,
            f"challenge email from the CA (newOrder payloads: {self.new_orders()})",
            CHALLENGE,
        )
        self.issued_challenge = self.issued_challenge or self.peer.challenge_of(message.data)
        return message

    async def deliver(self, data: bytes, *, mail_from: str | None = None) -> None:
        """Put a message of the test's own into the client's mailbox, after the queued ones,
        and wait until it is there: a message that never reached the mailbox proves nothing
        about the client (HarnessError)."""
        message = ReceivedMessage(
            mail_from=mail_from or self.challenge_from,
            rcpt_tos=(self.address,),
            data=data,
            peer=(HOST, 0),
            helo="rfc8823-suite",
            tls=False,
            auth_user=None,
            smtputf8=not (data.isascii() and self.address.isascii()),
            listener="suite",
            received_at=time.time(),
        )
        self.challenges.send_on(message)
        await self.delivered(message)

    async def delivered(self, message: ReceivedMessage) -> None:
        """Wait until a message on its way to the client's mailbox is there: one that never got
        there proves nothing about the client (HarnessError). When the client's run had ended by
        then (its own SMTP listener gone with it), the test is BLOCKED on ``CERTIFICATE``: it
        needed the client still enrolling, and the first step of the happy path that broke says
        why it was not."""
        try:
            failure = await self.challenges.forwarded(message, self.request.timeout + _MARGIN)
        except TimeoutError:
            failure = "the challenge hop was still busy delivering it"
        if failure is not None and self.task is not None and self.task.done():
            outcome = await self.outcome()
            raise Blocked(
                CERTIFICATE,
                f"the client's run had ended ({outcome.describe()}) before the test's message "
                f"reached its mailbox: {failure}",
            )
        if failure is not None:
            raise HarnessError(f"a message for the client did not reach its mailbox: {failure}")

    async def client_read(self, data: bytes, timeout: float) -> bool | None:  # noqa: ASYNC109
        """Whether the client read this message (by its Message-ID) within ``timeout`` seconds:
        a FETCH of its content or the ``\\Seen`` flag on the suite's Dovecot. None when the
        mailbox kind cannot tell (SMTP, Maildir) or the message has no Message-ID."""
        message_id = parse_message(data).first("Message-ID")
        if self.imap is None or not message_id:
            return None
        return await self.imap.read(message_id.strip(), timeout)

    def restart(self, *, hold: bool = False) -> None:
        """Start the client again after its run ended: same state folder, CA, address and
        mailbox (the ``restart`` capability). The outcome and the CA's challenge
        are those of the new run from now on; with ``hold`` its challenge is held back."""
        self.suite.require("restart", "that it can be restarted on its state")
        if self.task is None or not self.task.done():
            raise RuntimeError("restart() needs the client's last run to have ended")
        self.challenges.holding = hold
        self.result = None
        self.issued_challenge = None
        self.delivery.deadline = time.monotonic() + self.request.timeout + _MARGIN
        self.delivery.client_ended.clear()
        self._run_client(self.suite.target.restart(self.request))

    def _run_client(self, running: Coroutine[None, None, EnrollmentOutcome]) -> None:
        """Run the client as this enrollment's task; its end releases paced deliveries."""
        self.task = asyncio.get_running_loop().create_task(running)
        self.task.add_done_callback(lambda _: self.delivery.client_ended.set())

    def release(self, message: ReceivedMessage) -> None:
        """Let a held message go on to the client's mailbox."""
        self.challenges.send_on(message)

    async def quiet_window(self) -> float:
        """Seconds left to watch for responses: the quiet time after the last delivery."""
        await self.challenges.settle(self.request.timeout + _MARGIN)
        return max(0.0, self.challenges.last_forwarded + self.suite.quiet - time.monotonic())

    async def outcome(self) -> EnrollmentOutcome:
        """How the enrollment ended (bounded); the CA's challenge is looked up on the way."""
        if self.result is None:
            assert self.task is not None, "the enrollment was not started"
            limit = self.request.timeout + _MARGIN
            try:
                async with asyncio.timeout(limit):
                    self.result = await self.task
            except TimeoutError:
                self.task.cancel()
                self.result = EnrollmentOutcome(
                    False, f"the client did not return within {limit:g} s", elapsed=limit
                )
            first = self.challenges.received.messages()
            if self.issued_challenge is None and first:
                self.issued_challenge = self.peer.challenge_of(first[0].data)
            with contextlib.suppress(TimeoutError):
                await self.challenges.settle(self.suite.settings.quiet)
        return self.result

    async def issued(self) -> EnrollmentOutcome:
        """The outcome, with the certificate the test needs (BLOCKED on CERTIFICATE without)."""
        outcome = await self.outcome()
        if not outcome.issued:
            raise Blocked(
                CERTIFICATE,
                f"{outcome.describe()}: no certificate for {self.address}{self.mail_trace()}",
            )
        return outcome

    def mail_trace(self) -> str:
        """What went through the hops, for assertion messages."""
        sent = [quoted(m) for m in self.challenges.received.messages()]
        answered = [quoted(m) for m in self.responses.received.messages()]
        failures = self.challenges.failures + self.responses.failures
        text = f" (CA sent: {sent or 'nothing'}; responses: {answered or 'none'}"
        return text + (f"; hop failures: {failures})" if failures else ")")

    def responses_received(self) -> list[ReceivedMessage]:
        """Every response that reached the CA's side so far, in order."""
        return self.responses.received.messages()

    async def first_response(self) -> ReceivedMessage:
        """The first response the client sent, as soon as it reaches the CA's side."""
        store = self.responses.received

        def first() -> ReceivedMessage | None:
            messages = store.messages()
            return messages[0] if messages else None

        limit = self.request.timeout + _MARGIN
        return await self._before_the_end(
            store.wait_until(lambda _: True, limit), first, "response email", ANSWER
        )

    async def held_response(self) -> ReceivedMessage:
        """The client's response, held back from the CA (``hold_responses=True``)."""
        return await self._before_the_end(
            self.responses.next_held(), self.responses.held_now, "response email", ANSWER
        )

    async def response(self) -> ReceivedMessage:
        """The first response to the CA's own challenge (by token-part1 or threading) at the CA.

        Issuance is not awaited: a test judges the response itself, so a broken rule is
        reported on its own requirement; tests that need the certificate call :meth:`issued`.
        """
        issued = await self.ca_challenge()
        answers = answering(issued.token_part1, (await self.sent_challenge()).data)

        def first() -> ReceivedMessage | None:
            return next((m for m in self.responses_received() if answers(m)), None)

        limit = self.request.timeout + _MARGIN
        return await self._before_the_end(
            self.responses.received.wait_until(answers, limit),
            first,
            f"response to token-part1 {issued.token_part1}",
            ANSWER,
        )

    async def response_or_none(self, *, unless: Picks | None = None) -> ReceivedMessage | None:
        """The response to the CA's challenge, or None when the client sent none in time (a
        test that judges the answering itself), or as soon as a response ``unless`` picks
        arrives (one the test judges first). BLOCKED if the CA could not even send one."""
        await self.ca_challenge()
        answer = asyncio.ensure_future(self._response_or_none())
        if unless is None:
            return await answer
        limit = self.request.timeout + _MARGIN
        stop = asyncio.ensure_future(self.responses.received.wait_until(unless, limit))
        try:
            await asyncio.wait({answer, stop}, return_when=asyncio.FIRST_COMPLETED)
            if answer.done() or stop.exception() is not None:
                return await answer
            return None
        finally:
            for task in (answer, stop):
                task.cancel()
            await asyncio.gather(answer, stop, return_exceptions=True)

    async def _response_or_none(self) -> ReceivedMessage | None:
        try:
            return await self.response()
        except Blocked as error:
            if error.prerequisite is ANSWER:
                return None
            raise

    def require_issued_challenge(self) -> IssuedChallenge:
        """The CA's challenge for this enrollment (BLOCKED on CHALLENGE before it is sent)."""
        if self.issued_challenge is None:
            raise Blocked(CHALLENGE, f"the CA sent no challenge{self.mail_trace()}")
        return self.issued_challenge

    async def expect_no_response(
        self,
        token_part1: str,
        why: str,
        rules: Sequence[str],
        *,
        challenge: bytes | None = None,
        proof: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        """No response to ``token_part1`` may arrive by the end of the quiet window (one already
        there is judged at once, without waiting for deliveries still paced): judged on
        ``rules``. With the ``challenge`` that must go unanswered, a message threaded under its
        Message-ID counts as an answer too, whatever its Subject says. ``proof``, awaited once
        the window is quiet and before anything is recorded, shows the silence means something
        (it raises ``Blocked`` when it does not) and says how, for the observation."""
        answers = answering(token_part1, challenge)
        try:
            found = next((m for m in self.responses_received() if answers(m)), None)
            if found is None:
                remaining = await self.quiet_window()
                found = await self.responses.received.wait_until(answers, remaining)
        except TimeoutError:
            shown = await proof() if proof is not None else ""
            self.suite.conformance.record(
                *(
                    passed(rid, f"no response within {self.suite.quiet:.2f} s{shown} ({why})")
                    for rid in rules
                )
            )
            return
        findings = [
            broken(rid, f"a response to a challenge it must not answer: {quoted(found)}", why)
            for rid in rules
        ]
        self.suite.conformance.record(*findings)
        raise RuleBroken(findings)

    async def require_read(self, data: bytes, *, control: bytes | None) -> str:
        """That the client read the test's message ``data`` (IMAP: a FETCH of its content or
        ``\\Seen`` on the suite's Dovecot), for an observation; "" where the mailbox kind cannot
        tell (SMTP, Maildir), whose proof is the delivery and the answered control.

        Never read: BLOCKED on ``READ``, owned by this test (a client that never looked at the
        message says nothing by its silence). ``control`` is a message the client answered,
        delivered after ``data``: when the probe does not show that one read either, the probe
        is what failed (HarnessError).
        """
        seen = await self.client_read(data, self.suite.settings.quiet)
        if seen is None:
            return ""
        if seen:
            return ", and the client read it (IMAP FETCH or \\Seen)"
        if control is not None and not await self.client_read(control, 0.0):
            raise HarnessError(
                "the suite's Dovecot showed no read of the challenge the client answered: "
                "its read probe missed what the client did"
            )
        observed = (
            "no FETCH of the test's message and no \\Seen flag on it by the end of the quiet "
            f"window{self.mail_trace()}"
        )
        self.suite.conformance.step(READ, False, rows=(), observed=observed)
        raise Blocked(READ, observed)

    async def require_control(self, answered: ReceivedMessage | None, rule: str) -> None:
        """The positive control: the CA's own challenge, delivered after the test's message, was
        answered. Otherwise BLOCKED on ``CONTROL``, owned by this test; a client that ended its
        run there (gave up its enrollment over the test's message) is recorded INFO on
        ``rule``, the catalog having no row for it."""
        if answered is not None:
            return
        observed = f"no response to the CA's challenge after the test's message{self.mail_trace()}"
        if self.task is not None and self.task.done():
            outcome = await self.outcome()
            observed = f"the client ended its enrollment after the test's message: {observed}"
            self.suite.conformance.record(
                info(rule, f"the client gave up its enrollment: {outcome.describe()}")
            )
        self.suite.conformance.step(CONTROL, False, rows=(), observed=observed)
        raise Blocked(CONTROL, observed)

    async def expect_single_response(
        self, token_part1: str, why: str, rules: Sequence[str]
    ) -> ReceivedMessage:
        """Exactly one response to the CA's challenge, ``token_part1``, by the end of the quiet
        window (``rules``); a response is found as :meth:`response` finds it."""
        first = await self.response()
        answers = answering(token_part1, (await self.sent_challenge()).data)

        def another(message: ReceivedMessage) -> bool:
            return answers(message) and message.seq != first.seq

        remaining = await self.quiet_window()
        try:
            second = await self.responses.received.wait_until(another, remaining)
        except TimeoutError:
            self.suite.conformance.record(
                *(passed(rid, f"one response to token-part1 {token_part1}") for rid in rules)
            )
            return first
        self.suite.conformance.fail(
            tuple(rules), f"a second response to token-part1 {token_part1}: {quoted(second)}", why
        )

    def judge(
        self,
        response: ReceivedMessage,
        challenge: ReceivedMessage,
        *,
        earlier_token_part1s: tuple[str, ...] = (),
    ) -> ResponseReport:
        """The response judged against the challenge it answers (RFC 8823 §3.2); a digest
        made with one of ``earlier_token_part1s`` (earlier challenges to the address) is named."""
        issued = self.require_issued_challenge()
        expect = ResponseExpectation.for_challenge(
            challenge.data,
            identifier=self.address,
            token_part2=issued.token_part2,
            thumbprint=issued.thumbprint,
        )
        expect = replace(expect, earlier_token_part1s=earlier_token_part1s)
        auth = authenticate_response(
            response.data,
            resolver=self.world.resolver,
            peer_ip=response.peer[0],
            mail_from=response.mail_from,
            helo=response.helo,
        )
        return inspect_response(response.data, expect, auth)

    async def close(self) -> None:
        """Stop the hops and the CA (the CA in the background), cancel a running client."""
        if self._closed:
            return
        self._closed = True
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.challenges.stop_async()
        await self.responses.stop_async()
        if self.ca_domain != CA_DOMAIN:
            self.world.unroute(self.ca_domain)
        crashes = self.peer.internal_errors()
        self.suite.stop_later(self.peer)
        if crashes:
            raise HarnessError(f"the suite's CA failed internally: {'; '.join(crashes)}")


class ClientSuite:
    """What a client test works with: the world, the target, and enrollments against a CA."""

    def __init__(
        self,
        world: World,
        target: ClientUnderTest,
        settings: ClientSuiteSettings,
        conformance: Conformance,
        folder: Path,
        dovecot: Callable[[], Dovecot],
        stopping: list[threading.Thread],
        resolv_conf: Path | None = None,
    ) -> None:
        self.world = world
        self.target = target
        self.settings = settings
        self.conformance = conformance
        self.folder = folder
        self.resolv_conf = resolv_conf
        self._dovecot = dovecot
        self._stopping = stopping
        self._runs: list[Enrollment] = []
        self._noted = False
        self.answer_time: float | None = None
        """Seconds the client took to answer a good challenge in this run (the happy path)."""

    @property
    def quiet(self) -> float:
        """How long silence must last to count as not answering: twice the client's own answer
        time for a good challenge in this run, never below ``--client-quiet``."""
        observed = self.answer_time or 0.0
        return max(self.settings.quiet, QUIET_PER_ANSWER_TIME * observed)

    @property
    def capabilities(self) -> ClientCapabilities:
        """What the client under test declares."""
        return self.target.capabilities

    def record(self, findings: Sequence[Finding], requirements: Sequence[str]) -> None:
        """Attach the findings about ``requirements`` to the report."""
        wanted = set(requirements)
        self.conformance.record(*(f for f in findings if f.requirement in wanted))

    def conclude(self, findings: Sequence[Finding], requirements: Sequence[str]) -> None:
        """Attach the findings about ``requirements``; stop the test for FAIL-level ones."""
        wanted = set(requirements)
        self.conformance.conclude(*(f for f in findings if f.requirement in wanted))

    def require(self, flag: str, what: str) -> None:
        """UNSUPPORTED unless the client declares the capability ``flag``."""
        if not self.capabilities.declared(flag):
            self.conformance.unsupported(flag, f"{self.target.name} does not declare {what}")

    def usage_and_key(self, usage: Usage | None, key_type: KeyType | None) -> tuple[Usage, KeyType]:
        """The usage and key type to request (the first declared ones by default)."""
        usages, keys = self.capabilities.usages, self.capabilities.key_types
        chosen_usage: Usage = usage or ("both" if "both" in usages else usages[0])
        chosen_key: KeyType = key_type or keys[0]
        if chosen_usage not in usages:
            self.conformance.unsupported(f"usage={chosen_usage}", "usage not declared")
        if chosen_key not in keys:
            self.conformance.unsupported(f"key-type={chosen_key}", "key type not declared")
        return chosen_usage, chosen_key

    def stop_later(self, peer: PeerCa) -> None:
        """Stop a CA on a thread of its own; the session joins these threads at its end."""
        thread = threading.Thread(target=peer.stop, name="rfc8823-peer-stop", daemon=True)
        thread.start()
        self._stopping.append(thread)

    async def start(
        self,
        behaviour: PeerBehaviour | None = None,
        *,
        hold: bool = False,
        hold_responses: bool = False,
        usage: Usage | None = None,
        key_type: KeyType | None = None,
        email: str | None = None,
        mailbox: MailboxKind | None = None,
        pacing: MailboxPacing | None = None,
        ca_domain: str = CA_DOMAIN,
    ) -> Enrollment:
        """Start a CA and the mail paths for a fresh address, then the client's enrollment.

        ``pacing`` replaces the pacing the client declares, for this enrollment; ``ca_domain``
        is the world domain of the CA's ``from`` address (the DKIM alignment cases put it in
        their mailbox domain): mail for it is routed to this enrollment's CA until the
        enrollment closes.
        """
        chosen_usage, chosen_key = self.usage_and_key(usage, key_type)
        kind = mailbox or self.settings.mailbox
        if kind not in self.capabilities.mailboxes:
            self.conformance.unsupported(f"mailbox={kind}", "mailbox kind not declared")
        address = email or self.world.new_address(USER_DOMAIN)
        folder = self.folder / f"run-{len(self._runs) + 1}"
        (folder / "client").mkdir(parents=True)
        (folder / "suite").mkdir()
        deadline = time.monotonic() + self.settings.enrollment_timeout + _MARGIN
        access, delivery, imap = self._mailbox(
            kind, folder / "suite", deadline, pacing or self.settings.pacing
        )
        challenges = Hop("challenge-hop", delivery)
        challenges.holding = hold
        await challenges.start_async()
        self._note_variants()
        peer = PeerCa(
            self.world,
            challenge_from=self.world.new_address(ca_domain, prefix="acme"),
            smarthost=challenges.address,
            behaviour=behaviour or PeerBehaviour(),
            variants=self.settings.variants,
        ).start()

        async def to_ca(message: ReceivedMessage) -> None:
            await send(
                peer.reply_endpoint, message, source_address=message.peer[0], helo=message.helo
            )

        responses = Hop("response-hop", to_ca)
        responses.holding = hold_responses
        await responses.start_async()
        self.world.route(ca_domain, *responses.address)
        domain = address.rpartition("@")[2]
        self.world.sign_outbound(domain, enabled=not self.capabilities.signs_dkim)
        login, password = self.world.submission_login(address)
        request = EnrollmentRequest(
            directory_url=peer.directory_url,
            ca_bundle=peer.ca_bundle,
            email=address,
            usage=chosen_usage,
            key_type=chosen_key,
            mailbox=access,
            submission=Submission(
                self.world.submission.host, self.world.submission.port, login, password
            ),
            dns=(self.world.dns_endpoint.host, self.world.dns_endpoint.port),
            smime_trust=(self.world.pki.trust_anchor_path,),
            dkim=self._dkim(folder / "suite", domain) if self.capabilities.signs_dkim else None,
            workdir=folder / "client",
            timeout=self.settings.enrollment_timeout,
            log_dir=folder / "log",
            resolv_conf=self.resolv_conf,
        )
        run = Enrollment(
            self, address, peer, challenges, responses, request, delivery, imap, ca_domain
        )
        self._runs.append(run)
        run._run_client(self.target.enroll(request))
        return run

    def _dkim(self, folder: Path, domain: str) -> DkimSigner:
        key = self.world.domain(domain).dkim_key(DKIM_SELECTOR)
        path = folder / "dkim.key.pem"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return DkimSigner(path, DKIM_SELECTOR, self.world.domain(domain).name)

    def _note_variants(self) -> None:
        """INFO, once per test, on each row judged under a variant of the suite's CA."""
        if self._noted:
            return
        self._noted = True
        for note in self.settings.variants.notes():
            self.conformance.info(note.requirement, f"judged under variant {note.name}", note.what)

    def _mailbox(
        self, kind: MailboxKind, folder: Path, deadline: float, pacing: MailboxPacing
    ) -> tuple[MailboxAccess, PacedDelivery, ImapWatch | None]:
        """The mailbox of ``kind``, its paced delivery, and (IMAP) what Dovecot shows of it."""
        if kind == "smtp":
            endpoint = (HOST, unused_port(HOST))

            async def to_listener(message: ReceivedMessage) -> None:
                await deliver_smtp(endpoint, message, paced.deadline)

            paced = PacedDelivery(to_listener, pacing, deadline=deadline)
            return MailboxAccess("smtp", smtp=endpoint), paced, None
        if kind == "maildir":
            writer = MaildirWriter(folder / "Maildir")

            async def to_maildir(message: ReceivedMessage) -> None:
                await asyncio.to_thread(writer.write, message.data)

            paced = PacedDelivery(to_maildir, pacing, deadline=deadline)
            return MailboxAccess("maildir", maildir=writer.path), paced, None
        server = self._dovecot()
        account: ImapAccount = server.add_user(f"mbox-{secrets.token_hex(6)}", "imap-secret")
        watch = ImapWatch(server, account)

        async def to_inbox(message: ReceivedMessage) -> None:
            await asyncio.to_thread(watch.file, [message.data])

        async def burst(messages: Sequence[ReceivedMessage]) -> None:
            await asyncio.to_thread(watch.file, [m.data for m in messages])

        async def watching(timeout: float) -> bool:  # noqa: ASYNC109
            return await server.wait_watching(account, timeout)

        paced = PacedDelivery(to_inbox, pacing, deadline=deadline, many=burst, watching=watching)
        return MailboxAccess("imap", imap=account), paced, watch

    async def close(self) -> None:
        """End every enrollment of the test."""
        for run in self._runs:
            await run.close()
