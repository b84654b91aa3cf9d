"""Rules for a challenge's header fields: Subject, From, To, Reply-To/Cc, Message-ID,
Auto-Submitted.

RFC 8823 §3.1 (1)-(5); CHAL-SUBJ-1..5, REF-2047-1, CHAL-HDR-1..4, CHAL-OBJ-3, CHAL-AUTO-1..3,
REF-3834-1, AMB-12.
"""

from __future__ import annotations

import re

from rfc8823.findings import broken, info, passed, risk
from rfc8823.messages.challenge.expectation import ChallengeExpectation
from rfc8823.messages.challenge.token_rules import judge_token
from rfc8823.messages.headers import (
    ALLOWED_SUBJECT_CHARSETS,
    MAX_ENCODED_WORD,
    EncodedWord,
    addresses_equal,
    decode_header_value,
    is_auto_generated,
    parse_acme_subject,
    parse_auto_submitted,
    parse_single_address,
    type_is_acme,
    unfold,
)
from rfc8823.messages.judge import Judge
from rfc8823.messages.mime import ParsedMessage

_MSG_ID = re.compile(r"<[^<>@\s]+@[^<>\s]+>")


def single_field(parsed: ParsedMessage, name: str, requirement: str, judge: Judge) -> str | None:
    """The single value of ``name``, or None after a finding saying it is absent or repeated."""
    values = parsed.all(name)
    if len(values) == 1:
        return values[0]
    observed = f"{len(values)} {name} fields"
    judge.add(broken(requirement, observed, f"exactly one {name} field"))
    return None


def judge_subject(parsed: ParsedMessage, expect: ChallengeExpectation, judge: Judge) -> str | None:
    """Subject shape, charset and token-part1 rules; returns token-part1 as read (§3.1 (1))."""
    raw = single_field(parsed, "Subject", "CHAL-SUBJ-1", judge)
    if raw is None:
        return None
    subject = parse_acme_subject(raw)
    shown = repr(subject.decoded)
    if subject.token_part1 and subject.label_space_ok and not subject.prefix.strip():
        judge.add(passed("CHAL-SUBJ-1", shown, "'ACME:' FWS token-part1"))
    else:
        detail = "; ".join(subject.problems) or f"text before the label: {subject.prefix!r}"
        judge.add(broken("CHAL-SUBJ-1", shown, "'ACME:' FWS token-part1", detail))
    after = subject.decoded.partition("ACME:")[2].strip(" \t\r\n")
    if "\n" in raw or any(char in after for char in " \t"):
        judge.add(info("CHAL-SUBJ-2", f"folded or spaced token-part1 {after!r}"))
    words = decode_header_value(raw).encoded_words
    if words:
        _judge_encoded_words(words, judge)
    else:
        for rid in ("CHAL-SUBJ-4", "REF-2047-1"):
            judge.add(info(rid, "no encoded-word in the Subject: nothing to decode or judge"))
        _judge_plain_subject(raw, judge)
    token = subject.token_part1
    if token is not None:
        judge_token(token, expect, judge)
    return token


def _judge_plain_subject(raw: str, judge: Judge) -> None:
    """A Subject without encoded-words is plain US-ASCII, as §3.1 (1) prefers (CHAL-SUBJ-5)."""
    if raw.isascii():
        judge.add(passed("CHAL-SUBJ-5", "plain US-ASCII Subject"))
    else:
        judge.add(broken("CHAL-SUBJ-5", "raw non-ASCII Subject", "a plain US-ASCII Subject"))


def _judge_encoded_words(words: tuple[EncodedWord, ...], judge: Judge) -> None:
    """Charset, use and length of a Subject's encoded-words (CHAL-SUBJ-4/5, REF-2047-1)."""
    charsets = sorted({word.charset.lower() for word in words})
    others = [c for c in charsets if c not in ALLOWED_SUBJECT_CHARSETS]
    if others:
        judge.add(broken("CHAL-SUBJ-4", f"charset {', '.join(others)}", "utf-8 or us-ascii"))
    else:
        judge.add(passed("CHAL-SUBJ-4", f"charset {', '.join(charsets)}"))
    judge.add(broken("CHAL-SUBJ-5", f"{len(words)} encoded-word(s)", "a plain US-ASCII Subject"))
    long_words = [word.raw for word in words if len(word.raw) > MAX_ENCODED_WORD]
    if long_words:
        observed = f"encoded-word of {len(long_words[0])} characters"
        judge.add(broken("REF-2047-1", observed, f"at most {MAX_ENCODED_WORD}"))
    else:
        judge.add(passed("REF-2047-1", f"{len(words)} encoded-word(s)"))


def judge_address(
    parsed: ParsedMessage,
    name: str,
    requirement: str,
    wanted: str | None,
    role: str,
    judge: Judge,
) -> str | None:
    """One address field holding exactly ``wanted``, written as the bare addr-spec (AMB-12).

    CHAL-HDR-1/2: another address is broken; display names, brackets or comments are a risk.
    """
    raw = single_field(parsed, name, requirement, judge)
    if raw is None:
        return None
    address = parse_single_address(raw)
    if address.addr_spec is None:
        observed = f"{name}: {unfold(raw)!r} holds {address.count} addresses"
        judge.add(broken(requirement, observed, "exactly one address"))
        return None
    shown = f"{name}: {unfold(raw).strip()!r}"
    if wanted is None:
        judge.add(info(requirement, f"{shown}; the {role} is not known here"))
    elif not addresses_equal(address.addr_spec, wanted):
        judge.add(broken(requirement, shown, wanted))
    elif unfold(raw).strip(" \t") != address.addr_spec:
        detail = "strict clients compare the field with it as a string (AMB-12)"
        judge.add(risk(requirement, shown, f"the bare addr-spec {wanted}", detail))
    else:
        judge.add(passed(requirement, shown, wanted))
    return address.addr_spec


def judge_challenge_from(expect: ChallengeExpectation, judge: Judge) -> None:
    """The challenge object's ``from`` is one bare addr-spec (CHAL-OBJ-3)."""
    if expect.challenge_from is None:
        return
    address = parse_single_address(expect.challenge_from)
    shown = repr(expect.challenge_from)
    if address.count == 1 and address.bare and address.addr_spec == expect.challenge_from.strip():
        judge.add(passed("CHAL-OBJ-3", shown, "a bare addr-spec"))
    else:
        judge.add(broken("CHAL-OBJ-3", shown, "a bare addr-spec"))


def judge_other_headers(parsed: ParsedMessage, judge: Judge) -> tuple[str | None, str | None]:
    """Reply-To/Cc (CHAL-HDR-3) and Message-ID (CHAL-HDR-4); returns Reply-To and Message-ID."""
    reply_to = None
    present = [
        f"{name}: {unfold(value).strip()}"
        for name in ("Reply-To", "Cc")
        for value in parsed.all(name)
    ]
    if present:
        judge.add(info("CHAL-HDR-3", "; ".join(present)))
        raw_reply = parsed.first("Reply-To")
        reply_to = parse_single_address(raw_reply).addr_spec if raw_reply else None
    else:
        judge.add(info("CHAL-HDR-3", "no Reply-To or Cc (both optional)"))
    message_id = None
    raw_id = single_field(parsed, "Message-ID", "CHAL-HDR-4", judge)
    if raw_id is not None:
        candidate = unfold(raw_id).strip()
        if _MSG_ID.fullmatch(candidate):
            message_id = candidate
            judge.add(passed("CHAL-HDR-4", candidate))
        else:
            judge.add(broken("CHAL-HDR-4", repr(candidate), "<id-left@id-right>"))
    return reply_to, message_id


def judge_auto_submitted(parsed: ParsedMessage, judge: Judge) -> None:
    """Auto-Submitted: auto-generated, type=acme, other parameters (CHAL-AUTO-1..3, REF-3834-1)."""
    raw = single_field(parsed, "Auto-Submitted", "CHAL-AUTO-1", judge)
    if raw is None:
        return
    value = parse_auto_submitted(raw)
    shown = repr(unfold(raw).strip())
    if not is_auto_generated(value):
        judge.add(broken("CHAL-AUTO-1", shown, "keyword auto-generated"))
        return
    judge.add(passed("CHAL-AUTO-1", shown))
    if value.problems:
        judge.add(broken("REF-3834-1", shown, "RFC 3834 §5 syntax", "; ".join(value.problems)))
    else:
        judge.add(passed("REF-3834-1", shown, "keyword [; parameter=value]... (RFC 3834 §5)"))
    if type_is_acme(value):
        judge.add(passed("CHAL-AUTO-2", shown, "type=acme"))
    else:
        judge.add(broken("CHAL-AUTO-2", shown, "parameter type=acme"))
    extra = {k: v for k, v in value.parameters.items() if k != "type"}
    judge.add(info("CHAL-AUTO-3", f"further parameters {extra}" if extra else "none further"))
