"""Header rules of RFC 8823 §3.1 and §3.2 as pure functions: unfolding, encoded-words, Subject,
Auto-Submitted and addresses.

Nothing here raises on malformed input: each parser returns a frozen result whose ``problems``
say what was wrong, with the requirement ID or RFC section that was broken.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from rfc8823.domains import a_label_form

ACME_LABEL = "ACME:"
MAX_ENCODED_WORD = 75
ALLOWED_SUBJECT_CHARSETS = frozenset({"utf-8", "us-ascii"})

_WHITESPACE = " \t\r\n"
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([^?\s]*)\?([!->@-~]*)\?=")
_LOOKS_ENCODED = re.compile(r"=\?[^?\s]*\?[^?\s]*\?")
_CHARSET = re.compile(r"[!#$%&'+\-0-9A-Z^_`a-z{|}~]+")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_TOKEN_PART1 = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_LABEL_AT = re.compile(r"(?<![^\s:\]])ACME:")
_LABEL_ANY_CASE = re.compile(r"(?<![^\s:\]])acme:", re.IGNORECASE)
_FIRST_LABEL_WORD = re.compile(r"[^\s:\[\]]+")
_FORWARD_LABELS = frozenset({"fwd", "fw", "wg", "tr", "rv", "enc"})
_DOT_ATOM = re.compile(
    r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\U0010ffff]+"
    r"(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\U0010ffff]+)*"
)
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_MIME_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')
_RFC5322_SPECIALS = frozenset('()<>[]:;@\\,."')


def unfold(raw_value: str) -> str:
    """Remove each line break (CRLF or bare LF) that is followed by WSP (RFC 5322 §2.2.3)."""
    return _FOLD.sub("", raw_value)


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


def _subject_charset_problem(charset: str) -> str:
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
        problems.append(_subject_charset_problem(charset))
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
    before_ok = start == 0 or value[start - 1] in _WHITESPACE
    after_ok = end == len(value) or value[end] in _WHITESPACE
    return before_ok and after_ok


def decode_header_value(raw: str) -> DecodedHeader:
    """Unfold a header value and decode its encoded-words (RFC 2047 §2, §4, §5, §6.2; RFC 2231 §5).

    White space between two adjacent encoded-words is dropped, white space next to plain text is
    kept. Malformed encoded-words stay as literal text. Decision 6, CHAL-SUBJ-3, REF-2047-1.
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
        and piece.text.strip(_WHITESPACE) == ""
        and 0 < index < len(pieces) - 1
        and pieces[index - 1].word is not None
        and pieces[index + 1].word is not None
    )


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
    rest = prefix.strip(_WHITESPACE)
    while rest.startswith("[") and "]" in rest:
        rest = rest[rest.index("]") + 1 :].lstrip(_WHITESPACE)
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
    token = "".join(char for char in after if char not in _WHITESPACE)
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


class _Lexeme(NamedTuple):
    kind: str
    text: str


def _is_mime_token_char(char: str) -> bool:
    """RFC 2045 §5.1 token character: printable US-ASCII except tspecials."""
    return "!" <= char <= "~" and char not in _MIME_TSPECIALS


def _is_atext(char: str) -> bool:
    """RFC 5322 §3.2.3 atext, widened to non-ASCII by RFC 6532 §3.2."""
    if char.isascii():
        return "!" <= char <= "~" and char not in _RFC5322_SPECIALS
    return not char.isspace() and unicodedata.category(char) != "Cc"


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


def _lex(
    value: str,
    specials: frozenset[str],
    is_atom_char: Callable[[str], bool],
    problems: list[str],
    *,
    domain_literals: bool,
) -> list[_Lexeme]:
    """Split a structured header value into atoms, quoted-strings, specials and white space.

    Comments count as white space (CFWS, RFC 5322 §3.2.2); ``[...]`` is a domain literal when
    ``domain_literals`` is set. Characters that fit nowhere become ``junk`` lexemes.
    """
    lexemes: list[_Lexeme] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char in _WHITESPACE:
            end = i
            while end < len(value) and value[end] in _WHITESPACE:
                end += 1
            lexemes.append(_Lexeme("space", value[i:end]))
            i = end
        elif char in _DELIMITED and (char != "[" or domain_literals):
            closing, kind, name = _DELIMITED[char]
            content, i, closed = _scan_delimited(value, i, closing)
            if not closed:
                problems.append(f"unterminated {name} {char + content!r} (RFC 5322 §3.2)")
            lexemes.append(_Lexeme(kind, " " if kind == "space" else content))
        elif char in specials:
            lexemes.append(_Lexeme("special", char))
            i += 1
        elif is_atom_char(char):
            end = i
            while end < len(value) and is_atom_char(value[end]):
                end += 1
            lexemes.append(_Lexeme("atom", value[i:end]))
            i = end
        else:
            lexemes.append(_Lexeme("junk", char))
            i += 1
    return lexemes


@dataclass(frozen=True)
class AutoSubmitted:
    """A parsed Auto-Submitted field: keyword and parameters (RFC 3834 §5, REF-3834-1)."""

    keyword: str | None
    parameters: dict[str, str] = field(hash=False)
    problems: tuple[str, ...]


def _describe(lexeme: _Lexeme) -> str:
    return f'"{lexeme.text}"' if lexeme.kind == "quoted" else repr(lexeme.text)


def parse_auto_submitted(raw: str | None) -> AutoSubmitted:
    """Parse an Auto-Submitted value: a case-insensitive keyword, then ``; name=value`` parameters.

    CFWS (comments, folding) may appear between the parts; values may be quoted-strings.
    RFC 3834 §5, RFC 2045 §5.1; CHAL-AUTO-1..3, REF-3834-1.
    """
    if raw is None:
        return AutoSubmitted(
            keyword=None, parameters={}, problems=("Auto-Submitted is absent (CHAL-AUTO-1)",)
        )
    problems: list[str] = []
    lexemes = _lex(
        unfold(raw), _MIME_TSPECIALS, _is_mime_token_char, problems, domain_literals=False
    )
    items = [lexeme for lexeme in lexemes if lexeme.kind != "space"]
    if not items:
        problems.append("Auto-Submitted has no keyword (RFC 3834 §5)")
        return AutoSubmitted(keyword=None, parameters={}, problems=tuple(problems))
    keyword = items[0].text.lower() if items[0].kind == "atom" else None
    if keyword is None:
        problems.append(
            f"Auto-Submitted starts with {_describe(items[0])}, not a keyword (RFC 3834 §5)"
        )
    parameters: dict[str, str] = {}
    for parameter in _split_parameters(items[1:], problems):
        _add_parameter(parameter, parameters, problems)
    return AutoSubmitted(keyword=keyword, parameters=parameters, problems=tuple(problems))


def _split_parameters(items: list[_Lexeme], problems: list[str]) -> Iterator[list[_Lexeme]]:
    """Yield the lexemes after each ``;``; anything before the first ``;`` is a problem."""
    current: list[_Lexeme] | None = None
    for item in items:
        if item == _Lexeme("special", ";"):
            if current is not None:
                yield current
            current = []
        elif current is None:
            problems.append(f"unexpected {_describe(item)} where ';' was expected (RFC 3834 §5)")
        else:
            current.append(item)
    if current is not None:
        yield current


def _add_parameter(items: list[_Lexeme], parameters: dict[str, str], problems: list[str]) -> None:
    """Record one ``name=value`` parameter (RFC 2045 §5.1), or a problem if it is malformed."""
    if not items:
        problems.append("empty parameter after ';' (RFC 3834 §5)")
        return
    shape = [item.kind if item.kind != "special" else item.text for item in items]
    if shape not in (["atom", "=", "atom"], ["atom", "=", "quoted"]):
        text = " ".join(_describe(item) for item in items)
        problems.append(f"malformed parameter {text} (RFC 2045 §5.1)")
        return
    name = items[0].text.lower()
    if name in parameters:
        problems.append(f"parameter {name!r} repeated; the first value is kept (RFC 2045 §5.1)")
        return
    parameters[name] = items[2].text


def is_auto_generated(auto_submitted: AutoSubmitted) -> bool:
    """Whether the keyword is ``auto-generated``, compared case-insensitively (CHAL-AUTO-1)."""
    return auto_submitted.keyword == "auto-generated"


def type_is_acme(auto_submitted: AutoSubmitted) -> bool:
    """Whether the ``type`` parameter is ``acme``, compared case-insensitively (CHAL-AUTO-2)."""
    return auto_submitted.parameters.get("type", "").lower() == "acme"


@dataclass(frozen=True)
class AddressParse:
    """An address field that should hold exactly one mailbox (CHAL-HDR-1/2, RESP-FROM-1, AMB-12).

    ``addr_spec`` is set only when the field holds exactly one address; ``addresses`` lists
    every addr-spec found.
    """

    addr_spec: str | None
    display_name: str | None
    bare: bool
    count: int
    addresses: tuple[str, ...]
    problems: tuple[str, ...]


class _Mailbox(NamedTuple):
    addr_spec: str
    display_name: str | None
    bare: bool
    in_group: bool


def parse_single_address(raw: str) -> AddressParse:
    """Parse an address field (From, To, Reply-To) that should name exactly one mailbox.

    Handles display names (quoted or RFC 2047 encoded), comments, quoted local parts, groups and
    several addresses. RFC 5322 §3.4, RFC 6532 §3.2; CHAL-HDR-1, CHAL-HDR-2, RESP-FROM-1, AMB-12.
    """
    problems: list[str] = []
    lexemes = _lex(unfold(raw), _RFC5322_SPECIALS, _is_atext, problems, domain_literals=True)
    mailboxes = _AddressListParser(lexemes, problems).parse()
    count = len(mailboxes)
    addresses = tuple(mailbox.addr_spec for mailbox in mailboxes)
    if count != 1:
        problems.append(f"the field holds {count} addresses; exactly one is expected (AMB-12)")
        return AddressParse(
            addr_spec=None,
            display_name=None,
            bare=False,
            count=count,
            addresses=addresses,
            problems=tuple(problems),
        )
    mailbox = mailboxes[0]
    if mailbox.in_group:
        problems.append("the address is inside a group (RFC 5322 §3.4)")
    return AddressParse(
        addr_spec=mailbox.addr_spec,
        display_name=mailbox.display_name,
        bare=mailbox.bare and not mailbox.in_group,
        count=1,
        addresses=addresses,
        problems=tuple(problems),
    )


class _AddressListParser:
    """Reader of an RFC 5322 §3.4 address-list that records damage and carries on."""

    def __init__(self, lexemes: list[_Lexeme], problems: list[str]) -> None:
        self._lexemes = lexemes
        self._problems = problems
        self._index = 0
        self._in_group = False

    def _peek(self) -> _Lexeme | None:
        return self._lexemes[self._index] if self._index < len(self._lexemes) else None

    def _take_until(self, stops: str) -> list[_Lexeme]:
        """Consume lexemes up to (not including) a special in ``stops``, or to the end."""
        taken: list[_Lexeme] = []
        while (lexeme := self._peek()) is not None:
            if lexeme.kind == "special" and lexeme.text in stops:
                break
            taken.append(lexeme)
            self._index += 1
        return taken

    def parse(self) -> list[_Mailbox]:
        mailboxes: list[_Mailbox] = []
        while self._peek() is not None:
            words = self._take_until("<>@:;,")
            stop = self._peek()
            self._index += 1
            if stop is None or stop.text == ",":
                if _has_content(words):
                    self._problems.append(f"{_joined(words)!r} is not an address (RFC 5322 §3.4)")
            elif stop.text == ":":
                if self._in_group:
                    self._problems.append("a group inside a group (RFC 5322 §3.4)")
                self._in_group = True
            elif stop.text == ";":
                if not self._in_group:
                    self._problems.append("';' outside a group (RFC 5322 §3.4)")
                self._in_group = False
            elif stop.text == ">":
                self._problems.append("'>' without '<' (RFC 5322 §3.4)")
            else:
                if stop.text == "@":
                    domain = self._take_until("<>@:;,")
                    mailbox = self._mailbox(words, domain, None, bare=True)
                else:
                    mailbox = self._angle_addr(words)
                if mailbox is not None:
                    mailboxes.append(mailbox)
                self._expect_end_of_address()
        if self._in_group:
            self._problems.append("group not closed with ';' (RFC 5322 §3.4)")
        return mailboxes

    def _angle_addr(self, phrase: list[_Lexeme]) -> _Mailbox | None:
        """Read ``<addr-spec>`` after a display name, dropping obsolete routes (RFC 5322 §4.4)."""
        inside = self._take_until(">")
        if self._peek() is None:
            self._problems.append("'<' without '>' (RFC 5322 §3.4)")
        self._index += 1
        colons = [i for i, lexeme in enumerate(inside) if lexeme == _Lexeme("special", ":")]
        if colons:
            self._problems.append("obsolete source route in angle-addr (RFC 5322 §4.4)")
            inside = inside[colons[-1] + 1 :]
        at_signs = [i for i, lexeme in enumerate(inside) if lexeme == _Lexeme("special", "@")]
        if not at_signs:
            self._problems.append(f"<{_joined(inside)}> has no '@' (RFC 5322 §3.4.1)")
            return None
        split = at_signs[-1]
        display_name = _phrase_text(phrase, self._problems)
        return self._mailbox(inside[:split], inside[split + 1 :], display_name, bare=False)

    def _mailbox(
        self, local: list[_Lexeme], domain: list[_Lexeme], display_name: str | None, *, bare: bool
    ) -> _Mailbox | None:
        """A mailbox from the lexemes around '@', or None (with a problem) if a part is empty."""
        local_words = [lexeme for lexeme in local if lexeme.kind != "space"]
        domain_words = [lexeme for lexeme in domain if lexeme.kind != "space"]
        if not local_words or not domain_words:
            self._problems.append(
                f"empty local part or domain in "
                f"{_joined(local)}@{_joined(domain)} (RFC 5322 §3.4.1)"
            )
            return None
        if _has_inner_space(local) or _has_inner_space(domain):
            self._problems.append("white space inside an addr-spec (obsolete, RFC 5322 §4.4)")
        addr_spec = (
            f"{_render_local(local_words, self._problems)}@"
            f"{_render_domain(domain_words, self._problems)}"
        )
        return _Mailbox(addr_spec, display_name, bare, self._in_group)

    def _expect_end_of_address(self) -> None:
        """After an address only CFWS may come before ',' or ';'."""
        rest = self._take_until(",;")
        if _has_content(rest):
            self._problems.append(f"unexpected {_joined(rest)!r} after an address (RFC 5322 §3.4)")


def _has_content(lexemes: list[_Lexeme]) -> bool:
    return any(lexeme.kind != "space" for lexeme in lexemes)


def _joined(lexemes: list[_Lexeme]) -> str:
    rendered = {"quoted": '"{}"', "literal": "[{}]"}
    return "".join(rendered.get(lx.kind, "{}").format(lx.text) for lx in lexemes).strip()


def _has_inner_space(lexemes: list[_Lexeme]) -> bool:
    kinds = "".join("s" if lexeme.kind == "space" else "w" for lexeme in lexemes)
    return "s" in kinds.strip("s")


def _quote_local(content: str) -> str:
    """A local part as an addr-spec writes it: bare if a dot-atom, else quoted (RFC 5322 §3.4.1)."""
    if _DOT_ATOM.fullmatch(content):
        return content
    escaped = content.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _render_local(words: list[_Lexeme], problems: list[str]) -> str:
    """The local part of an addr-spec: a dot-atom or a quoted-string (RFC 5322 §3.4.1)."""
    if len(words) == 1 and words[0].kind == "quoted":
        return _quote_local(words[0].text)
    local = _joined(words)
    if not _DOT_ATOM.fullmatch(local):
        problems.append(
            f"local part {local!r} is not a dot-atom or quoted-string (RFC 5322 §3.4.1)"
        )
    return local


def _render_domain(words: list[_Lexeme], problems: list[str]) -> str:
    """The domain of an addr-spec: a host name (U- or A-labels) or a domain literal."""
    if len(words) == 1 and words[0].kind == "literal":
        return _joined(words)
    domain = _joined(words)
    problems.extend(_a_label_domain(domain)[1])
    return domain


def _phrase_text(phrase: list[_Lexeme], problems: list[str]) -> str | None:
    """The display name of a phrase: encoded-words decoded, quoted-strings taken literally.

    RFC 5322 §3.2.5, RFC 2047 §5 item 3 (encoded-words appear as atoms, never inside quotes).
    """
    parts: list[str] = []
    run: list[str] = []
    for lexeme in phrase:
        if lexeme.kind == "quoted":
            if run:
                parts.append(_decode_run(run, problems))
                run = []
            parts.append(lexeme.text)
        elif lexeme.kind == "space":
            if run:
                run.append(" ")
            elif parts and parts[-1] != " ":
                parts.append(" ")
        else:
            run.append(lexeme.text)
    if run:
        parts.append(_decode_run(run, problems))
    text = "".join(parts).strip(_WHITESPACE)
    return text or None


def _decode_run(run: list[str], problems: list[str]) -> str:
    """Decode the atoms of a display name; any known charset is fine outside the Subject."""
    decoded = decode_header_value("".join(run))
    allowed = {_subject_charset_problem(charset) for charset in decoded.charsets}
    problems.extend(f"display name: {p}" for p in decoded.problems if p not in allowed)
    return decoded.text


@dataclass(frozen=True)
class NormalizedAddress:
    """An addr-spec in comparable form: exact NFC local part, lower-case A-label domain (I18N-5)."""

    value: str
    local_part: str
    domain: str
    problems: tuple[str, ...]


def _domain_problems(domain: str) -> tuple[str, ...]:
    """Problems with a lower-case A-label host name (RFC 5321 §4.1.2, RFC 5890 §2.3.2.1)."""
    labels = domain.rstrip(".").split(".")
    if not domain.isascii() or not all(_LDH_LABEL.fullmatch(label) for label in labels):
        return (f"domain {domain!r} is not a valid host name (RFC 5321 §4.1.2)",)
    return ()


def _a_label_domain(domain: str) -> tuple[str, tuple[str, ...]]:
    """Lower-case A-label form of a domain (IDNA2008 with UTS #46 mapping); I18N-2."""
    domain = domain.strip(_WHITESPACE)
    if domain.startswith("[") and domain.endswith("]"):
        return domain.lower(), ()
    a_label, error = a_label_form(domain)
    if error is not None:
        return a_label, (f"domain {domain!r} has no A-label form: {error} (I18N-2)",)
    if domain.isascii():
        return a_label, _domain_problems(a_label)
    return a_label, ()


def normalize_domain(domain: str) -> str:
    """A domain as lower-case A-labels, to compare From, DKIM ``d=`` and identifiers (I18N-5)."""
    return _a_label_domain(domain)[0]


def inspect_address(addr: str) -> NormalizedAddress:
    """Normalise an addr-spec and say what could not be normalised (I18N-2, I18N-5, RESP-FROM-1)."""
    text = addr.strip(_WHITESPACE)
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    local, at, domain = text.rpartition("@")
    if not at:
        return NormalizedAddress(
            value=text,
            local_part=text,
            domain="",
            problems=(f"{addr!r} has no '@' (RFC 5322 §3.4.1)",),
        )
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        local = _quote_local(re.sub(r"\\(.)", r"\1", local[1:-1], flags=re.DOTALL))
    local = unicodedata.normalize("NFC", local)
    a_label, problems = _a_label_domain(domain)
    return NormalizedAddress(
        value=f"{local}@{a_label}", local_part=local, domain=a_label, problems=problems
    )


def normalize_address(addr: str) -> str:
    """An addr-spec with the local part kept exactly (NFC), the domain as A-labels (I18N-5)."""
    return inspect_address(addr).value


def addresses_equal(a: str, b: str) -> bool:
    """Compare addr-specs: local parts exactly (after NFC), domains as A-labels (I18N-5)."""
    return normalize_address(a) == normalize_address(b)


def domain_of(addr: str) -> str:
    """The domain of an addr-spec as lower-case A-labels; empty if there is no '@' (I18N-2)."""
    return inspect_address(addr).domain
