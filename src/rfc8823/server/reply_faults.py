"""How the reference CA misjudges a reply when self-validation faults are on.

The engine judges every reply with :func:`rfc8823.messages.response.inspect_response`; with
faults switched on (``rfc8823.faults.server``) it hands the report here, which drops the
rejection reasons a lenient fault overlooks and adds the ones a strict fault invents. Nothing
here runs without faults. RFC 8823 §3.2; docs/verdicts.md#self-validation.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

import dkim

from rfc8823.auth.dkim import RESPONSE_REQUIRED_HEADERS, missing_signed_headers, parse_tag_list
from rfc8823.auth.spf_dmarc import author_domain, is_aligned
from rfc8823.domains import affix_match, to_a_label
from rfc8823.faults import FaultSet
from rfc8823.findings import Verdict
from rfc8823.messages.headers import parse_acme_subject, unfold
from rfc8823.messages.mime import parse_message
from rfc8823.messages.response import DIGEST_RULES, ResponseAuth, ResponseReport
from rfc8823.tokens import expected_digests, key_authorization, response_digest, without_whitespace

LENIENT_FAULTS: dict[str, frozenset[str]] = {
    "accept-unsigned-reply": frozenset({"RESP-DKIM-1"}),
    "accept-misaligned-dkim-reply": frozenset({"RESP-DKIM-4", "SEC-10"}),
    "accept-reply-beyond-body-length": frozenset({"RESP-DKIM-5", "SEC-10"}),
    "accept-list-reply": frozenset({"RESP-LIST-1"}),
    "accept-reply-from-other-address": frozenset({"RESP-FROM-1"}),
    "accept-other-accounts-digest": frozenset({"SEC-7"}),
    "accept-html-only-reply": frozenset({"RESP-BODY-1", "RESP-HTML-1"}),
}
"""Faults that overlook a reply defect: the rejection reasons each one drops.

A reply whose DKIM signature fails a rule is also refused as an SPF-only pass (SEC-10) when
SPF passed; a CA that takes the signature as good does not get that far.
"""
ALIGNMENT_FAULTS: dict[str, Callable[[str, str], bool]] = {
    "accept-org-aligned-dkim-reply": lambda signer, author: is_aligned(signer, author, "r"),
    "accept-affix-matched-dkim-reply": affix_match,
}
"""Faults that align ``d=`` with the From domain the wrong way, each with the comparison it makes
instead of equality: DMARC's relaxed alignment (RFC 7489 §3.1.1), or text that starts or ends
with the other name. A passing signature so related drops RESP-DKIM-4 (and SEC-10)."""
UNSIGNED_FIELD_FAULTS: dict[str, str] = {
    f"accept-reply-h-without-{name}": name for name in RESPONSE_REQUIRED_HEADERS
}
"""Faults that leave one field out of the ``h=`` list a CA requires (RESP-DKIM-2): a reply whose
aligned signature leaves only that present field unsigned is taken as covering."""
UNSIGNED_FROM_FAULT = "accept-reply-h-without-from"
"""The one of them that also verifies signatures without From in ``h=`` (RFC 6376 §5.4)."""


def misjudged(
    report: ResponseReport, raw: bytes, auth: ResponseAuth, faults: FaultSet
) -> ResponseReport:
    """The judgement of a reply as a CA with these faults makes it.

    A lenient fault drops rejection reasons (``LENIENT_FAULTS``, ``ALIGNMENT_FAULTS``,
    ``UNSIGNED_FIELD_FAULTS``); a strict one refuses a reply for a freedom the sender had.
    """
    reasons = dict.fromkeys(report.rejection_reasons)
    dropped: set[str] = set()
    for name, ids in LENIENT_FAULTS.items():
        if faults.on(name):
            dropped |= ids
    dropped |= _misread_signatures(faults, raw, auth)
    if faults.on("accept-spf-only-reply") and "SEC-10" in reasons:
        dropped |= {"RESP-DKIM-1", "SEC-10"}
    noted = {f.requirement for f in report.findings if f.verdict is Verdict.INFO}
    failed = {f.requirement for f in report.findings if f.verdict in _BROKEN}
    if faults.on("reject-wrapped-digest") and "RESP-BODY-3" in noted:
        reasons["RESP-BODY-3"] = None
    if faults.on("reject-encoded-word-subject") and "RESP-SUBJ-2" in noted:
        reasons["RESP-SUBJ-2"] = None
    if faults.on("reject-folded-token") and "RESP-SUBJ-4" in noted:
        reasons["RESP-SUBJ-4"] = None
    if faults.on("reject-uncommon-reply-prefix"):
        subject = parse_acme_subject(parse_message(raw).first("Subject") or "")
        if subject.prefix not in ("", "Re: "):
            reasons["RESP-SUBJ-3"] = None
    if faults.on("require-in-reply-to") and "RESP-IRT-1" in failed:
        reasons["RESP-IRT-1"] = None
    if faults.on("body-length-read-as-simple") and _short_as_simple(raw):
        reasons["RESP-DKIM-5"] = None
    if faults.on("body-length-needs-c-tag") and _length_without_c_tag(raw):
        reasons["RESP-DKIM-5"] = None
    kept = tuple(reason for reason in reasons if reason not in dropped)
    return dataclasses.replace(report, acceptable=not kept, rejection_reasons=kept)


def _short_as_simple(raw: bytes) -> bool:
    """Whether some signature's ``l=`` falls short of the body read under simple body
    canonicalization, whatever its own ``c=`` says (RFC 6376 §3.4.3, §3.4.4)."""
    message = parse_message(raw)
    body = re.sub(rb"\r?\n", b"\r\n", message.body)
    simple = dkim.CanonicalizationPolicy.from_c_value(b"simple/simple").canonicalize_body(body)
    for value in message.all("DKIM-Signature"):
        try:
            length = parse_tag_list(unfold(value)).get("l")
            if length is not None and int(length) < len(simple):
                return True
        except ValueError:  # an unreadable tag list or l= (TagListError is one)
            continue
    return False


def _length_without_c_tag(raw: bytes) -> bool:
    """Whether some signature has ``l=`` and no ``c=``, which a CA that cannot default the
    canonicalization (RFC 6376 §3.5: simple/simple) cannot measure the body for."""
    for value in parse_message(raw).all("DKIM-Signature"):
        try:
            tags = parse_tag_list(unfold(value))
        except ValueError:  # TagListError
            continue
        if "l" in tags and "c" not in tags:
            return True
    return False


def _misread_signatures(faults: FaultSet, raw: bytes, auth: ResponseAuth) -> set[str]:
    """The reasons a CA with an alignment or ``h=`` fault drops: RESP-DKIM-4 for a ``d=`` its
    comparison takes as the From domain, RESP-DKIM-2 for an aligned signature that leaves only
    the one field it forgets unsigned (SEC-10 with either: the signature counts as good)."""
    author = author_domain(raw)
    passing = [s for s in (auth.dkim.signatures if auth.dkim else ()) if s.result == "pass"]
    if author is None or not passing:
        return set()
    dropped: set[str] = set()
    for name, aligned in ALIGNMENT_FAULTS.items():
        if faults.on(name) and any(aligned(s.domain, author) for s in passing):
            dropped |= {"RESP-DKIM-4", "SEC-10"}
    present = {name.lower() for name, _ in parse_message(raw).headers}
    for name, field in UNSIGNED_FIELD_FAULTS.items():
        if faults.on(name) and any(
            to_a_label(s.domain) == author
            and set(missing_signed_headers(s, RESPONSE_REQUIRED_HEADERS)) & present == {field}
            for s in passing
        ):
            dropped |= {"RESP-DKIM-2", "SEC-10"}
    return dropped


@dataclass(frozen=True)
class Answering:
    """What a faulty digest check works from: this challenge's token parts (token-part1 as
    written), the account's thumbprint, and every challenge of the account for the address."""

    token_part1: str
    token_part2: str
    thumbprint: str
    challenges: tuple[tuple[str, str], ...]


def _digests(token_part1: str, token_part2: str, thumbprint: str) -> set[str]:
    """The digests of ``token_part1 || token_part2`` under every reading (KA-4)."""
    return set(expected_digests(token_part1, token_part2, thumbprint).values())


def _digest_of(token: str, thumbprint: str) -> set[str]:
    """The digest of the key authorization ``token "." thumbprint`` (RFC 8555 §8.1)."""
    return {response_digest(key_authorization(token, thumbprint))}


DIGEST_FAULTS: dict[str, Callable[[Answering], set[str]]] = {
    "accept-earlier-authorizations-digest": lambda a: {
        digest for part1, part2 in a.challenges for digest in _digests(part1, part2, a.thumbprint)
    },
    "accept-earlier-token-part1": lambda a: {
        digest
        for part1, _ in a.challenges
        for digest in _digests(part1, a.token_part2, a.thumbprint)
    },
    "accept-swapped-token-parts": lambda a: _digests(a.token_part2, a.token_part1, a.thumbprint),
    "accept-digest-without-token-part1": lambda a: _digest_of(a.token_part2, a.thumbprint),
    "accept-digest-without-token-part2": lambda a: _digest_of(
        without_whitespace(a.token_part1), a.thumbprint
    ),
}
"""Faults that take a digest of some other key authorization too, each with the digests it
takes besides the right one: any challenge's for the address, as if replies were matched by
address; an earlier token-part1 joined with this token-part2, as if token-part1 were kept per
address; the parts swapped; the token without token-part1 (the challenge token alone, as an
http-01 check computes it) or without token-part2. Self-validation; RFC 8823 §3 step 6."""


def with_lenient_digests(
    report: ResponseReport, faults: FaultSet, answering: Answering
) -> ResponseReport:
    """The judgement of a reply's digest by a CA that also takes the digests its faults
    compute (``DIGEST_FAULTS``): a wrong-digest rejection is dropped when the reply carries
    one of them. The right digest is not among them: a reply that carries it and is still
    refused (a block without its END line, say) was refused for its block, not its digest."""
    if not set(report.rejection_reasons) & DIGEST_RULES:
        return report
    taken = {
        digest
        for name, digests in DIGEST_FAULTS.items()
        if faults.on(name)
        for digest in digests(answering)
    } - _digests(answering.token_part1, answering.token_part2, answering.thumbprint)
    if not taken & {found.rstrip("=") for found in report.digests_found}:
        return report
    kept = tuple(r for r in report.rejection_reasons if r not in DIGEST_RULES)
    return dataclasses.replace(report, acceptable=not kept, rejection_reasons=kept)


_BROKEN = frozenset({Verdict.FAIL, Verdict.WARN})
