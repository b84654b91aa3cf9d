"""The ACME Subject: label, token-part1, reply prefixes (RFC 8823 §3.1 item 1, §3.2 item 1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rfc8823.messages.headers.encoded_words import decode_header_value
from rfc8823.messages.headers.whitespace import WHITESPACE

ACME_LABEL = "ACME:"
_TOKEN_PART1 = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_LABEL_AT = re.compile(r"(?<![^\s:\]])ACME:")
_LABEL_ANY_CASE = re.compile(r"(?<![^\s:\]])acme:", re.IGNORECASE)
_FIRST_LABEL_WORD = re.compile(r"[^\s:\[\]]+")
_FORWARD_LABELS = frozenset({"fwd", "fw", "wg", "tr", "rv", "enc"})


@dataclass(frozen=True)
class SubjectParse:
    """A Subject read as ``[prefixes] ACME: <token-part1>`` (RFC 8823 §3.1 item 1, §3.2 item 1)."""

    decoded: str
    prefix: str
    is_reply: bool
    token_part1: str | None
    label_space_ok: bool
    token_alphabet_ok: bool
    charsets: tuple[str, ...]
    problems: tuple[str, ...]


def _looks_like_reply(prefix: str) -> bool:
    """Whether a Subject prefix marks a reply: a label other than a tag or forward (FLOW-4)."""
    rest = prefix.strip(WHITESPACE)
    while rest.startswith("[") and "]" in rest:
        rest = rest[rest.index("]") + 1 :].lstrip(WHITESPACE)
    if not rest:
        return False
    first = _FIRST_LABEL_WORD.match(rest)
    return first is None or first.group(0).lower() not in _FORWARD_LABELS


def parse_acme_subject(raw_subject: str) -> SubjectParse:
    """Extract token-part1 from a raw Subject after unfolding and decoding it.

    The label ``ACME:`` must be followed by at least one WSP (CHAL-SUBJ-1); white space inside
    the token is dropped (CHAL-SUBJ-2, RESP-SUBJ-4); whatever precedes the label is the reply
    prefix (RESP-SUBJ-1, RESP-SUBJ-3). RFC 8823 §3.1 item 1, §3.2 item 1; AMB-5.
    """
    decoded = decode_header_value(raw_subject)
    text = decoded.text
    problems = list(decoded.problems)
    label = _LABEL_AT.search(text)
    if label is None:
        if _LABEL_ANY_CASE.search(text):
            problems.append(f"the label is not written 'ACME:' in {text!r} (CHAL-SUBJ-1)")
        else:
            problems.append(f"no 'ACME:' label in Subject {text!r} (CHAL-SUBJ-1)")
        return SubjectParse(
            decoded=text,
            prefix="",
            is_reply=False,
            token_part1=None,
            label_space_ok=False,
            token_alphabet_ok=False,
            charsets=decoded.charsets,
            problems=tuple(problems),
        )
    prefix = text[: label.start()]
    after = text[label.end() :]
    label_space_ok = after[:1] in (" ", "\t")
    if not label_space_ok:
        problems.append("no white space between 'ACME:' and token-part1 (CHAL-SUBJ-1)")
    token = "".join(char for char in after if char not in WHITESPACE)
    token_alphabet_ok = bool(_TOKEN_PART1.fullmatch(token))
    if not token:
        problems.append("no token-part1 after the 'ACME:' label (CHAL-SUBJ-1)")
    elif not token_alphabet_ok:
        problems.append(f"token-part1 {token!r} is not base64url (TOK-4)")
    return SubjectParse(
        decoded=text,
        prefix=prefix,
        is_reply=_looks_like_reply(prefix),
        token_part1=token or None,
        label_space_ok=label_space_ok,
        token_alphabet_ok=token_alphabet_ok,
        charsets=decoded.charsets,
        problems=tuple(problems),
    )


def format_challenge_subject(token_part1: str) -> str:
    """The challenge Subject ``ACME: <token-part1>``, plain US-ASCII (CHAL-SUBJ-1, CHAL-SUBJ-5)."""
    return f"{ACME_LABEL} {token_part1}"


def format_reply_subject(token_part1: str, prefix: str = "Re: ") -> str:
    """The response Subject: reply prefix, then the challenge Subject (RESP-SUBJ-1, REF-5322-3)."""
    return prefix + format_challenge_subject(token_part1)
