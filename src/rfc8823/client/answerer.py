"""The mail user agent's loop: take each incoming email, decide, and answer at most once.

Authentication (DKIM keys over DNS, S/MIME with ``openssl``) runs in a worker thread; the
decision is :func:`~rfc8823.client.decide.judge_challenge`; an accepted challenge is recorded
in the ledger, answered, and submitted. Refusals are logged with the requirement IDs and kept
for the caller's report. RFC 8823 §3 steps 5-6.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from rfc8823.auth.resolver import Resolver
from rfc8823.client.decide import Acceptance, PendingChallenge, Refusal, judge_challenge
from rfc8823.client.errors import EnrollmentError
from rfc8823.client.ledger import AnsweredLedger
from rfc8823.client.mailbox import IncomingMail, MailSource
from rfc8823.client.reply import (
    DkimConfig,
    SubmissionConfig,
    build_response,
    recipients,
    submit,
)
from rfc8823.faults import NO_FAULTS, FaultSet
from rfc8823.faults import client as client_faults
from rfc8823.messages.challenge import ChallengeAuth, authenticate_challenge
from rfc8823.world.sendmail import SendError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answered:
    """A challenge answered: which email, the response sent, and to whom."""

    pending: PendingChallenge
    challenge_message_id: str | None
    token_part1: str
    response: bytes
    recipients: tuple[str, ...]
    origin: str
    answered_at: float


@dataclass(frozen=True)
class Refused:
    """An email not answered, where it came from, and why."""

    origin: str
    refusal: Refusal


@dataclass(frozen=True)
class ChallengeVerifier:
    """What authenticating a challenge needs: a resolver for DKIM keys, S/MIME trust anchors."""

    resolver: Resolver
    trust_anchors: tuple[Path, ...] = ()

    async def authenticate(self, raw: bytes) -> ChallengeAuth:
        """DKIM and S/MIME verdicts (blocking lookups run in a worker thread)."""
        return await asyncio.to_thread(
            authenticate_challenge, raw, resolver=self.resolver, trust_anchors=self.trust_anchors
        )


@dataclass
class ChallengeAnswerer:
    """Answers the challenge emails of the enrollments registered with :meth:`expect`.

    ``faults`` are off unless a self-validation run switches some on.
    """

    source: MailSource
    verifier: ChallengeVerifier
    ledger: AnsweredLedger
    submission: SubmissionConfig
    thumbprint: str
    dkim: DkimConfig | None = None
    faults: FaultSet = NO_FAULTS
    pending: list[PendingChallenge] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    answered: list[Answered] = field(default_factory=list)

    def expect(self, challenge: PendingChallenge) -> None:
        """Wait for this challenge's email (FLOW-4: others are not answered)."""
        self.pending.append(challenge)

    def done_with(self, challenge: PendingChallenge) -> None:
        """Stop expecting an email for this challenge."""
        if challenge in self.pending:
            self.pending.remove(challenge)

    async def handle(self, mail: IncomingMail) -> Answered | Refused:
        """Decide on one email and answer it if accepted."""
        auth = await self.verifier.authenticate(mail.raw)
        decision = judge_challenge(
            mail.raw, tuple(self.pending), auth, self.ledger.is_answered, self.faults
        )
        if isinstance(decision, Refusal):
            outcome = Refused(mail.origin, decision)
            if decision.is_challenge:
                log.warning(
                    "not answering the email from %s: %s", mail.origin, "; ".join(decision.reasons)
                )
                self.refused.append(outcome)
            else:
                log.info("ignoring mail that is not a challenge, from %s", mail.origin)
            return outcome
        answered = await self._answer(mail, decision)
        self.answered.append(answered)
        self.done_with(decision.pending)
        return answered

    async def _answer(self, mail: IncomingMail, accepted: Acceptance) -> Answered:
        pending = accepted.pending
        response = build_response(
            mail.raw,
            identifier=pending.identifier,
            thumbprint=self.thumbprint,
            token_part2=pending.token_part2,
            dkim=self.dkim,
            faults=self.faults,
            answered_before=tuple(
                entry.token_part1
                for entry in self.ledger.entries
                if entry.identifier == pending.identifier
            ),
        )
        message = response.build()
        rcpt = recipients(response)
        entry = self.ledger.record(accepted.message_id, accepted.token_part1, pending.identifier)
        copies = 2 if self.faults.on(client_faults.ANSWERS_TWICE) else 1
        try:
            for _ in range(copies):
                await submit(
                    message,
                    mail_from=pending.identifier,
                    rcpt_tos=rcpt,
                    config=self.submission,
                    faults=self.faults,
                )
        except EnrollmentError as error:
            if not _maybe_delivered(error):
                self.ledger.forget(entry)
            raise
        log.info("answered challenge %s for %s", accepted.message_id, pending.identifier)
        return Answered(
            pending=pending,
            challenge_message_id=accepted.message_id,
            token_part1=accepted.token_part1,
            response=message,
            recipients=rcpt,
            origin=mail.origin,
            answered_at=time.time(),
        )

    async def next_outcome(self, timeout: float) -> Answered | Refused | None:  # noqa: ASYNC109
        """Handle the next email arriving within ``timeout`` s; None if none arrives."""
        mail = await self.source.next_message(timeout)
        if mail is None:
            return None
        return await self.handle(mail)

    async def answer_one(self, timeout: float) -> Answered | None:  # noqa: ASYNC109
        """Handle emails until one is answered or ``timeout`` s pass (refusals are collected)."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            outcome = await self.next_outcome(remaining)
            if isinstance(outcome, Answered):
                return outcome
        return None


def _maybe_delivered(error: EnrollmentError) -> bool:
    """Whether a failed submission may still have delivered (DATA sent, no reply seen)."""
    cause = error.__cause__
    return isinstance(cause, SendError) and cause.stage == "data" and cause.code is None
