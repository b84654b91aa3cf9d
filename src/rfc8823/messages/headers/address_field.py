"""Parsing a one-mailbox address field: addr-spec versus display name (RFC 5322 §3.4, AMB-12)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from rfc8823.messages.headers.addr_spec import DOT_ATOM, inspect_domain, quote_local_part
from rfc8823.messages.headers.encoded_words import decode_header_value, subject_charset_problem
from rfc8823.messages.headers.lexer import Lexeme, lex
from rfc8823.messages.headers.whitespace import WHITESPACE, unfold

_RFC5322_SPECIALS = frozenset('()<>[]:;@\\,."')


def _is_atext(char: str) -> bool:
    """RFC 5322 §3.2.3 atext, widened to non-ASCII by RFC 6532 §3.2."""
    if char.isascii():
        return "!" <= char <= "~" and char not in _RFC5322_SPECIALS
    return not char.isspace() and unicodedata.category(char) != "Cc"


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
    lexemes = lex(unfold(raw), _RFC5322_SPECIALS, _is_atext, problems, domain_literals=True)
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

    def __init__(self, lexemes: list[Lexeme], problems: list[str]) -> None:
        self._lexemes = lexemes
        self._problems = problems
        self._index = 0
        self._in_group = False

    def _peek(self) -> Lexeme | None:
        return self._lexemes[self._index] if self._index < len(self._lexemes) else None

    def _take_until(self, stops: str) -> list[Lexeme]:
        """Consume lexemes up to (not including) a special in ``stops``, or to the end."""
        taken: list[Lexeme] = []
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

    def _angle_addr(self, phrase: list[Lexeme]) -> _Mailbox | None:
        """Read ``<addr-spec>`` after a display name, dropping obsolete routes (RFC 5322 §4.4)."""
        inside = self._take_until(">")
        if self._peek() is None:
            self._problems.append("'<' without '>' (RFC 5322 §3.4)")
        self._index += 1
        colons = [i for i, lexeme in enumerate(inside) if lexeme == Lexeme("special", ":")]
        if colons:
            self._problems.append("obsolete source route in angle-addr (RFC 5322 §4.4)")
            inside = inside[colons[-1] + 1 :]
        at_signs = [i for i, lexeme in enumerate(inside) if lexeme == Lexeme("special", "@")]
        if not at_signs:
            self._problems.append(f"<{_joined(inside)}> has no '@' (RFC 5322 §3.4.1)")
            return None
        split = at_signs[-1]
        display_name = _phrase_text(phrase, self._problems)
        return self._mailbox(inside[:split], inside[split + 1 :], display_name, bare=False)

    def _mailbox(
        self, local: list[Lexeme], domain: list[Lexeme], display_name: str | None, *, bare: bool
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


def _has_content(lexemes: list[Lexeme]) -> bool:
    return any(lexeme.kind != "space" for lexeme in lexemes)


def _joined(lexemes: list[Lexeme]) -> str:
    rendered = {"quoted": '"{}"', "literal": "[{}]"}
    return "".join(rendered.get(lx.kind, "{}").format(lx.text) for lx in lexemes).strip()


def _has_inner_space(lexemes: list[Lexeme]) -> bool:
    kinds = "".join("s" if lexeme.kind == "space" else "w" for lexeme in lexemes)
    return "s" in kinds.strip("s")


def _render_local(words: list[Lexeme], problems: list[str]) -> str:
    """The local part of an addr-spec: a dot-atom or a quoted-string (RFC 5322 §3.4.1)."""
    if len(words) == 1 and words[0].kind == "quoted":
        return quote_local_part(words[0].text)
    local = _joined(words)
    if not DOT_ATOM.fullmatch(local):
        problems.append(
            f"local part {local!r} is not a dot-atom or quoted-string (RFC 5322 §3.4.1)"
        )
    return local


def _render_domain(words: list[Lexeme], problems: list[str]) -> str:
    """The domain of an addr-spec: a host name (U- or A-labels) or a domain literal."""
    if len(words) == 1 and words[0].kind == "literal":
        return _joined(words)
    domain = _joined(words)
    problems.extend(inspect_domain(domain)[1])
    return domain


def _phrase_text(phrase: list[Lexeme], problems: list[str]) -> str | None:
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
    text = "".join(parts).strip(WHITESPACE)
    return text or None


def _decode_run(run: list[str], problems: list[str]) -> str:
    """Decode the atoms of a display name; any known charset is fine outside the Subject."""
    decoded = decode_header_value("".join(run))
    allowed = {subject_charset_problem(charset) for charset in decoded.charsets}
    problems.extend(f"display name: {p}" for p in decoded.problems if p not in allowed)
    return decoded.text
