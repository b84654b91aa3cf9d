"""The client's mail side driven directly: challenge variants it answers, and those it refuses.

Challenges are built with ``ChallengeEmail`` and delivered over SMTP to the client's own MX;
responses are DKIM-signed by the client and submitted (STARTTLS + AUTH) to a submission server
of the test's own, whose store shows exactly what the client sent. A refusal is returned only
after the decision, so an empty store at that moment proves no response went out. Nothing here
changes the shared world's routes, so other tests' routing cannot interfere.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rfc8823.client.answerer import Answered, ChallengeAnswerer, ChallengeVerifier, Refused
from rfc8823.client.decide import PendingChallenge
from rfc8823.client.ledger import AnsweredLedger
from rfc8823.client.mailbox import SmtpMailSource
from rfc8823.client.reply import DkimConfig, SubmissionConfig
from rfc8823.findings import failures
from rfc8823.messages.challenge import ChallengeEmail
from rfc8823.messages.headers import parse_acme_subject
from rfc8823.messages.mime import parse_message
from rfc8823.messages.response import ResponseExpectation, authenticate_response, inspect_response
from rfc8823.tokens import Concatenation, jwk_thumbprint, new_token_part
from rfc8823.world.keys import cached_key
from rfc8823.world.mailstore import MailStore
from rfc8823.world.sendmail import send_message_async
from rfc8823.world.smtp import SmtpServer
from rfc8823.world.world import World

from .support import CA_DOMAIN, USER_DOMAIN

WAIT = 5.0


@dataclass
class Mua:
    """The mail side of one client, expecting one challenge."""

    world: World
    source: SmtpMailSource
    state_file: Path
    pending: PendingChallenge
    thumbprint: str
    submission: SubmissionConfig
    sent: MailStore

    def answerer(self) -> ChallengeAnswerer:
        """A fresh answerer over the same mailbox and state file (a restarted client)."""
        answerer = ChallengeAnswerer(
            source=self.source,
            verifier=ChallengeVerifier(self.world.resolver, (self.world.pki.trust_anchor_path,)),
            ledger=AnsweredLedger(self.state_file),
            submission=self.submission,
            thumbprint=self.thumbprint,
            dkim=DkimConfig(self.world.domain(USER_DOMAIN).dkim_key("rsa"), "rsa"),
        )
        answerer.expect(self.pending)
        return answerer

    def challenge(self, token_part1: str | None = None) -> ChallengeEmail:
        """The conforming challenge for the pending enrollment, DKIM-signed by the CA domain."""
        return ChallengeEmail(
            self.pending.challenge_from,
            self.pending.identifier,
            token_part1 or new_token_part(24),
        ).signed_dkim(self.world.domain(CA_DOMAIN).dkim_key("rsa"), selector="rsa")

    async def deliver(self, raw: bytes, rcpt: str | None = None) -> None:
        """Hand a message to the client's MX, as the CA's mail server would."""
        host, port = self.source.address
        await send_message_async(
            host,
            port,
            mail_from=self.pending.challenge_from,
            rcpt_tos=[rcpt or self.pending.identifier],
            data=raw,
        )

    def sent_to(self, rcpt: str) -> int:
        """How many messages the client submitted for ``rcpt``."""
        return len(self.sent.messages(rcpt))


@pytest.fixture
async def mua(world: World, client_mx: SmtpMailSource, tmp_path: Path) -> AsyncIterator[Mua]:
    """A mail side expecting a challenge from a fresh CA address to a fresh user address."""
    identifier = world.new_address(USER_DOMAIN)
    password = secrets.token_urlsafe(12)
    submission = SmtpServer(
        name="submission",
        tls="starttls",
        ssl_context=world.tls_context,
        require_starttls=True,
        auth={identifier: password},
        auth_required=True,
    )
    async with submission:
        yield Mua(
            world=world,
            source=client_mx,
            state_file=tmp_path / "answered.json",
            pending=PendingChallenge(
                identifier=identifier,
                challenge_from=world.new_address(CA_DOMAIN, prefix="acme"),
                token_part2=new_token_part(16),
                challenge_url="https://ca.invalid/chall/1",
            ),
            thumbprint=jwk_thumbprint(cached_key("client-test-account", "p256")),
            submission=SubmissionConfig(
                *submission.address,
                tls="starttls",
                user=identifier,
                password=password,
                ssl_context=world.client_ssl_context(),
            ),
            sent=submission.store,
        )


async def _answered(mua: Mua, challenge: ChallengeEmail, reply_to: str | None = None) -> bytes:
    """Deliver ``challenge``, expect an answer, and check it the way a CA would."""
    raw = challenge.build()
    await mua.deliver(raw)
    outcome = await mua.answerer().next_outcome(WAIT)
    assert isinstance(outcome, Answered), outcome
    rcpt = reply_to or mua.pending.challenge_from
    received = await mua.sent.next_for(rcpt, WAIT)
    expect = ResponseExpectation.for_challenge(
        raw,
        identifier=mua.pending.identifier,
        token_part2=mua.pending.token_part2,
        thumbprint=mua.thumbprint,
    )
    auth = authenticate_response(
        received.data, resolver=mua.world.resolver, peer_ip=None, mail_from=None, helo=None
    )
    report = inspect_response(received.data, expect, auth)
    assert report.acceptable, report.rejection_reasons
    assert report.reading is Concatenation.STRING
    assert failures(report.findings) == []
    return received.data


def _subject_token(response: bytes) -> str | None:
    subject = parse_message(response).first("Subject")
    assert subject is not None
    return parse_acme_subject(subject).token_part1


async def _refused(mua: Mua, raw: bytes, *requirements: str, rcpt: str | None = None) -> Refused:
    """Deliver ``raw``, expect a refusal naming ``requirements``, and no response at all."""
    await mua.deliver(raw, rcpt)
    outcome = await mua.answerer().next_outcome(WAIT)
    assert isinstance(outcome, Refused), outcome
    assert set(requirements) <= outcome.refusal.requirements, outcome.refusal.reasons
    assert mua.sent_to(mua.pending.challenge_from) == 0
    await mua.sent.expect_none_for(mua.pending.challenge_from, within=0.05)
    return outcome


async def test_answers_a_conforming_challenge(mua: Mua) -> None:
    """FLOW-5, RESP-*: a DKIM-signed challenge gets one acceptable response."""
    data = await _answered(mua, mua.challenge())
    assert b"\r\nContent-Transfer-Encoding: 7bit\r\n" in data
    assert mua.sent_to(mua.pending.challenge_from) == 1


async def test_answers_to_the_reply_to_address(mua: Mua) -> None:
    """RESP-TO-1, CHAL-HDR-3: with Reply-To the response goes there, not to From."""
    validator = mua.world.new_address(CA_DOMAIN, prefix="validator")
    await _answered(mua, mua.challenge().with_reply_to(validator), reply_to=validator)
    assert mua.sent_to(mua.pending.challenge_from) == 0


async def test_answers_a_padded_token_part1_with_the_string_reading(mua: Mua) -> None:
    """AMB-2, docs/decisions.md#decision-2: a 32-octet token-part1 written with '=' is kept as
    written."""
    challenge = mua.challenge(new_token_part(32)).with_padding()
    data = await _answered(mua, challenge)
    assert challenge.written_token.endswith("=")
    assert _subject_token(data) == challenge.written_token


async def test_answers_a_folded_token_part1(mua: Mua) -> None:
    """CHAL-SUBJ-2: white space folded into token-part1 is dropped."""
    challenge = mua.challenge().with_subject_folded()
    assert "\r\n " in challenge.subject_value()
    data = await _answered(mua, challenge)
    assert _subject_token(data) == challenge.token_part1


async def test_answers_an_encoded_subject(mua: Mua) -> None:
    """CHAL-SUBJ-3: an RFC 2047 encoded Subject is decoded first."""
    await _answered(mua, mua.challenge().with_subject_encoded("us-ascii", "B"))


async def test_answers_a_display_name_recipient(mua: Mua) -> None:
    """AMB-12: ``To: Name <identifier>`` is the identifier; only acme_email refuses it."""
    raw_to = f"Alice Example <{mua.pending.identifier}>"
    await _answered(mua, mua.challenge().with_to(raw_to))


async def test_answers_an_smime_signed_challenge(mua: Mua) -> None:
    """CHAL-AUTH-1, CHAL-SMIME-1/2, CHAL-BODY-3: S/MIME with header protection suffices."""
    signer = mua.world.pki.smime_signer(mua.pending.challenge_from)
    challenge = ChallengeEmail(
        mua.pending.challenge_from, mua.pending.identifier, new_token_part(24)
    ).signed_smime(signer)
    await _answered(mua, challenge)


async def test_answers_an_rfc7508_protected_challenge(mua: Mua) -> None:
    """CHAL-BODY-3, AMB-8: a SecureHeaderFields attribute is header protection too."""
    signer = mua.world.pki.smime_signer(mua.pending.challenge_from)
    challenge = ChallengeEmail(
        mua.pending.challenge_from, mua.pending.identifier, new_token_part(24)
    ).signed_smime(signer, header_protection="rfc7508", canonicalization="simple")
    await _answered(mua, challenge)


async def test_refuses_an_rfc7508_challenge_with_another_outer_subject(mua: Mua) -> None:
    """CHAL-BODY-3: the outer Subject is not the one the RFC 7508 attribute protects."""
    signer = mua.world.pki.smime_signer(mua.pending.challenge_from)
    challenge = ChallengeEmail(
        mua.pending.challenge_from, mua.pending.identifier, new_token_part(24)
    ).signed_smime(signer, header_protection="rfc7508")
    raw = challenge.build()
    forged = raw.replace(challenge.token_part1.encode(), new_token_part(24).encode(), 1)
    assert forged != raw
    await _refused(mua, forged, "CHAL-BODY-3")


async def test_refuses_an_unsigned_challenge(mua: Mua) -> None:
    """CHAL-AUTH-1: no DKIM or S/MIME signature, no answer."""
    await _refused(mua, mua.challenge().unsigned().build(), "CHAL-AUTH-1")


async def test_refuses_dkim_of_another_domain(mua: Mua) -> None:
    """CHAL-DKIM-3: a valid signature whose d= is not the From domain is not enough."""
    other = mua.world.domain("other.test").dkim_key("rsa")
    raw = mua.challenge().unsigned().signed_dkim(other, selector="rsa", domain="other.test")
    await _refused(mua, raw.build(), "CHAL-DKIM-3")


async def test_refuses_a_challenge_without_auto_submitted(mua: Mua) -> None:
    """CHAL-AUTO-1: Auto-Submitted: auto-generated is required."""
    await _refused(mua, mua.challenge().with_auto_submitted(None).build(), "CHAL-AUTO-1")


async def test_refuses_a_sender_other_than_the_challenge_from(mua: Mua) -> None:
    """CHAL-HDR-1, FLOW-4: From must be the challenge object's ``from``."""
    stranger = mua.world.new_address(CA_DOMAIN, prefix="someone")
    challenge = ChallengeEmail(stranger, mua.pending.identifier, new_token_part(24)).signed_dkim(
        mua.world.domain(CA_DOMAIN).dkim_key("rsa"), selector="rsa"
    )
    await _refused(mua, challenge.build(), "CHAL-HDR-1", "FLOW-4")


async def test_refuses_a_challenge_for_an_address_it_did_not_request(mua: Mua) -> None:
    """CHAL-HDR-2, FLOW-4: a challenge to another mailbox of the domain is not answered."""
    other = mua.world.new_address(USER_DOMAIN)
    challenge = ChallengeEmail(mua.pending.challenge_from, other, new_token_part(24)).signed_dkim(
        mua.world.domain(CA_DOMAIN).dkim_key("rsa"), selector="rsa"
    )
    await _refused(mua, challenge.build(), "CHAL-HDR-2", "FLOW-4", rcpt=other)


async def test_refuses_a_reply_subject(mua: Mua) -> None:
    """FLOW-4: ``Re: ACME: ...`` reads as a reply, not a challenge."""
    token = new_token_part(24)
    raw = mua.challenge(token).unsigned().with_subject(f"Re: ACME: {token}")
    signed = raw.signed_dkim(mua.world.domain(CA_DOMAIN).dkim_key("rsa"), selector="rsa")
    await _refused(mua, signed.build(), "FLOW-4")


async def test_refuses_a_token_outside_base64url(mua: Mua) -> None:
    """TOK-4: token-part1 with '+' or '/' is not base64url."""
    challenge = mua.challenge().unsigned().with_subject("ACME: abc+def/ghijklmnopqrstuvwxyz0123")
    signed = challenge.signed_dkim(mua.world.domain(CA_DOMAIN).dkim_key("rsa"), selector="rsa")
    await _refused(mua, signed.build(), "TOK-4")


async def test_refuses_an_untrusted_smime_signer(mua: Mua) -> None:
    """CHAL-SMIME-2: an S/MIME signature from an untrusted root authenticates nothing."""
    signer = mua.world.pki.smime_signer(mua.pending.challenge_from, ca="untrusted")
    challenge = ChallengeEmail(
        mua.pending.challenge_from, mua.pending.identifier, new_token_part(24)
    ).signed_smime(signer)
    await _refused(mua, challenge.build(), "CHAL-AUTH-1")


async def test_answers_a_challenge_at_most_once_even_after_a_restart(mua: Mua) -> None:
    """FLOW-6: the same challenge delivered again, before and after a restart, is refused."""
    raw = mua.challenge().build()
    first = mua.answerer()
    await mua.deliver(raw)
    assert isinstance(await first.next_outcome(WAIT), Answered)
    await mua.deliver(raw)
    again = await first.next_outcome(WAIT)
    assert isinstance(again, Refused)
    assert "FLOW-6" in again.refusal.requirements
    restarted = mua.answerer()
    await mua.deliver(raw)
    after_restart = await restarted.next_outcome(WAIT)
    assert isinstance(after_restart, Refused)
    assert "FLOW-6" in after_restart.refusal.requirements
    assert mua.sent_to(mua.pending.challenge_from) == 1


async def test_refuses_unsolicited_challenges(mua: Mua) -> None:
    """FLOW-4: with no enrollment waiting, nothing is answered."""
    answerer = mua.answerer()
    answerer.done_with(mua.pending)
    await mua.deliver(mua.challenge().build())
    outcome = await answerer.next_outcome(WAIT)
    assert isinstance(outcome, Refused)
    assert outcome.refusal.requirements == {"FLOW-4"}
    assert mua.sent_to(mua.pending.challenge_from) == 0


async def test_ignores_mail_that_is_no_challenge(mua: Mua) -> None:
    """Ordinary mail in the mailbox is skipped without being reported as a refused challenge."""
    answerer = mua.answerer()
    await mua.deliver(b"From: a@other.test\r\nSubject: lunch?\r\n\r\nat noon\r\n")
    outcome = await answerer.next_outcome(WAIT)
    assert isinstance(outcome, Refused)
    assert not outcome.refusal.is_challenge
    assert answerer.refused == []
