"""Rules for a response's body: the text/plain part, its blocks and transfer encoding.

RFC 8823 §3.2 (7); RESP-BODY-1..5, RESP-HTML-1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rfc8823.findings import broken, info, passed
from rfc8823.messages.judge import Judge
from rfc8823.messages.mime import MimePart, ParsedMessage
from rfc8823.messages.response.block import (
    BEGIN_MARKER,
    END_MARKER,
    LINE_BREAK,
    Block,
    find_blocks,
    has_text_outside,
)
from rfc8823.messages.response.digest_rules import judge_digest
from rfc8823.messages.response.expectation import ResponseExpectation
from rfc8823.tokens import Concatenation, b64url_decode

_NEAR_MARKER = re.compile(r"-{2,}\s*(BEGIN|END)\s*ACME\s*RESPONSE\s*-*|-*\s*(BEGIN|END) ACME", re.I)
_TRANSPARENT_MULTIPARTS = frozenset({"multipart/alternative", "multipart/signed"})


@dataclass(frozen=True)
class BodyVerdict:
    """What the body held: every block's digest, and the reading the first one matched."""

    digests: tuple[str, ...]
    reading: Concatenation | None


def _eligible(part: MimePart) -> bool:
    """A text/plain part a CA reads: top level, or under alternative/signed only (RESP-BODY-1)."""
    return (
        part.content_type == "text/plain"
        and part.disposition != "attachment"
        and all(ancestor in _TRANSPARENT_MULTIPARTS for ancestor in part.ancestors)
    )


def judge_body(message: ParsedMessage, expect: ResponseExpectation, judge: Judge) -> BodyVerdict:
    """RESP-BODY-1..5, RESP-HTML-1 and the digest rows KA-1..KA-4, SEC-7 (§3.2 (7))."""
    plain = [part for part in message.parts if part.content_type == "text/plain"]
    eligible = [part for part in plain if _eligible(part)]
    layout = message.content_type
    if eligible:
        judge.add(passed("RESP-BODY-1", f"{layout} with a readable text/plain part"))
        if layout == "multipart/signed":
            judge.add(info("RESP-BODY-1", "text/plain inside multipart/signed", "looked through"))
    else:
        judge.add(
            broken(
                "RESP-BODY-1",
                f"{layout} ({', '.join(p.content_type for p in message.parts) or 'no parts'})",
                "text/plain, or multipart/alternative holding text/plain",
            ),
            rejects=True,
        )
    for part in eligible or plain:
        _judge_transfer(part, judge)
    blocks = [block for part in (eligible or plain) for block in find_blocks(part.text or "")]
    if not blocks:
        _judge_missing_block(message, eligible or plain, judge)
        return BodyVerdict((), None)
    if any(part.text and has_text_outside(part.text) for part in eligible or plain):
        judge.add(info("RESP-BODY-4", "text around the block", "ignored by validation"))
    if eligible:
        html = [part.path for part in message.parts if part.content_type == "text/html"]
        beside = f", text/html beside it in {html}" if html else ", no text/html part"
        judge.add(passed("RESP-HTML-1", f"the block in text/plain{beside}"))
    return _judge_blocks(blocks, expect, judge)


def _judge_transfer(part: MimePart, judge: Judge) -> None:
    """RESP-BODY-5: record a transfer encoding beyond 7bit; a CA decodes it anyway."""
    encoding = part.transfer_encoding
    if encoding == "7bit":
        judge.add(passed("RESP-BODY-5", f"part {part.path} in 7bit"))
    else:
        judge.add(info("RESP-BODY-5", f"part {part.path} in {encoding}", "decoded before reading"))
    if part.text and "\n" in part.text.replace("\r\n", ""):
        judge.add(info("RESP-BODY-3", f"part {part.path} has bare LF line ends", "accepted"))


def _judge_missing_block(message: ParsedMessage, texts: Iterable[MimePart], judge: Judge) -> None:
    """No block in text/plain: in HTML only (RESP-HTML-1), or absent or misspelt (RESP-BODY-2)."""
    in_html = [
        part.path
        for part in message.parts
        if part.content_type == "text/html" and BEGIN_MARKER in (part.text or "")
    ]
    if in_html:
        judge.add(
            broken(
                "RESP-HTML-1", f"the block only in text/html part {in_html[0]}", "in text/plain"
            ),
            rejects=True,
        )
        return
    near = [
        line.strip()
        for part in texts
        for line in LINE_BREAK.split(part.text or "")
        if _NEAR_MARKER.search(line)
    ]
    detail = f"near-miss marker lines {near[:2]!r}" if near else ""
    judge.add(
        broken(
            "RESP-BODY-2", "no response block", f"{BEGIN_MARKER} / digest / {END_MARKER}", detail
        ),
        rejects=True,
    )


def _judge_blocks(
    blocks: Sequence[Block], expect: ResponseExpectation, judge: Judge
) -> BodyVerdict:
    """Judge the first block's digest; further blocks must carry the same one (RESP-BODY-2)."""
    first = blocks[0]
    digests = tuple(block.digest for block in blocks)
    if not first.terminated:
        judge.add(broken("RESP-BODY-2", "a block without its END line", END_MARKER), rejects=True)
        return BodyVerdict(digests, None)
    if any(block.indented for block in blocks):
        judge.add(info("RESP-BODY-2", "marker lines with leading or trailing blanks", "accepted"))
    if first.lines > 1:
        judge.add(info("RESP-BODY-3", f"digest over {first.lines} lines", "line breaks ignored"))
    reading = judge_digest(first.digest, expect, judge)
    keys = {_digest_key(block.digest) for block in blocks}
    if len(keys) > 1:
        judge.add(
            broken("RESP-BODY-2", f"{len(blocks)} blocks with different digests", "one digest"),
            rejects=True,
        )
        return BodyVerdict(digests, None)
    if len(blocks) > 1:
        judge.add(info("RESP-BODY-2", f"{len(blocks)} blocks with the same digest", "accepted"))
    return BodyVerdict(digests, reading)


def _digest_key(digest: str) -> bytes:
    """Compare blocks by decoded octets when they decode, else by text."""
    try:
        return b64url_decode(digest)
    except ValueError:
        return b"text:" + digest.encode("utf-8", "surrogateescape")
