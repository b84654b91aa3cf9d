"""Strategies for response emails: every freedom RFC 8823 §3.2 leaves, and one-rule violations.

``conforming_responses`` explores what a conforming client (and its outbound MTA) may send and a
conforming CA must accept; ``single_violations`` breaks exactly one requirement of §3.2 or §3
step 6 on top of an otherwise conforming reply. Both sign with the DKIM key of a
``ResponseWorld`` that the caller publishes in DNS.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Callable
from typing import NamedTuple

from hypothesis import strategies as st

from rfc8823.auth.dkim import RESPONSE_REQUIRED_HEADERS, DkimPrivateKey
from rfc8823.messages.headers import format_reply_subject
from rfc8823.messages.mime import encode_words
from rfc8823.messages.response import (
    BEGIN_MARKER,
    DEFAULT_DKIM_HEADERS,
    END_MARKER,
    ResponseEmail,
    ResponseExpectation,
)
from rfc8823.strategies.headers import (
    address_forms,
    encoded_word_subjects,
    folded_subjects,
    reply_prefixes,
)
from rfc8823.strategies.tokens import digest_line_breaks, padded_token_parts, token_parts
from rfc8823.tokens import (
    Concatenation,
    acme_token,
    b64url_decode,
    b64url_encode,
    expected_digests,
    key_authorization,
    response_digest,
)

CA_DOMAIN = "ca.test"
"""The CA's mail domain in generated cases; nothing is looked up there."""

_LOCAL_PARTS = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
_PREFIXES = ("", "Re: ", "RE: ", "re: ", "AW: ", "SV: ", "Re: Re: ", "[EXT] Re: ")
_GREETINGS = ("Hello,\n\nhere is my ACME response.\n", "Hi\n", "Grüße aus Köln,\n")
_QUOTED = (
    "> This is an automatically generated ACME challenge.\n> ACME: quoted\n",
    "On Sat, 5 Dec 2020 someone wrote:\n>\n> If you did not ask for a certificate, relax.\n",
)
_SIGNATURES = ("-- \nAlice\n", "--\nSent from my phone\n", "Thanks,\nÅsa\n")
_LIST_FIELDS = (
    "List-Id",
    "List-Post",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Help",
    "List-Subscribe",
    "List-Owner",
    "List-Archive",
)
_MISSPELT_MARKERS = (
    ("-----BEGIN ACME RESPONSE----", END_MARKER),
    ("-----begin acme response-----", END_MARKER),
    ("----- BEGIN ACME RESPONSE -----", END_MARKER),
    ("-----BEGIN ACME RESPONCE-----", END_MARKER),
    (None, END_MARKER),
    (BEGIN_MARKER, None),
    (BEGIN_MARKER, "-----END ACME RESPONSE----"),
)


class ResponseWorld(NamedTuple):
    """What the strategies sign with: one DKIM key published under ``selector`` at every domain.

    Identifiers are drawn in ``domains``; ``third_party`` signs misaligned replies (RESP-DKIM-4).
    """

    dkim_key: DkimPrivateKey
    selector: str
    domains: tuple[str, ...]
    third_party: str


class ResponseCase(NamedTuple):
    """A reply and what the CA expects of it."""

    builder: ResponseEmail
    expect: ResponseExpectation


class Violation(NamedTuple):
    """A reply breaking exactly ``requirement``, and what the CA expects of it."""

    builder: ResponseEmail
    expect: ResponseExpectation
    requirement: str


class _Order(NamedTuple):
    """The facts of one order and its challenge, before any reply is written."""

    identifier: str
    challenge_from: str
    reply_to: str | None
    message_id: str | None
    token_part1: str
    token_part2: str
    thumbprint: str

    def expectation(self, other_thumbprints: tuple[str, ...] = ()) -> ResponseExpectation:
        return ResponseExpectation(
            identifier=self.identifier,
            challenge_from=self.challenge_from,
            challenge_reply_to=self.reply_to,
            token_part1=self.token_part1,
            token_part2=self.token_part2,
            thumbprint=self.thumbprint,
            challenge_message_id=self.message_id,
            other_thumbprints=other_thumbprints,
        )

    def digest(self, reading: Concatenation = Concatenation.STRING) -> str:
        token = acme_token(self.token_part1, self.token_part2, reading)
        return response_digest(key_authorization(token, self.thumbprint))

    def reply(self, digest: str | None = None) -> ResponseEmail:
        """The plain reply RFC 8823 §3.2 describes, unsigned."""
        return ResponseEmail(
            self.identifier,
            self.reply_to or self.challenge_from,
            self.token_part1,
            self.digest() if digest is None else digest,
            in_reply_to=self.message_id,
            references=self.message_id,
        )


def _random_b64url(octets: int) -> st.SearchStrategy[str]:
    return st.binary(min_size=octets, max_size=octets).map(b64url_encode)


@st.composite
def _orders(
    draw: st.DrawFn,
    world: ResponseWorld,
    *,
    message_id: bool | None = None,
    part1: str | None = None,
) -> _Order:
    """An order for an address in the world, with token parts of notable lengths (AMB-1, AMB-2).

    The two token parts never commute, so swapping them changes the token (KA-1).
    """
    with_id = draw(st.booleans()) if message_id is None else message_id
    token_part1 = part1 or draw(st.one_of(token_parts(), padded_token_parts()))
    return _Order(
        identifier=f"{draw(_LOCAL_PARTS)}@{draw(st.sampled_from(world.domains))}",
        challenge_from=f"acme-generator@{CA_DOMAIN}",
        reply_to=draw(st.sampled_from((None, f"acme-validator@{CA_DOMAIN}"))),
        message_id=f"<{draw(_random_b64url(9))}@{CA_DOMAIN}>" if with_id else None,
        token_part1=token_part1,
        token_part2=draw(token_parts(16, 32).filter(lambda part: not _commute(token_part1, part))),
        thumbprint=draw(_random_b64url(32)),
    )


def _commute(part1: str, part2: str) -> bool:
    """Whether the parts give the same token in either order (both powers of one word)."""
    bare = part1.rstrip("=")
    return bare + part2 == part2 + bare


def _signed(builder: ResponseEmail, world: ResponseWorld, **options: object) -> ResponseEmail:
    """Signed by the From domain with the world's key, unless ``options`` say otherwise."""
    return builder.signed_dkim(world.dkim_key, selector=world.selector, **options)  # type: ignore[arg-type]


@st.composite
def _subjects(draw: st.DrawFn, builder: ResponseEmail) -> ResponseEmail:
    """Reply prefixes, folds inside the token and encoded-words (RESP-SUBJ-1..4,
    docs/decisions.md#decision-6)."""
    token = builder.token_part1
    prefix = draw(st.one_of(st.sampled_from(_PREFIXES), reply_prefixes()))
    style = draw(st.sampled_from(("plain", "folded", "encoded", "folded-raw", "encoded-raw")))
    builder = builder.with_subject_prefix(prefix)
    if style == "folded":
        return builder.with_subject_folded(draw(st.integers(0, len(token) - 1)))
    if style == "encoded":
        decoded = format_reply_subject(token, prefix)
        cuts = draw(st.lists(st.integers(1, len(decoded) - 1), max_size=3))
        return builder.with_subject_encoded(
            draw(st.sampled_from(("utf-8", "UTF-8", "us-ascii"))),
            draw(st.sampled_from(("Q", "B"))),
            draw(st.sampled_from((None, "en", "en-US"))),
            cuts,
        )
    if style == "folded-raw":
        return builder.with_subject(prefix + draw(folded_subjects(token)))
    if style == "encoded-raw":
        return builder.with_subject(prefix + draw(encoded_word_subjects(token)))
    return builder


@st.composite
def _digests(draw: st.DrawFn, builder: ResponseEmail) -> ResponseEmail:
    """Padding and line breaks anywhere in the digest (RESP-BODY-3,
    docs/decisions.md#decision-3)."""
    if draw(st.booleans()):
        builder = builder.with_padded_digest()
    style = draw(st.sampled_from(("one-line", "width", "anywhere")))
    if style == "width":
        return builder.with_digest_wrapped(draw(st.sampled_from((1, 2, 22, 40, 64))))
    if style == "anywhere":
        return builder.with_digest(draw(digest_line_breaks(builder.digest)).written)
    return builder


@st.composite
def conforming_responses(draw: st.DrawFn, world: ResponseWorld) -> ResponseCase:
    """Replies a CA must accept with no FAIL or WARN finding (RFC 8823 §3.2, SRV-VAL-1).

    Explores: From and To written with display names and comments; reply prefixes, folds and
    encoded-words in the Subject; digest padding and line breaks (CRLF or LF) down to one
    character a line; text before and after the block (greetings, quoted challenge, signature,
    non-ASCII); multipart/alternative with HTML; Cc; In-Reply-To/References (absent only when
    the challenge had no Message-ID); 7bit, 8bit, quoted-printable and base64; LF-only mail;
    Auto-Submitted or none; an extra third-party DKIM signature; and the octets or
    string-unpadded reading where it gives the string reading's digest
    (docs/decisions.md#decision-2).
    """
    order = draw(_orders(world))
    reading = draw(st.sampled_from(list(Concatenation)))
    digests = expected_digests(order.token_part1, order.token_part2, order.thumbprint)
    if digests[reading] != digests[Concatenation.STRING]:
        reading = Concatenation.STRING
    builder = order.reply(order.digest(reading))
    builder = builder.with_from(draw(address_forms(order.identifier)))
    builder = builder.with_to(draw(address_forms(order.reply_to or order.challenge_from)))
    builder = draw(_subjects(builder))
    builder = draw(_digests(builder))
    before = draw(st.sampled_from(("", *_GREETINGS, *_QUOTED)))
    after = draw(st.sampled_from(("", *_SIGNATURES, *_QUOTED)))
    builder = builder.with_text_around(before, after)
    if draw(st.booleans()):
        builder = builder.as_alternative()
    if draw(st.booleans()):
        builder = builder.with_cc(f"{draw(_LOCAL_PARTS)}@{CA_DOMAIN}")
    encodings = ["8bit", "quoted-printable", "base64"]
    if (before + after).isascii():
        encodings.append("7bit")
    builder = builder.with_transfer_encoding(draw(st.sampled_from(encodings)))
    builder = builder.with_line_endings(draw(st.sampled_from((b"\r\n", b"\n"))))
    builder = builder.with_auto_submitted(
        draw(st.sampled_from((None, "auto-replied", "auto-generated", "no")))
    )
    if draw(st.booleans()):
        builder = _signed(builder, world, domain=world.third_party)
    return ResponseCase(_signed(builder, world), order.expectation())


@st.composite
def single_violations(draw: st.DrawFn, world: ResponseWorld) -> Violation:
    """A conforming, signed reply with exactly one requirement broken (RFC 8823 §3, §3.2).

    Covers RESP-SUBJ-1, RESP-FROM-1, RESP-TO-1, RESP-IRT-1, RESP-IRT-2, RESP-LIST-1,
    RESP-BODY-1, RESP-BODY-2, RESP-HTML-1, RESP-DKIM-1..5, KA-1..KA-4 and SEC-7.
    """
    requirement = draw(st.sampled_from(sorted(_VIOLATIONS)))
    return _VIOLATIONS[requirement](draw, world, requirement)


def _subject_violation(draw: st.DrawFn, world: ResponseWorld, requirement: str) -> Violation:
    order = draw(_orders(world))
    token = order.token_part1
    other = draw(token_parts().filter(lambda t: t.rstrip("=") != token.rstrip("=")))
    subject = draw(
        st.sampled_from(
            (
                format_reply_subject(other),
                f"Re: {token}",
                f"Re: acme: {token}",
                f"Re: ACME:{token}",
                encode_words(f"Ответ: ACME: {token}"),
            )
        )
    )
    return Violation(
        _signed(order.reply().with_subject(subject), world), order.expectation(), requirement
    )


def _from_violation(draw: st.DrawFn, world: ResponseWorld, requirement: str) -> Violation:
    order = draw(_orders(world))
    local, _, domain = order.identifier.partition("@")
    other = draw(st.sampled_from((f"not-{local}@{domain}", f"{local.upper()}x@{domain}")))
    return Violation(
        _signed(order.reply().with_from(other), world), order.expectation(), requirement
    )


def _to_violation(draw: st.DrawFn, world: ResponseWorld, requirement: str) -> Violation:
    order = draw(_orders(world))
    wrong = [f"someone-else@{CA_DOMAIN}"]
    if order.reply_to:
        wrong.append(order.challenge_from)
    builder = order.reply().with_to(draw(st.sampled_from(wrong)))
    return Violation(_signed(builder, world), order.expectation(), requirement)


def _threading_violation(draw: st.DrawFn, world: ResponseWorld, requirement: str) -> Violation:
    order = draw(_orders(world, message_id=True))
    assert order.message_id is not None
    value = draw(st.sampled_from((None, f"<other@{CA_DOMAIN}>", order.message_id.strip("<>"))))
    builder = order.reply()
    if requirement == "RESP-IRT-1":
        builder = builder.with_in_reply_to(value)
    else:
        builder = builder.with_references(value)
    return Violation(_signed(builder, world), order.expectation(), requirement)


def _list_violation(draw: st.DrawFn, world: ResponseWorld, requirement: str) -> Violation:
    order = draw(_orders(world))
    name = draw(st.sampled_from(_LIST_FIELDS))
    builder = order.reply().with_list_header(name, "<https://lists.example/acme>")
    return Violation(_signed(builder, world), order.expectation(), requirement)


def _layout_violation(draw: st.DrawFn, world: ResponseWorld, requirement: str) -> Violation:
    order = draw(_orders(world))
    builder = order.reply()
    builder = (
        builder.as_mixed() if requirement == "RESP-BODY-1" else builder.with_block_only_in_html()
    )
    return Violation(_signed(builder, world), order.expectation(), requirement)


def _block_violation(draw: st.DrawFn, world: ResponseWorld, requirement: str) -> Violation:
    order = draw(_orders(world))
    builder = order.reply()
    kind = draw(st.sampled_from(("markers", "wrong", "length", "second")))
    if kind == "markers":
        builder = builder.with_marker_lines(*draw(st.sampled_from(_MISSPELT_MARKERS)))
    elif kind == "wrong":
        builder = builder.with_digest(draw(_random_b64url(32)))
    elif kind == "length":
        builder = builder.with_digest(draw(_random_b64url(draw(st.sampled_from((16, 31, 33))))))
    else:
        builder = builder.with_second_block(draw(_random_b64url(32)))
    return Violation(_signed(builder, world), order.expectation(), requirement)


def _dkim_violation(draw: st.DrawFn, world: ResponseWorld, requirement: str) -> Violation:
    order = draw(_orders(world))
    builder = order.reply()
    if requirement == "RESP-DKIM-1":
        kind = draw(st.sampled_from(("unsigned", "altered")))
        if kind == "unsigned":
            builder = builder.unsigned()
        else:
            builder = _signed(builder, world).with_appended_unsigned_text("P.S. changed later\n")
    elif requirement == "RESP-DKIM-2":
        left_out = draw(st.sampled_from(("subject", "to", "content-type", "date", "message-id")))
        names = tuple(name for name in DEFAULT_DKIM_HEADERS if name != left_out)
        builder = _signed(builder, world, headers=names)
    elif requirement == "RESP-DKIM-3":
        builder = _signed(builder, world, headers=RESPONSE_REQUIRED_HEADERS)
    elif requirement == "RESP-DKIM-4":
        builder = _signed(builder, world, domain=world.third_party)
    else:
        appended = draw(st.sampled_from(("Unsigned text.\n", "> quoted\n\n-- \nMallory\n")))
        builder = _signed(builder, world, body_length=True).with_appended_unsigned_text(appended)
    return Violation(builder, order.expectation(), requirement)


def _digest_violation(draw: st.DrawFn, world: ResponseWorld, requirement: str) -> Violation:
    """KA-1..KA-3 and SEC-7: a digest built the wrong way (RFC 8823 §3 step 6, RFC 8555 §8.1)."""
    order = draw(_orders(world))
    token = acme_token(order.token_part1, order.token_part2, Concatenation.STRING)
    others: tuple[str, ...] = ()
    if requirement == "KA-1":
        swapped = acme_token(order.token_part2, order.token_part1, Concatenation.STRING)
        digest = response_digest(key_authorization(swapped, order.thumbprint))
    elif requirement == "KA-2":
        digest = response_digest(draw(st.sampled_from((token + order.thumbprint, token))))
    elif requirement == "KA-3":
        octets = b64url_decode(order.digest())
        standard = base64.b64encode(octets).decode("ascii")
        forms = [key_authorization(token, order.thumbprint), octets.hex(), octets.hex().upper()]
        if "+" in standard or "/" in standard:
            forms.append(standard)
        digest = draw(st.sampled_from(forms))
    else:
        other = draw(_random_b64url(32).filter(lambda t: t != order.thumbprint))
        others = (other,)
        digest = response_digest(key_authorization(token, other))
    builder = _signed(order.reply(digest), world)
    return Violation(builder, order.expectation(others), requirement)


def _reading_violation(draw: st.DrawFn, world: ResponseWorld, requirement: str) -> Violation:
    """KA-4: the octets or string-unpadded reading where it differs from the string one."""
    length = draw(st.sampled_from((16, 17, 32, 35)))
    part1 = draw(_random_b64url(length).map(lambda text: text + "=" * (-len(text) % 4)))
    order = draw(_orders(world, part1=part1))
    reading = draw(st.sampled_from((Concatenation.OCTETS, Concatenation.STRING_UNPADDED)))
    builder = _signed(order.reply(order.digest(reading)), world)
    return Violation(builder, order.expectation(), requirement)


_Breaker = Callable[[st.DrawFn, ResponseWorld, str], Violation]
_VIOLATIONS: dict[str, _Breaker] = {
    "RESP-SUBJ-1": _subject_violation,
    "RESP-FROM-1": _from_violation,
    "RESP-TO-1": _to_violation,
    "RESP-IRT-1": _threading_violation,
    "RESP-IRT-2": _threading_violation,
    "RESP-LIST-1": _list_violation,
    "RESP-BODY-1": _layout_violation,
    "RESP-BODY-2": _block_violation,
    "RESP-HTML-1": _layout_violation,
    "RESP-DKIM-1": _dkim_violation,
    "RESP-DKIM-2": _dkim_violation,
    "RESP-DKIM-3": _dkim_violation,
    "RESP-DKIM-4": _dkim_violation,
    "RESP-DKIM-5": _dkim_violation,
    "KA-1": _digest_violation,
    "KA-2": _digest_violation,
    "KA-3": _digest_violation,
    "KA-4": _reading_violation,
    "SEC-7": _digest_violation,
}
