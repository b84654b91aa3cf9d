"""Lexing structured header values: atoms, quoted-strings, comments, literals (RFC 5322 §3.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from rfc8823.messages.headers.whitespace import WHITESPACE


class Lexeme(NamedTuple):
    """One piece of a structured value: atom, quoted, literal, special, space or junk."""

    kind: str
    text: str


def _scan_delimited(value: str, start: int, closing: str) -> tuple[str, int, bool]:
    """Content of a quoted-string, comment or domain literal, with quoted-pairs resolved.

    Comments nest (RFC 5322 §3.2.2). Returns the content, the index after it and whether
    the closing character was found.
    """
    opening = value[start]
    depth = 1
    content: list[str] = []
    i = start + 1
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            content.append(value[i + 1])
            i += 2
            continue
        if char == closing:
            depth -= 1
            if depth == 0:
                return "".join(content), i + 1, True
        elif char == opening == "(":
            depth += 1
        content.append(char)
        i += 1
    return "".join(content), i, False


_DELIMITED = {
    "(": (")", "space", "comment"),
    '"': ('"', "quoted", "quoted-string"),
    "[": ("]", "literal", "domain literal"),
}


def lex(
    value: str,
    specials: frozenset[str],
    is_atom_char: Callable[[str], bool],
    problems: list[str],
    *,
    domain_literals: bool,
) -> list[Lexeme]:
    """Split a structured header value into atoms, quoted-strings, specials and white space.

    Comments count as white space (CFWS, RFC 5322 §3.2.2); ``[...]`` is a domain literal when
    ``domain_literals`` is set. Characters that fit nowhere become ``junk`` lexemes.
    """
    lexemes: list[Lexeme] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char in WHITESPACE:
            end = i
            while end < len(value) and value[end] in WHITESPACE:
                end += 1
            lexemes.append(Lexeme("space", value[i:end]))
            i = end
        elif char in _DELIMITED and (char != "[" or domain_literals):
            closing, kind, name = _DELIMITED[char]
            content, i, closed = _scan_delimited(value, i, closing)
            if not closed:
                problems.append(f"unterminated {name} {char + content!r} (RFC 5322 §3.2)")
            lexemes.append(Lexeme(kind, " " if kind == "space" else content))
        elif char in specials:
            lexemes.append(Lexeme("special", char))
            i += 1
        elif is_atom_char(char):
            end = i
            while end < len(value) and is_atom_char(value[end]):
                end += 1
            lexemes.append(Lexeme("atom", value[i:end]))
            i = end
        else:
            lexemes.append(Lexeme("junk", char))
            i += 1
    return lexemes
