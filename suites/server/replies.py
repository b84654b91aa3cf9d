"""The user's side of response validation: replies signed and sent as a test needs, and verdicts.

Black box (docs/architecture.md): the CA's decision is read over ACME only, from the challenge and
authorization status after a reply (RFC 8555 §7.5.1), through the authorization URL. A
negative check POSTs the challenge, then, unless the POST left the challenge final, waits
behind a barrier — a control order whose conforming reply goes out after the reply under test
and validates — so the check cannot pass against a CA that never validates or never received
the mail: without the barrier the test is BLOCKED, not passed. The reply under test must then
have left the authorization unvalidated. Afterwards a correct reply to the same authorization,
when it is still open, shows whether the wrong one spoiled it (recorded, SRV-VAL-2).
RFC 8823 §3.2; catalog §2.5.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from hypothesis import strategies as st

from rfc8823.acme.driver import Account
from rfc8823.acme.problems import ProblemType
from rfc8823.findings import broken, passed
from rfc8823.messages.response import ResponseEmail
from rfc8823.report.outcomes import Blocked, RuleBroken
from rfc8823.report.plugin import Conformance, Rules, Severity
from rfc8823.strategies.headers import reply_prefixes
from rfc8823.world.sendmail import SendResult
from rfc8823.world.world import UNAUTHORISED_SOURCE

from .helpers import ChallengeFlow, ServerSuite, needed
from .prerequisites import AUTHENTICATION

INCORRECT_RESPONSE = ProblemType.INCORRECT_RESPONSE.value
"""The problem type a wrong digest from the identifier naturally gets (SRV-VAL-2)."""

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
    requirement: Rules,
    holds: bool,
    observed: str,
    expected: str,
    *,
    severity: Severity = "catalog",
) -> None:
    """Record the check on ``requirement`` (one ID or several); only a FAIL-level break stops
    the test."""
    conformance.judge(requirement, holds, observed, expected, severity=severity)


def provider_signed(
    ca: ServerSuite,
    builder: ResponseEmail,
    *,
    signer: str | None = None,
    selector: str = "rsa",
    headers: tuple[str, ...] | None = None,
    body_length: bool = False,
    canonicalization: tuple[str, str] | None = ("relaxed", "relaxed"),
) -> ResponseEmail:
    """DKIM-signed with the world key of ``signer`` (default: the From domain) as ``d=``;
    ``canonicalization`` None leaves ``c=`` out (simple/simple, RFC 6376 §3.5)."""
    domain = signer or builder.from_domain
    return builder.signed_dkim(
        ca.world.domain(domain).dkim_key(selector),
        selector=selector,
        domain=ca.world.domain(domain).name,
        headers=headers,
        body_length=body_length,
        canonicalization=canonicalization,
    )


async def send_signed(ca: ServerSuite, flow: ChallengeFlow, builder: ResponseEmail) -> SendResult:
    """Sign as the identifier's provider and hand the reply straight to the CA (RFC 8823 §3.2)."""
    return await ca.deliver_direct(flow.address, provider_signed(ca, builder).build())


async def post_once(flow: ChallengeFlow) -> None:
    """The readiness POST of the challenge, unless already made (RFC 8555 §7.5.1) or the
    challenge is already final: a CA may judge a reply before the POST, and a client has nothing
    to signal on an invalid challenge. A POST then would only probe whether invalid stays final,
    which ``test_invalid_challenge_stays_invalid`` owns (A-STATE-1); a CA that reopens would
    show the test's own reply undecided, a second defect that was not there.

    A refused POST is judged on A-CHAL-2, the rule that the challenge URL takes ``{}``.
    """
    if flow.posted or await flow.final():
        return
    response = await flow.post()
    flow.suite.check(
        "A-CHAL-2",
        response.status_code == 200,
        f"challenge POST HTTP {response.status_code}: {response.text[:300]}",
        "200 with the challenge object",
    )


async def unsigned_refused(ca: ServerSuite, flow: ChallengeFlow) -> tuple[bool, str]:
    """Whether ``flow``'s conforming reply, sent unsigned from a source SPF does not authorise,
    is left unvalidated once the barrier has passed; and what was seen (RESP-DKIM-1)."""
    data = flow.reply().build()
    await ca.deliver_direct(flow.address, data, source_address=UNAUTHORISED_SOURCE)
    decision = await decision_after_barrier(ca, flow)
    observed = f"a reply unsigned, from a source SPF does not authorise: {decision}{refusals(ca)}"
    return not decision.validated, observed


async def authenticated(ca: ServerSuite) -> None:
    """Raise ``Blocked`` on AUTHENTICATION unless the CA refuses an unsigned reply from a source
    SPF does not authorise (RESP-DKIM-1); checked once per process, on a flow of its own.

    A test of one DKIM detail (``d=``, ``h=``, ``l=``, the key record) sends its reply from
    such a source, so that SPF cannot vouch for it: what the CA then accepts, it accepted on
    that signature. A CA that takes unsigned mail anyway never looked at the detail, so the
    test is BLOCKED by RESP-DKIM-1, not failed (docs/decisions.md#decision-9).
    """
    try:
        if ca.learnt.authentication is None:
            held, observed = await unsigned_refused(ca, await ca.flow())
            ca.learnt.authentication = "" if held else observed
        if ca.learnt.authentication:
            raise Blocked(AUTHENTICATION, ca.learnt.authentication)
    except Blocked as error:
        raise needed(AUTHENTICATION, error) from error


async def current_decision(flow: ChallengeFlow) -> Decision:
    """The challenge and authorization as they are now (read through the authorization)."""
    challenge, authz = await flow.read()
    return Decision(challenge, authz)


async def decision_after_barrier(ca: ServerSuite, flow: ChallengeFlow) -> Decision:
    """POST (once), let the CA judge the mail sent so far, then read its decision (at once
    when the POST left it final: ``ServerSuite.settle``)."""
    await post_once(flow)
    await ca.settle(flow)
    return await current_decision(flow)


async def decision_when_valid(flow: ChallengeFlow) -> Decision:
    """POST (once) and wait, bounded, until the challenge is valid or final."""
    await post_once(flow)
    challenge = await flow.wait_challenge("valid")
    return Decision(challenge, flow.authz)


def refusals(ca: ServerSuite) -> str:
    """What the CA's SMTP refused in this test, for an observation (empty when nothing)."""
    if not ca.refused:
        return ""
    return "; refused at SMTP: " + "; ".join(f"{e.code} {e.text}" for e in ca.refused)


async def after_a_refused_reply(
    ca: ServerSuite, conformance: Conformance, flow: ChallengeFlow, decision: Decision
) -> None:
    """Whether a correct reply still validates the authorization a refused reply left open.

    The barrier already showed the CA validates conforming replies; this records (SRV-VAL-2,
    INFO) whether a stranger's wrong reply can spoil a pending authorization.
    """
    if not decision.open:
        return
    await flow.answer()
    after = await decision_when_valid(flow)
    shown = "validated" if after.validated else f"not validated ({after})"
    conformance.info(
        "SRV-VAL-2", f"a correct reply after the refused one to the same authorization: {shown}"
    )


async def expect_rejected(
    ca: ServerSuite,
    conformance: Conformance,
    flow: ChallengeFlow,
    requirement: str,
    what: str,
    *,
    severity: Severity = "catalog",
    proof: bool = False,
) -> Decision:
    """The reply just sent must not validate, judged once the barrier has validated.

    ``proof``: the reply voids the proof of mailbox control, so its acceptance is also
    recorded on SEC-11 at FAIL (docs/decisions.md#decision-8).
    """
    decision = await decision_after_barrier(ca, flow)
    observed = f"{what}: {decision}{refusals(ca)}"
    proof_finding = None
    if proof:
        make = broken if decision.validated else passed
        proof_finding = make("SEC-11", observed, "no validation without proof of mailbox control")
        conformance.record(proof_finding)
    judge(
        conformance,
        requirement,
        not decision.validated,
        observed,
        "the authorization not validated",
        severity=severity,
    )
    if proof_finding is not None and decision.validated:
        raise RuleBroken([proof_finding])
    if decision.status == "invalid":
        conformance.info("SRV-VAL-2", f"{what} made the challenge invalid", str(decision))
    if not decision.validated:
        await after_a_refused_reply(ca, conformance, flow, decision)
    return decision


async def record_outcome(
    ca: ServerSuite,
    conformance: Conformance,
    flow: ChallengeFlow,
    requirement: str,
    what: str,
    detail: str = "implementation-defined",
) -> Decision:
    """Where the spec leaves the outcome open: record it (INFO) once the barrier validated."""
    decision = await decision_after_barrier(ca, flow)
    shown = "validated" if decision.validated else f"not validated ({decision}{refusals(ca)})"
    conformance.info(requirement, f"{what}: {shown}", detail)
    if not decision.validated:
        await after_a_refused_reply(ca, conformance, flow, decision)
    return decision


async def expect_validated(
    conformance: Conformance,
    flow: ChallengeFlow,
    requirement: Rules,
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
class Freedom:
    """One freedom of RFC 8823 §3.2 a conforming reply may use, with the rows that grant it."""

    name: str
    requirements: tuple[str, ...]


PREFIX = Freedom("a reply prefix other than 'Re: '", ("RESP-SUBJ-1", "RESP-SUBJ-3"))
FOLDS = Freedom("white space and folds inside token-part1", ("RESP-SUBJ-4",))
ENCODED = Freedom("an RFC 2047 encoded-word Subject", ("RESP-SUBJ-2",))
DIGEST_BREAKS = Freedom("line breaks inside the digest", ("RESP-BODY-3",))
TEXT_AROUND = Freedom("text before or after the block", ("RESP-BODY-4",))
ALTERNATIVE = Freedom("multipart/alternative with a text/html part", ("RESP-BODY-1",))
FREEDOMS = (PREFIX, FOLDS, ENCODED, DIGEST_BREAKS, TEXT_AROUND, ALTERNATIVE)
_DEFAULT_PREFIX = "Re: "


@dataclass(frozen=True)
class ReplyVariation:
    """How to write a conforming reply, drawn before the challenge exists (so it replays).

    Positions are per mille of the token or Subject length, so one variation applies to any
    token; the digest is always 43 characters (a SHA-256 value in base64url). Each part is a
    :class:`Freedom`; :meth:`only` keeps one, so a refused reply can be traced to the freedom
    the CA does not grant.
    """

    prefix: str = _DEFAULT_PREFIX
    folds: tuple[tuple[int, str], ...] = ()
    encoding: tuple[str, Literal["Q", "B"], str | None, tuple[int, ...]] | None = None
    digest_breaks: tuple[int, ...] = ()
    text_before: str = ""
    text_after: str = ""
    alternative: bool = False

    def freedoms(self) -> tuple[Freedom, ...]:
        """The freedoms this variation uses."""
        used = {
            PREFIX: self.prefix != _DEFAULT_PREFIX,
            FOLDS: bool(self.folds),
            ENCODED: self.encoding is not None,
            DIGEST_BREAKS: bool(self.digest_breaks),
            TEXT_AROUND: bool(self.text_before or self.text_after),
            ALTERNATIVE: self.alternative,
        }
        return tuple(freedom for freedom in FREEDOMS if used[freedom])

    def only(self, freedom: Freedom) -> ReplyVariation:
        """This variation with every freedom but ``freedom`` taken back to the plain reply."""
        plain = ReplyVariation()
        if freedom == PREFIX:
            return replace(plain, prefix=self.prefix)
        if freedom == FOLDS:
            return replace(plain, folds=self.folds)
        if freedom == ENCODED:
            return replace(plain, encoding=self.encoding)
        if freedom == DIGEST_BREAKS:
            return replace(plain, digest_breaks=self.digest_breaks)
        if freedom == TEXT_AROUND:
            return replace(plain, text_before=self.text_before, text_after=self.text_after)
        return replace(plain, alternative=self.alternative)

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


EVERY_FREEDOM_ONCE: tuple[ReplyVariation, ...] = (
    ReplyVariation(prefix="AW: "),
    ReplyVariation(folds=((500, "\r\n "),)),
    ReplyVariation(encoding=("utf-8", "Q", None, (500,))),
    ReplyVariation(digest_breaks=(20,)),
    ReplyVariation(text_before=_TEXT_BEFORE[1], text_after=_TEXT_AFTER[1]),
    ReplyVariation(alternative=True),
)
"""One example per freedom, so each row the variation test covers is judged in every run."""


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
