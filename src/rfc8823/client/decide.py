"""Whether to answer a challenge email: the inspector's findings, read as a client's policy.

The rules themselves live in :mod:`rfc8823.messages.challenge`; this module only chooses which
broken rules make the client refuse, matches the message to a pending enrollment, and refuses
replies, unsolicited challenges and ones already answered. Pure: the DKIM/S/MIME verdicts and
the answered-ledger lookup come in as arguments. RFC 8823 §3 steps 5-6, §3.1; FLOW-4, FLOW-6.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rfc8823.auth.spf_dmarc import is_aligned
from rfc8823.domains import affix_match
from rfc8823.faults import NO_FAULTS, FaultSet
from rfc8823.faults import client as client_faults
from rfc8823.findings import Finding, Verdict
from rfc8823.messages.challenge import (
    ChallengeAuth,
    ChallengeExpectation,
    ChallengeReport,
    inspect_challenge,
)
from rfc8823.messages.headers import (
    addresses_equal,
    domain_of,
    parse_acme_subject,
    parse_single_address,
    unfold,
)
from rfc8823.messages.mime import parse_message

BLOCKING_REQUIREMENTS = frozenset(
    {
        "CHAL-AUTH-1",
        "CHAL-DKIM-1",
        "CHAL-DKIM-3",
        "CHAL-SMIME-1",
        "CHAL-SMIME-2",
        "CHAL-BODY-3",
        "CHAL-AUTO-1",
        "CHAL-HDR-1",
        "CHAL-HDR-2",
        "TOK-4",
    }
)
"""Broken rules that make the client refuse a challenge (authenticity, sender, recipient)."""

_ADDRESS_FIELDS = {"CHAL-HDR-1": "From", "CHAL-HDR-2": "To"}


@dataclass(frozen=True)
class PendingChallenge:
    """An enrollment waiting for its email: identifier, challenge ``from``, token-part2."""

    identifier: str
    challenge_from: str
    token_part2: str
    challenge_url: str

    def expectation(self) -> ChallengeExpectation:
        """What the inspector checks the email against."""
        return ChallengeExpectation(self.identifier, self.challenge_from, self.token_part2)


@dataclass(frozen=True)
class Acceptance:
    """Answer this email: it belongs to ``pending`` and carries ``token_part1``."""

    pending: PendingChallenge
    token_part1: str
    message_id: str | None
    report: ChallengeReport


@dataclass(frozen=True)
class Refusal:
    """Do not answer: ``requirements`` broken, ``reasons`` say how.

    ``is_challenge`` is False for mail that is not an ACME challenge at all (no ``ACME:``
    label), which a mailbox naturally receives and which is not worth reporting as refused.
    """

    requirements: frozenset[str]
    reasons: tuple[str, ...]
    message_id: str | None
    token_part1: str | None
    is_challenge: bool = True

    def __str__(self) -> str:
        return "; ".join(self.reasons)


AnsweredLookup = Callable[[str | None, str], bool]
"""Whether a challenge (by Message-ID and token-part1) was answered before (FLOW-6)."""


SignatureKind = Literal["none", "failed-dkim", "untrusted-smime", "other"]


SignerCheck = Callable[[str, str], bool]
"""A mistaken comparison of a DKIM ``d=`` (first) with the From domain (second)."""


@dataclass(frozen=True)
class Signed:
    """What a tolerance looks at in a challenge: how it is signed, whether it has
    Auto-Submitted, the ``d=`` of its passing DKIM signatures and its From domain."""

    signature: SignatureKind
    auto_submitted: bool
    signers: tuple[str, ...]
    author: str | None

    def signed_as(self, check: SignerCheck) -> bool:
        """Whether a passing signature's ``d=`` passes ``check`` against the From domain."""
        author = self.author
        return author is not None and any(check(signer, author) for signer in self.signers)


@dataclass(frozen=True)
class Tolerance:
    """What a fault lets through: a broken rule of ``rules``, when the message is signed the
    ``signature`` way, has (True) or lacks (False) Auto-Submitted, and has a passing DKIM
    signature whose ``d=`` the ``signer`` check takes for the From domain; None matches any."""

    rules: frozenset[str]
    signature: SignatureKind | None = None
    auto_submitted: bool | None = None
    signer: SignerCheck | None = None

    def covers(self, rule: str, signed: Signed) -> bool:
        """Whether this tolerance lets ``rule`` through for such a message."""
        return (
            rule in self.rules
            and self.signature in (None, signed.signature)
            and self.auto_submitted in (None, signed.auto_submitted)
            and (self.signer is None or signed.signed_as(self.signer))
        )


TOLERATING_FAULTS: dict[str, Tolerance] = {
    client_faults.ANSWERS_UNSIGNED: Tolerance(frozenset({"CHAL-AUTH-1"}), signature="none"),
    client_faults.ANSWERS_FAILED_DKIM: Tolerance(
        frozenset({"CHAL-AUTH-1"}), signature="failed-dkim"
    ),
    client_faults.ANSWERS_UNTRUSTED_SMIME: Tolerance(
        frozenset({"CHAL-AUTH-1", "CHAL-SMIME-2"}), signature="untrusted-smime"
    ),
    client_faults.ANSWERS_MISALIGNED_DKIM: Tolerance(frozenset({"CHAL-DKIM-3"})),
    client_faults.ANSWERS_ORG_ALIGNED_DKIM: Tolerance(
        frozenset({"CHAL-DKIM-3"}), signer=lambda signer, author: is_aligned(signer, author, "r")
    ),
    client_faults.ANSWERS_AFFIX_MATCHED_DKIM: Tolerance(
        frozenset({"CHAL-DKIM-3"}), signer=affix_match
    ),
    client_faults.ANSWERS_THIN_DKIM: Tolerance(frozenset({"CHAL-DKIM-1"})),
    client_faults.ANSWERS_WITHOUT_AUTO_SUBMITTED: Tolerance(
        frozenset({"CHAL-AUTO-1"}), auto_submitted=False
    ),
    client_faults.ANSWERS_AUTO_REPLIED: Tolerance(frozenset({"CHAL-AUTO-1"}), auto_submitted=True),
    client_faults.ANSWERS_FOREIGN_FROM: Tolerance(frozenset({"CHAL-HDR-1"})),
    client_faults.ANSWERS_FOREIGN_TO: Tolerance(frozenset({"CHAL-HDR-2"})),
    client_faults.ANSWERS_SMIME_SIGNER_MISMATCH: Tolerance(frozenset({"CHAL-SMIME-1"})),
    client_faults.ANSWERS_UNPROTECTED_HEADERS: Tolerance(frozenset({"CHAL-BODY-3"})),
}
"""Faults that answer a challenge despite a broken rule, and what each one lets through.

The client's counterpart of the reference CA's ``LENIENT_FAULTS`` (self-validation).
"""


def _signature_kind(auth: ChallengeAuth | None) -> SignatureKind:
    """What signs a message: nothing, only failing DKIM, only S/MIME with no trusted path."""
    if auth is None:
        return "other"
    signatures = auth.dkim.signatures if auth.dkim is not None else ()
    smime = auth.smime
    smime_status = smime.status if smime is not None else "none"
    if not signatures and smime_status == "none":
        return "none"
    if smime_status == "none" and all(s.result != "pass" for s in signatures):
        return "failed-dkim"
    if not signatures and smime is not None and smime.status == "fail":
        return "untrusted-smime" if "Verify error" in smime.reason else "other"
    return "other"


def _tolerated(
    finding: Finding, report: ChallengeReport, auth: ChallengeAuth | None, faults: FaultSet
) -> bool:
    """Whether a switched-on fault lets this broken rule through (``TOLERATING_FAULTS``)."""
    if not faults:
        return False
    froms = report.parsed.all("From")
    sender = parse_single_address(froms[0]).addr_spec if len(froms) == 1 else None
    signed = Signed(
        signature=_signature_kind(auth),
        auto_submitted=bool(report.parsed.all("Auto-Submitted")),
        signers=tuple(
            s.domain
            for s in (auth.dkim.signatures if auth and auth.dkim else ())
            if s.result == "pass"
        ),
        author=domain_of(sender) if sender else None,
    )
    return any(
        faults.on(name) and tolerance.covers(finding.requirement, signed)
        for name, tolerance in TOLERATING_FAULTS.items()
    )


def _blocks(
    finding: Finding,
    report: ChallengeReport,
    pending: PendingChallenge,
    auth: ChallengeAuth | None,
    faults: FaultSet,
) -> bool:
    """A broken blocking rule; an address judged equal but risky in form (AMB-12) is not."""
    if finding.requirement not in BLOCKING_REQUIREMENTS:
        return False
    if _tolerated(finding, report, auth, faults):
        return False
    if finding.verdict is Verdict.FAIL:
        return True
    if finding.verdict is not Verdict.WARN:
        return False
    field = _ADDRESS_FIELDS.get(finding.requirement)
    if field is None:
        return True
    wanted = pending.challenge_from if field == "From" else pending.identifier
    values = report.parsed.all(field)
    written = parse_single_address(values[0]).addr_spec if len(values) == 1 else None
    return written is None or not addresses_equal(written, wanted)


def _refusal(
    requirements: Sequence[str], reasons: Sequence[str], report: ChallengeReport | None
) -> Refusal:
    return Refusal(
        requirements=frozenset(requirements),
        reasons=tuple(reasons),
        message_id=report.message_id if report is not None else None,
        token_part1=report.token_part1 if report is not None else None,
    )


def judge_challenge(
    raw: bytes,
    pending: Sequence[PendingChallenge],
    auth: ChallengeAuth | None,
    answered: AnsweredLookup,
    faults: FaultSet = NO_FAULTS,
) -> Acceptance | Refusal:
    """Answer or refuse one received email (RFC 8823 §3 step 5).

    Refused: anything but an ``ACME:`` Subject; a Subject that reads as a reply (FLOW-4); a
    challenge answered before, by Message-ID or token-part1 (FLOW-6); an email no pending
    enrollment expects (FLOW-4); any broken rule of :data:`BLOCKING_REQUIREMENTS` against the
    best-matching enrollment. ``faults`` (self-validation only) lets some of these through.
    """
    parsed = parse_message(raw)
    subject_values = parsed.all("Subject")
    subject = parse_acme_subject(subject_values[0]) if len(subject_values) == 1 else None
    if subject is None or subject.token_part1 is None:
        shown = repr(subject.decoded) if subject is not None else "no single Subject"
        return Refusal(
            frozenset({"CHAL-SUBJ-1"}),
            (f"not an ACME challenge: {shown}",),
            None,
            None,
            is_challenge=False,
        )
    if subject.is_reply and not faults.on(client_faults.ANSWERS_REPLY_SUBJECT):
        reason = f"FLOW-4: the Subject {subject.decoded!r} reads as a reply, not a challenge"
        return Refusal(frozenset({"FLOW-4"}), (reason,), None, subject.token_part1)
    ids = parsed.all("Message-ID")
    message_id = unfold(ids[0]).strip() if len(ids) == 1 else None
    if answered(message_id, subject.token_part1):
        reason = (
            f"FLOW-6: challenge {message_id or '(no Message-ID)'} with token-part1 "
            f"{subject.token_part1} was answered before; a challenge is answered at most once"
        )
        return Refusal(frozenset({"FLOW-6"}), (reason,), message_id, subject.token_part1)
    if not pending:
        reason = "FLOW-4: unsolicited challenge: no enrollment is waiting for an email"
        return Refusal(frozenset({"FLOW-4"}), (reason,), None, subject.token_part1)
    judged = []
    for candidate in pending:
        report = inspect_challenge(raw, candidate.expectation(), auth)
        blocking = [f for f in report.findings if _blocks(f, report, candidate, auth, faults)]
        if not blocking:
            return _accept(candidate, report)
        judged.append((candidate, report, blocking))
    _, report, blocking = min(judged, key=lambda item: len(item[2]))
    ids = [f.requirement for f in blocking]
    reasons = [str(f) for f in blocking]
    if all({"CHAL-HDR-1", "CHAL-HDR-2"} & {f.requirement for f in b} for _, _, b in judged):
        ids.append("FLOW-4")
        reasons.insert(0, "FLOW-4: no pending enrollment expects this From and To")
    return _refusal(ids, reasons, report)


def _accept(pending: PendingChallenge, report: ChallengeReport) -> Acceptance | Refusal:
    token = report.token_part1
    if token is None:
        return _refusal(["CHAL-SUBJ-1"], ["no token-part1 in the Subject"], report)
    return Acceptance(pending, token, report.message_id, report)
