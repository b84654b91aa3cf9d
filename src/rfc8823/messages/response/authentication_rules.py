"""Rules for a response's authentication results: aligned, covering, whole-body DKIM.

RFC 8823 §3.2 (8), RFC 6376; RESP-DKIM-1..5, SEC-10 (SPF and DMARC recorded,
docs/decisions.md#decision-5).
"""

from __future__ import annotations

import re

import dkim

from rfc8823.auth.dkim import (
    RESPONSE_RECOMMENDED_HEADERS,
    RESPONSE_REQUIRED_HEADERS,
    DkimResult,
    DkimSignatureResult,
    TagListError,
    missing_signed_headers,
    parse_tag_list,
    to_a_label,
)
from rfc8823.domains import relation
from rfc8823.findings import broken, info, passed
from rfc8823.messages.headers import domain_of, unfold
from rfc8823.messages.judge import Judge
from rfc8823.messages.mime import ParsedMessage
from rfc8823.messages.response.authentication import ResponseAuth

_BYTES_LINE_BREAK = re.compile(rb"\r?\n")


def judge_authentication(
    message: ParsedMessage, from_addr: str | None, auth: ResponseAuth | None, judge: Judge
) -> bool:
    """RESP-DKIM-1..5 and SEC-10: an aligned, covering, whole-body DKIM pass (§3.2 (8))."""
    if auth is None or auth.dkim is None:
        judge.add(
            info("RESP-DKIM-1", "DKIM not checked", "treated as unauthenticated"), rejects=True
        )
        authentic = False
    else:
        authentic = _judge_dkim(message, from_addr, auth.dkim, judge)
    if auth is None:
        return authentic
    if auth.smime is not None and auth.smime.status != "none":
        judge.add(
            info("RESP-DKIM-1", f"S/MIME signature {auth.smime.status}", "not enough on its own")
        )
    _record_spf_dmarc(auth, judge)
    if not authentic and auth.spf is not None and auth.spf.result == "pass":
        observed = f"SPF pass for {auth.spf.domain} without an aligned DKIM pass"
        judge.add(info("SEC-10", observed, "SPF does not authenticate the From"), rejects=True)
    return authentic


def _record_spf_dmarc(auth: ResponseAuth, judge: Judge) -> None:
    """docs/decisions.md#decision-5: SPF and DMARC results are recorded, never decisive."""
    if auth.spf is not None:
        judge.add(info("SEC-10", f"SPF {auth.spf.result} for {auth.spf.domain or 'no domain'}"))
    if auth.dmarc is not None:
        via = f" via {auth.dmarc.aligned_via}" if auth.dmarc.aligned_via else ""
        judge.add(info("SEC-10", f"DMARC {auth.dmarc.result}{via}", auth.dmarc.reason))


def _judge_dkim(
    message: ParsedMessage, from_addr: str | None, result: DkimResult, judge: Judge
) -> bool:
    """Pick the best aligned passing signature and judge its coverage and ``l=``."""
    passing = [sig for sig in result.signatures if sig.result == "pass"]
    if not passing:
        reasons = "; ".join(f"d={s.domain}: {s.result} ({s.reason})" for s in result.signatures)
        observed = reasons or result.error or "no DKIM-Signature"
        judge.add(broken("RESP-DKIM-1", observed, "a valid DKIM signature"), rejects=True)
        return False
    judge.add(passed("RESP-DKIM-1", f"DKIM pass for d={passing[0].domain}"))
    if from_addr is None:
        judge.add(info("RESP-DKIM-4", "no single From address to align d= with"))
        return False
    from_domain = domain_of(from_addr)
    aligned = [sig for sig in passing if to_a_label(sig.domain) == from_domain]
    if not aligned:
        domains = "; ".join(f"d={s.domain}: {relation(s.domain, from_domain)}" for s in passing)
        judge.add(broken("RESP-DKIM-4", domains, f"d={from_domain}"), rejects=True)
        return False
    judge.add(passed("RESP-DKIM-4", f"d={aligned[0].domain}", f"d={from_domain}"))
    body_length = _canonical_body_lengths(message)
    present = {name.lower() for name, _ in message.headers}

    def faults(sig: DkimSignatureResult) -> tuple[list[str], bool]:
        missing = missing_signed_headers(sig, RESPONSE_REQUIRED_HEADERS)
        unsigned = [name for name in missing if name in present]
        limit = body_length.get((sig.domain, sig.selector))
        short = sig.body_length is not None and (limit is None or sig.body_length < limit)
        return unsigned, short

    best = next((sig for sig in aligned if faults(sig) == ([], False)), aligned[0])
    unsigned, short = faults(best)
    missing = missing_signed_headers(best, RESPONSE_REQUIRED_HEADERS)
    if missing:
        detail = f"present but unsigned: {', '.join(unsigned)}" if unsigned else "all absent"
        judge.add(
            broken("RESP-DKIM-2", f"h= lacks {', '.join(missing)}", "the §3.2 list", detail),
            rejects=bool(unsigned),
        )
    else:
        judge.add(passed("RESP-DKIM-2", "h= covers the required fields"))
    recommended = missing_signed_headers(best, RESPONSE_RECOMMENDED_HEADERS)
    if recommended:
        judge.add(broken("RESP-DKIM-3", f"h= lacks {', '.join(recommended)}", "Resent-*, List-*"))
    else:
        judge.add(passed("RESP-DKIM-3", "h= covers Resent-* and List-*"))
    if short:
        limit = body_length.get((best.domain, best.selector))
        observed = f"l={best.body_length} of a {limit if limit is not None else '?'}-octet body"
        judge.add(broken("RESP-DKIM-5", observed, "no l=, or l= covering the body"), rejects=True)
    else:
        judge.add(passed("RESP-DKIM-5", "the whole body is signed"))
    return not unsigned and not short


def _canonical_body_lengths(message: ParsedMessage) -> dict[tuple[str, str], int]:
    """Per (d=, s=), the body length under that signature's body canonicalization (RFC 6376 §3.4).

    Signatures whose ``c=`` cannot be read are left out, which ``_judge_dkim`` treats as short.
    """
    body = _BYTES_LINE_BREAK.sub(b"\r\n", message.body)
    lengths: dict[tuple[str, str], int] = {}
    for value in message.all("DKIM-Signature"):
        try:
            tags = parse_tag_list(unfold(value))
            policy = dkim.CanonicalizationPolicy.from_c_value(
                tags.get("c", "simple/simple").encode("ascii")
            )
            length = len(policy.canonicalize_body(body))
        except (TagListError, dkim.InvalidCanonicalizationPolicyError, UnicodeError, ValueError):
            continue
        lengths.setdefault((tags.get("d", "").lower(), tags.get("s", "")), length)
    return lengths
