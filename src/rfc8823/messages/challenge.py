"""The ACME challenge email of RFC 8823 §3.1: an immutable builder, and an inspector of it.

The builder writes the conforming message by default and varies one thing per ``with_*`` call, so
a negative test states exactly what it breaks. The inspector is pure: it reads the bytes (and, if
given, DKIM/S/MIME verdicts computed by ``authenticate_challenge``) and returns one finding per
requirement it can judge from a single message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, replace
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rfc8823.auth import dkim, secure_headers, smime
from rfc8823.auth.dkim import (
    CHALLENGE_RECOMMENDED_HEADERS,
    CHALLENGE_REQUIRED_HEADERS,
    DkimPrivateKey,
    DkimResult,
)
from rfc8823.auth.resolver import Resolver
from rfc8823.auth.secure_headers import Canonicalization, Malformed, SecureField, SecureHeaders
from rfc8823.auth.smime import HeaderProtection, SmimeForm, SmimeResult
from rfc8823.findings import Finding, Verdict, broken, info, passed, risk
from rfc8823.messages.headers import (
    ALLOWED_SUBJECT_CHARSETS,
    MAX_ENCODED_WORD,
    addresses_equal,
    decode_header_value,
    domain_of,
    format_challenge_subject,
    is_auto_generated,
    parse_acme_subject,
    parse_auto_submitted,
    parse_single_address,
    type_is_acme,
    unfold,
)
from rfc8823.messages.mime import (
    Entity,
    MimePart,
    ParsedMessage,
    alternative,
    assemble,
    encode_words,
    fold,
    format_date,
    make_message_id,
    media_type,
    parse_message,
    text_html,
    text_plain,
)
from rfc8823.tokens import b64url_decode, b64url_encode, readings_agree
from rfc8823.values import SmimeIdentity

DEFAULT_AUTO_SUBMITTED = "auto-generated; type=acme"
"""The Auto-Submitted value RFC 8823 §3.1 (5) asks for (CHAL-AUTO-1, CHAL-AUTO-2)."""

MIN_TOKEN_PART1_OCTETS = 16
"""128 bits: the least entropy token-part1 may carry (TOK-3)."""

MUST_PROTECT = ("From", "To", "Subject")
"""Fields S/MIME header protection must cover at least (CHAL-BODY-3, AMB-8)."""

_LABEL = "ACME: "
_MSG_ID = re.compile(r"<[^<>@\s]+@[^<>\s]+>")
_DECOY_LABEL = re.compile(r"(?m)^\s*ACME:")
_DECOY_BLOCK = "-----BEGIN ACME RESPONSE-----"
_SIGNATURE_PROTOCOLS = ("application/pkcs7-signature", "application/x-pkcs7-signature")
_OPAQUE_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_MIME_FIELDS = ("mime-version", "content-type", "content-transfer-encoding")
_MAX_LINE = 998


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
        + f"\r\nand a reply carries a block like this one:\r\n{_DECOY_BLOCK}\r\n{decoy_digest}\r\n"
        + "-----END ACME RESPONSE-----\r\n"
    )


def _text_entity(text: str) -> Entity:
    if text.isascii():
        return text_plain(text)
    return text_plain(text, charset="utf-8", transfer_encoding="quoted-printable")


def _html_entity(html: str) -> Entity:
    if html.isascii():
        return text_html(html)
    return text_html(html, charset="utf-8", transfer_encoding="quoted-printable")


def _require_addr_spec(role: str, value: str) -> None:
    parsed = parse_single_address(value)
    if parsed.count != 1 or not parsed.bare or parsed.addr_spec != value.strip():
        raise ValueError(
            f"{role} must be a bare addr-spec, got {value!r}; write other forms with "
            f"with_from()/with_to()"
        )


@dataclass(frozen=True)
class _SubjectEncoding:
    charset: str
    encoding: Literal["Q", "B"]
    language: str | None
    split_at: tuple[int, ...] | None
    max_word: int


@dataclass(frozen=True)
class _DkimSigning:
    private_key: DkimPrivateKey
    domain: str | None
    selector: str
    headers: tuple[str, ...]
    body_length: bool


@dataclass(frozen=True)
class _SmimeSigning:
    identity: SmimeIdentity
    form: SmimeForm
    header_protection: HeaderProtection
    canonicalization: Canonicalization
    secure_fields: tuple[SecureField, ...] | None
    legacy_media_types: bool


@dataclass(frozen=True)
class ChallengeExpectation:
    """What the receiver knows from ACME: the identifier and the challenge object's ``from``.

    ``token_part2`` (the challenge object's ``token``) is optional; with it the KA-4 line says
    whether both concatenation readings agree for this exact pair (AMB-1).
    """

    identifier: str
    challenge_from: str | None = None
    token_part2: str | None = None


@dataclass(frozen=True)
class ChallengeAuth:
    """DKIM and S/MIME verdicts on one message; None where that check was not run."""

    dkim: DkimResult | None = None
    smime: SmimeResult | None = None


@dataclass(frozen=True)
class ChallengeEmail:
    """Immutable builder of a challenge email (RFC 8823 §3.1); each ``with_*`` returns a new one.

    The defaults conform: bare From/To, ``Subject: ACME: <token-part1>`` in plain US-ASCII,
    ``Auto-Submitted: auto-generated; type=acme``, Date, a fresh Message-ID and a text/plain
    body. It is unsigned until ``signed_dkim`` or ``signed_smime`` is called.
    """

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
    dkim_signings: tuple[_DkimSigning, ...] = ()
    smime_signing: _SmimeSigning | None = None

    def __post_init__(self) -> None:
        _require_addr_spec("challenge_from", self.challenge_from)
        _require_addr_spec("to", self.to)
        try:
            b64url_decode(self.token_part1)
        except ValueError as exc:
            raise ValueError(
                f"token_part1 {self.token_part1!r}: {exc}; write such a Subject with with_subject()"
            ) from exc
        if not self.token_part1 or "=" in self.token_part1:
            raise ValueError("token_part1 must be non-empty unpadded base64url; see with_padding()")
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

    def signed_dkim(
        self,
        private_key: DkimPrivateKey,
        *,
        selector: str,
        domain: str | None = None,
        headers: Sequence[str] | None = None,
        body_length: bool = False,
    ) -> ChallengeEmail:
        """Add a DKIM signature (RFC 6376; RFC 8823 §3.1 (6)); call again for a second one.

        ``domain`` (``d=``) defaults to the From domain; ``headers`` (``h=``) to the required and
        recommended lists (CHAL-DKIM-1/2), absent ones oversigned. With ``signed_smime`` as
        well, DKIM signs the finished S/MIME message, so it is the outermost layer.
        """
        if not isinstance(private_key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise TypeError(f"DKIM signs with RSA or Ed25519, not {type(private_key).__name__}")
        if not selector:
            raise ValueError("a DKIM signature needs a selector")
        names = (
            (*CHALLENGE_REQUIRED_HEADERS, *CHALLENGE_RECOMMENDED_HEADERS)
            if headers is None
            else tuple(headers)
        )
        if not names:
            raise ValueError("h= needs at least one header field name")
        signing = _DkimSigning(private_key, domain, selector, names, body_length)
        return replace(self, dkim_signings=(*self.dkim_signings, signing))

    def signed_smime(
        self,
        identity: SmimeIdentity,
        *,
        form: SmimeForm = "multipart-signed",
        header_protection: HeaderProtection = "rfc8551",
        canonicalization: Canonicalization = "relaxed",
        secure_fields: Sequence[SecureField] | None = None,
        legacy_media_types: bool = False,
    ) -> ChallengeEmail:
        """Sign with S/MIME (RFC 8551; CHAL-AUTH-1, CHAL-BODY-2, CHAL-BODY-3).

        ``header_protection`` (AMB-8): "rfc8551" wraps the message as message/rfc822 (RFC 8551
        §3.1); "rfc7508" lists the header fields in a SecureHeaderFields signed attribute
        declared ``canonicalization`` (RFC 7508 §4.1, §4.3), or exactly ``secure_fields`` when given
        (negative tests); "none" signs the body only. ``legacy_media_types`` writes the
        pre-RFC 5751 ``application/x-pkcs7-*`` names.
        """
        if not isinstance(identity.key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise TypeError(f"S/MIME signs with RSA or EC, not {type(identity.key).__name__}")
        if form not in ("multipart-signed", "opaque"):
            raise ValueError(f"form must be 'multipart-signed' or 'opaque', not {form!r}")
        if header_protection not in ("none", "rfc8551", "rfc7508"):
            raise ValueError(f"header_protection {header_protection!r} is not none/rfc8551/rfc7508")
        if canonicalization not in ("simple", "relaxed"):
            raise ValueError(f"canonicalization {canonicalization!r} is not simple/relaxed")
        if secure_fields is not None and header_protection != "rfc7508":
            raise ValueError("secure_fields only apply to header_protection='rfc7508'")
        listed = None if secure_fields is None else tuple(secure_fields)
        signing = _SmimeSigning(
            identity, form, header_protection, canonicalization, listed, legacy_media_types
        )
        return replace(self, smime_signing=signing)

    def unsigned(self) -> ChallengeEmail:
        """Drop every DKIM and S/MIME signature (breaks CHAL-AUTH-1)."""
        return replace(self, dkim_signings=(), smime_signing=None)

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
        raw = assemble(self.header_fields(), entity)
        chosen = self.smime_signing
        if chosen is not None:
            identity = chosen.identity
            raw = smime.sign(
                raw,
                identity.cert,
                identity.key,
                identity.chain,
                form=chosen.form,
                header_protection=chosen.header_protection,
                canonicalization=chosen.canonicalization,
                secure_fields=chosen.secure_fields,
            )
            if chosen.legacy_media_types:
                raw = _legacy_media_types(raw)
        for signing in self.dkim_signings:
            raw = dkim.sign(
                raw,
                domain=signing.domain or self._from_domain(),
                selector=signing.selector,
                private_key=signing.private_key,
                headers=signing.headers,
                body_length=signing.body_length,
            )
        return raw


def _legacy_media_types(raw: bytes) -> bytes:
    """Rename the top-level S/MIME media types to their ``x-`` forms (RFC 8551 §3.2.1)."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    for name in (b"pkcs7-signature", b"pkcs7-mime"):
        head = head.replace(b"application/" + name, b"application/x-" + name)
    return head + separator + body


@dataclass(frozen=True)
class ChallengeReport:
    """Findings on one challenge email, and what the inspector read from it."""

    findings: tuple[Finding, ...]
    token_part1: str | None
    message_id: str | None
    reply_to: str | None
    from_address: str | None
    parsed: ParsedMessage

    def failed_ids(self) -> frozenset[str]:
        """IDs of the requirements found broken (FAIL or WARN)."""
        return frozenset(
            f.requirement for f in self.findings if f.verdict in (Verdict.FAIL, Verdict.WARN)
        )

    def verdicts(self, requirement: str) -> tuple[Verdict, ...]:
        """The verdicts given on one requirement, in order."""
        return tuple(f.verdict for f in self.findings if f.requirement == requirement)


def authenticate_challenge(
    raw: bytes, *, resolver: Resolver, trust_anchors: Sequence[Path]
) -> ChallengeAuth:
    """Verify every DKIM signature (keys over DNS) and any S/MIME signature of ``raw``.

    The only I/O of this module; CHAL-AUTH-1, RFC 6376 §6, RFC 8551. Never raises.
    """
    return ChallengeAuth(dkim=dkim.verify(raw, resolver), smime=smime.verify(raw, trust_anchors))


@dataclass(frozen=True)
class _Signature:
    """The parts of a DKIM-Signature the rules look at; ``result`` None when not verified."""

    domain: str
    signed_headers: tuple[str, ...]
    result: str | None


@dataclass(frozen=True)
class _Smime:
    """The S/MIME shape of a message read from its top-level Content-Type (RFC 8551 §3.5)."""

    form: SmimeForm
    media_type: str
    standard: bool


def _one(parsed: ParsedMessage, name: str, requirement: str, out: list[Finding]) -> str | None:
    """The single value of ``name``, or None after a finding saying it is absent or repeated."""
    values = parsed.all(name)
    if len(values) == 1:
        return values[0]
    observed = f"{len(values)} {name} fields"
    out.append(broken(requirement, observed, f"exactly one {name} field"))
    return None


def _judge_subject(
    parsed: ParsedMessage, expect: ChallengeExpectation, out: list[Finding]
) -> str | None:
    """Subject shape, charset and token-part1 rules; returns token-part1 as read (§3.1 (1))."""
    raw = _one(parsed, "Subject", "CHAL-SUBJ-1", out)
    if raw is None:
        return None
    subject = parse_acme_subject(raw)
    decoded = decode_header_value(raw)
    shown = repr(subject.decoded)
    if subject.token_part1 and subject.label_space_ok and not subject.prefix.strip():
        out.append(passed("CHAL-SUBJ-1", shown, "'ACME:' FWS token-part1"))
    else:
        detail = "; ".join(subject.problems) or f"text before the label: {subject.prefix!r}"
        out.append(broken("CHAL-SUBJ-1", shown, "'ACME:' FWS token-part1", detail))
    after = subject.decoded.partition("ACME:")[2].strip(" \t\r\n")
    if "\n" in raw or any(char in after for char in " \t"):
        out.append(info("CHAL-SUBJ-2", f"folded or spaced token-part1 {after!r}"))
    words = decoded.encoded_words
    if words:
        charsets = sorted({word.charset.lower() for word in words})
        others = [c for c in charsets if c not in ALLOWED_SUBJECT_CHARSETS]
        if others:
            out.append(broken("CHAL-SUBJ-4", f"charset {', '.join(others)}", "utf-8 or us-ascii"))
        else:
            out.append(passed("CHAL-SUBJ-4", f"charset {', '.join(charsets)}"))
        out.append(
            broken("CHAL-SUBJ-5", f"{len(words)} encoded-word(s)", "a plain US-ASCII Subject")
        )
        long_words = [word.raw for word in words if len(word.raw) > MAX_ENCODED_WORD]
        if long_words:
            observed = f"encoded-word of {len(long_words[0])} characters"
            out.append(broken("REF-2047-1", observed, f"at most {MAX_ENCODED_WORD}"))
        else:
            out.append(passed("REF-2047-1", f"{len(words)} encoded-word(s)"))
    elif not raw.isascii():
        out.append(broken("CHAL-SUBJ-5", "raw non-ASCII Subject", "a plain US-ASCII Subject"))
    else:
        out.append(passed("CHAL-SUBJ-5", "plain US-ASCII Subject"))
    token = subject.token_part1
    if token is not None:
        _judge_token(token, expect, out)
    return token


def _judge_token(token: str, expect: ChallengeExpectation, out: list[Finding]) -> None:
    """token-part1 alphabet, entropy and concatenation readings (TOK-3, TOK-4, KA-4, AMB-1/2)."""
    try:
        octets = b64url_decode(token)
    except ValueError as exc:
        out.append(broken("TOK-4", repr(token), "base64url (RFC 4648 §5)", str(exc)))
        return
    out.append(passed("TOK-4", repr(token)))
    size = f"{len(octets)} octets"
    if len(octets) < MIN_TOKEN_PART1_OCTETS:
        out.append(broken("TOK-3", size, f">= {MIN_TOKEN_PART1_OCTETS} octets (128 bits)"))
    else:
        out.append(passed("TOK-3", size, f">= {MIN_TOKEN_PART1_OCTETS} octets"))
    if token.endswith("="):
        out.append(
            risk(
                "KA-4",
                f"padded token-part1 of {size}",
                "unpadded base64url (decision 3)",
                "string and octet concatenations differ; some clients reject padding (AMB-2)",
            )
        )
        return
    if expect.token_part2 is not None:
        agree = readings_agree(token, expect.token_part2)
    else:
        agree = len(octets) % 3 == 0
    reading = "agree" if agree else "differ"
    out.append(info("KA-4", f"token-part1 of {size}: the concatenation readings {reading} (AMB-1)"))


def _judge_address(
    parsed: ParsedMessage,
    name: str,
    requirement: str,
    wanted: str | None,
    role: str,
    out: list[Finding],
) -> str | None:
    """One address field holding exactly ``wanted``, written as the bare addr-spec (AMB-12).

    CHAL-HDR-1/2: another address is broken; display names, brackets or comments are a risk.
    """
    raw = _one(parsed, name, requirement, out)
    if raw is None:
        return None
    address = parse_single_address(raw)
    if address.addr_spec is None:
        observed = f"{name}: {unfold(raw)!r} holds {address.count} addresses"
        out.append(broken(requirement, observed, "exactly one address"))
        return None
    shown = f"{name}: {unfold(raw).strip()!r}"
    if wanted is None:
        out.append(info(requirement, f"{shown}; the {role} is not known here"))
    elif not addresses_equal(address.addr_spec, wanted):
        out.append(broken(requirement, shown, wanted))
    elif unfold(raw).strip(" \t") != address.addr_spec:
        detail = "strict clients compare the field with it as a string (AMB-12)"
        out.append(risk(requirement, shown, f"the bare addr-spec {wanted}", detail))
    else:
        out.append(passed(requirement, shown, wanted))
    return address.addr_spec


def _judge_challenge_from(expect: ChallengeExpectation, out: list[Finding]) -> None:
    """The challenge object's ``from`` is one bare addr-spec (CHAL-OBJ-3)."""
    if expect.challenge_from is None:
        return
    address = parse_single_address(expect.challenge_from)
    shown = repr(expect.challenge_from)
    if address.count == 1 and address.bare and address.addr_spec == expect.challenge_from.strip():
        out.append(passed("CHAL-OBJ-3", shown, "a bare addr-spec"))
    else:
        out.append(broken("CHAL-OBJ-3", shown, "a bare addr-spec"))


def _judge_other_headers(
    parsed: ParsedMessage, out: list[Finding]
) -> tuple[str | None, str | None]:
    """Reply-To/Cc (CHAL-HDR-3) and Message-ID (CHAL-HDR-4); returns Reply-To and Message-ID."""
    reply_to = None
    present = [
        f"{name}: {unfold(value).strip()}"
        for name in ("Reply-To", "Cc")
        for value in parsed.all(name)
    ]
    if present:
        out.append(info("CHAL-HDR-3", "; ".join(present)))
        raw_reply = parsed.first("Reply-To")
        reply_to = parse_single_address(raw_reply).addr_spec if raw_reply else None
    message_id = None
    raw_id = _one(parsed, "Message-ID", "CHAL-HDR-4", out)
    if raw_id is not None:
        candidate = unfold(raw_id).strip()
        if _MSG_ID.fullmatch(candidate):
            message_id = candidate
            out.append(passed("CHAL-HDR-4", candidate))
        else:
            out.append(broken("CHAL-HDR-4", repr(candidate), "<id-left@id-right>"))
    return reply_to, message_id


def _judge_auto_submitted(parsed: ParsedMessage, out: list[Finding]) -> None:
    """Auto-Submitted: auto-generated, type=acme, other parameters (CHAL-AUTO-1..3, REF-3834-1)."""
    raw = _one(parsed, "Auto-Submitted", "CHAL-AUTO-1", out)
    if raw is None:
        return
    value = parse_auto_submitted(raw)
    shown = repr(unfold(raw).strip())
    if not is_auto_generated(value):
        out.append(broken("CHAL-AUTO-1", shown, "keyword auto-generated"))
        return
    out.append(passed("CHAL-AUTO-1", shown))
    if value.problems:
        out.append(broken("REF-3834-1", shown, "RFC 3834 §5 syntax", "; ".join(value.problems)))
    if type_is_acme(value):
        out.append(passed("CHAL-AUTO-2", shown, "type=acme"))
    else:
        out.append(broken("CHAL-AUTO-2", shown, "parameter type=acme"))
    extra = {k: v for k, v in value.parameters.items() if k != "type"}
    if extra:
        out.append(info("CHAL-AUTO-3", f"further parameters {extra}"))


def _signatures(parsed: ParsedMessage, auth: ChallengeAuth | None) -> list[_Signature]:
    """DKIM signatures from the verifier when it ran, else read from the header (RFC 6376 §3.5)."""
    if auth is not None and auth.dkim is not None and auth.dkim.signatures:
        return [
            _Signature(sig.domain, sig.signed_headers, sig.result) for sig in auth.dkim.signatures
        ]
    found = []
    for value in parsed.all("DKIM-Signature"):
        try:
            tags = dkim.parse_tag_list(unfold(value))
        except dkim.TagListError:
            found.append(_Signature("", (), "permerror"))
            continue
        names = tuple(n.strip(" \t\r\n").lower() for n in tags.get("h", "").split(":"))
        found.append(_Signature(tags.get("d", "").lower(), names, None))
    return found


def _judge_dkim(
    signatures: list[_Signature], from_domain: str | None, smime_relied: bool, out: list[Finding]
) -> None:
    """``d=`` alignment and ``h=`` coverage (CHAL-DKIM-1..3, REF-6376-1; RFC 8823 §3.1 (6))."""
    if not signatures:
        return
    aligned = [s for s in signatures if from_domain and dkim.to_a_label(s.domain) == from_domain]
    domains = ", ".join(f"d={s.domain}" for s in signatures)
    if not aligned and smime_relied:
        out.append(info("CHAL-DKIM-3", f"{domains}; the challenge relies on S/MIME instead"))
        return
    if from_domain is None:
        out.append(info("CHAL-DKIM-3", f"{domains}; no single From address to align with"))
    elif aligned:
        out.append(passed("CHAL-DKIM-3", domains, f"d={from_domain}"))
    else:
        out.append(broken("CHAL-DKIM-3", domains, f"d={from_domain}"))
    verified = [s for s in aligned if s.result in (None, "pass")]
    chosen = (verified or aligned or signatures)[0]
    signed = set(chosen.signed_headers)
    where = f"h= of d={chosen.domain}"
    if "from" in signed:
        out.append(passed("REF-6376-1", f"{where} covers From"))
    else:
        out.append(broken("REF-6376-1", f"{where} lacks From", "From in h="))
    required = [n for n in CHALLENGE_REQUIRED_HEADERS if n != "from" and n not in signed]
    if required:
        out.append(broken("CHAL-DKIM-1", f"{where} lacks {', '.join(required)}", "all listed"))
    else:
        out.append(passed("CHAL-DKIM-1", f"{where} lists every required field"))
    recommended = [n for n in CHALLENGE_RECOMMENDED_HEADERS if n not in signed]
    if recommended:
        observed = f"{where} lacks {', '.join(recommended)}"
        out.append(broken("CHAL-DKIM-2", observed, "all listed"))
    else:
        out.append(passed("CHAL-DKIM-2", f"{where} lists every recommended field"))


def _smime_shape(parsed: ParsedMessage) -> _Smime | None:
    """Whether the message is S/MIME-signed at the top level, and in which form (§3.5.2, §3.5.3)."""
    found, params = media_type(parsed.first("Content-Type"))
    if found == "multipart/signed":
        protocol = params.get("protocol", "").strip().lower()
        if protocol in _SIGNATURE_PROTOCOLS:
            standard = protocol == _SIGNATURE_PROTOCOLS[0]
            return _Smime("multipart-signed", f"{found}; protocol={protocol}", standard)
        return None
    if found in _OPAQUE_TYPES:
        smime_type = params.get("smime-type", "").strip().lower()
        if smime_type in ("", "signed-data"):
            standard = found == _OPAQUE_TYPES[0] and smime_type == "signed-data"
            shown = f"{found}; smime-type={smime_type or '(none)'}"
            return _Smime("opaque", shown, standard)
    return None


def _judge_auth(auth: ChallengeAuth | None, shape: _Smime | None, out: list[Finding]) -> None:
    """A DKIM or S/MIME signature verifies (CHAL-AUTH-1, RFC 8823 §3.1 (6))."""
    dkim_result = auth.dkim if auth is not None else None
    smime_result = auth.smime if auth is not None else None
    if dkim_result is None and smime_result is None:
        kind = "S/MIME" if shape else "no S/MIME"
        out.append(info("CHAL-AUTH-1", f"not checked (no DKIM/S/MIME verdicts given; {kind})"))
        return
    seen = []
    if dkim_result is not None:
        passing = [s.domain for s in dkim_result.signatures if s.result == "pass"]
        if passing:
            out.append(passed("CHAL-AUTH-1", f"DKIM pass for d={', '.join(passing)}"))
            return
        seen.append(f"DKIM {dkim_result.status}")
    if smime_result is not None:
        if smime_result.status == "pass":
            out.append(passed("CHAL-AUTH-1", f"S/MIME pass ({smime_result.form})"))
            return
        seen.append(f"S/MIME {smime_result.status}: {smime_result.reason}")
    out.append(broken("CHAL-AUTH-1", "; ".join(seen), "a verified DKIM or S/MIME signature"))


def _judge_smime(
    shape: _Smime, result: SmimeResult | None, from_addr: str | None, out: list[Finding]
) -> None:
    """Form, signer address and certificate path (CHAL-BODY-2, CHAL-SMIME-1/2)."""
    expected_form = "multipart/signed or application/pkcs7-mime; smime-type=signed-data"
    if shape.standard:
        out.append(passed("CHAL-BODY-2", shape.media_type, expected_form))
    else:
        out.append(broken("CHAL-BODY-2", shape.media_type, expected_form))
    if result is None:
        return
    if result.status == "pass":
        out.append(passed("CHAL-SMIME-2", result.reason))
        signers = ", ".join(result.signer_addresses) or "no rfc822Name"
        if from_addr is None:
            out.append(info("CHAL-SMIME-1", f"signer {signers}; no single From address"))
        elif smime.signer_matches_from(result, from_addr):
            out.append(passed("CHAL-SMIME-1", f"signer {signers}", from_addr))
        else:
            out.append(broken("CHAL-SMIME-1", f"signer {signers}", f"rfc822Name {from_addr}"))
    elif result.status == "fail" and "Verify error" in result.reason:
        out.append(broken("CHAL-SMIME-2", result.reason, "a valid path to a trusted root"))
    elif result.status != "fail":
        out.append(info("CHAL-SMIME-2", f"not verified: {result.reason}"))


@dataclass(frozen=True)
class _SignedContent:
    """What the S/MIME layer shows: whether its content could be read, and the wrapped message."""

    visible: bool
    parts: tuple[MimePart, ...]
    protected: ParsedMessage | None


def _signed_content(
    parsed: ParsedMessage, shape: _Smime, result: SmimeResult | None
) -> _SignedContent:
    """The signed content's parts and any message/rfc822 wrapped in it (RFC 8551 §3.1).

    Opaque signed-data is visible only through a passing verification's output.
    """
    if result is not None and result.status == "pass" and result.inner is not None:
        content = parse_message(result.inner).parts
    elif shape.form == "multipart-signed":
        content = tuple(part for part in parsed.parts if part.path.split(".")[0] == "1")
    else:
        return _SignedContent(visible=False, parts=(), protected=None)
    if len(content) == 1 and content[0].content_type == "message/rfc822":
        return _SignedContent(True, content, parse_message(content[0].payload))
    return _SignedContent(True, content, None)


def _normalised(message: ParsedMessage, name: str) -> list[str]:
    return [" ".join(decode_header_value(value).text.split()) for value in message.all(name)]


def _secure_headers(
    parsed: ParsedMessage, shape: _Smime, result: SmimeResult | None
) -> SecureHeaders | Malformed | None:
    """The RFC 7508 attribute: from a passing verification, else read from the CMS as sent."""
    if result is not None and result.status == "pass":
        return result.secure_headers
    multipart = shape.form == "multipart-signed"
    path, types = ("2", _SIGNATURE_PROTOCOLS) if multipart else ("1", _OPAQUE_TYPES)
    for part in parsed.parts:
        if part.path == path and part.content_type in types:
            return smime.secure_headers_in(part.payload)
    return None


def _wrapping_problems(parsed: ParsedMessage, inner: ParsedMessage) -> list[str]:
    """From/To/Subject of a message/rfc822 wrapper that differ from the outer ones (RFC 8551)."""
    return [
        f"RFC 8551: outer {field} {_normalised(parsed, field)} differs from the protected "
        f"{_normalised(inner, field)}"
        for field in MUST_PROTECT
        if _normalised(parsed, field) != _normalised(inner, field)
    ]


def _judge_protection(
    parsed: ParsedMessage,
    signed: _SignedContent,
    secure: SecureHeaders | Malformed | None,
    out: list[Finding],
) -> None:
    """From/To/Subject protected and equal to the outer ones (CHAL-BODY-3, AMB-8).

    Either mechanism counts: RFC 8551 §3.1 message/rfc822 wrapping, compared decoded and with
    white space collapsed, or an RFC 7508 SecureHeaderFields attribute, compared in the
    canonicalization it declares (§4.3, §4.5.2). A field declared deleted or modified (§4.4)
    must still be shown: only encryption changes the outer header, and a challenge is
    signed, not encrypted. When both mechanisms appear, both must agree with the outer header.
    Which one is used is INFO on REF-8551-1 / REF-7508-1.
    """
    if isinstance(secure, Malformed):
        observed = f"malformed RFC 7508 SecureHeaderFields: {secure.reason}"
        out.append(broken("CHAL-BODY-3", observed, "a valid attribute (RFC 7508 §4.1)"))
        return
    used = []
    problems = []
    if signed.protected is not None:
        used.append("RFC 8551 §3.1 wrapping")
        out.append(info("REF-8551-1", "headers protected by message/rfc822 wrapping (AMB-8)"))
        problems += _wrapping_problems(parsed, signed.protected)
    if secure is not None:
        used.append(f"an RFC 7508 attribute ({secure.canonicalization})")
        observed = "headers protected by a SecureHeaderFields signed attribute (AMB-8)"
        out.append(info("REF-7508-1", observed, f"{secure.canonicalization} canonicalization"))
        for field in MUST_PROTECT:
            reason = secure_headers.mismatch(parsed.headers, secure, field)
            if reason is None and not secure.named(field) and parsed.all(field):
                reason = f"{field} is not protected"
            if reason is not None:
                problems.append(f"RFC 7508: {reason}")
    if not used:
        if not signed.visible:
            out.append(info("CHAL-BODY-3", "opaque signed-data not opened without verification"))
            return
        observed = "signed content is not message/rfc822 and carries no RFC 7508 attribute"
        out.append(broken("CHAL-BODY-3", observed, "RFC 8551 §3.1 or RFC 7508 protection"))
        return
    if problems:
        expected = "From, To and Subject protected and equal to the outer ones"
        out.append(broken("CHAL-BODY-3", "; ".join(problems), expected))
    else:
        shown = " and ".join(used)
        out.append(passed("CHAL-BODY-3", f"From, To and Subject protected by {shown} and equal"))


def _readable_parts(
    parsed: ParsedMessage, signed: _SignedContent | None
) -> tuple[MimePart, ...] | None:
    """The body parts meant for people: inside any S/MIME layer; None when hidden in CMS."""
    if signed is None:
        return parsed.parts
    if signed.protected is not None:
        return signed.protected.parts
    return signed.parts if signed.visible else None


def _judge_body(parts: tuple[MimePart, ...] | None, out: list[Finding]) -> None:
    """Record the body's media types and any machine-looking decoys (CHAL-BODY-1, CHAL-HTML-1)."""
    if parts is None:
        out.append(info("CHAL-BODY-1", "body inside opaque signed-data, not opened"))
        return
    types = ", ".join(part.content_type for part in parts) or "empty"
    texts = [part.text for part in parts if part.text is not None]
    decoys = [
        label
        for label, present in (
            ("an 'ACME:' line", any(_DECOY_LABEL.search(text) for text in texts)),
            ("a response block", any(_DECOY_BLOCK in text for text in texts)),
        )
        if present
    ]
    detail = f"holds {' and '.join(decoys)} that receivers must ignore" if decoys else ""
    out.append(info("CHAL-BODY-1", f"body parts: {types}", detail))
    if any(part.content_type == "text/html" for part in parts):
        out.append(info("CHAL-HTML-1", "the body has a text/html part"))


def _judge_line_length(raw: bytes, out: list[Finding]) -> None:
    """No line longer than 998 characters (REF-5322-1, RFC 5322 §2.1.1)."""
    longest = max((len(line.rstrip(b"\r")) for line in raw.split(b"\n")), default=0)
    if longest > _MAX_LINE:
        out.append(broken("REF-5322-1", f"a line of {longest} characters", f"<= {_MAX_LINE}"))


def inspect_challenge(
    raw: bytes, expect: ChallengeExpectation, auth: ChallengeAuth | None = None
) -> ChallengeReport:
    """Judge one challenge email against every rule a single message shows (RFC 8823 §3.1).

    Pure and total: malformed input yields findings, never an exception. Without ``auth`` the
    signatures are read but not verified, and CHAL-AUTH-1 is only recorded as not checked.
    """
    parsed = parse_message(raw)
    out: list[Finding] = []
    token = _judge_subject(parsed, expect, out)
    announced = expect.challenge_from
    if announced is not None:
        announced = parse_single_address(announced).addr_spec or announced
    from_addr = _judge_address(
        parsed, "From", "CHAL-HDR-1", announced, "challenge object's from", out
    )
    _judge_challenge_from(expect, out)
    _judge_address(parsed, "To", "CHAL-HDR-2", expect.identifier, "identifier", out)
    reply_to, message_id = _judge_other_headers(parsed, out)
    _judge_auto_submitted(parsed, out)
    shape = _smime_shape(parsed)
    smime_result = auth.smime if auth is not None else None
    _judge_auth(auth, shape, out)
    smime_relied = shape is not None and (
        smime_result is None
        or (
            smime_result.status == "pass"
            and from_addr is not None
            and smime.signer_matches_from(smime_result, from_addr)
        )
    )
    from_domain = domain_of(from_addr) if from_addr else None
    _judge_dkim(_signatures(parsed, auth), from_domain, smime_relied, out)
    signed = None
    if shape is not None:
        _judge_smime(shape, smime_result, from_addr, out)
        signed = _signed_content(parsed, shape, smime_result)
        _judge_protection(parsed, signed, _secure_headers(parsed, shape, smime_result), out)
    _judge_body(_readable_parts(parsed, signed), out)
    _judge_line_length(raw, out)
    return ChallengeReport(
        findings=tuple(out),
        token_part1=token,
        message_id=message_id,
        reply_to=reply_to,
        from_address=from_addr,
        parsed=parsed,
    )
