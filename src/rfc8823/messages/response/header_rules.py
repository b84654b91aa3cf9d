"""Rules for a response's header fields: From, To, Cc, Subject, threading, List-*, Auto-Submitted.

RFC 8823 §3.2 (1)-(6); RESP-FROM-1, RESP-TO-1, RESP-CC-1, RESP-SUBJ-1..4, RESP-IRT-1/2,
RESP-LIST-1, RESP-AUTO-1.
"""

from __future__ import annotations

import re

from rfc8823.findings import broken, info, passed
from rfc8823.messages.headers import (
    ACME_LABEL,
    addresses_equal,
    parse_acme_subject,
    parse_single_address,
    unfold,
)
from rfc8823.messages.judge import Judge
from rfc8823.messages.mime import ParsedMessage
from rfc8823.messages.response.expectation import ResponseExpectation
from rfc8823.tokens import without_whitespace

_MSG_ID = re.compile(r"<[^<>]*>")


def judge_from(message: ParsedMessage, expect: ResponseExpectation, judge: Judge) -> str | None:
    """RESP-FROM-1: one From field naming exactly the identifier (RFC 8823 §3.2 (2), I18N-5)."""
    values = message.all("From")
    if len(values) != 1:
        judge.add(
            broken("RESP-FROM-1", f"{len(values)} From fields", f"one From: {expect.identifier}"),
            rejects=True,
        )
        return None
    parsed = parse_single_address(values[0])
    if parsed.addr_spec is None:
        observed = f"From {values[0]!r} naming {parsed.count} addresses"
        judge.add(broken("RESP-FROM-1", observed, expect.identifier), rejects=True)
        return None
    if addresses_equal(parsed.addr_spec, expect.identifier):
        judge.add(passed("RESP-FROM-1", f"From {parsed.addr_spec}", expect.identifier))
    else:
        judge.add(
            broken("RESP-FROM-1", f"From {parsed.addr_spec}", expect.identifier), rejects=True
        )
    return parsed.addr_spec


def judge_to(message: ParsedMessage, expect: ResponseExpectation, judge: Judge) -> None:
    """RESP-TO-1: To names the challenge's Reply-To addresses, else its From (§3.2 (3))."""
    wanted_raw = expect.challenge_reply_to or expect.challenge_from
    wanted = parse_single_address(wanted_raw).addresses or (wanted_raw,)
    values = message.all("To")
    found = [addr for value in values for addr in parse_single_address(value).addresses]
    missing = [w for w in wanted if not any(addresses_equal(w, addr) for addr in found)]
    source = "Reply-To" if expect.challenge_reply_to else "From"
    expected = f"To {', '.join(wanted)} (the challenge's {source})"
    if missing or not values:
        judge.add(broken("RESP-TO-1", f"To {', '.join(found) or 'absent'}", expected))
    else:
        judge.add(passed("RESP-TO-1", f"To {', '.join(found)}", expected))


def judge_cc(message: ParsedMessage, judge: Judge) -> None:
    """RESP-CC-1: a Cc field is recorded and plays no part in the decision (§3.2 (4))."""
    values = message.all("Cc")
    if values:
        shown = "; ".join(unfold(value).strip() for value in values)
        judge.add(info("RESP-CC-1", f"Cc {shown}", "ignored by validation"))


def judge_subject(message: ParsedMessage, expect: ResponseExpectation, judge: Judge) -> str | None:
    """RESP-SUBJ-1..4: the decoded Subject carries ``ACME: <token-part1>`` (§3.2 (1))."""
    wanted = without_whitespace(expect.token_part1)
    expected = f"[reply prefix] {ACME_LABEL} {wanted}"
    values = message.all("Subject")
    if len(values) != 1:
        judge.add(broken("RESP-SUBJ-1", f"{len(values)} Subject fields", expected), rejects=True)
        return None
    parsed = parse_acme_subject(values[0])
    if parsed.charsets:
        detail = "; ".join(parsed.problems)
        observed = (
            f"encoded-words in {parsed.charsets or 'no charset'} decoded to {parsed.decoded!r}"
        )
        judge.add(info("RESP-SUBJ-2", observed, detail))
    if parsed.prefix:
        kind = "a reply prefix" if parsed.is_reply else "not a reply prefix"
        judge.add(info("RESP-SUBJ-3", f"{parsed.prefix!r} before the label ({kind})", "ignored"))
    token = parsed.token_part1
    if token is None:
        judge.add(broken("RESP-SUBJ-1", f"Subject {parsed.decoded!r}", expected), rejects=True)
        return None
    label_at = parsed.decoded.find(ACME_LABEL)
    written = parsed.decoded[label_at + len(ACME_LABEL) :].strip(" \t\r\n")
    if written != token:
        judge.add(info("RESP-SUBJ-4", f"token written as {written!r}", "white space dropped"))
    if token.rstrip("=") != wanted.rstrip("="):
        judge.add(broken("RESP-SUBJ-1", f"token-part1 {token!r}", expected), rejects=True)
        return token
    if token != wanted:
        judge.add(
            info(
                "RESP-SUBJ-1",
                f"token {token!r} differs in '=' padding",
                "docs/decisions.md#decision-3",
            )
        )
    slips = []
    if not parsed.prefix.isascii():
        slips.append(f"prefix {parsed.prefix!r} is not US-ASCII")
    if not parsed.label_space_ok:
        slips.append(f"no white space after {ACME_LABEL!r}")
    if slips:
        judge.add(broken("RESP-SUBJ-1", f"Subject {parsed.decoded!r}", expected, "; ".join(slips)))
    else:
        judge.add(passed("RESP-SUBJ-1", f"Subject {parsed.decoded!r}", expected))
    return token


def _msg_ids(value: str) -> list[str]:
    """The msg-ids of an In-Reply-To/References/Message-ID value, ``<>`` kept (RFC 5322 §3.6.4)."""
    text = unfold(value)
    return [re.sub(r"\s", "", found) for found in _MSG_ID.findall(text)]


def judge_threading(message: ParsedMessage, expect: ResponseExpectation, judge: Judge) -> None:
    """RESP-IRT-1/2: In-Reply-To and References name the challenge's Message-ID (§3.2 (5))."""
    parent = unfold(expect.challenge_message_id or "").strip()
    wanted = (_msg_ids(parent) or [f"<{parent}>"])[0] if parent else None
    for requirement, name in (("RESP-IRT-1", "In-Reply-To"), ("RESP-IRT-2", "References")):
        values = message.all(name)
        shown = "; ".join(unfold(value).strip() for value in values) or "absent"
        if wanted is None:
            judge.add(info(requirement, f"{name} {shown}", "the challenge had no Message-ID"))
            continue
        ids = [found for value in values for found in _msg_ids(value)]
        if wanted in ids:
            judge.add(passed(requirement, f"{name} {shown}", wanted))
            continue
        bare = wanted[1:-1]
        detail = "msg-id lacks its angle brackets" if bare in shown else ""
        judge.add(broken(requirement, f"{name} {shown}", wanted, detail))


def judge_lists(message: ParsedMessage, judge: Judge) -> None:
    """RESP-LIST-1: no List-* field at all, signed or not (§3.2 (6), SEC-3)."""
    names = [name for name, _ in message.headers if name.lower().startswith("list-")]
    if names:
        judge.add(
            broken("RESP-LIST-1", f"fields {', '.join(names)}", "no List-* field"), rejects=True
        )
    else:
        judge.add(passed("RESP-LIST-1", "no List-* field"))


def judge_auto_submitted(message: ParsedMessage, judge: Judge) -> None:
    """RESP-AUTO-1: Auto-Submitted is recorded, never judged (AMB-9)."""
    value = message.first("Auto-Submitted")
    shown = "absent" if value is None else repr(unfold(value).strip())
    judge.add(info("RESP-AUTO-1", f"Auto-Submitted {shown}", "no rule for the response"))
