"""Rules for a challenge's body and lines: human-readable parts, decoys, line length.

RFC 8823 §3.1 (7); RFC 5322 §2.1.1; CHAL-BODY-1, CHAL-HTML-1, REF-5322-1.
"""

from __future__ import annotations

import re

from rfc8823.findings import broken, info, passed
from rfc8823.messages.challenge.smime_layer import SignedContent
from rfc8823.messages.judge import Judge
from rfc8823.messages.mime import MimePart, ParsedMessage
from rfc8823.messages.response.block import BEGIN_MARKER

_DECOY_LABEL = re.compile(r"(?m)^\s*ACME:")
_MAX_LINE = 998


def readable_parts(
    parsed: ParsedMessage, signed: SignedContent | None
) -> tuple[MimePart, ...] | None:
    """The body parts meant for people: inside any S/MIME layer; None when hidden in CMS."""
    if signed is None:
        return parsed.parts
    if signed.protected is not None:
        return signed.protected.parts
    return signed.parts if signed.visible else None


def judge_body(parts: tuple[MimePart, ...] | None, judge: Judge) -> None:
    """Record the body's media types and any machine-looking decoys (CHAL-BODY-1, CHAL-HTML-1)."""
    if parts is None:
        judge.add(info("CHAL-BODY-1", "body inside opaque signed-data, not opened"))
        return
    types = ", ".join(part.content_type for part in parts) or "empty"
    texts = [part.text for part in parts if part.text is not None]
    decoys = [
        label
        for label, present in (
            ("an 'ACME:' line", any(_DECOY_LABEL.search(text) for text in texts)),
            ("a response block", any(BEGIN_MARKER in text for text in texts)),
        )
        if present
    ]
    detail = f"holds {' and '.join(decoys)} that receivers must ignore" if decoys else ""
    judge.add(info("CHAL-BODY-1", f"body parts: {types}", detail))
    has_html = any(part.content_type == "text/html" for part in parts)
    judge.add(info("CHAL-HTML-1", "a text/html part" if has_html else "no text/html part"))


def judge_line_length(raw: bytes, judge: Judge) -> None:
    """No line longer than 998 characters (REF-5322-1, RFC 5322 §2.1.1)."""
    longest = max((len(line.rstrip(b"\r")) for line in raw.split(b"\n")), default=0)
    if longest > _MAX_LINE:
        judge.add(broken("REF-5322-1", f"a line of {longest} characters", f"<= {_MAX_LINE}"))
    else:
        judge.add(passed("REF-5322-1", f"longest line {longest} characters", f"<= {_MAX_LINE}"))
