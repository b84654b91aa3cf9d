"""The ACME response email: build one with any variation a test needs, and inspect a received one.

``ResponseEmail`` is an immutable builder (each ``with_*`` returns a new one) for the reply of
RFC 8823 §3.2. ``inspect_response`` is pure: it judges every requirement observable in one
message and says whether a conforming CA should accept it (``ResponseReport.acceptable``).
``authenticate_response`` is the only function doing I/O (DKIM, SPF and DMARC lookups).
"""

from __future__ import annotations

import base64
import binascii
import html
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Literal

import dkim

from rfc8823.auth.dkim import (
    RESPONSE_RECOMMENDED_HEADERS,
    RESPONSE_REQUIRED_HEADERS,
    DkimPrivateKey,
    DkimResult,
    DkimSignatureResult,
    TagListError,
    missing_signed_headers,
    parse_tag_list,
    to_a_label,
)
from rfc8823.auth.dkim import sign as dkim_sign
from rfc8823.auth.dkim import verify as dkim_verify
from rfc8823.auth.resolver import Resolver
from rfc8823.auth.smime import SmimeResult
from rfc8823.auth.smime import sign as smime_sign
from rfc8823.auth.smime import verify as smime_verify
from rfc8823.auth.spf_dmarc import DmarcResult, SpfResult, check_dmarc, check_spf
from rfc8823.findings import Finding, broken, info, passed, risk
from rfc8823.messages.headers import (
    ACME_LABEL,
    addresses_equal,
    domain_of,
    format_reply_subject,
    parse_acme_subject,
    parse_single_address,
    unfold,
)
from rfc8823.messages.mime import (
    Entity,
    MimePart,
    ParsedMessage,
    TransferEncoding,
    alternative,
    encode_words,
    fold,
    format_date,
    format_headers,
    leaf,
    make_message_id,
    mixed,
    parse_message,
    text_html,
    text_plain,
)
from rfc8823.tokens import (
    Concatenation,
    acme_token,
    b64url_decode,
    b64url_encode,
    expected_digests,
    key_authorization,
    readings_agree,
    response_digest,
    without_whitespace,
)
from rfc8823.world.pki import SmimeIdentity

__all__ = [
    "BEGIN_MARKER",
    "DEFAULT_DKIM_HEADERS",
    "END_MARKER",
    "DkimSigning",
    "ResponseAuth",
    "ResponseEmail",
    "ResponseExpectation",
    "ResponseReport",
    "authenticate_response",
    "inspect_response",
]

BEGIN_MARKER = "-----BEGIN ACME RESPONSE-----"
END_MARKER = "-----END ACME RESPONSE-----"
DEFAULT_DKIM_HEADERS: tuple[str, ...] = RESPONSE_REQUIRED_HEADERS + RESPONSE_RECOMMENDED_HEADERS
"""The builder's default ``h=``: the required and the recommended names (RESP-DKIM-2, -3)."""

Layout = Literal["plain", "alternative", "html-only", "mixed"]

_CRLF = "\r\n"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BYTES_LINE_BREAK = re.compile(rb"\r?\n")
_WHITESPACE = re.compile(r"[ \t\r\n]+")
_NEAR_MARKER = re.compile(r"-{2,}\s*(BEGIN|END)\s*ACME\s*RESPONSE\s*-*|-*\s*(BEGIN|END) ACME", re.I)
_MSG_ID = re.compile(r"<[^<>]*>")
_HEX_DIGEST = re.compile(r"[0-9A-Fa-f]{64}")
_STANDARD_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_TRANSPARENT_MULTIPARTS = frozenset({"multipart/alternative", "multipart/signed"})
_SIGNED_TYPES = ("multipart/signed", "application/pkcs7-mime", "application/x-pkcs7-mime")
_DIGEST_OCTETS = 32
_NO_SPF = SpfResult("none", "no SMTP session was given", "")


@dataclass(frozen=True)
class DkimSigning:
    """One DKIM signature the builder adds; ``domain`` None means the From domain."""

    private_key: DkimPrivateKey
    selector: str
    domain: str | None = None
    headers: tuple[str, ...] = DEFAULT_DKIM_HEADERS
    body_length: bool = False


@dataclass(frozen=True)
class _Spec:
    """Every variation of a ResponseEmail besides its four essentials (private to the builder)."""

    subject_prefix: str = "Re: "
    subject_raw: str | None = None
    subject_fold_at: int | None = None
    subject_folded: bool = False
    subject_encoding: tuple[str, Literal["Q", "B"], str | None, tuple[int, ...]] | None = None
    cc: str | None = None
    headers: tuple[tuple[str, str, bool], ...] = ()
    removed: frozenset[str] = frozenset()
    headers_after_signing: tuple[tuple[str, str], ...] = ()
    digest_breaks: tuple[int, ...] = ()
    digest_line_ending: str = _CRLF
    text_before: str = ""
    text_after: str = ""
    marker_begin: str | None = BEGIN_MARKER
    marker_end: str | None = END_MARKER
    second_digest: str | None = None
    layout: Layout = "plain"
    html: str | None = None
    block_in_plain: bool = True
    transfer_encoding: TransferEncoding = "7bit"
    line_ending: bytes = b"\r\n"
    auto_submitted: str | None = None
    dkim: tuple[DkimSigning, ...] = ()
    smime: SmimeIdentity | None = None
    appended_unsigned: str | None = None


@dataclass(frozen=True)
class _ChallengeFacts:
    """What a reply needs from a challenge: its sender, Reply-To, Message-ID and token-part1."""

    from_addr: str
    reply_to: str | None
    message_id: str | None
    token_part1: str

    @classmethod
    def read(cls, challenge_raw: bytes) -> _ChallengeFacts:
        """Read a challenge email (RFC 8823 §3.1); ValueError if it has no From or no token."""
        message = parse_message(challenge_raw)
        from_raw = message.first("From")
        sender = parse_single_address(from_raw).addr_spec if from_raw is not None else None
        if sender is None:
            raise ValueError(f"the challenge has no usable From field: {from_raw!r}")
        subject = message.first("Subject")
        token = parse_acme_subject(subject).token_part1 if subject is not None else None
        if token is None:
            raise ValueError(f"the challenge Subject carries no token-part1: {subject!r}")
        reply_to_raw = message.first("Reply-To")
        reply_to = None
        if reply_to_raw is not None:
            reply_to = ", ".join(parse_single_address(reply_to_raw).addresses) or None
        message_id = message.first("Message-ID")
        return cls(
            from_addr=sender,
            reply_to=reply_to,
            message_id=unfold(message_id).strip() if message_id else None,
            token_part1=token,
        )


@dataclass(frozen=True)
class ResponseEmail:
    """Builder of an RFC 8823 §3.2 response email; every method returns a new builder.

    Defaults follow §3.2: From the identifier, To the challenge's Reply-To or From, Subject
    ``Re: ACME: <token-part1>``, In-Reply-To and References naming the challenge, text/plain in
    7bit with the digest on one line between the markers, no Auto-Submitted, not signed.
    """

    from_addr: str
    to: str
    token_part1: str
    digest: str
    in_reply_to: str | None = field(default=None, kw_only=True)
    references: str | None = field(default=None, kw_only=True)
    spec: _Spec = field(default_factory=_Spec, kw_only=True)

    @classmethod
    def answering(
        cls,
        challenge_raw: bytes,
        *,
        identifier: str,
        thumbprint: str,
        token_part2: str,
        reading: Concatenation = Concatenation.STRING,
    ) -> ResponseEmail:
        """The reply a conforming client sends to a challenge email (RFC 8823 §3 step 6, §3.2).

        To is the challenge's Reply-To (every address), else its From (RESP-TO-1); In-Reply-To
        and References name its Message-ID (RESP-IRT-1/2); the digest follows ``reading``
        (KA-1..KA-4). Raises ValueError when the challenge has no From or token-part1.
        """
        challenge = _ChallengeFacts.read(challenge_raw)
        token = acme_token(challenge.token_part1, token_part2, reading)
        return cls(
            identifier,
            challenge.reply_to or challenge.from_addr,
            challenge.token_part1,
            response_digest(key_authorization(token, thumbprint)),
            in_reply_to=challenge.message_id,
            references=challenge.message_id,
        )

    def _with(self, **changes: object) -> ResponseEmail:
        return replace(self, spec=replace(self.spec, **changes))  # type: ignore[arg-type]

    def with_subject(self, raw: str) -> ResponseEmail:
        """Use this raw Subject value verbatim (folds and encoded-words included)."""
        return self._with(subject_raw=raw)

    def with_subject_prefix(self, prefix: str) -> ResponseEmail:
        """Put ``prefix`` ("RE: ", "AW: ", "[EXT] Re: ", "" ...) before ``ACME:`` (RESP-SUBJ-3)."""
        return self._with(subject_prefix=prefix, subject_raw=None)

    def with_subject_folded(self, at: int | None = None) -> ResponseEmail:
        """Fold the Subject inside token-part1 at ``at`` (default: its middle); RESP-SUBJ-4."""
        if at is not None and not 0 <= at < len(self.token_part1):
            raise ValueError(
                f"fold position {at} is outside the token (0..{len(self.token_part1)})"
            )
        return self._with(subject_folded=True, subject_fold_at=at, subject_raw=None)

    def with_subject_encoded(
        self,
        charset: str = "utf-8",
        encoding: Literal["Q", "B"] = "Q",
        language: str | None = None,
        split_at: Sequence[int] = (),
    ) -> ResponseEmail:
        """Write the whole Subject as RFC 2047 encoded-words (RESP-SUBJ-2, decision 6)."""
        return self._with(
            subject_encoding=(charset, encoding, language, tuple(split_at)), subject_raw=None
        )

    def with_to(self, raw: str) -> ResponseEmail:
        """Send To this raw address field instead (RESP-TO-1)."""
        return replace(self, to=raw)

    def with_from(self, raw: str) -> ResponseEmail:
        """Send From this raw address field instead (RESP-FROM-1)."""
        return replace(self, from_addr=raw)

    def with_cc(self, addr: str | None) -> ResponseEmail:
        """Add (or, with None, drop) a Cc field, which a server ignores (RESP-CC-1)."""
        return self._with(cc=addr)

    def with_in_reply_to(self, value: str | None) -> ResponseEmail:
        """Set or (None) drop In-Reply-To (RESP-IRT-1)."""
        return replace(self, in_reply_to=value)

    def with_references(self, value: str | None) -> ResponseEmail:
        """Set or (None) drop References (RESP-IRT-2)."""
        return replace(self, references=value)

    def with_header(self, name: str, value: str, *, replace_existing: bool = True) -> ResponseEmail:
        """Set a header field: replace the first one of that name, or add another one."""
        return self._with(headers=(*self.spec.headers, (name, value, replace_existing)))

    def without_header(self, name: str) -> ResponseEmail:
        """Leave out every field of this name, MIME fields included, before signing."""
        return self._with(removed=self.spec.removed | {name.lower()})

    def with_list_header(
        self,
        name: str = "List-Id",
        value: str = "<acme.lists.example>",
        *,
        after_signing: bool = False,
    ) -> ResponseEmail:
        """Add a List-* field, as a mailing list would (RESP-LIST-1); optionally after DKIM."""
        if not name.lower().startswith("list-"):
            raise ValueError(f"{name!r} is not a List-* field name")
        if after_signing:
            return self._with(
                headers_after_signing=(*self.spec.headers_after_signing, (name, value))
            )
        return self.with_header(name, value, replace_existing=False)

    def with_digest(self, digest: str) -> ResponseEmail:
        """Write this text as the digest (line breaks inside it are kept); drops any wrapping."""
        return replace(self, digest=digest)._with(digest_breaks=())

    def with_digest_wrapped(
        self,
        width: int | None = None,
        *,
        positions: Sequence[int] | None = None,
        line_ending: str = _CRLF,
    ) -> ResponseEmail:
        """Break the digest every ``width`` characters or at ``positions`` (RESP-BODY-3).

        ``line_ending`` other than CRLF puts that sequence in the decoded text itself (a bare LF
        inside a CRLF message, say).
        """
        if (width is None) == (positions is None):
            raise ValueError("give exactly one of width or positions")
        if width is not None:
            if width < 1:
                raise ValueError(f"width must be at least 1, got {width}")
            cuts: tuple[int, ...] = tuple(range(width, len(self.digest), width))
        else:
            cuts = tuple(sorted(set(positions or ())))
            if any(not 0 < cut < len(self.digest) for cut in cuts):
                raise ValueError(f"break positions must lie in 1..{len(self.digest) - 1}")
        return self._with(digest_breaks=cuts, digest_line_ending=line_ending)

    def with_padded_digest(self) -> ResponseEmail:
        """Add the ``=`` padding to the digest, as the RFC example does (AMB-2, decision 3)."""
        body = self.digest.rstrip("=")
        return replace(self, digest=body + "=" * (-len(without_whitespace(body)) % 4))

    def with_text_around(self, before: str = "", after: str = "") -> ResponseEmail:
        """Put explanatory text before and after the block, which servers ignore (RESP-BODY-4)."""
        return self._with(text_before=before, text_after=after)

    def with_marker_lines(self, begin: str | None, end: str | None) -> ResponseEmail:
        """Write these marker lines instead (None leaves the line out); RESP-BODY-2."""
        return self._with(marker_begin=begin, marker_end=end)

    def with_second_block(self, digest: str) -> ResponseEmail:
        """Add a second response block carrying ``digest`` after the first (RESP-BODY-2)."""
        return self._with(second_digest=digest)

    def as_alternative(self, html: str | None = None) -> ResponseEmail:
        """multipart/alternative of the text/plain part and a text/html one (RESP-BODY-1)."""
        return self._with(layout="alternative", html=html, block_in_plain=True)

    def with_block_only_in_html(self, html: str | None = None) -> ResponseEmail:
        """multipart/alternative whose text/plain part lacks the block (RESP-HTML-1)."""
        return self._with(layout="alternative", html=html, block_in_plain=False)

    def as_html_only(self, html: str | None = None) -> ResponseEmail:
        """A single text/html body holding the block (RESP-BODY-1, RESP-HTML-1)."""
        return self._with(layout="html-only", html=html)

    def as_mixed(self) -> ResponseEmail:
        """Wrap the text/plain part in multipart/mixed (not allowed by RESP-BODY-1)."""
        return self._with(layout="mixed")

    def as_plain(self) -> ResponseEmail:
        """Back to a single text/plain body (RESP-BODY-1)."""
        return self._with(layout="plain", html=None, block_in_plain=True)

    def with_transfer_encoding(self, encoding: TransferEncoding) -> ResponseEmail:
        """Encode the text parts with this Content-Transfer-Encoding (RESP-BODY-5)."""
        return self._with(transfer_encoding=encoding)

    def with_line_endings(self, line_ending: bytes) -> ResponseEmail:
        """End every line of the message with ``line_ending`` (b"\\n" for LF-only mail)."""
        if line_ending not in (b"\r\n", b"\n"):
            raise ValueError(f"line endings are CRLF or LF, not {line_ending!r}")
        return self._with(line_ending=line_ending)

    def with_auto_submitted(self, value: str | None) -> ResponseEmail:
        """Add an Auto-Submitted field, or none with None (RESP-AUTO-1, AMB-9)."""
        return self._with(auto_submitted=value)

    def signed_dkim(
        self,
        private_key: DkimPrivateKey,
        *,
        selector: str,
        domain: str | None = None,
        headers: Sequence[str] | None = None,
        body_length: bool = False,
    ) -> ResponseEmail:
        """Add a DKIM signature (RESP-DKIM-1..5); each call adds one more, the last on top.

        ``domain`` defaults to the From domain (RESP-DKIM-4); ``headers`` to the required and
        recommended names (RESP-DKIM-2, -3); ``body_length`` adds ``l=`` (RESP-DKIM-5).
        """
        signing = DkimSigning(
            private_key,
            selector,
            domain,
            DEFAULT_DKIM_HEADERS if headers is None else tuple(headers),
            body_length,
        )
        return self._with(dkim=(*self.spec.dkim, signing))

    def signed_smime(self, identity: SmimeIdentity) -> ResponseEmail:
        """S/MIME-sign the message (multipart/signed), which alone does not do (RESP-DKIM-1)."""
        return self._with(smime=identity)

    def unsigned(self) -> ResponseEmail:
        """Drop every DKIM and S/MIME signature."""
        return self._with(dkim=(), smime=None)

    def with_appended_unsigned_text(self, text: str) -> ResponseEmail:
        """Append text to the body after signing, outside any ``l=`` (RESP-DKIM-5)."""
        return self._with(appended_unsigned=text)

    @property
    def from_domain(self) -> str:
        """The From domain in A-labels, the default DKIM ``d=`` (RESP-DKIM-4)."""
        addr = parse_single_address(self.from_addr).addr_spec or self.from_addr
        return domain_of(addr)

    def subject(self) -> str:
        """The raw Subject value this builder writes (RESP-SUBJ-1)."""
        spec = self.spec
        if spec.subject_raw is not None:
            return spec.subject_raw
        decoded = format_reply_subject(self.token_part1, spec.subject_prefix)
        if spec.subject_encoding is not None:
            charset, encoding, language, split_at = spec.subject_encoding
            return encode_words(
                decoded, charset=charset, encoding=encoding, language=language, split_at=split_at
            )
        if spec.subject_folded:
            token_start = len(decoded) - len(self.token_part1)
            inside = (
                len(self.token_part1) // 2 if spec.subject_fold_at is None else spec.subject_fold_at
            )
            return fold(decoded, at=[token_start + inside])
        return decoded

    def block(self, digest: str | None = None) -> str:
        """The response block for ``digest`` (default: this builder's, as wrapped); RESP-BODY-2."""
        spec = self.spec
        written = self._written_digest() if digest is None else digest
        lines = [spec.marker_begin, written, spec.marker_end]
        return "".join(line + _CRLF for line in lines if line is not None)

    def _written_digest(self) -> str:
        cuts = [0, *self.spec.digest_breaks, len(self.digest)]
        pieces = [self.digest[a:b] for a, b in itertools.pairwise(cuts)]
        return self.spec.digest_line_ending.join(pieces)

    def _blocks(self) -> str:
        second = self.spec.second_digest
        return self.block() + (self.block(second) if second is not None else "")

    def _plain_text(self, with_block: bool) -> str:
        pieces = [self.spec.text_before, self._blocks() if with_block else "", self.spec.text_after]
        return "".join(_as_lines(piece) for piece in pieces if piece)

    def _html(self) -> str:
        spec = self.spec
        if spec.html is not None:
            return spec.html
        return (
            f"<html><body><p>{html.escape(spec.text_before)}</p>"
            f"<pre>{html.escape(self._blocks())}</pre>"
            f"<p>{html.escape(spec.text_after)}</p></body></html>"
        )

    def _entity(self) -> Entity:
        spec = self.spec
        plain = self._plain_text(spec.block_in_plain)
        page = self._html() if spec.layout in ("alternative", "html-only") else ""
        charset = "us-ascii" if (plain + page).isascii() else "utf-8"
        encoding = spec.transfer_encoding
        if spec.digest_line_ending == _CRLF:
            plain_part = text_plain(plain or _CRLF, charset=charset, transfer_encoding=encoding)
        else:
            plain_part = leaf(
                "text/plain",
                plain.encode(charset),
                params={"charset": charset},
                transfer_encoding=encoding,
            )
        if spec.layout == "plain":
            return plain_part
        if spec.layout == "mixed":
            return mixed(plain_part)
        html_part = text_html(page, charset=charset, transfer_encoding=encoding)
        return html_part if spec.layout == "html-only" else alternative(plain_part, html_part)

    def _header_fields(self, entity: Entity) -> list[tuple[str, str]]:
        spec = self.spec
        fields: list[tuple[str, str]] = [
            ("From", self.from_addr),
            ("To", self.to),
            *([("Cc", spec.cc)] if spec.cc is not None else []),
            ("Subject", self.subject()),
            ("Date", format_date()),
            ("Message-ID", make_message_id(self.from_domain or "localhost")),
            *([("In-Reply-To", self.in_reply_to)] if self.in_reply_to is not None else []),
            *([("References", self.references)] if self.references is not None else []),
            *([("Auto-Submitted", spec.auto_submitted)] if spec.auto_submitted is not None else []),
            ("MIME-Version", "1.0"),
            *entity.headers,
        ]
        for name, value, replace_existing in spec.headers:
            names = [existing.lower() for existing, _ in fields]
            if replace_existing and name.lower() in names:
                fields[names.index(name.lower())] = (name, value)
            else:
                fields.append((name, value))
        return [(name, value) for name, value in fields if name.lower() not in spec.removed]

    def build(self) -> bytes:
        """The message bytes: composed, S/MIME-signed, DKIM-signed, then any after-signing edits.

        Raises ValueError for combinations no message can carry (non-ASCII text in 7bit).
        """
        spec = self.spec
        entity = self._entity()
        crlf = format_headers(self._header_fields(entity)) + b"\r\n" + entity.body
        if spec.smime is not None:
            identity = spec.smime
            crlf = smime_sign(
                crlf, identity.cert, identity.key, identity.chain, header_protection=False
            )
        message = crlf.replace(b"\r\n", spec.line_ending)
        for signing in spec.dkim:
            message = dkim_sign(
                message,
                domain=signing.domain or self.from_domain,
                selector=signing.selector,
                private_key=signing.private_key,
                headers=signing.headers,
                body_length=signing.body_length,
            )
        if spec.headers_after_signing:
            message = (
                format_headers(spec.headers_after_signing, line_ending=spec.line_ending) + message
            )
        if spec.appended_unsigned is not None:
            extra = _as_lines(spec.appended_unsigned).replace(_CRLF, spec.line_ending.decode())
            message += extra.encode("utf-8")
        return message


def _as_lines(text: str) -> str:
    """Text with CRLF line ends, ending in one."""
    text = _LINE_BREAK.sub(_CRLF, text)
    return text if text.endswith(_CRLF) else text + _CRLF


@dataclass(frozen=True)
class ResponseExpectation:
    """What the CA knows when a reply arrives: the order's identifier and the challenge it sent.

    ``other_thumbprints`` lists thumbprints of other accounts; a digest made with one of them is
    reported as SEC-7 rather than as a plain mismatch (a single message cannot reveal it otherwise).
    Token parts and thumbprints that give no digest raise ValueError here.
    """

    identifier: str
    challenge_from: str
    challenge_reply_to: str | None
    token_part1: str
    token_part2: str
    thumbprint: str
    challenge_message_id: str | None
    other_thumbprints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Compute the digests now, so unusable tokens or thumbprints raise here, not later."""
        _ = self.digests, self.known_slips

    @classmethod
    def for_challenge(
        cls, challenge_raw: bytes, *, identifier: str, token_part2: str, thumbprint: str
    ) -> ResponseExpectation:
        """The expectation for replies to this challenge email (RFC 8823 §3.1, §3.2)."""
        challenge = _ChallengeFacts.read(challenge_raw)
        return cls(
            identifier=identifier,
            challenge_from=challenge.from_addr,
            challenge_reply_to=challenge.reply_to,
            token_part1=challenge.token_part1,
            token_part2=token_part2,
            thumbprint=thumbprint,
            challenge_message_id=challenge.message_id,
        )

    @cached_property
    def digests(self) -> dict[Concatenation, bytes]:
        """The digest octets under each reading (KA-1..KA-4); ValueError on unusable tokens."""
        return {
            reading: b64url_decode(value)
            for reading, value in expected_digests(
                self.token_part1, self.token_part2, self.thumbprint
            ).items()
        }

    @cached_property
    def key_authorizations(self) -> frozenset[str]:
        """The key authorization under each reading, to spot it sent raw (KA-3)."""
        return frozenset(
            key_authorization(acme_token(self.token_part1, self.token_part2, r), self.thumbprint)
            for r in Concatenation
        )

    @cached_property
    def known_slips(self) -> dict[bytes, tuple[str, str]]:
        """Digest octets of known wrong constructions: requirement ID and what was done.

        Parts swapped (KA-1); no dot, padded thumbprint, or no thumbprint (KA-2); another
        account's thumbprint (SEC-7).
        """
        slips: dict[bytes, tuple[str, str]] = {}
        part1 = without_whitespace(self.token_part1)
        for reading in Concatenation:
            token = acme_token(part1, self.token_part2, reading)
            padded = b64url_encode(b64url_decode(self.thumbprint), pad=True)
            for text, what in (
                (f"{token}{self.thumbprint}", "key authorization without the '.'"),
                (f"{token}.{padded}", "thumbprint written with '=' padding"),
                (token, "the token alone, no thumbprint"),
            ):
                slips[_sha256_octets(text)] = ("KA-2", f"{what} ({reading} reading)")
            swapped = acme_token(self.token_part2, part1, reading)
            slips[_sha256_octets(f"{swapped}.{self.thumbprint}")] = (
                "KA-1",
                f"token-part2 put before token-part1 ({reading} reading)",
            )
            for other in self.other_thumbprints:
                slips[_sha256_octets(key_authorization(token, other))] = (
                    "SEC-7",
                    f"made with another account's thumbprint {other} ({reading} reading)",
                )
        return slips


def _sha256_octets(key_authorization_text: str) -> bytes:
    return b64url_decode(response_digest(key_authorization_text))


@dataclass(frozen=True)
class ResponseAuth:
    """Authentication results for one received response (RESP-DKIM-*, SEC-10, catalog §2.10)."""

    dkim: DkimResult | None
    spf: SpfResult | None = None
    dmarc: DmarcResult | None = None
    smime: SmimeResult | None = None


def authenticate_response(
    raw: bytes,
    *,
    resolver: Resolver,
    peer_ip: str | None,
    mail_from: str | None,
    helo: str | None,
    smime_trust_anchors: Sequence[Path] = (),
    now: int | None = None,
) -> ResponseAuth:
    """Verify DKIM, and SPF/DMARC when the SMTP session is known, for one response.

    The suite's only networked step of response inspection: keys and policies come through
    ``resolver``. S/MIME is verified only when trust anchors are given. Never raises.
    RFC 8823 §3.2 (8), RFC 6376, RFC 7208, RFC 7489; SEC-10.
    """
    dkim_result = dkim_verify(raw, resolver, now=now)
    spf = check_spf(peer_ip, mail_from or "", helo or "", resolver) if peer_ip else None
    try:
        dmarc: DmarcResult | None = check_dmarc(
            raw, spf=spf or _NO_SPF, dkim=dkim_result, resolver=resolver
        )
    except (ValueError, LookupError, TypeError, UnicodeError):
        dmarc = None
    smime = None
    if smime_trust_anchors and parse_message(raw).content_type in _SIGNED_TYPES:
        smime = smime_verify(raw, smime_trust_anchors)
    return ResponseAuth(dkim=dkim_result, spf=spf, dmarc=dmarc, smime=smime)


@dataclass(frozen=True)
class ResponseReport:
    """What ``inspect_response`` concluded.

    ``findings`` judge the message against each observable requirement (a client's duties);
    ``acceptable`` is what a conforming CA decides, with ``rejection_reasons`` naming the
    requirement IDs that made it refuse (empty when acceptable).
    """

    findings: tuple[Finding, ...]
    digests_found: tuple[str, ...]
    reading: Concatenation | None
    token_part1_seen: str | None
    authentic: bool
    acceptable: bool
    rejection_reasons: tuple[str, ...]

    @property
    def failed_requirements(self) -> tuple[str, ...]:
        """IDs with a FAIL or WARN finding, in order of first appearance."""
        return tuple(
            dict.fromkeys(f.requirement for f in self.findings if f.verdict in ("fail", "warn"))
        )


class _Judge:
    """Collects findings and the IDs that make a CA reject the message."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.rejections: dict[str, None] = {}

    def add(self, finding: Finding, *, rejects: bool = False) -> None:
        self.findings.append(finding)
        if rejects:
            self.rejections[finding.requirement] = None


@dataclass(frozen=True)
class _Block:
    """One BEGIN..END block as found: its digest with whitespace removed, and its shape."""

    digest: str
    lines: int
    terminated: bool
    indented: bool


@dataclass(frozen=True)
class _BodyVerdict:
    digests: tuple[str, ...]
    reading: Concatenation | None


def inspect_response(
    raw: bytes, expect: ResponseExpectation, auth: ResponseAuth | None = None
) -> ResponseReport:
    """Judge a response email against RFC 8823 §3.2 and decide if a CA should accept it.

    Pure and total: any bytes give a report. ``acceptable`` holds exactly when all of these do
    (SRV-VAL-1):

    * authentic: a DKIM signature passes with ``d=`` equal to the From domain (RESP-DKIM-1,
      RESP-DKIM-4), its ``h=`` covers every required field present in the message
      (RESP-DKIM-2; absent ones left out of ``h=`` only warn), and no ``l=`` stops short of the
      body (RESP-DKIM-5). Without ``auth`` the message is not authentic. SPF never stands in
      for DKIM (SEC-10); S/MIME alone does not either (RESP-DKIM-1);
    * exactly one From, naming the identifier (RESP-FROM-1);
    * exactly one Subject whose decoded ``ACME:`` token equals token-part1, ignoring white
      space and ``=`` padding, whatever precedes the label (RESP-SUBJ-1..4);
    * no List-* field (RESP-LIST-1);
    * a text/plain body, alone or inside multipart/alternative (a multipart/signed wrapper is
      looked through), holding the block (RESP-BODY-1, RESP-HTML-1);
    * every block carries the same digest, and it matches the key authorization under some
      reading: string, octets or string-unpadded (RESP-BODY-2, KA-1..KA-4, decision 2).

    To, Cc, In-Reply-To, References, Auto-Submitted, the transfer encoding, line endings, text
    around the block and the Subject prefix are judged in ``findings`` but never decide.
    """
    message = parse_message(raw)
    judge = _Judge()
    from_addr = _judge_from(message, expect, judge)
    _judge_to(message, expect, judge)
    _judge_cc(message, judge)
    token_seen = _judge_subject(message, expect, judge)
    _judge_threading(message, expect, judge)
    _judge_lists(message, judge)
    _judge_auto_submitted(message, judge)
    body = _judge_body(message, expect, judge)
    authentic = _judge_authentication(message, from_addr, auth, judge)
    return ResponseReport(
        findings=tuple(judge.findings),
        digests_found=body.digests,
        reading=body.reading,
        token_part1_seen=token_seen,
        authentic=authentic,
        acceptable=not judge.rejections,
        rejection_reasons=tuple(judge.rejections),
    )


def _judge_from(message: ParsedMessage, expect: ResponseExpectation, judge: _Judge) -> str | None:
    """RESP-FROM-1: one From field naming exactly the identifier (RFC 8823 §3.2 (2), I18N-5)."""
    values = message.all("From")
    if len(values) != 1:
        judge.add(
            broken("RESP-FROM-1", f"{len(values)} From fields", f"one From: {expect.identifier}"),
            rejects=True,
        )
        return None
    parsed = parse_single_address(values[0])
    if parsed.addr_spec is None:
        observed = f"From {values[0]!r} naming {parsed.count} addresses"
        judge.add(broken("RESP-FROM-1", observed, expect.identifier), rejects=True)
        return None
    if addresses_equal(parsed.addr_spec, expect.identifier):
        judge.add(passed("RESP-FROM-1", f"From {parsed.addr_spec}", expect.identifier))
    else:
        judge.add(
            broken("RESP-FROM-1", f"From {parsed.addr_spec}", expect.identifier), rejects=True
        )
    return parsed.addr_spec


def _judge_to(message: ParsedMessage, expect: ResponseExpectation, judge: _Judge) -> None:
    """RESP-TO-1: To names the challenge's Reply-To addresses, else its From (§3.2 (3))."""
    wanted_raw = expect.challenge_reply_to or expect.challenge_from
    wanted = parse_single_address(wanted_raw).addresses or (wanted_raw,)
    values = message.all("To")
    found = [addr for value in values for addr in parse_single_address(value).addresses]
    missing = [w for w in wanted if not any(addresses_equal(w, addr) for addr in found)]
    source = "Reply-To" if expect.challenge_reply_to else "From"
    expected = f"To {', '.join(wanted)} (the challenge's {source})"
    if missing or not values:
        judge.add(broken("RESP-TO-1", f"To {', '.join(found) or 'absent'}", expected))
    else:
        judge.add(passed("RESP-TO-1", f"To {', '.join(found)}", expected))


def _judge_cc(message: ParsedMessage, judge: _Judge) -> None:
    """RESP-CC-1: a Cc field is recorded and plays no part in the decision (§3.2 (4))."""
    values = message.all("Cc")
    if values:
        shown = "; ".join(unfold(value).strip() for value in values)
        judge.add(info("RESP-CC-1", f"Cc {shown}", "ignored by validation"))


def _judge_subject(
    message: ParsedMessage, expect: ResponseExpectation, judge: _Judge
) -> str | None:
    """RESP-SUBJ-1..4: the decoded Subject carries ``ACME: <token-part1>`` (§3.2 (1))."""
    wanted = without_whitespace(expect.token_part1)
    expected = f"[reply prefix] {ACME_LABEL} {wanted}"
    values = message.all("Subject")
    if len(values) != 1:
        judge.add(broken("RESP-SUBJ-1", f"{len(values)} Subject fields", expected), rejects=True)
        return None
    parsed = parse_acme_subject(values[0])
    if parsed.charsets:
        detail = "; ".join(parsed.problems)
        observed = (
            f"encoded-words in {parsed.charsets or 'no charset'} decoded to {parsed.decoded!r}"
        )
        judge.add(info("RESP-SUBJ-2", observed, detail))
    if parsed.prefix:
        kind = "a reply prefix" if parsed.is_reply else "not a reply prefix"
        judge.add(info("RESP-SUBJ-3", f"{parsed.prefix!r} before the label ({kind})", "ignored"))
    token = parsed.token_part1
    if token is None:
        judge.add(broken("RESP-SUBJ-1", f"Subject {parsed.decoded!r}", expected), rejects=True)
        return None
    label_at = parsed.decoded.find(ACME_LABEL)
    written = parsed.decoded[label_at + len(ACME_LABEL) :].strip(" \t\r\n")
    if written != token:
        judge.add(info("RESP-SUBJ-4", f"token written as {written!r}", "white space dropped"))
    if token.rstrip("=") != wanted.rstrip("="):
        judge.add(broken("RESP-SUBJ-1", f"token-part1 {token!r}", expected), rejects=True)
        return token
    if token != wanted:
        judge.add(info("RESP-SUBJ-1", f"token {token!r} differs in '=' padding", "decision 3"))
    slips = []
    if not parsed.prefix.isascii():
        slips.append(f"prefix {parsed.prefix!r} is not US-ASCII")
    if not parsed.label_space_ok:
        slips.append(f"no white space after {ACME_LABEL!r}")
    if slips:
        judge.add(broken("RESP-SUBJ-1", f"Subject {parsed.decoded!r}", expected, "; ".join(slips)))
    else:
        judge.add(passed("RESP-SUBJ-1", f"Subject {parsed.decoded!r}", expected))
    return token


def _msg_ids(value: str) -> list[str]:
    """The msg-ids of an In-Reply-To/References/Message-ID value, ``<>`` kept (RFC 5322 §3.6.4)."""
    text = unfold(value)
    return [re.sub(r"\s", "", found) for found in _MSG_ID.findall(text)]


def _judge_threading(message: ParsedMessage, expect: ResponseExpectation, judge: _Judge) -> None:
    """RESP-IRT-1/2: In-Reply-To and References name the challenge's Message-ID (§3.2 (5))."""
    parent = unfold(expect.challenge_message_id or "").strip()
    wanted = (_msg_ids(parent) or [f"<{parent}>"])[0] if parent else None
    for requirement, name in (("RESP-IRT-1", "In-Reply-To"), ("RESP-IRT-2", "References")):
        values = message.all(name)
        shown = "; ".join(unfold(value).strip() for value in values) or "absent"
        if wanted is None:
            judge.add(info(requirement, f"{name} {shown}", "the challenge had no Message-ID"))
            continue
        ids = [found for value in values for found in _msg_ids(value)]
        if wanted in ids:
            judge.add(passed(requirement, f"{name} {shown}", wanted))
            continue
        bare = wanted[1:-1]
        detail = "msg-id lacks its angle brackets" if bare in shown else ""
        judge.add(broken(requirement, f"{name} {shown}", wanted, detail))


def _judge_lists(message: ParsedMessage, judge: _Judge) -> None:
    """RESP-LIST-1: no List-* field at all, signed or not (§3.2 (6), SEC-3)."""
    names = [name for name, _ in message.headers if name.lower().startswith("list-")]
    if names:
        judge.add(
            broken("RESP-LIST-1", f"fields {', '.join(names)}", "no List-* field"), rejects=True
        )
    else:
        judge.add(passed("RESP-LIST-1", "no List-* field"))


def _judge_auto_submitted(message: ParsedMessage, judge: _Judge) -> None:
    """RESP-AUTO-1: Auto-Submitted is recorded, never judged (AMB-9)."""
    value = message.first("Auto-Submitted")
    shown = "absent" if value is None else repr(unfold(value).strip())
    judge.add(info("RESP-AUTO-1", f"Auto-Submitted {shown}", "no rule for the response"))


def _eligible(part: MimePart) -> bool:
    """A text/plain part a CA reads: top level, or under alternative/signed only (RESP-BODY-1)."""
    return (
        part.content_type == "text/plain"
        and part.disposition != "attachment"
        and all(ancestor in _TRANSPARENT_MULTIPARTS for ancestor in part.ancestors)
    )


def _judge_body(message: ParsedMessage, expect: ResponseExpectation, judge: _Judge) -> _BodyVerdict:
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
    blocks = [block for part in (eligible or plain) for block in _find_blocks(part.text or "")]
    if not blocks:
        _judge_missing_block(message, eligible or plain, judge)
        return _BodyVerdict((), None)
    if any(part.text and _has_text_outside(part.text) for part in eligible or plain):
        judge.add(info("RESP-BODY-4", "text around the block", "ignored by validation"))
    return _judge_blocks(blocks, expect, judge)


def _judge_transfer(part: MimePart, judge: _Judge) -> None:
    """RESP-BODY-5: record a transfer encoding beyond 7bit; a CA decodes it anyway."""
    encoding = part.transfer_encoding
    if encoding == "7bit":
        judge.add(passed("RESP-BODY-5", f"part {part.path} in 7bit"))
    else:
        judge.add(info("RESP-BODY-5", f"part {part.path} in {encoding}", "decoded before reading"))
    if part.text and "\n" in part.text.replace("\r\n", ""):
        judge.add(info("RESP-BODY-3", f"part {part.path} has bare LF line ends", "accepted"))


def _find_blocks(text: str) -> list[_Block]:
    """Every BEGIN..END block in a text, marker lines compared exactly after trimming blanks."""
    lines = _LINE_BREAK.split(text)
    blocks: list[_Block] = []
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
            _Block(
                digest=_WHITESPACE.sub("", "".join(content)),
                lines=sum(1 for line in content if line.strip()),
                terminated=terminated,
                indented=any(line != line.strip(" \t") for line in markers),
            )
        )
        index += 1
    return blocks


def _has_text_outside(text: str) -> bool:
    """Whether non-blank lines stand outside the blocks (RESP-BODY-4)."""
    inside = False
    for line in _LINE_BREAK.split(text):
        marker = line.strip(" \t")
        if marker == BEGIN_MARKER:
            inside = True
        elif marker == END_MARKER:
            inside = False
        elif not inside and marker:
            return True
    return False


def _judge_missing_block(message: ParsedMessage, texts: Iterable[MimePart], judge: _Judge) -> None:
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
        for line in _LINE_BREAK.split(part.text or "")
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
    blocks: Sequence[_Block], expect: ResponseExpectation, judge: _Judge
) -> _BodyVerdict:
    """Judge the first block's digest; further blocks must carry the same one (RESP-BODY-2)."""
    first = blocks[0]
    digests = tuple(block.digest for block in blocks)
    if not first.terminated:
        judge.add(broken("RESP-BODY-2", "a block without its END line", END_MARKER), rejects=True)
        return _BodyVerdict(digests, None)
    if any(block.indented for block in blocks):
        judge.add(info("RESP-BODY-2", "marker lines with leading or trailing blanks", "accepted"))
    if first.lines > 1:
        judge.add(info("RESP-BODY-3", f"digest over {first.lines} lines", "line breaks ignored"))
    reading = _judge_digest(first.digest, expect, judge)
    keys = {_digest_key(block.digest) for block in blocks}
    if len(keys) > 1:
        judge.add(
            broken("RESP-BODY-2", f"{len(blocks)} blocks with different digests", "one digest"),
            rejects=True,
        )
        return _BodyVerdict(digests, None)
    if len(blocks) > 1:
        judge.add(info("RESP-BODY-2", f"{len(blocks)} blocks with the same digest", "accepted"))
    return _BodyVerdict(digests, reading)


def _digest_key(digest: str) -> bytes:
    """Compare blocks by decoded octets when they decode, else by text."""
    try:
        return b64url_decode(digest)
    except ValueError:
        return b"text:" + digest.encode("utf-8", "surrogateescape")


def _judge_digest(digest: str, expect: ResponseExpectation, judge: _Judge) -> Concatenation | None:
    """KA-1..KA-4, SEC-7 and RESP-BODY-2 for one digest; the matching reading, if any."""
    expected_text = "base64url(SHA-256(keyAuthorization)), 32 octets"
    try:
        octets = b64url_decode(digest)
    except ValueError:
        octets = None
    if octets is None or len(octets) != _DIGEST_OCTETS:
        requirement, observed = _malformed_digest(digest, octets, expect)
        judge.add(broken(requirement, observed, expected_text), rejects=True)
        return None
    if digest.endswith("="):
        judge.add(info("KA-3", "digest written with '=' padding", "accepted (decision 3)"))
    matching = [reading for reading, value in expect.digests.items() if value == octets]
    if not matching:
        slip = expect.known_slips.get(octets)
        if slip is not None:
            judge.add(
                broken(slip[0], f"digest {digest}: {slip[1]}", "the digest of this order"),
                rejects=True,
            )
        else:
            judge.add(
                broken(
                    "RESP-BODY-2",
                    f"digest {digest} matches no reading",
                    f"one of {sorted(b64url_encode(v) for v in set(expect.digests.values()))}",
                ),
                rejects=True,
            )
        return None
    reading = Concatenation.STRING if Concatenation.STRING in matching else matching[0]
    for requirement in ("RESP-BODY-2", "KA-1", "KA-2", "KA-3"):
        judge.add(passed(requirement, f"digest {digest}", expected_text))
    agree = readings_agree(expect.token_part1, expect.token_part2)
    names = ", ".join(r.value for r in matching)
    detail = "the readings agree for this token" if agree else "the readings differ for this token"
    judge.add(info("KA-4", f"digest matches the {names} reading", detail))
    if Concatenation.STRING not in matching:
        judge.add(
            risk(
                "KA-4",
                f"{reading.value} reading",
                "the string reading (decision 2)",
                "servers that only take the string reading reject it",
            )
        )
    return reading


def _malformed_digest(
    digest: str, octets: bytes | None, expect: ResponseExpectation
) -> tuple[str, str]:
    """The requirement a non-digest breaks: KA-3 for known wrong forms, else RESP-BODY-2."""
    if digest in expect.key_authorizations:
        return "KA-3", "the raw key authorization in the block"
    if _HEX_DIGEST.fullmatch(digest):
        right = bytes.fromhex(digest) in expect.digests.values()
        return "KA-3", f"a hex digest ({'right' if right else 'wrong'} octets)"
    if "." in digest:
        return "KA-3", f"{digest[:60]!r}, shaped like a key authorization"
    if _STANDARD_BASE64.fullmatch(digest) and ("+" in digest or "/" in digest):
        try:
            decoded = base64.b64decode(digest + "=" * (-len(digest) % 4))
        except (binascii.Error, ValueError):
            decoded = b""
        right = decoded in expect.digests.values()
        return "KA-3", f"standard base64 ('+' or '/'; {'right' if right else 'wrong'} octets)"
    if octets is None:
        return "RESP-BODY-2", f"{digest[:60]!r} is not base64url" if digest else "an empty block"
    return "RESP-BODY-2", f"digest {digest!r} decodes to {len(octets)} octets"


def _judge_authentication(
    message: ParsedMessage, from_addr: str | None, auth: ResponseAuth | None, judge: _Judge
) -> bool:
    """RESP-DKIM-1..5 and SEC-10: an aligned, covering, whole-body DKIM pass (§3.2 (8))."""
    if auth is None or auth.dkim is None:
        judge.add(
            info("RESP-DKIM-1", "DKIM not checked", "treated as unauthenticated"), rejects=True
        )
        authentic = False
    else:
        authentic = _judge_dkim(message, from_addr, auth.dkim, judge)
    if auth is None:
        return authentic
    if auth.smime is not None and auth.smime.status != "none":
        judge.add(
            info("RESP-DKIM-1", f"S/MIME signature {auth.smime.status}", "not enough on its own")
        )
    _record_spf_dmarc(auth, judge)
    if not authentic and auth.spf is not None and auth.spf.result == "pass":
        observed = f"SPF pass for {auth.spf.domain} without an aligned DKIM pass"
        judge.add(info("SEC-10", observed, "SPF does not authenticate the From"), rejects=True)
    return authentic


def _record_spf_dmarc(auth: ResponseAuth, judge: _Judge) -> None:
    """Decision 5: SPF and DMARC results are recorded, never decisive."""
    if auth.spf is not None:
        judge.add(info("SEC-10", f"SPF {auth.spf.result} for {auth.spf.domain or 'no domain'}"))
    if auth.dmarc is not None:
        via = f" via {auth.dmarc.aligned_via}" if auth.dmarc.aligned_via else ""
        judge.add(info("SEC-10", f"DMARC {auth.dmarc.result}{via}", auth.dmarc.reason))


def _judge_dkim(
    message: ParsedMessage, from_addr: str | None, result: DkimResult, judge: _Judge
) -> bool:
    """Pick the best aligned passing signature and judge its coverage and ``l=``."""
    passing = [sig for sig in result.signatures if sig.result == "pass"]
    if not passing:
        reasons = "; ".join(f"d={s.domain}: {s.result} ({s.reason})" for s in result.signatures)
        observed = reasons or result.error or "no DKIM-Signature"
        judge.add(broken("RESP-DKIM-1", observed, "a valid DKIM signature"), rejects=True)
        return False
    judge.add(passed("RESP-DKIM-1", f"DKIM pass for d={passing[0].domain}"))
    if from_addr is None:
        judge.add(info("RESP-DKIM-4", "no single From address to align d= with"))
        return False
    from_domain = domain_of(from_addr)
    aligned = [sig for sig in passing if to_a_label(sig.domain) == from_domain]
    if not aligned:
        domains = ", ".join(sig.domain for sig in passing)
        judge.add(
            broken("RESP-DKIM-4", f"d={domains}", f"d={from_domain}"),
            rejects=True,
        )
        return False
    judge.add(passed("RESP-DKIM-4", f"d={aligned[0].domain}", f"d={from_domain}"))
    body_length = _canonical_body_lengths(message)
    present = {name.lower() for name, _ in message.headers}

    def faults(sig: DkimSignatureResult) -> tuple[list[str], bool]:
        missing = missing_signed_headers(sig, RESPONSE_REQUIRED_HEADERS)
        unsigned = [name for name in missing if name in present]
        limit = body_length.get((sig.domain, sig.selector))
        short = sig.body_length is not None and (limit is None or sig.body_length < limit)
        return unsigned, short

    best = next((sig for sig in aligned if faults(sig) == ([], False)), aligned[0])
    unsigned, short = faults(best)
    missing = missing_signed_headers(best, RESPONSE_REQUIRED_HEADERS)
    if missing:
        detail = f"present but unsigned: {', '.join(unsigned)}" if unsigned else "all absent"
        judge.add(
            broken("RESP-DKIM-2", f"h= lacks {', '.join(missing)}", "the §3.2 list", detail),
            rejects=bool(unsigned),
        )
    else:
        judge.add(passed("RESP-DKIM-2", "h= covers the required fields"))
    recommended = missing_signed_headers(best, RESPONSE_RECOMMENDED_HEADERS)
    if recommended:
        judge.add(broken("RESP-DKIM-3", f"h= lacks {', '.join(recommended)}", "Resent-*, List-*"))
    else:
        judge.add(passed("RESP-DKIM-3", "h= covers Resent-* and List-*"))
    if short:
        limit = body_length.get((best.domain, best.selector))
        observed = f"l={best.body_length} of a {limit if limit is not None else '?'}-octet body"
        judge.add(broken("RESP-DKIM-5", observed, "no l=, or l= covering the body"), rejects=True)
    else:
        judge.add(passed("RESP-DKIM-5", "the whole body is signed"))
    return not unsigned and not short


def _canonical_body_lengths(message: ParsedMessage) -> dict[tuple[str, str], int]:
    """Per (d=, s=), the body length under that signature's body canonicalization (RFC 6376 §3.4).

    Signatures whose ``c=`` cannot be read are left out, which ``_judge_dkim`` treats as short.
    """
    body = _BYTES_LINE_BREAK.sub(b"\r\n", message.body)
    lengths: dict[tuple[str, str], int] = {}
    for value in message.all("DKIM-Signature"):
        try:
            tags = parse_tag_list(unfold(value))
            policy = dkim.CanonicalizationPolicy.from_c_value(
                tags.get("c", "simple/simple").encode("ascii")
            )
            length = len(policy.canonicalize_body(body))
        except (TagListError, dkim.InvalidCanonicalizationPolicyError, UnicodeError, ValueError):
            continue
        lengths.setdefault((tags.get("d", "").lower(), tags.get("s", "")), length)
    return lengths
