"""Subject decoding: RFC 2047 encoded-words, RFC 2231 §5 language tags, charsets (CHAL-SUBJ-3/4)."""

from __future__ import annotations

import base64
import binascii
import re
import string
from dataclasses import dataclass
from typing import NamedTuple

from rfc8823.messages.headers.whitespace import WHITESPACE, unfold

MAX_ENCODED_WORD = 75
ALLOWED_SUBJECT_CHARSETS = frozenset({"utf-8", "us-ascii"})
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([^?\s]*)\?([!->@-~]*)\?=")
_LOOKS_ENCODED = re.compile(r"=\?[^?\s]*\?[^?\s]*\?")
_CHARSET = re.compile(r"[!#$%&'+\-0-9A-Z^_`a-z{|}~]+")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


@dataclass(frozen=True)
class EncodedWord:
    """One decoded RFC 2047 encoded-word; ``language`` is the RFC 2231 §5 ``*lang`` tag."""

    raw: str
    charset: str
    language: str | None
    encoding: str
    text: str


@dataclass(frozen=True)
class DecodedHeader:
    """An unfolded header value with its encoded-words decoded (RFC 2047 §6)."""

    text: str
    encoded_words: tuple[EncodedWord, ...]
    problems: tuple[str, ...]

    @property
    def charsets(self) -> tuple[str, ...]:
        """The distinct charsets of the encoded-words, in order of appearance."""
        return tuple(dict.fromkeys(word.charset for word in self.encoded_words))


class _Piece(NamedTuple):
    text: str
    word: EncodedWord | None


def _q_octets(text: str) -> bytes | None:
    """Octets of Q-encoded text, ``_`` meaning space; None on a broken ``=XX`` (RFC 2047 §4.2)."""
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "_":
            out.append(0x20)
            i += 1
        elif char == "=":
            escape = text[i + 1 : i + 3]
            if len(escape) != 2 or not all(c in string.hexdigits for c in escape):
                return None
            out.append(int(escape, 16))
            i += 3
        else:
            out.append(ord(char))
            i += 1
    return bytes(out)


def _b_octets(text: str, problems: list[str]) -> bytes | None:
    """Octets of B-encoded text (RFC 2047 §4.1); wrong padding is tolerated with a problem."""
    if not _BASE64.fullmatch(text):
        return None
    body = text.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    if padded != text:
        problems.append(f"B encoding {text!r} has wrong '=' padding (RFC 2047 §4.1)")
    try:
        return base64.b64decode(padded, validate=True)
    except binascii.Error:
        return None


def _charset_text(octets: bytes, charset: str, problems: list[str]) -> str | None:
    """Decode octets in a charset Python knows; bad octets become U+FFFD with a problem."""
    try:
        return octets.decode(charset)
    except UnicodeDecodeError:
        problems.append(f"undecodable {charset} octets replaced with U+FFFD (RFC 2047 §6.1)")
    except (LookupError, UnicodeError, ValueError, TypeError):
        problems.append(f"unknown charset {charset} (RFC 2047 §2)")
        return None
    try:
        return octets.decode(charset, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None


def subject_charset_problem(charset: str) -> str:
    """The complaint about a Subject charset other than UTF-8 or US-ASCII (CHAL-SUBJ-4)."""
    return f"charset {charset} is not UTF-8 or US-ASCII (CHAL-SUBJ-4)"


def _decode_word(match: re.Match[str], problems: list[str]) -> EncodedWord | None:
    """Decode one encoded-word candidate, or None (with a problem) when it is malformed."""
    raw = match.group(0)
    charset_part, encoding, encoded = match.group(1, 2, 3)
    charset, star, language = charset_part.partition("*")
    word_problems: list[str] = []
    if not _CHARSET.fullmatch(charset):
        word_problems.append(f"encoded-word {raw!r}: bad charset {charset!r} (RFC 2047 §2)")
    if star and not _LANGUAGE.fullmatch(language):
        word_problems.append(f"encoded-word {raw!r}: bad language tag {language!r} (RFC 2231 §5)")
    if encoding.upper() not in ("Q", "B"):
        word_problems.append(
            f"encoded-word {raw!r}: encoding {encoding!r} is not Q or B (RFC 2047 §4)"
        )
    if word_problems:
        problems.extend(word_problems)
        return None
    encoding = encoding.upper()
    octets = _q_octets(encoded) if encoding == "Q" else _b_octets(encoded, word_problems)
    if octets is None:
        problems.append(f"encoded-word {raw!r}: malformed {encoding} encoding (RFC 2047 §4)")
        return None
    charset = charset.lower()
    text = _charset_text(octets, charset, word_problems)
    problems.extend(f"encoded-word {raw!r}: {problem}" for problem in word_problems)
    if text is None:
        return None
    if charset not in ALLOWED_SUBJECT_CHARSETS:
        problems.append(subject_charset_problem(charset))
    if len(raw) > MAX_ENCODED_WORD:
        problems.append(
            f"encoded-word {raw!r} is longer than {MAX_ENCODED_WORD} characters (RFC 2047 §2)"
        )
    if not encoded:
        problems.append(f"encoded-word {raw!r} has empty encoded-text (RFC 2047 §2)")
    return EncodedWord(
        raw=raw, charset=charset, language=language if star else None, encoding=encoding, text=text
    )


def _is_separated(value: str, start: int, end: int) -> bool:
    """Whether an encoded-word stands apart from its neighbours by white space (RFC 2047 §5)."""
    before_ok = start == 0 or value[start - 1] in WHITESPACE
    after_ok = end == len(value) or value[end] in WHITESPACE
    return before_ok and after_ok


def decode_header_value(raw: str) -> DecodedHeader:
    """Unfold a header value and decode its encoded-words (RFC 2047 §2, §4, §5, §6.2; RFC 2231 §5).

    White space between two adjacent encoded-words is dropped, white space next to plain text is
    kept. Malformed encoded-words stay as literal text. docs/decisions.md#decision-6, CHAL-SUBJ-3,
    REF-2047-1.
    """
    value = unfold(raw)
    problems: list[str] = []
    pieces: list[_Piece] = []
    literal: list[str] = []
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        if match.start() > position:
            gap = value[position : match.start()]
            pieces.append(_Piece(gap, None))
            literal.append(gap)
        word = _decode_word(match, problems)
        if word is None:
            pieces.append(_Piece(match.group(0), None))
        else:
            if not _is_separated(value, match.start(), match.end()):
                problems.append(
                    f"encoded-word {word.raw!r} is not separated from adjacent text "
                    "by white space (RFC 2047 §5)"
                )
            pieces.append(_Piece(word.text, word))
        position = match.end()
    if position < len(value):
        pieces.append(_Piece(value[position:], None))
        literal.append(value[position:])
    if any(_LOOKS_ENCODED.search(text) for text in literal):
        problems.append("text resembles an encoded-word but is not a valid one (RFC 2047 §2)")
    kept = [
        piece.text
        for index, piece in enumerate(pieces)
        if not _between_encoded_words(pieces, index)
    ]
    words = tuple(piece.word for piece in pieces if piece.word is not None)
    return DecodedHeader(text="".join(kept), encoded_words=words, problems=tuple(problems))


def _between_encoded_words(pieces: list[_Piece], index: int) -> bool:
    """Whether a piece is white space between two decoded encoded-words (RFC 2047 §6.2)."""
    piece = pieces[index]
    return (
        piece.word is None
        and piece.text.strip(WHITESPACE) == ""
        and 0 < index < len(pieces) - 1
        and pieces[index - 1].word is not None
        and pieces[index + 1].word is not None
    )
