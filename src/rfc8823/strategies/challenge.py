"""Strategies for challenge emails: conforming ones, discouraged-but-allowed ones, and ones that
break exactly one requirement (RFC 8823 §3.1).

Every builder comes from the same small world: the CA sends from ``ca.example`` (DKIM keys under
the selectors of ``DKIM_SELECTORS``; ``dkim_records()`` lists the TXT records to publish) and
S/MIME signers come from the test PKI.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from hypothesis import strategies as st

from rfc8823.auth.dkim import (
    CHALLENGE_RECOMMENDED_HEADERS,
    CHALLENGE_REQUIRED_HEADERS,
    DkimPrivateKey,
    dkim_txt_record,
)
from rfc8823.auth.secure_headers import Canonicalization, SecureField
from rfc8823.auth.smime import HeaderProtection, SmimeForm
from rfc8823.messages.challenge import ChallengeEmail
from rfc8823.messages.mime import format_date, leaf, mixed, text_plain
from rfc8823.strategies.headers import (
    address_forms,
    auto_submitted_values,
    encoded_word_subjects,
    folded_subjects,
)
from rfc8823.strategies.tokens import token_lengths, token_parts
from rfc8823.tokens import b64url_encode
from rfc8823.values import KeyKind, SmimeIdentity
from rfc8823.world.keys import cached_key
from rfc8823.world.pki import TestPki

CA_DOMAIN = "ca.example"
ESP_DOMAIN = "esp.example"
"""A third party's signing domain: a valid DKIM signature that is not aligned (CHAL-DKIM-3)."""
CHALLENGE_FROM_ADDRESSES = ("acme-challenge@ca.example", "acme+c0ffee@ca.example")
IDENTIFIERS = ("alice@mail.example", "bob.smith+certs@mail.example", "x@sub.mail.example")
DKIM_SELECTORS: dict[str, KeyKind] = {"rsa": "rsa2048", "ed": "ed25519"}

_LABEL = len("ACME: ")
_SMIME_KINDS: tuple[KeyKind, ...] = ("p256", "rsa2048")
_SMIME_FORMS: st.SearchStrategy[SmimeForm] = st.sampled_from(("multipart-signed", "opaque"))
_HEADER_PROTECTIONS: tuple[HeaderProtection, ...] = ("rfc8551", "rfc7508")
_CANONICALIZATIONS: tuple[Canonicalization, ...] = ("simple", "relaxed")
_NOT_AUTO_GENERATED = (None, "no", "auto-replied", "auto-replied; type=acme", "AUTO-NOTIFIED")
_HTML = "<html><body><p>ACME challenge for {to}: nothing to do unless you asked for it.</p>"
_HTML_END = "</body></html>"


@dataclass(frozen=True)
class Deviation:
    """A builder and the requirement its one deviation breaks, with the rows that must follow.

    ``also`` names rows that break with it by necessity (e.g. an encoded Subject in a forbidden
    charset is also an encoded Subject, CHAL-SUBJ-5).
    """

    builder: ChallengeEmail
    requirement: str
    also: tuple[str, ...] = ()

    @property
    def expected_failures(self) -> frozenset[str]:
        """Every requirement the inspector must report broken for this builder."""
        return frozenset({self.requirement, *self.also})


def dkim_key(selector: str, *, domain: str = CA_DOMAIN) -> DkimPrivateKey:
    """The cached DKIM key of ``selector`` at ``domain`` (RSA-2048 or Ed25519, RFC 8463)."""
    key = cached_key(f"dkim-{domain.replace('.', '-')}-{selector}", DKIM_SELECTORS[selector])
    if not isinstance(key, DkimPrivateKey):
        raise TypeError(f"selector {selector!r} has a {type(key).__name__}, not a DKIM key")
    return key


def dkim_records() -> list[tuple[str, str]]:
    """(name, TXT value) of every DKIM key the strategies sign with, for the world's DNS."""
    return [
        (
            f"{selector}._domainkey.{domain}",
            dkim_txt_record(dkim_key(selector, domain=domain).public_key()),
        )
        for domain in (CA_DOMAIN, ESP_DOMAIN)
        for selector in DKIM_SELECTORS
    ]


@functools.cache
def smime_identity(
    address: str,
    *,
    key_kind: KeyKind = "p256",
    ca: Literal["trusted", "untrusted"] = "trusted",
    expired: bool = False,
) -> SmimeIdentity:
    """An S/MIME signer for ``address`` from the test PKI, issued once per process."""
    pki = TestPki.load()
    if not expired:
        return pki.smime_signer(address, key_kind=key_kind, ca=ca)
    now = datetime.now(UTC)
    return pki.smime_signer(
        address,
        key_kind=key_kind,
        ca=ca,
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )


@st.composite
def _new_builder(draw: st.DrawFn, token: str | None = None) -> ChallengeEmail:
    """A default builder with drawn addresses, token, Message-ID and Date."""
    return ChallengeEmail(
        draw(st.sampled_from(CHALLENGE_FROM_ADDRESSES)),
        draw(st.sampled_from(IDENTIFIERS)),
        token if token is not None else draw(token_parts(16, 48)),
        message_id=f"<{draw(st.binary(min_size=12, max_size=12)).hex()}@{CA_DOMAIN}>",
        date=format_date(draw(st.integers(1_600_000_000, 1_900_000_000))),
    )


def _bodies(builder: ChallengeEmail) -> st.SearchStrategy[ChallengeEmail]:
    """Any human-readable body: the body is not machine-processed (CHAL-BODY-1, CHAL-HTML-1)."""
    html = _HTML.format(to=builder.to) + _HTML_END
    json = f'{{"token-part1": "{builder.token_part1}"}}'.encode()
    return st.sampled_from(
        [
            builder,
            builder.with_body_text(""),
            builder.with_body_text("Défi ACME généré automatiquement : rien à faire.\r\n"),
            builder.with_body_html(html),
            builder.with_body_html(html.replace("nothing", "rien — nothing")),
            builder.with_body_alternative("ACME challenge, see the HTML part.", html),
            builder.with_decoys(),
            builder.with_body(
                mixed(
                    text_plain("The token is also attached as JSON."),
                    leaf("application/json", json),
                    boundary="=_mixed_json",
                )
            ),
        ]
    )


def _dkim_headers() -> st.SearchStrategy[tuple[str, ...]]:
    """``h=`` lists meeting CHAL-DKIM-1/2: default order, shuffled, or oversigning From twice."""
    full = (*CHALLENGE_REQUIRED_HEADERS, *CHALLENGE_RECOMMENDED_HEADERS)
    return st.one_of(
        st.just(full),
        st.permutations(full).map(tuple),
        st.just((*full, "from", "subject", "x-mailer")),
    )


@st.composite
def _signed(draw: st.DrawFn, builder: ChallengeEmail) -> ChallengeEmail:
    """DKIM (RSA or Ed25519), S/MIME or both (CHAL-AUTH-1).

    S/MIME in either form, EC or RSA, headers protected by RFC 8551 wrapping or an RFC 7508
    attribute of either canonicalization (CHAL-BODY-3, AMB-8).
    """
    how = draw(st.sampled_from(("dkim", "smime", "both")))
    if how in ("smime", "both"):
        identity = smime_identity(
            builder.challenge_from, key_kind=draw(st.sampled_from(_SMIME_KINDS))
        )
        builder = builder.signed_smime(
            identity,
            form=draw(_SMIME_FORMS),
            header_protection=draw(st.sampled_from(_HEADER_PROTECTIONS)),
            canonicalization=draw(st.sampled_from(_CANONICALIZATIONS)),
        )
    if how in ("dkim", "both"):
        selector = draw(st.sampled_from(tuple(DKIM_SELECTORS)))
        builder = builder.signed_dkim(
            dkim_key(selector),
            selector=selector,
            headers=draw(_dkim_headers()),
            body_length=draw(st.booleans()),
        )
    return builder


@st.composite
def _conforming_base(draw: st.DrawFn, token: str | None = None) -> ChallengeEmail:
    """Every allowed choice outside the Subject: Reply-To, Cc, Auto-Submitted, body."""
    builder = draw(_new_builder(token))
    if draw(st.booleans()):
        builder = builder.with_reply_to(f"acme-replies@{CA_DOMAIN}")
    if draw(st.booleans()):
        builder = builder.with_cc(f"audit@{CA_DOMAIN}")
    if draw(st.booleans()):
        builder = builder.with_auto_submitted(draw(auto_submitted_values(acme_type=True)))
    return draw(_bodies(builder))


def _fold_positions(builder: ChallengeEmail) -> st.SearchStrategy[list[int]]:
    """Fold points after the label or inside token-part1 (CHAL-SUBJ-1, CHAL-SUBJ-2)."""
    end = _LABEL + len(builder.token_part1)
    return st.lists(st.integers(_LABEL - 1, end - 1), min_size=1, max_size=4, unique=True)


@st.composite
def _subject_styles(draw: st.DrawFn, builder: ChallengeEmail) -> ChallengeEmail:
    """Plain, folded by the builder, or folded with any FWS from the header strategies."""
    style = draw(st.sampled_from(("plain", "folded", "folded-default", "fws")))
    if style == "folded":
        return builder.with_subject_folded(at=draw(_fold_positions(builder)))
    if style == "folded-default":
        return builder.with_subject_folded()
    if style == "fws":
        return builder.with_subject(draw(folded_subjects(builder.token_part1)))
    return builder


@st.composite
def conforming_challenges(draw: st.DrawFn) -> ChallengeEmail:
    """Challenges that break nothing: each freedom RFC 8823 §3.1 allows with no SHOULD against it.

    Folded Subjects (white space inside token-part1), Reply-To and Cc, Auto-Submitted with CFWS
    and extra parameters, text/plain, text/html, multipart and decoy bodies, DKIM with RSA or
    Ed25519 and varied ``h=``, S/MIME in both forms, or both signatures. Encoded Subjects,
    padding and display names are allowed too but warned about: see ``discouraged_choices``.
    """
    builder = draw(_subject_styles(draw(_conforming_base())))
    return draw(_signed(builder))


@st.composite
def discouraged_choices(draw: st.DrawFn) -> Deviation:
    """Allowed choices the suite warns about, each with the one requirement it warns on.

    Encoded-word Subjects in UTF-8 or US-ASCII (CHAL-SUBJ-5), ``=`` padding on token-part1
    (KA-4, AMB-2, docs/decisions.md#decision-3), and display-name or commented From/To forms
    (CHAL-HDR-1/2, AMB-12).
    """
    choice = draw(st.sampled_from(("encoded", "encoded-words", "padded", "to-form", "from-form")))
    if choice == "padded":
        octets = draw(token_lengths(16, 48).filter(lambda n: n % 3 != 0))
        token = b64url_encode(draw(st.binary(min_size=octets, max_size=octets)))
        builder = draw(_conforming_base(token)).with_padding()
        return Deviation(draw(_signed(builder)), "KA-4")
    base = draw(_conforming_base())
    if choice == "encoded":
        subjects = encoded_word_subjects(base.token_part1).filter(lambda raw: "=?" in raw)
        builder = base.with_subject(draw(subjects))
        return Deviation(draw(_signed(builder)), "CHAL-SUBJ-5")
    if choice == "encoded-words":
        builder = base.with_subject_encoded(
            charset=draw(st.sampled_from(("utf-8", "UTF-8", "us-ascii"))),
            encoding=draw(st.sampled_from(("Q", "B"))),
            language=draw(st.sampled_from((None, "en", "de-CH"))),
        )
        if draw(st.booleans()):
            builder = builder.with_subject_folded()
        return Deviation(draw(_signed(builder)), "CHAL-SUBJ-5")
    if choice == "to-form":
        form = draw(address_forms(base.to).filter(lambda raw: raw != base.to))
        return Deviation(draw(_signed(base.with_to(form))), "CHAL-HDR-2")
    form = draw(address_forms(base.challenge_from).filter(lambda raw: raw != base.challenge_from))
    return Deviation(draw(_signed(base.with_from(form))), "CHAL-HDR-1")


def _dkim_only(builder: ChallengeEmail, headers: tuple[str, ...] | None = None) -> ChallengeEmail:
    return builder.unsigned().signed_dkim(dkim_key("ed"), selector="ed", headers=headers)


def _without(names: tuple[str, ...], dropped: str) -> tuple[str, ...]:
    return tuple(name for name in names if name != dropped)


_Violation = Callable[[st.DrawFn, ChallengeEmail], Deviation]


def _subject_without_space(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    return Deviation(b.with_subject(f"ACME:{b.token_part1}"), "CHAL-SUBJ-1")


def _subject_with_prefix(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    prefix = draw(st.sampled_from(("Re: ", "[EXT] ", "Fwd: ", "Your ")))
    return Deviation(b.with_subject(f"{prefix}ACME: {b.token_part1}"), "CHAL-SUBJ-1")


def _subject_wrong_label(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    label = draw(st.sampled_from(("acme:", "Acme:", "ACME :", "ACME;", "ACME-")))
    return Deviation(b.with_subject(f"{label} {b.token_part1}"), "CHAL-SUBJ-1")


def _subject_absent(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    return Deviation(b.without_header("Subject"), "CHAL-SUBJ-1")


def _subject_twice(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    return Deviation(b.with_header("Subject", b.subject_value()), "CHAL-SUBJ-1", ("REF-5322-4",))


def _subject_other_charset(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    charset = draw(st.sampled_from(("iso-8859-1", "windows-1252", "koi8-r")))
    return Deviation(b.with_subject_encoded(charset=charset), "CHAL-SUBJ-4", ("CHAL-SUBJ-5",))


def _subject_encoded(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    return Deviation(b.with_subject_encoded(charset="us-ascii", encoding="B"), "CHAL-SUBJ-5")


def _subject_long_word(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    longer = replace(b, token_part1=draw(token_parts(48, 64)))
    builder = longer.with_subject_encoded(encoding="B", max_word=1000)
    return Deviation(builder, "REF-2047-1", ("CHAL-SUBJ-5",))


def _token_alphabet(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    wrong = draw(st.sampled_from(("+", "/", "!", ".")))
    return Deviation(b.with_subject(f"ACME: {wrong}{b.token_part1[1:]}"), "TOK-4")


def _token_short(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    return Deviation(replace(b, token_part1=draw(token_parts(1, 15))), "TOK-3")


def _from_other(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    other = draw(st.sampled_from((f"someone-else@{CA_DOMAIN}", f"ACME-CHALLENGE@{CA_DOMAIN}")))
    return Deviation(_dkim_only(b.with_from(other)), "CHAL-HDR-1")


def _to_other(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    other = draw(st.sampled_from(("mallory@mail.example", "alice@other.example")))
    return Deviation(b.with_to(other), "CHAL-HDR-2")


def _to_two(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    return Deviation(b.with_to(f"{b.to}, bob@mail.example"), "CHAL-HDR-2")


def _message_id_absent(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    return Deviation(b.without_header("Message-ID"), "CHAL-HDR-4")


def _not_auto_generated(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    value = draw(st.sampled_from(_NOT_AUTO_GENERATED))
    return Deviation(b.with_auto_submitted(value), "CHAL-AUTO-1")


def _no_type_acme(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    value = draw(auto_submitted_values(acme_type=False))
    return Deviation(b.with_auto_submitted(value), "CHAL-AUTO-2")


def _unsigned(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    return Deviation(b.unsigned(), "CHAL-AUTH-1")


def _dkim_missing_required(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    dropped = draw(st.sampled_from(CHALLENGE_REQUIRED_HEADERS[1:]))
    full = (*CHALLENGE_REQUIRED_HEADERS, *CHALLENGE_RECOMMENDED_HEADERS)
    return Deviation(_dkim_only(b, _without(full, dropped)), "CHAL-DKIM-1")


def _dkim_missing_recommended(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    dropped = draw(st.sampled_from(CHALLENGE_RECOMMENDED_HEADERS))
    full = (*CHALLENGE_REQUIRED_HEADERS, *CHALLENGE_RECOMMENDED_HEADERS)
    return Deviation(_dkim_only(b, _without(full, dropped)), "CHAL-DKIM-2")


def _dkim_misaligned(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    selector = draw(st.sampled_from(tuple(DKIM_SELECTORS)))
    builder = b.unsigned().signed_dkim(
        dkim_key(selector, domain=ESP_DOMAIN), selector=selector, domain=ESP_DOMAIN
    )
    return Deviation(builder, "CHAL-DKIM-3")


def _dkim_without_from(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    full = (*CHALLENGE_REQUIRED_HEADERS, *CHALLENGE_RECOMMENDED_HEADERS)
    return Deviation(_dkim_only(b, _without(full, "from")), "REF-6376-1", ("CHAL-AUTH-1",))


def _smime_other_signer(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    identity = smime_identity(f"someone-else@{CA_DOMAIN}")
    return Deviation(b.unsigned().signed_smime(identity), "CHAL-SMIME-1")


def _smime_bad_path(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    expired = draw(st.booleans())
    ca: Literal["trusted", "untrusted"] = "trusted" if expired else "untrusted"
    identity = smime_identity(b.challenge_from, ca=ca, expired=expired)
    return Deviation(b.unsigned().signed_smime(identity), "CHAL-SMIME-2", ("CHAL-AUTH-1",))


def _smime_legacy_types(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    form = draw(_SMIME_FORMS)
    identity = smime_identity(b.challenge_from)
    builder = b.unsigned().signed_smime(identity, form=form, legacy_media_types=True)
    return Deviation(builder, "CHAL-BODY-2")


def _smime_unprotected(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    form = draw(_SMIME_FORMS)
    identity = smime_identity(b.challenge_from)
    builder = b.unsigned().signed_smime(identity, form=form, header_protection="none")
    return Deviation(builder, "CHAL-BODY-3")


def _smime_attribute_differs(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    """An RFC 7508 attribute that protects another Subject than the outer one (CHAL-BODY-3)."""
    kept = [SecureField(n, v) for n, v in b.header_fields() if n in ("From", "To")]
    other = SecureField("Subject", f"ACME: {b64url_encode(b'another token-part1!')}")
    builder = b.unsigned().signed_smime(
        smime_identity(b.challenge_from),
        form=draw(_SMIME_FORMS),
        header_protection="rfc7508",
        canonicalization=draw(st.sampled_from(_CANONICALIZATIONS)),
        secure_fields=[*kept, other],
    )
    return Deviation(builder, "CHAL-BODY-3")


def _long_line(draw: st.DrawFn, b: ChallengeEmail) -> Deviation:
    length = draw(st.integers(999, 2000))
    return Deviation(b.with_header("X-Note", "x" * length), "REF-5322-1")


_VIOLATIONS: tuple[_Violation, ...] = (
    _subject_without_space,
    _subject_with_prefix,
    _subject_wrong_label,
    _subject_absent,
    _subject_twice,
    _subject_other_charset,
    _subject_encoded,
    _subject_long_word,
    _token_alphabet,
    _token_short,
    _from_other,
    _to_other,
    _to_two,
    _message_id_absent,
    _not_auto_generated,
    _no_type_acme,
    _unsigned,
    _dkim_missing_required,
    _dkim_missing_recommended,
    _dkim_misaligned,
    _dkim_without_from,
    _smime_other_signer,
    _smime_bad_path,
    _smime_legacy_types,
    _smime_unprotected,
    _smime_attribute_differs,
    _long_line,
)


@st.composite
def single_violations(draw: st.DrawFn) -> Deviation:
    """A signed, otherwise conforming challenge that breaks one MUST or SHOULD of §3.1.

    Covers CHAL-SUBJ-1/4/5, TOK-3/4, CHAL-HDR-1/2/4, CHAL-AUTO-1/2, CHAL-AUTH-1,
    CHAL-DKIM-1/2/3, CHAL-SMIME-1/2, CHAL-BODY-2/3, REF-2047-1, REF-5322-1 and REF-6376-1.
    """
    base = draw(_signed(draw(_conforming_base())))
    violation = draw(st.sampled_from(_VIOLATIONS))
    return violation(draw, base)


VIOLATED_REQUIREMENTS = frozenset(
    {
        "CHAL-SUBJ-1",
        "CHAL-SUBJ-4",
        "CHAL-SUBJ-5",
        "REF-2047-1",
        "TOK-4",
        "TOK-3",
        "CHAL-HDR-1",
        "CHAL-HDR-2",
        "CHAL-HDR-4",
        "CHAL-AUTO-1",
        "CHAL-AUTO-2",
        "CHAL-AUTH-1",
        "CHAL-DKIM-1",
        "CHAL-DKIM-2",
        "CHAL-DKIM-3",
        "REF-6376-1",
        "CHAL-SMIME-1",
        "CHAL-SMIME-2",
        "CHAL-BODY-2",
        "CHAL-BODY-3",
        "REF-5322-1",
    }
)
"""The requirements ``single_violations`` breaks, for coverage checks in tests."""
