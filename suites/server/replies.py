"""The user's side of response validation: replies signed and sent as a test needs, and verdicts.

Black box (docs/architecture.md): the CA's decision is read over ACME only, from the challenge and
authorization status after a reply (RFC 8555 §7.5.1). A negative check POSTs the challenge,
waits behind a barrier (a control order validated after the reply under test, so a CA judging
mail in arrival order has judged it), and asserts the authorization is not valid. Its positive
control then answers the same authorization correctly, or a fresh one when the forged reply
failed it, and asserts it becomes valid: a CA that never validates cannot pass a negative test.
RFC 8823 §3.2; catalog §2.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pytest
from hypothesis import strategies as st

from rfc8823.acme.driver import Account
from rfc8823.acme.problems import ProblemType
from rfc8823.findings import Verdict, broken, passed, risk
from rfc8823.messages.response import ResponseEmail
from rfc8823.report.plugin import Conformance
from rfc8823.strategies.headers import reply_prefixes
from rfc8823.world.sendmail import SendResult

from .helpers import ChallengeFlow, ServerSuite

INCORRECT_RESPONSE = ProblemType.INCORRECT_RESPONSE.value
"""The problem type a wrong digest from the identifier naturally gets (SRV-VAL-2)."""

Severity = Literal["catalog", "risk"]
"""How a broken check counts: as the catalog row says (docs/decisions.md#decision-1), or as a WARN
risk."""

_OPEN = frozenset({"pending", "processing"})
_COMMON_PREFIXES = ("Re: ", "RE: ", "AW: ", "Re: Re: ", "[EXT] Re: ")
_TOKEN_GAPS = (" ", "\t", "  ", "\r\n ", "\r\n\t")
_DIGEST_LENGTH = 43
_WORD_ENCODINGS: tuple[Literal["Q", "B"], ...] = ("Q", "B")
_PER_MILLE = st.integers(1, 999)
_TEXT_BEFORE = ("", "Hello,\r\n\r\nhere is my ACME response.\r\n")
_TEXT_AFTER = (
    "",
    "-- \r\nAlice\r\n",
    "> ACME: quoted challenge text\r\n> If you did not ask for a certificate, relax.\r\n",
)


@dataclass(frozen=True)
class Decision:
    """The CA's decision on the replies so far, as ACME shows it."""

    challenge: dict[str, Any]
    authz: dict[str, Any]

    @property
    def status(self) -> str:
        """The challenge status."""
        return str(self.challenge.get("status"))

    @property
    def validated(self) -> bool:
        """Whether the challenge or its authorization became valid."""
        return self.status == "valid" or self.authz.get("status") == "valid"

    @property
    def open(self) -> bool:
        """Whether the challenge still waits for a reply (pending or processing)."""
        return self.status in _OPEN and self.authz.get("status") == "pending"

    @property
    def error_type(self) -> str | None:
        """The challenge's ``error.type``, if it has an error object."""
        error = self.challenge.get("error")
        return str(error.get("type")) if isinstance(error, dict) else None

    def __str__(self) -> str:
        shown = f"challenge {self.status}, authorization {self.authz.get('status')}"
        return shown + (f", error {self.error_type}" if self.error_type else "")


def judge(
    conformance: Conformance,
    requirement: str,
    holds: bool,
    observed: str,
    expected: str,
    *,
    severity: Severity = "catalog",
) -> None:
    """Record the check on ``requirement``; a FAIL-level break also fails the test.

    A WARN-level break (a SHOULD, a derived row, or an interoperability ``risk``) is recorded
    and the test goes on, as docs/decisions.md#decision-1 and docs/verdicts.md say.
    """
    if holds:
        conformance.record(passed(requirement, observed, expected))
        return
    make = risk if severity == "risk" else broken
    finding = make(requirement, observed, expected)
    conformance.record(finding)
    if finding.verdict is Verdict.FAIL:
        pytest.fail(str(finding), pytrace=False)


def provider_signed(
    ca: ServerSuite,
    builder: ResponseEmail,
    *,
    signer: str | None = None,
    selector: str = "rsa",
    headers: tuple[str, ...] | None = None,
    body_length: bool = False,
) -> ResponseEmail:
    """DKIM-signed with the world key of ``signer`` (default: the From domain) as ``d=``."""
    domain = signer or builder.from_domain
    return builder.signed_dkim(
        ca.world.domain(domain).dkim_key(selector),
        selector=selector,
        domain=ca.world.domain(domain).name,
        headers=headers,
        body_length=body_length,
    )


async def send_signed(ca: ServerSuite, flow: ChallengeFlow, builder: ResponseEmail) -> SendResult:
    """Sign as the identifier's provider and hand the reply straight to the CA (RFC 8823 §3.2)."""
    return await ca.deliver_direct(flow.address, provider_signed(ca, builder).build())


async def post_once(flow: ChallengeFlow) -> None:
    """The readiness POST of the challenge, unless already made (RFC 8555 §7.5.1)."""
    if flow.posted:
        return
    response = await flow.post()
    assert response.status_code == 200, (
        f"observed challenge POST HTTP {response.status_code}: {response.text[:300]}; expected 200"
    )


async def current_decision(flow: ChallengeFlow) -> Decision:
    """The challenge and authorization as they are now."""
    challenge = await flow.account.fetch(flow.challenge_url)
    return Decision(challenge, await flow.account.fetch(flow.authz_url))


async def decision_after_barrier(ca: ServerSuite, flow: ChallengeFlow) -> Decision:
    """POST (once), let the CA judge the mail sent so far, then read its decision."""
    await post_once(flow)
    await ca.settle()
    return await current_decision(flow)


async def decision_when_valid(flow: ChallengeFlow) -> Decision:
    """POST (once) and wait, bounded, until the challenge is valid or final."""
    await post_once(flow)
    challenge = await flow.wait_challenge("valid")
    return Decision(challenge, await flow.account.fetch(flow.authz_url))


async def positive_control(ca: ServerSuite, flow: ChallengeFlow, decision: Decision) -> None:
    """A correct reply validates the same authorization, or a fresh one if it is closed."""
    if not decision.open:
        await (await ca.flow(flow.account)).complete()
        return
    await flow.answer()
    after = await decision_when_valid(flow)
    assert after.validated, (
        f"positive control: observed {after} after a correct reply to the same authorization; "
        "expected valid"
    )


async def expect_rejected(
    ca: ServerSuite,
    conformance: Conformance,
    flow: ChallengeFlow,
    requirement: str,
    what: str,
    *,
    severity: Severity = "catalog",
) -> Decision:
    """The reply just sent must not validate; then the positive control must."""
    decision = await decision_after_barrier(ca, flow)
    judge(
        conformance,
        requirement,
        not decision.validated,
        f"{what}: {decision}",
        "the authorization not validated",
        severity=severity,
    )
    if decision.status == "invalid":
        conformance.info("SRV-VAL-2", f"{what} made the challenge invalid", str(decision))
    if not decision.validated:
        await positive_control(ca, flow, decision)
    return decision


async def record_outcome(
    ca: ServerSuite,
    conformance: Conformance,
    flow: ChallengeFlow,
    requirement: str,
    what: str,
    detail: str = "implementation-defined",
) -> Decision:
    """Where the spec leaves the outcome open: record it (INFO); positive control if refused."""
    decision = await decision_after_barrier(ca, flow)
    shown = "validated" if decision.validated else f"not validated ({decision})"
    conformance.info(requirement, f"{what}: {shown}", detail)
    if not decision.validated:
        await positive_control(ca, flow, decision)
    return decision


async def expect_validated(
    conformance: Conformance,
    flow: ChallengeFlow,
    requirement: str,
    what: str,
    *,
    severity: Severity = "catalog",
) -> Decision:
    """The reply just sent must validate the authorization (within the state timeout)."""
    decision = await decision_when_valid(flow)
    judge(
        conformance,
        requirement,
        decision.validated,
        f"{what}: {decision}",
        "valid",
        severity=severity,
    )
    return decision


async def another_authorization(
    ca: ServerSuite, account: Account, address: str, taken: ChallengeFlow
) -> ChallengeFlow:
    """A second authorization for ``address``, from a fresh account if the CA reused ``taken``.

    RFC 8555 §7.1.4 lets a CA hand an account its existing authorization again.
    """
    flow = await ca.flow(account, address, receive=False)
    if flow.authz_url == taken.authz_url:
        flow = await ca.flow(await ca.account(fresh=True), address, receive=False)
    await flow.receive()
    return flow


@dataclass(frozen=True)
class ReplyVariation:
    """How to write a conforming reply, drawn before the challenge exists (so it replays).

    Positions are per mille of the token or Subject length, so one variation applies to any
    token; the digest is always 43 characters (a SHA-256 value in base64url).
    """

    prefix: str
    folds: tuple[tuple[int, str], ...] = ()
    encoding: tuple[str, Literal["Q", "B"], str | None, tuple[int, ...]] | None = None
    digest_breaks: tuple[int, ...] = ()
    text_before: str = ""
    text_after: str = ""
    alternative: bool = False

    def apply(self, reply: ResponseEmail) -> ResponseEmail:
        """The reply written this way."""
        builder = reply.with_subject_prefix(self.prefix)
        token = reply.token_part1
        if self.folds:
            cuts = dict(sorted((_at(per_mille, len(token)), gap) for per_mille, gap in self.folds))
            written = "".join(cuts.get(index, "") + char for index, char in enumerate(token))
            builder = builder.with_subject(f"{self.prefix}ACME: {written}")
        elif self.encoding is not None:
            charset, encoding, language, splits = self.encoding
            length = len(builder.subject())
            builder = builder.with_subject_encoded(
                charset, encoding, language, split_at=[_at(p, length) for p in splits]
            )
        if self.digest_breaks:
            builder = builder.with_digest_wrapped(positions=self.digest_breaks)
        builder = builder.with_text_around(self.text_before, self.text_after)
        return builder.as_alternative() if self.alternative else builder


def _at(per_mille: int, length: int) -> int:
    """A position strictly inside a text of ``length`` characters."""
    return max(1, min(length - 1, per_mille * length // 1000))


@st.composite
def reply_variations(draw: st.DrawFn) -> ReplyVariation:
    """Ways of writing a reply that a CA must accept: the freedoms RFC 8823 §3.2 gives a sender.

    Reply prefixes (RESP-SUBJ-1, -3); folds and white space inside token-part1 (RESP-SUBJ-4);
    RFC 2047 encoded-words with RFC 2231 language tags (RESP-SUBJ-2, docs/decisions.md#decision-6);
    the digest broken over CRLF lines, down to one character a line (RESP-BODY-3); greetings, quoted
    text and signatures around the block (RESP-BODY-4); multipart/alternative (RESP-BODY-1).
    Padding and bare LF are left out: accepting them is only a SHOULD (docs/decisions.md#decision-3,
    RESP-BODY-3 robustness), checked one at a time elsewhere.
    """
    prefix = draw(st.one_of(st.sampled_from(_COMMON_PREFIXES), reply_prefixes()))
    style = draw(st.sampled_from(("plain", "folded", "encoded")))
    folds: tuple[tuple[int, str], ...] = ()
    encoding = None
    if style == "folded":
        gaps = st.sampled_from(_TOKEN_GAPS)
        folds = tuple(draw(st.lists(st.tuples(_PER_MILLE, gaps), min_size=1, max_size=4)))
    elif style == "encoded":
        encoding = (
            draw(st.sampled_from(("utf-8", "UTF-8", "us-ascii"))),
            draw(st.sampled_from(_WORD_ENCODINGS)),
            draw(st.sampled_from((None, "en", "en-US"))),
            tuple(draw(st.lists(_PER_MILLE, max_size=3))),
        )
    if draw(st.booleans()):
        breaks = tuple(range(1, _DIGEST_LENGTH))
    else:
        breaks = tuple(sorted(draw(st.sets(st.integers(1, _DIGEST_LENGTH - 1), max_size=4))))
    return ReplyVariation(
        prefix=prefix,
        folds=folds,
        encoding=encoding,
        digest_breaks=breaks,
        text_before=draw(st.sampled_from(_TEXT_BEFORE)),
        text_after=draw(st.sampled_from(_TEXT_AFTER)),
        alternative=draw(st.booleans()),
    )
