"""Build a challenge email with any variation a test needs (RFC 8823 §3.1).

``ChallengeEmail`` is an immutable builder: it writes the conforming message by default and
varies one thing per ``with_*`` call, so a negative test states exactly what it breaks. It
keeps the input contract of :mod:`rfc8823.messages.builder_checks`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, replace
from typing import ClassVar, Literal

from rfc8823.auth.dkim import CHALLENGE_RECOMMENDED_HEADERS, CHALLENGE_REQUIRED_HEADERS
from rfc8823.auth.smime import HeaderProtection
from rfc8823.messages.builder_checks import require_addr_spec, require_choice, require_token
from rfc8823.messages.challenge.expectation import ChallengeExpectation
from rfc8823.messages.headers import (
    MAX_ENCODED_WORD,
    domain_of,
    format_challenge_subject,
    parse_single_address,
)
from rfc8823.messages.mime import (
    Entity,
    alternative,
    assemble,
    encode_words,
    fold,
    format_date,
    make_message_id,
    text_html,
    text_plain,
)
from rfc8823.messages.response.block import BEGIN_MARKER, END_MARKER
from rfc8823.messages.signing import DkimSigning, SignedBuilder, SmimeSigning
from rfc8823.tokens import b64url_decode, b64url_encode

DEFAULT_AUTO_SUBMITTED = "auto-generated; type=acme"
"""The Auto-Submitted value RFC 8823 §3.1 (5) asks for (CHAL-AUTO-1, CHAL-AUTO-2)."""

_LABEL = "ACME: "
_MIME_FIELDS = ("mime-version", "content-type", "content-transfer-encoding")
_ENCODINGS = ("Q", "B")


def _default_text(identifier: str) -> str:
    """The human-readable body: what this message is, and what to do if it was not expected."""
    return (
        f"This message was generated automatically: it is an ACME challenge for the email\r\n"
        f"address {identifier}, sent because someone asked for an S/MIME certificate for it.\r\n"
        f"\r\n"
        f"If you did not ask for a certificate, ignore this message: no certificate is issued\r\n"
        f"without a reply from this mailbox. If you did, your ACME client answers it for you,\r\n"
        f"or asks you for the token that follows 'ACME:' in the Subject.\r\n"
    )


def _decoy_text(identifier: str, seed: str) -> str:
    """Body text with an ``ACME:`` line and a response block that must not be used (CHAL-BODY-1)."""
    decoy_token = b64url_encode(hashlib.sha256(f"decoy-token {seed}".encode()).digest()[:18])
    decoy_digest = b64url_encode(hashlib.sha256(f"decoy-digest {seed}".encode()).digest())
    return (
        _default_text(identifier)
        + f"\r\nFor example, a token line looks like this:\r\nACME: {decoy_token}\r\n"
        + f"\r\nand a reply carries a block like this one:\r\n{BEGIN_MARKER}\r\n{decoy_digest}\r\n"
        + f"{END_MARKER}\r\n"
    )


def _text_entity(text: str) -> Entity:
    if text.isascii():
        return text_plain(text)
    return text_plain(text, charset="utf-8", transfer_encoding="quoted-printable")


def _html_entity(html: str) -> Entity:
    if html.isascii():
        return text_html(html)
    return text_html(html, charset="utf-8", transfer_encoding="quoted-printable")


@dataclass(frozen=True)
class _SubjectEncoding:
    charset: str
    encoding: Literal["Q", "B"]
    language: str | None
    split_at: tuple[int, ...] | None
    max_word: int


@dataclass(frozen=True)
class ChallengeEmail(SignedBuilder):
    """Immutable builder of a challenge email (RFC 8823 §3.1); each ``with_*`` returns a new one.

    The defaults conform: bare From/To, ``Subject: ACME: <token-part1>`` in plain US-ASCII,
    ``Auto-Submitted: auto-generated; type=acme``, Date, a fresh Message-ID and a text/plain
    body. It is unsigned until ``signed_dkim`` (``h=`` the required and recommended lists,
    CHAL-DKIM-1/2) or ``signed_smime`` (header protection by RFC 8551 wrapping, CHAL-BODY-3)
    is called; with both, DKIM signs the finished S/MIME message.
    """

    DKIM_HEADERS: ClassVar[tuple[str, ...]] = (
        *CHALLENGE_REQUIRED_HEADERS,
        *CHALLENGE_RECOMMENDED_HEADERS,
    )
    SMIME_HEADER_PROTECTION: ClassVar[HeaderProtection] = "rfc8551"

    challenge_from: str
    to: str
    token_part1: str
    _: KW_ONLY
    message_id: str | None = None
    date: str | None = None
    subject_raw: str | None = None
    folded: bool = False
    fold_at: tuple[int, ...] | None = None
    subject_encoding: _SubjectEncoding | None = None
    padded: bool = False
    from_raw: str | None = None
    to_raw: str | None = None
    reply_to: str | None = None
    cc: str | None = None
    auto_submitted: str | None = DEFAULT_AUTO_SUBMITTED
    extra_headers: tuple[tuple[str, str], ...] = ()
    removed_headers: frozenset[str] = frozenset()
    body: Entity | None = None
    dkim_signings: tuple[DkimSigning, ...] = ()
    smime_signing: SmimeSigning | None = None

    def __post_init__(self) -> None:
        require_addr_spec("challenge_from", self.challenge_from, "with_from()")
        require_addr_spec("to", self.to, "with_to()")
        require_token("token_part1", self.token_part1, "with_subject()")
        try:
            b64url_decode(self.token_part1)
        except ValueError as exc:
            raise ValueError(
                f"token_part1 {self.token_part1!r}: {exc}; write such a Subject with with_subject()"
            ) from exc
        if "=" in self.token_part1:
            raise ValueError("token_part1 must be unpadded base64url; see with_padding()")
        if self.message_id is None:
            object.__setattr__(self, "message_id", make_message_id(domain_of(self.challenge_from)))
        if self.date is None:
            object.__setattr__(self, "date", format_date())

    @property
    def written_token(self) -> str:
        """token-part1 as the Subject carries it (padded after ``with_padding()``)."""
        return self.token_part1 + ("=" * (-len(self.token_part1) % 4) if self.padded else "")

    def _boundary(self, purpose: str) -> str:
        digest = hashlib.sha256(f"{purpose} {self.message_id}".encode()).hexdigest()
        return f"=_{digest[:24]}"

    def _no_raw_subject(self, method: str) -> None:
        if self.subject_raw is not None:
            raise ValueError(f"{method}: with_subject() already set the whole Subject verbatim")

    def with_subject(self, raw_subject: str) -> ChallengeEmail:
        """Use ``raw_subject`` verbatim as the Subject: any token, any shape (negative tests)."""
        if self.folded or self.subject_encoding is not None or self.padded:
            raise ValueError("with_subject() replaces the Subject; do not also fold, encode or pad")
        return replace(self, subject_raw=raw_subject)

    def with_subject_folded(self, at: Sequence[int] | None = None) -> ChallengeEmail:
        """Fold the Subject with CRLF+SP; by default inside token-part1 (CHAL-SUBJ-2, REF-5322-1).

        ``at`` are positions in the Subject value before folding (or in the encoded-words, when
        encoded); each inserts a fold, adding white space a receiver must drop.
        """
        self._no_raw_subject("with_subject_folded")
        return replace(self, folded=True, fold_at=None if at is None else tuple(at))

    def with_subject_encoded(
        self,
        charset: str = "utf-8",
        encoding: Literal["Q", "B"] = "Q",
        language: str | None = None,
        split_at: Sequence[int] | None = None,
        max_word: int = MAX_ENCODED_WORD,
    ) -> ChallengeEmail:
        """Write the Subject as RFC 2047 encoded-words, optionally RFC 2231 tagged (CHAL-SUBJ-3..5).

        ``split_at`` are positions in ``ACME: <token>`` where a new encoded-word starts.
        """
        self._no_raw_subject("with_subject_encoded")
        require_choice("encoding", encoding, _ENCODINGS)
        split = None if split_at is None else tuple(split_at)
        chosen = _SubjectEncoding(charset, encoding, language, split, max_word)
        return replace(self, subject_encoding=chosen)

    def with_padding(self) -> ChallengeEmail:
        """Write token-part1 with its ``=`` padding, as the RFC example does (AMB-2, KA-4)."""
        self._no_raw_subject("with_padding")
        if len(self.token_part1) % 4 == 0:
            raise ValueError(
                f"token-part1 of {len(self.token_part1)} characters needs no padding; "
                f"use a length that is not a multiple of 3 octets"
            )
        return replace(self, padded=True)

    def with_reply_to(self, addr: str) -> ChallengeEmail:
        """Add a Reply-To field; replies then go there (CHAL-HDR-3, RESP-TO-1)."""
        return replace(self, reply_to=addr)

    def with_cc(self, addr: str) -> ChallengeEmail:
        """Add a Cc field (CHAL-HDR-3)."""
        return replace(self, cc=addr)

    def with_to(self, raw: str) -> ChallengeEmail:
        """Write the To field as ``raw`` (display names, comments, several addresses: AMB-12)."""
        return replace(self, to_raw=raw)

    def with_from(self, raw: str) -> ChallengeEmail:
        """Write the From field as ``raw``; the challenge object's ``from`` is unchanged."""
        return replace(self, from_raw=raw)

    def with_auto_submitted(self, value: str | None) -> ChallengeEmail:
        """Set the Auto-Submitted value as written; None leaves the field out (CHAL-AUTO-1..3)."""
        return replace(self, auto_submitted=value)

    def with_header(self, name: str, value: str) -> ChallengeEmail:
        """Append one more header field after the builder's own (duplicates are allowed)."""
        if name.lower() in _MIME_FIELDS:
            raise ValueError(f"{name} comes from the body entity; use with_body*() instead")
        return replace(self, extra_headers=(*self.extra_headers, (name, value)))

    def without_header(self, name: str) -> ChallengeEmail:
        """Leave out every field called ``name`` that the builder would write or was given."""
        lowered = name.lower()
        if lowered in _MIME_FIELDS:
            raise ValueError(f"{name} comes from the body entity and cannot be left out")
        kept = tuple(item for item in self.extra_headers if item[0].lower() != lowered)
        return replace(self, extra_headers=kept, removed_headers=self.removed_headers | {lowered})

    def with_body(self, entity: Entity) -> ChallengeEmail:
        """Use any MIME entity as the body: the body is for people only (CHAL-BODY-1)."""
        return replace(self, body=entity)

    def with_body_text(self, text: str) -> ChallengeEmail:
        """A text/plain body (US-ASCII 7bit, or UTF-8 quoted-printable when needed)."""
        return self.with_body(_text_entity(text))

    def with_body_html(self, html: str) -> ChallengeEmail:
        """A text/html body only (CHAL-HTML-1)."""
        return self.with_body(_html_entity(html))

    def with_body_alternative(self, text: str, html: str) -> ChallengeEmail:
        """A multipart/alternative body of text/plain and text/html (CHAL-BODY-1)."""
        entity = alternative(
            _text_entity(text), _html_entity(html), boundary=self._boundary("alternative")
        )
        return self.with_body(entity)

    def with_decoys(self) -> ChallengeEmail:
        """A body holding another ``ACME: <token>`` line and a response block (CHAL-BODY-1)."""
        return self.with_body_text(_decoy_text(self.to, str(self.message_id)))

    def expectation(self) -> ChallengeExpectation:
        """What the ACME side tells the receiver about this challenge."""
        return ChallengeExpectation(identifier=self.to, challenge_from=self.challenge_from)

    def subject_value(self) -> str:
        """The Subject value as it will be written (RFC 8823 §3.1 (1))."""
        if self.subject_raw is not None:
            return self.subject_raw
        token = self.written_token
        text = format_challenge_subject(token)
        middle = len(_LABEL) + len(token) // 2
        if self.subject_encoding is not None:
            chosen = self.subject_encoding
            split = chosen.split_at
            if split is None and self.folded:
                split = (middle,)
            encoded = encode_words(
                text,
                charset=chosen.charset,
                encoding=chosen.encoding,
                language=chosen.language,
                max_word=chosen.max_word,
                split_at=split,
            )
            if not self.folded:
                return encoded
            if self.fold_at is not None:
                return fold(encoded, at=self.fold_at)
            return encoded.replace(" ", "\r\n ")
        if self.folded:
            return fold(text, at=self.fold_at or (middle,))
        return text

    def header_fields(self) -> list[tuple[str, str]]:
        """The top-level header fields before the MIME fields, in order."""
        candidates: list[tuple[str, str | None]] = [
            ("Auto-Submitted", self.auto_submitted),
            ("Date", self.date),
            ("Message-ID", self.message_id),
            ("From", self.from_raw or self.challenge_from),
            ("To", self.to_raw or self.to),
            ("Reply-To", self.reply_to),
            ("Cc", self.cc),
            ("Subject", self.subject_value()),
        ]
        fields = [
            (name, value)
            for name, value in candidates
            if value is not None and name.lower() not in self.removed_headers
        ]
        return [*fields, *self.extra_headers]

    def _from_domain(self) -> str:
        written = parse_single_address(self.from_raw or self.challenge_from)
        return domain_of(written.addr_spec or self.challenge_from)

    def build(self) -> bytes:
        """The message bytes: assembled, then S/MIME-signed, then DKIM-signed (CRLF lines)."""
        entity = self.body or _text_entity(_default_text(self.to))
        raw = self._signed_smime_message(assemble(self.header_fields(), entity))
        return self._signed_dkim_message(raw, self._from_domain())
