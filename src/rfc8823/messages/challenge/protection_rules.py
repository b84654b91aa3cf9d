"""Rules for S/MIME header protection: From, To and Subject protected and equal to the outer
header, by RFC 8551 §3.1 wrapping or an RFC 7508 SecureHeaderFields attribute.

RFC 8823 §3.1 (6); CHAL-BODY-3, REF-8551-1, REF-7508-1, AMB-8.
"""

from __future__ import annotations

from rfc8823.auth import secure_headers
from rfc8823.auth.secure_headers import Malformed, SecureHeaders
from rfc8823.findings import broken, info, passed
from rfc8823.messages.challenge.smime_layer import SignedContent
from rfc8823.messages.headers import decode_header_value
from rfc8823.messages.judge import Judge
from rfc8823.messages.mime import ParsedMessage

MUST_PROTECT = ("From", "To", "Subject")
"""Fields S/MIME header protection must cover at least (CHAL-BODY-3, AMB-8)."""


def judge_protection(
    parsed: ParsedMessage,
    signed: SignedContent,
    secure: SecureHeaders | Malformed | None,
    judge: Judge,
) -> None:
    """From/To/Subject protected and equal to the outer ones (CHAL-BODY-3, AMB-8).

    Either mechanism counts: RFC 8551 §3.1 message/rfc822 wrapping, compared decoded and with
    white space collapsed, or an RFC 7508 SecureHeaderFields attribute, compared in the
    canonicalization it declares (§4.3, §4.5.2). A field declared deleted or modified (§4.4)
    must still be shown: only encryption changes the outer header, and a challenge is
    signed, not encrypted. When both mechanisms appear, both must agree with the outer header.
    Which one is used is INFO on REF-8551-1 / REF-7508-1.
    """
    if isinstance(secure, Malformed):
        observed = f"malformed RFC 7508 SecureHeaderFields: {secure.reason}"
        judge.add(broken("CHAL-BODY-3", observed, "a valid attribute (RFC 7508 §4.1)"))
        return
    used = []
    problems = []
    if signed.protected is not None:
        used.append("RFC 8551 §3.1 wrapping")
        judge.add(info("REF-8551-1", "headers protected by message/rfc822 wrapping (AMB-8)"))
        problems += _wrapping_problems(parsed, signed.protected)
    if secure is not None:
        used.append(f"an RFC 7508 attribute ({secure.canonicalization})")
        observed = "headers protected by a SecureHeaderFields signed attribute (AMB-8)"
        judge.add(info("REF-7508-1", observed, f"{secure.canonicalization} canonicalization"))
        problems += _attribute_problems(parsed, secure)
    if not used:
        if not signed.visible:
            judge.add(info("CHAL-BODY-3", "opaque signed-data not opened without verification"))
            return
        observed = "signed content is not message/rfc822 and carries no RFC 7508 attribute"
        judge.add(broken("CHAL-BODY-3", observed, "RFC 8551 §3.1 or RFC 7508 protection"))
        return
    if problems:
        expected = "From, To and Subject protected and equal to the outer ones"
        judge.add(broken("CHAL-BODY-3", "; ".join(problems), expected))
    else:
        shown = " and ".join(used)
        judge.add(passed("CHAL-BODY-3", f"From, To and Subject protected by {shown} and equal"))


def _normalised(message: ParsedMessage, name: str) -> list[str]:
    return [" ".join(decode_header_value(value).text.split()) for value in message.all(name)]


def _wrapping_problems(parsed: ParsedMessage, inner: ParsedMessage) -> list[str]:
    """From/To/Subject of a message/rfc822 wrapper that differ from the outer ones (RFC 8551)."""
    return [
        f"RFC 8551: outer {field} {_normalised(parsed, field)} differs from the protected "
        f"{_normalised(inner, field)}"
        for field in MUST_PROTECT
        if _normalised(parsed, field) != _normalised(inner, field)
    ]


def _attribute_problems(parsed: ParsedMessage, secure: SecureHeaders) -> list[str]:
    """From/To/Subject the RFC 7508 attribute leaves out or gives otherwise (§4.3, §4.5.2)."""
    problems = []
    for field in MUST_PROTECT:
        reason = secure_headers.mismatch(parsed.headers, secure, field)
        if reason is None and not secure.named(field) and parsed.all(field):
            reason = f"{field} is not protected"
        if reason is not None:
            problems.append(f"RFC 7508: {reason}")
    return problems
