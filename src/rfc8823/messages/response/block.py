"""The response block: its marker lines, and finding blocks in a text (RFC 8823 §3.2 (7))."""

from __future__ import annotations

import re
from dataclasses import dataclass

BEGIN_MARKER = "-----BEGIN ACME RESPONSE-----"
END_MARKER = "-----END ACME RESPONSE-----"
LINE_BREAK = re.compile(r"\r\n|\r|\n")
_WHITESPACE = re.compile(r"[ \t\r\n]+")


@dataclass(frozen=True)
class Block:
    """One BEGIN..END block as found: its digest with whitespace removed, and its shape."""

    digest: str
    lines: int
    terminated: bool
    indented: bool


def find_blocks(text: str) -> list[Block]:
    """Every BEGIN..END block in a text, marker lines compared exactly after trimming blanks."""
    lines = LINE_BREAK.split(text)
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        if lines[index].strip(" \t") != BEGIN_MARKER:
            index += 1
            continue
        start = index
        index += 1
        while index < len(lines) and lines[index].strip(" \t") != END_MARKER:
            index += 1
        terminated = index < len(lines)
        content = lines[start + 1 : index]
        markers = [lines[start]] + ([lines[index]] if terminated else [])
        blocks.append(
            Block(
                digest=_WHITESPACE.sub("", "".join(content)),
                lines=sum(1 for line in content if line.strip()),
                terminated=terminated,
                indented=any(line != line.strip(" \t") for line in markers),
            )
        )
        index += 1
    return blocks


def has_text_outside(text: str) -> bool:
    """Whether non-blank lines stand outside the blocks (RESP-BODY-4)."""
    inside = False
    for line in LINE_BREAK.split(text):
        marker = line.strip(" \t")
        if marker == BEGIN_MARKER:
            inside = True
        elif marker == END_MARKER:
            inside = False
        elif not inside and marker:
            return True
    return False
