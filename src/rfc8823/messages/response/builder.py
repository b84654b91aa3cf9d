"""Build a response email with any variation a test needs (RFC 8823 §3.2).

``ResponseEmail`` is an immutable builder: each ``with_*`` returns a new one. It keeps the
input contract of :mod:`rfc8823.messages.builder_checks`.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal, get_args

from rfc8823.auth.dkim import RESPONSE_RECOMMENDED_HEADERS, RESPONSE_REQUIRED_HEADERS
from rfc8823.auth.smime import HeaderProtection
from rfc8823.messages.builder_checks import (
    require_addr_spec,
    require_addresses,
    require_choice,
    require_token,
)
from rfc8823.messages.headers import domain_of, format_reply_subject, parse_single_address
from rfc8823.messages.mime import (
    Entity,
    TransferEncoding,
    alternative,
    encode_words,
    fold,
    format_date,
    format_headers,
    leaf,
    make_message_id,
    mixed,
    text_html,
    text_plain,
)
from rfc8823.messages.response.block import BEGIN_MARKER, END_MARKER, LINE_BREAK
from rfc8823.messages.response.challenge_facts import ChallengeFacts
from rfc8823.messages.signing import DkimSigning, SignedBuilder, SmimeSigning
from rfc8823.tokens import (
    Concatenation,
    acme_token,
    key_authorization,
    response_digest,
    without_whitespace,
)

DEFAULT_DKIM_HEADERS: tuple[str, ...] = RESPONSE_REQUIRED_HEADERS + RESPONSE_RECOMMENDED_HEADERS
"""The builder's default ``h=``: the required and the recommended names (RESP-DKIM-2, -3)."""

Layout = Literal["plain", "alternative", "html-only", "mixed"]

_CRLF = "\r\n"
_ENCODINGS = ("Q", "B")


@dataclass(frozen=True)
class _Spec:
    """Every variation of a ResponseEmail besides its four essentials (private to the builder)."""

    from_raw: str | None = None
    to_raw: str | None = None
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
    appended_unsigned: str | None = None


@dataclass(frozen=True)
class ResponseEmail(SignedBuilder):
    """Builder of an RFC 8823 §3.2 response email; every method returns a new builder.

    Defaults follow §3.2: From the identifier, To the challenge's Reply-To or From, Subject
    ``Re: ACME: <token-part1>``, In-Reply-To and References naming the challenge, text/plain in
    7bit with the digest on one line between the markers, no Auto-Submitted, not signed.
    ``signed_dkim`` lists the required and recommended names in ``h=`` (RESP-DKIM-2, -3);
    ``signed_smime`` signs the body only, which alone does not authenticate (RESP-DKIM-1).
    ``digest`` is written as given: any text, as ``with_digest`` writes it.
    """

    DKIM_HEADERS: ClassVar[tuple[str, ...]] = DEFAULT_DKIM_HEADERS
    SMIME_HEADER_PROTECTION: ClassVar[HeaderProtection] = "none"

    from_addr: str
    to: str
    token_part1: str
    digest: str
    in_reply_to: str | None = field(default=None, kw_only=True)
    references: str | None = field(default=None, kw_only=True)
    spec: _Spec = field(default_factory=_Spec, kw_only=True)
    dkim_signings: tuple[DkimSigning, ...] = field(default=(), kw_only=True)
    smime_signing: SmimeSigning | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        require_addr_spec("from_addr", self.from_addr, "with_from()")
        require_addresses("to", self.to, "with_to()")
        require_token("token_part1", self.token_part1, "with_subject()")

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
        challenge = ChallengeFacts.read(challenge_raw)
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
        """Write the whole Subject as RFC 2047 encoded-words (RESP-SUBJ-2,
        docs/decisions.md#decision-6)."""
        require_choice("encoding", encoding, _ENCODINGS)
        return self._with(
            subject_encoding=(charset, encoding, language, tuple(split_at)), subject_raw=None
        )

    def with_to(self, raw: str) -> ResponseEmail:
        """Write the To field as ``raw``, any form (RESP-TO-1); ``to`` is unchanged."""
        return self._with(to_raw=raw)

    def with_from(self, raw: str) -> ResponseEmail:
        """Write the From field as ``raw``, any form (RESP-FROM-1); ``from_addr`` is unchanged."""
        return self._with(from_raw=raw)

    @property
    def _from_field(self) -> str:
        return self.from_addr if self.spec.from_raw is None else self.spec.from_raw

    @property
    def to_field(self) -> str:
        """The To field as written: ``with_to``'s value, else ``to``."""
        return self.to if self.spec.to_raw is None else self.spec.to_raw

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
        """Add the ``=`` padding to the digest, as the RFC example does (AMB-2,
        docs/decisions.md#decision-3)."""
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
        require_choice("transfer encoding", encoding, get_args(TransferEncoding))
        return self._with(transfer_encoding=encoding)

    def with_line_endings(self, line_ending: bytes) -> ResponseEmail:
        """End every line of the message with ``line_ending`` (b"\\n" for LF-only mail)."""
        if line_ending not in (b"\r\n", b"\n"):
            raise ValueError(f"line endings are CRLF or LF, not {line_ending!r}")
        return self._with(line_ending=line_ending)

    def with_auto_submitted(self, value: str | None) -> ResponseEmail:
        """Add an Auto-Submitted field, or none with None (RESP-AUTO-1, AMB-9)."""
        return self._with(auto_submitted=value)

    def with_appended_unsigned_text(self, text: str) -> ResponseEmail:
        """Append text to the body after signing, outside any ``l=`` (RESP-DKIM-5)."""
        return self._with(appended_unsigned=text)

    @property
    def from_domain(self) -> str:
        """The written From's domain in A-labels, the default DKIM ``d=`` (RESP-DKIM-4)."""
        written = parse_single_address(self._from_field)
        return domain_of(written.addr_spec or self.from_addr)

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
            ("From", self._from_field),
            ("To", self.to_field),
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
        signed = self._signed_smime_message(crlf)
        message = self._signed_dkim_message(
            signed.replace(b"\r\n", spec.line_ending), self.from_domain
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
    text = LINE_BREAK.sub(_CRLF, text)
    return text if text.endswith(_CRLF) else text + _CRLF
