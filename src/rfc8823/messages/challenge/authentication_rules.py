"""Rules for a challenge's signatures: a verified DKIM or S/MIME signature, DKIM alignment and
coverage, the S/MIME form, signer and path.

RFC 8823 §3.1 (6); RFC 6376 §3.5, RFC 8551; CHAL-AUTH-1, CHAL-DKIM-1..3, REF-6376-1,
CHAL-BODY-2, CHAL-SMIME-1/2.
"""

from __future__ import annotations

from dataclasses import dataclass

from rfc8823.auth import dkim, smime
from rfc8823.auth.dkim import CHALLENGE_RECOMMENDED_HEADERS, CHALLENGE_REQUIRED_HEADERS
from rfc8823.auth.smime import SmimeResult
from rfc8823.domains import relation
from rfc8823.findings import broken, info, passed
from rfc8823.messages.challenge.authentication import ChallengeAuth
from rfc8823.messages.challenge.smime_layer import SmimeShape
from rfc8823.messages.headers import unfold
from rfc8823.messages.judge import Judge
from rfc8823.messages.mime import ParsedMessage


@dataclass(frozen=True)
class DkimSignature:
    """The parts of a DKIM-Signature the rules look at; ``result`` None when not verified."""

    domain: str
    signed_headers: tuple[str, ...]
    result: str | None


def dkim_signatures(parsed: ParsedMessage, auth: ChallengeAuth | None) -> list[DkimSignature]:
    """DKIM signatures from the verifier when it ran, else read from the header (RFC 6376 §3.5)."""
    if auth is not None and auth.dkim is not None and auth.dkim.signatures:
        return [
            DkimSignature(sig.domain, sig.signed_headers, sig.result)
            for sig in auth.dkim.signatures
        ]
    found = []
    for value in parsed.all("DKIM-Signature"):
        try:
            tags = dkim.parse_tag_list(unfold(value))
        except dkim.TagListError:
            found.append(DkimSignature("", (), "permerror"))
            continue
        names = tuple(n.strip(" \t\r\n").lower() for n in tags.get("h", "").split(":"))
        found.append(DkimSignature(tags.get("d", "").lower(), names, None))
    return found


def relies_on_smime(
    shape: SmimeShape | None, result: SmimeResult | None, from_addr: str | None
) -> bool:
    """Whether the S/MIME signature can stand for the challenge's authenticity (CHAL-DKIM-3).

    It can when present and not verified here, or verified with a signer naming the From.
    """
    if shape is None:
        return False
    if result is None:
        return True
    return (
        result.status == "pass"
        and from_addr is not None
        and smime.signer_matches_from(result, from_addr)
    )


def judge_dkim(
    signatures: list[DkimSignature],
    from_domain: str | None,
    smime_relied: bool,
    judge: Judge,
    present: frozenset[str] = frozenset(),
) -> None:
    """``d=`` alignment and ``h=`` coverage (CHAL-DKIM-1..3, REF-6376-1; RFC 8823 §3.1 (6))."""
    if not signatures:
        return
    aligned = [s for s in signatures if from_domain and dkim.to_a_label(s.domain) == from_domain]
    domains = ", ".join(f"d={s.domain}" for s in signatures)
    if not aligned and smime_relied:
        judge.add(info("CHAL-DKIM-3", f"{domains}; the challenge relies on S/MIME instead"))
        return
    if from_domain is None:
        judge.add(info("CHAL-DKIM-3", f"{domains}; no single From address to align with"))
    elif aligned:
        judge.add(passed("CHAL-DKIM-3", domains, f"d={from_domain}"))
    else:
        judge.add(broken("CHAL-DKIM-3", _related(signatures, from_domain), f"d={from_domain}"))
    verified = [s for s in aligned if s.result in (None, "pass")]
    _judge_coverage((verified or aligned or signatures)[0], judge, present)


def _related(signatures: list[DkimSignature], from_domain: str) -> str:
    """Each ``d=`` with how it stands to the From domain (a sibling, a lookalike ...)."""
    return "; ".join(f"d={s.domain}: {relation(s.domain, from_domain)}" for s in signatures)


def _judge_coverage(chosen: DkimSignature, judge: Judge, present: frozenset[str]) -> None:
    """The ``h=`` list of the signature the receiver relies on (CHAL-DKIM-1/2, REF-6376-1);
    names listed for fields the message lacks are recorded (oversigning, REF-6376-2)."""
    signed = set(chosen.signed_headers)
    where = f"h= of d={chosen.domain}"
    absent = sorted(signed - present)
    judge.add(
        info(
            "REF-6376-2",
            f"{where} also lists {', '.join(absent)}, absent from the message (oversigned)"
            if absent
            else f"{where} lists only fields the message has",
        )
    )
    if "from" in signed:
        judge.add(passed("REF-6376-1", f"{where} covers From"))
    else:
        judge.add(broken("REF-6376-1", f"{where} lacks From", "From in h="))
    required = [n for n in CHALLENGE_REQUIRED_HEADERS if n != "from" and n not in signed]
    if required:
        judge.add(broken("CHAL-DKIM-1", f"{where} lacks {', '.join(required)}", "all listed"))
    else:
        judge.add(passed("CHAL-DKIM-1", f"{where} lists every required field"))
    recommended = [n for n in CHALLENGE_RECOMMENDED_HEADERS if n not in signed]
    if recommended:
        observed = f"{where} lacks {', '.join(recommended)}"
        judge.add(broken("CHAL-DKIM-2", observed, "all listed"))
    else:
        judge.add(passed("CHAL-DKIM-2", f"{where} lists every recommended field"))


def judge_auth(auth: ChallengeAuth | None, shape: SmimeShape | None, judge: Judge) -> None:
    """A DKIM or S/MIME signature verifies (CHAL-AUTH-1, RFC 8823 §3.1 (6))."""
    dkim_result = auth.dkim if auth is not None else None
    smime_result = auth.smime if auth is not None else None
    if dkim_result is None and smime_result is None:
        kind = "S/MIME" if shape else "no S/MIME"
        judge.add(info("CHAL-AUTH-1", f"not checked (no DKIM/S/MIME verdicts given; {kind})"))
        return
    seen = []
    if dkim_result is not None:
        passing = [s.domain for s in dkim_result.signatures if s.result == "pass"]
        if passing:
            judge.add(passed("CHAL-AUTH-1", f"DKIM pass for d={', '.join(passing)}"))
            return
        seen.append(f"DKIM {dkim_result.status}")
    if smime_result is not None:
        if smime_result.status == "pass":
            judge.add(passed("CHAL-AUTH-1", f"S/MIME pass ({smime_result.form})"))
            return
        seen.append(f"S/MIME {smime_result.status}: {smime_result.reason}")
    judge.add(broken("CHAL-AUTH-1", "; ".join(seen), "a verified DKIM or S/MIME signature"))


def judge_smime(
    shape: SmimeShape, result: SmimeResult | None, from_addr: str | None, judge: Judge
) -> None:
    """Form, signer address and certificate path (CHAL-BODY-2, CHAL-SMIME-1/2)."""
    expected_form = "multipart/signed or application/pkcs7-mime; smime-type=signed-data"
    if shape.standard:
        judge.add(passed("CHAL-BODY-2", shape.media_type, expected_form))
    else:
        judge.add(broken("CHAL-BODY-2", shape.media_type, expected_form))
    if result is None:
        return
    if result.status == "pass":
        judge.add(passed("CHAL-SMIME-2", result.reason))
        signers = ", ".join(result.signer_addresses) or "no rfc822Name"
        if from_addr is None:
            judge.add(info("CHAL-SMIME-1", f"signer {signers}; no single From address"))
        elif smime.signer_matches_from(result, from_addr):
            judge.add(passed("CHAL-SMIME-1", f"signer {signers}", from_addr))
        else:
            judge.add(broken("CHAL-SMIME-1", f"signer {signers}", f"rfc822Name {from_addr}"))
    elif result.status == "fail" and "Verify error" in result.reason:
        judge.add(broken("CHAL-SMIME-2", result.reason, "a valid path to a trusted root"))
    elif result.status != "fail":
        judge.add(info("CHAL-SMIME-2", f"not verified: {result.reason}"))
