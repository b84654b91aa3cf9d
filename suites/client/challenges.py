"""Challenge emails for the client suite: ones the client must not answer, and conforming
variations of the CA's own challenge that it must answer.

A must-not-answer challenge is written by the suite with a token-part1 of its own and put into
the client's mailbox before the CA's real challenge (RFC 8823 §3 step 5, §3.1; FLOW-4,
FLOW-6, SEC-6). A variation is a function the suite's CA applies to its signed challenge
builder before building it, so the client sees the real token-part1 in a different but
conforming dress (§3.1 (1)-(7)).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import rsa

from rfc8823.auth.dkim import CHALLENGE_RECOMMENDED_HEADERS, CHALLENGE_REQUIRED_HEADERS
from rfc8823.auth.secure_headers import Canonicalization
from rfc8823.auth.smime import HeaderProtection, SmimeForm
from rfc8823.messages.challenge import ChallengeEmail
from rfc8823.messages.headers import ACME_LABEL
from rfc8823.tokens import new_token_part
from rfc8823.world.keys import KeyKind
from rfc8823.world.relations import DOMAIN_RELATIONS, DomainRelation
from rfc8823.world.world import World

from .harness import CA_DOMAIN, DKIM_SELECTOR, USER_DOMAIN, Enrollment

STRANGER_DOMAIN = "other.test"
"""A domain of the world with no pending order at the client: its challenges are unsolicited."""

Variant = Callable[[ChallengeEmail], ChallengeEmail]
_FULL_H = (*CHALLENGE_REQUIRED_HEADERS, *CHALLENGE_RECOMMENDED_HEADERS)
_HTML = "<html><body><p>ACME challenge for {to}: your client answers it.</p></body></html>"


@dataclass(frozen=True)
class Crafted:
    """A message for the client's mailbox and the token-part1 values it must not answer."""

    data: bytes
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class BadChallenge:
    """A challenge the client must not answer, what makes it so, and how to write it;
    ``ca_domain`` is the domain of the CA's ``from`` address in that test."""

    name: str
    why: str
    requirements: tuple[str, ...]
    craft: Callable[[Enrollment], Crafted]
    ca_domain: str = CA_DOMAIN


@dataclass(frozen=True)
class Variation:
    """A conforming way to write the CA's challenge; ``make`` gets the world for keys."""

    name: str
    requirements: tuple[str, ...]
    make: Callable[[World], Variant]
    capability: str | None = None
    parts: tuple[Variation, ...] = ()
    """The variations this one combines: a refused combination is traced to the parts the
    client refuses on their own, as the Hypothesis test isolates a drawn challenge's freedoms."""


def base(run: Enrollment, *, sender: str | None = None, to: str | None = None) -> ChallengeEmail:
    """A challenge to the enrollment's address with a token-part1 no CA issued."""
    return ChallengeEmail(sender or run.challenge_from, to or run.address, new_token_part(24))


def ca_signed(
    run: Enrollment, email: ChallengeEmail, headers: Sequence[str] | None = None
) -> ChallengeEmail:
    """``email`` DKIM-signed with the CA domain's published key (``d=`` the From domain)."""
    key = run.world.domain(CA_DOMAIN).dkim_key(DKIM_SELECTOR)
    return email.signed_dkim(key, selector=DKIM_SELECTOR, headers=headers)


def _crafted(email: ChallengeEmail, data: bytes | None = None) -> Crafted:
    return Crafted(data if data is not None else email.build(), (email.token_part1,))


def _unsigned(run: Enrollment) -> Crafted:
    return _crafted(base(run))


def _wrong_key(run: Enrollment) -> Crafted:
    stranger = run.world.domain(STRANGER_DOMAIN).dkim_key(DKIM_SELECTOR)
    return _crafted(base(run).signed_dkim(stranger, selector=DKIM_SELECTOR, domain=CA_DOMAIN))


def _body_changed(run: Enrollment) -> Crafted:
    email = ca_signed(run, base(run))
    return _crafted(email, email.build() + b"Added after signing.\r\n")


def _signed_by(domain: str) -> Callable[[Enrollment], Crafted]:
    """A challenge from the CA's address, validly DKIM-signed with ``d=domain``."""

    def craft(run: Enrollment) -> Crafted:
        key = run.world.domain(domain).dkim_key(DKIM_SELECTOR)
        return _crafted(base(run).signed_dkim(key, selector=DKIM_SELECTOR, domain=domain))

    return craft


def _h_without(name: str) -> Callable[[Enrollment], Crafted]:
    def craft(run: Enrollment) -> Crafted:
        headers = tuple(h for h in _FULL_H if h != name)
        return _crafted(ca_signed(run, base(run), headers=headers))

    return craft


def _auto_submitted(value: str | None) -> Callable[[Enrollment], Crafted]:
    def craft(run: Enrollment) -> Crafted:
        return _crafted(ca_signed(run, base(run).with_auto_submitted(value)))

    return craft


def _wrong_from(run: Enrollment) -> Crafted:
    sender = run.world.new_address(CA_DOMAIN, prefix="not-the-acme-from")
    return _crafted(ca_signed(run, base(run, sender=sender)))


def _wrong_to(run: Enrollment) -> Crafted:
    other = run.world.new_address(USER_DOMAIN, prefix="someone-else")
    return _crafted(ca_signed(run, base(run, to=other)))


def _reply_subject(run: Enrollment) -> Crafted:
    email = base(run)
    replied = email.with_subject(f"Re: ACME: {email.token_part1}")
    return _crafted(ca_signed(run, replied))


def _token_alphabet(run: Enrollment) -> Crafted:
    email = base(run)
    token = email.token_part1[:8] + "+/" + email.token_part1[10:]
    return Crafted(ca_signed(run, email.with_subject(f"ACME: {token}")).build(), (token,))


def _unsolicited(run: Enrollment) -> Crafted:
    sender = run.world.new_address(STRANGER_DOMAIN, prefix="acme")
    stranger = run.world.domain(STRANGER_DOMAIN).dkim_key(DKIM_SELECTOR)
    return _crafted(base(run, sender=sender).signed_dkim(stranger, selector=DKIM_SELECTOR))


def _smime(
    ca: Literal["trusted", "untrusted"] = "trusted", san: Sequence[str] | None = None
) -> Callable[[Enrollment], Crafted]:
    def craft(run: Enrollment) -> Crafted:
        identity = run.world.pki.smime_signer(run.challenge_from, ca=ca, san=san)
        return _crafted(base(run).signed_smime(identity))

    return craft


def _smime_outer_subject_changed(protection: HeaderProtection) -> Callable[[Enrollment], Crafted]:
    """S/MIME with header protection whose outer Subject names another token (CHAL-BODY-3).

    The multipart/signed outer header lies outside the signature, so it still verifies.
    """

    def craft(run: Enrollment) -> Crafted:
        identity = run.world.pki.smime_signer(run.challenge_from)
        email = base(run).signed_smime(identity, header_protection=protection)
        data = email.build()
        head, _, body = data.partition(b"\r\n\r\n")
        outer = new_token_part(24)
        changed = re.sub(rb"(?m)^Subject: ACME: \S+", f"Subject: ACME: {outer}".encode(), head)
        return Crafted(changed + b"\r\n\r\n" + body, (email.token_part1, outer))

    return craft


def _case(
    name: str,
    why: str,
    requirements: tuple[str, ...],
    craft: Callable[[Enrollment], Crafted],
    ca_domain: str = CA_DOMAIN,
) -> BadChallenge:
    """A must-not-answer case; whatever a client verifies, none of these may be answered."""
    return BadChallenge(name, why, (*requirements, "SEC-6"), craft, ca_domain)


def _misaligned(relation: DomainRelation) -> BadChallenge:
    """The CA's challenge signed by a domain in ``relation`` to its From domain, which the CA's
    address is in for this case (RFC 8823 §3.1 (6): ``d=`` is exactly the From domain)."""
    return _case(
        f"dkim-{relation.name}",
        f"valid DKIM signature by d={relation.signer_domain} for a From in "
        f"{relation.mailbox_domain}; accepted only by {relation.mistake}",
        ("CHAL-DKIM-3",),
        _signed_by(relation.signer_domain),
        relation.mailbox_domain,
    )


BAD_CHALLENGES: tuple[BadChallenge, ...] = (
    _case("unsigned", "neither DKIM- nor S/MIME-signed", ("CHAL-AUTH-1",), _unsigned),
    _case(
        "dkim-wrong-key",
        "DKIM signature by a key the CA domain does not publish",
        ("CHAL-AUTH-1",),
        _wrong_key,
    ),
    _case(
        "dkim-body-changed",
        "body changed after DKIM signing",
        ("CHAL-AUTH-1",),
        _body_changed,
    ),
    *(_misaligned(relation) for relation in DOMAIN_RELATIONS),
    _case(
        "dkim-h-without-subject",
        "DKIM h= does not cover Subject",
        ("CHAL-DKIM-1",),
        _h_without("subject"),
    ),
    _case(
        "dkim-h-without-auto-submitted",
        "DKIM h= does not cover Auto-Submitted",
        ("CHAL-DKIM-1",),
        _h_without("auto-submitted"),
    ),
    _case("no-auto-submitted", "no Auto-Submitted field", ("CHAL-AUTO-1",), _auto_submitted(None)),
    _case(
        "auto-replied",
        "Auto-Submitted: auto-replied",
        ("CHAL-AUTO-1", "REF-3834-1"),
        _auto_submitted("auto-replied"),
    ),
    _case(
        "auto-submitted-no",
        "Auto-Submitted: no",
        ("CHAL-AUTO-1", "REF-3834-1"),
        _auto_submitted("no"),
    ),
    _case(
        "wrong-from",
        "From is not the challenge object's 'from'",
        ("CHAL-HDR-1", "FLOW-4"),
        _wrong_from,
    ),
    _case("wrong-to", "To is not the identifier", ("CHAL-HDR-2", "FLOW-4"), _wrong_to),
    _case("reply-subject", "Subject reads as a reply ('Re: ACME:')", ("FLOW-4",), _reply_subject),
    _case(
        "token-not-base64url",
        "token-part1 with '+' and '/', outside the base64url alphabet",
        ("TOK-4",),
        _token_alphabet,
    ),
    _case(
        "unsolicited",
        "an authentic challenge from a CA the client has no pending order with",
        ("FLOW-4",),
        _unsolicited,
    ),
    _case(
        "smime-untrusted-signer",
        "S/MIME signer that chains to no trusted root",
        ("CHAL-SMIME-2", "REF-8550-1", "CHAL-AUTH-1"),
        _smime(ca="untrusted"),
    ),
    _case(
        "smime-san-not-from",
        "S/MIME signer whose rfc822Name is not the From address",
        ("CHAL-SMIME-1", "REF-8550-1"),
        _smime(san=[f"someone-else@{CA_DOMAIN}"]),
    ),
    _case(
        "smime-header-protection-broken",
        "outer Subject differs from the S/MIME-protected one",
        ("CHAL-BODY-3", "REF-8551-1"),
        _smime_outer_subject_changed("rfc8551"),
    ),
    _case(
        "smime-7508-subject-differs",
        "outer Subject differs from the one an RFC 7508 SecureHeaderFields attribute protects",
        ("CHAL-BODY-3", "REF-7508-1"),
        _smime_outer_subject_changed("rfc7508"),
    ),
)


def _resigned(selector: str) -> Callable[[World], Variant]:
    def make(world: World) -> Variant:
        key = world.domain(CA_DOMAIN).dkim_key(selector)
        return lambda email: email.unsigned().signed_dkim(key, selector=selector)

    return make


def _smime_signed(
    form: SmimeForm,
    with_dkim: bool,
    protection: HeaderProtection = "rfc8551",
    canonicalization: Canonicalization = "relaxed",
) -> Callable[[World], Variant]:
    def make(world: World) -> Variant:
        def variant(email: ChallengeEmail) -> ChallengeEmail:
            identity = world.pki.smime_signer(email.challenge_from)
            return (email if with_dkim else email.unsigned()).signed_smime(
                identity,
                form=form,
                header_protection=protection,
                canonicalization=canonicalization,
            )

        return variant

    return make


def _plain(variant: Variant) -> Callable[[World], Variant]:
    return lambda _: variant


_FOLDED = Variation(
    "subject-folded-in-token",
    ("CHAL-SUBJ-2", "REF-5322-1"),
    _plain(lambda e: e.with_subject_folded()),
)
_B_SPLIT = Variation(
    "subject-b-split",
    ("CHAL-SUBJ-3", "REF-2047-1"),
    _plain(lambda e: e.with_subject_encoded("utf-8", "B", split_at=(10,))),
)
VARIATIONS: tuple[Variation, ...] = (
    _FOLDED,
    Variation(
        "subject-folded-twice",
        ("CHAL-SUBJ-2", "REF-5322-1"),
        _plain(lambda e: e.with_subject_folded(at=(5, 12, 24))),
    ),
    Variation(
        "subject-q-utf8",
        ("CHAL-SUBJ-3", "REF-2047-1"),
        _plain(lambda e: e.with_subject_encoded("utf-8", "Q")),
    ),
    Variation(
        "subject-b-us-ascii",
        ("CHAL-SUBJ-3", "REF-2047-1"),
        _plain(lambda e: e.with_subject_encoded("us-ascii", "B")),
    ),
    Variation(
        "subject-split-encoded-words",
        ("CHAL-SUBJ-3", "REF-2047-1"),
        _plain(lambda e: e.with_subject_encoded("utf-8", "Q", split_at=(8, 20))),
    ),
    Variation(
        "subject-rfc2231-language",
        ("CHAL-SUBJ-3", "REF-2231-1"),
        _plain(lambda e: e.with_subject_encoded("us-ascii", "Q", language="en")),
    ),
    Variation(
        "subject-encoded-and-folded",
        ("CHAL-SUBJ-2", "CHAL-SUBJ-3"),
        _plain(
            lambda e: e.with_subject_encoded("utf-8", "B", split_at=(10,)).with_subject_folded()
        ),
        parts=(_B_SPLIT, _FOLDED),
    ),
    Variation(
        "reply-to",
        ("CHAL-HDR-3", "RESP-TO-1"),
        _plain(lambda e: e.with_reply_to(f"acme-replies@{CA_DOMAIN}")),
    ),
    Variation("cc", ("CHAL-HDR-3",), _plain(lambda e: e.with_cc(f"audit@{CA_DOMAIN}"))),
    Variation(
        "to-with-display-name",
        ("CHAL-HDR-2",),
        _plain(lambda e: e.with_to(f'"Certificate User" <{e.to}>')),
    ),
    Variation(
        "html-only-body",
        ("CHAL-BODY-1", "CHAL-HTML-1"),
        _plain(lambda e: e.with_body_html(_HTML.format(to=e.to))),
    ),
    Variation(
        "alternative-body",
        ("CHAL-BODY-1", "CHAL-HTML-1"),
        _plain(lambda e: e.with_body_alternative("See the HTML part.", _HTML.format(to=e.to))),
    ),
    Variation("decoy-body", ("CHAL-BODY-1",), _plain(lambda e: e.with_decoys())),
    Variation("empty-body", ("CHAL-BODY-1",), _plain(lambda e: e.with_body_text(""))),
    Variation(
        "auto-submitted-without-type",
        ("CHAL-AUTO-2",),
        _plain(lambda e: e.with_auto_submitted("auto-generated")),
    ),
    Variation(
        "auto-submitted-extra-parameters",
        ("CHAL-AUTO-3", "REF-3834-1"),
        _plain(lambda e: e.with_auto_submitted("auto-generated; type=acme; foo=bar")),
    ),
    Variation(
        "auto-submitted-upper-case-and-comment",
        ("CHAL-AUTO-3", "REF-3834-1"),
        _plain(lambda e: e.with_auto_submitted("AUTO-GENERATED (by the CA) ; type=acme")),
    ),
    Variation("dkim-ed25519", ("CHAL-AUTH-1",), _resigned("ed")),
    Variation(
        "dkim-oversigned-h",
        ("CHAL-DKIM-1", "REF-6376-2"),
        lambda world: (
            lambda e: e.unsigned().signed_dkim(
                world.domain(CA_DOMAIN).dkim_key(DKIM_SELECTOR),
                selector=DKIM_SELECTOR,
                headers=(*_FULL_H, "from", "subject", "to"),
            )
        ),
    ),
    Variation(
        "smime-multipart-signed",
        ("CHAL-AUTH-1", "CHAL-SMIME-1", "CHAL-BODY-2", "CHAL-BODY-3"),
        _smime_signed("multipart-signed", with_dkim=False),
        "smime",
    ),
    Variation(
        "smime-opaque",
        ("CHAL-AUTH-1", "CHAL-SMIME-1", "CHAL-BODY-2", "CHAL-BODY-3"),
        _smime_signed("opaque", with_dkim=False),
        "smime",
    ),
    Variation(
        "smime-rfc7508-relaxed",
        ("CHAL-AUTH-1", "CHAL-SMIME-1", "CHAL-BODY-2", "CHAL-BODY-3"),
        _smime_signed("multipart-signed", with_dkim=False, protection="rfc7508"),
        "smime",
    ),
    Variation(
        "smime-rfc7508-simple-opaque",
        ("CHAL-AUTH-1", "CHAL-SMIME-1", "CHAL-BODY-2", "CHAL-BODY-3"),
        _smime_signed("opaque", with_dkim=False, protection="rfc7508", canonicalization="simple"),
        "smime",
    ),
    Variation(
        "smime-and-dkim",
        ("CHAL-AUTH-1", "CHAL-BODY-2"),
        _smime_signed("multipart-signed", with_dkim=True),
    ),
)


def _same_shape(subject: str, token: str) -> str:
    """A folded ``ACME: <token>`` Subject with its token characters replaced by ``token``'s.

    The white space after the label and inside the token stays where it was; the Subject's
    token has as many characters as ``token``.
    """
    label, rest = subject[: len(ACME_LABEL)], subject[len(ACME_LABEL) :]
    characters = iter(token)
    return label + "".join(c if c.isspace() else next(characters) for c in rest)


def _key_kind(email: ChallengeEmail) -> KeyKind:
    chosen = email.smime_signing
    return (
        "rsa2048"
        if chosen is not None and isinstance(chosen.identity.key, rsa.RSAPrivateKey)
        else "p256"
    )


def retarget(
    sample: ChallengeEmail, real: ChallengeEmail, world: World, smime: bool
) -> ChallengeEmail:
    """The CA's real challenge written the way ``sample`` is (a conforming-challenge draw).

    Addresses, token-part1 (of the same length), Message-ID and Date are the real ones; the
    Subject's folds, Reply-To and Cc (moved to the CA's domain), Auto-Submitted, the body and
    the signatures (re-made with the CA domain's keys and signer) are the sample's. A client
    that does not verify S/MIME gets a DKIM signature too.
    """
    domain = real.challenge_from.rpartition("@")[2]
    moved = replace(
        sample.unsigned(),
        challenge_from=real.challenge_from,
        to=real.to,
        token_part1=real.token_part1,
        message_id=real.message_id,
        date=real.date,
        reply_to=_on_domain(sample.reply_to, domain),
        cc=_on_domain(sample.cc, domain),
        subject_raw=(
            _same_shape(sample.subject_raw, real.token_part1)
            if sample.subject_raw is not None
            else None
        ),
    )
    if sample.smime_signing is not None:
        chosen = sample.smime_signing
        identity = world.pki.smime_signer(real.challenge_from, key_kind=_key_kind(sample))
        moved = moved.signed_smime(
            identity,
            form=chosen.form,
            header_protection=chosen.header_protection,
            canonicalization=chosen.canonicalization,
            legacy_media_types=chosen.legacy_media_types,
        )
    signings = sample.dkim_signings or (() if smime else real.dkim_signings)
    for signing in signings:
        moved = moved.signed_dkim(
            world.domain(domain).dkim_key(signing.selector),
            selector=signing.selector,
            headers=signing.headers,
            body_length=signing.body_length,
        )
    return moved


def _on_domain(address: str | None, domain: str) -> str | None:
    return f"{address.rpartition('@')[0]}@{domain}" if address is not None else None
