"""The freedoms a conforming challenge email may use, each with the rows a client honours by
answering it (RFC 8823 §3.1 (1), (4)-(7)), for the client's Hypothesis test.

A drawn challenge (``answerable_challenges()``) is written into the CA's real challenge by
``challenges.retarget``; :func:`freedoms_of` names the freedoms the result uses next to the CA's
own challenge, and :func:`only` is the CA's challenge with one of them alone, so a challenge the
client refuses can be traced to the freedom it refuses on its own (the client-side counterpart
of the server suite's ``replies.Freedom``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import strategies as st

from rfc8823.messages.challenge import ChallengeEmail
from rfc8823.messages.signing import DkimSigning, SmimeSigning
from rfc8823.strategies.challenge import (
    CA_DOMAIN,
    CHALLENGE_FROM_ADDRESSES,
    IDENTIFIERS,
    conforming_challenges,
    dkim_key,
)
from rfc8823.tokens import b64url_encode


@dataclass(frozen=True)
class Freedom:
    """One freedom of RFC 8823 §3.1, the rows a client honours by answering a challenge that
    uses it, and the builder fields that carry it."""

    name: str
    requirements: tuple[str, ...]
    fields: tuple[str, ...]


FOLDS = Freedom(
    "white space and folds inside token-part1",
    ("CHAL-SUBJ-2", "REF-5322-1"),
    ("subject_raw", "folded", "fold_at"),
)
ENCODED = Freedom(
    "an RFC 2047 encoded-word Subject", ("CHAL-SUBJ-3", "REF-2047-1"), ("subject_encoding",)
)
COPIES = Freedom("Reply-To and Cc fields", ("CHAL-HDR-3",), ("reply_to", "cc"))
AUTO_SUBMITTED = Freedom(
    "Auto-Submitted in another spelling or with further parameters",
    ("CHAL-AUTO-3", "REF-3834-1"),
    ("auto_submitted",),
)
BODY = Freedom(
    "a body of another media type, or with decoy tokens and blocks",
    ("CHAL-BODY-1", "CHAL-HTML-1"),
    ("body",),
)
SIGNATURE = Freedom(
    "another signature than the CA's own: DKIM with Ed25519, another h= or l=, S/MIME, or both",
    ("CHAL-AUTH-1",),
    ("dkim_signings", "smime_signing"),
)
FREEDOMS = (FOLDS, ENCODED, COPIES, AUTO_SUBMITTED, BODY, SIGNATURE)
ROWS = tuple(dict.fromkeys(rid for freedom in FREEDOMS for rid in freedom.requirements))
"""Every row a freedom grants, in order: what the Hypothesis test covers."""


def _dkim_shape(signing: DkimSigning, email: ChallengeEmail) -> tuple[object, ...]:
    """What a DKIM signature is, whatever its key object: ``d=`` as written."""
    domain = (signing.domain or email.challenge_from.rpartition("@")[2]).lower()
    return (signing.selector, signing.headers, domain, signing.body_length)


def _smime_shape(signing: SmimeSigning | None) -> tuple[object, ...] | None:
    if signing is None:
        return None
    key = type(signing.identity.key).__name__
    return (signing.form, signing.header_protection, signing.canonicalization, key)


def _differs(freedom: Freedom, email: ChallengeEmail, real: ChallengeEmail) -> bool:
    if freedom is SIGNATURE:
        ours = [_dkim_shape(s, email) for s in email.dkim_signings]
        theirs = [_dkim_shape(s, real) for s in real.dkim_signings]
        return ours != theirs or _smime_shape(email.smime_signing) != _smime_shape(
            real.smime_signing
        )
    return any(getattr(email, name) != getattr(real, name) for name in freedom.fields)


def freedoms_of(email: ChallengeEmail, real: ChallengeEmail) -> tuple[Freedom, ...]:
    """The freedoms ``email`` uses where it differs from the CA's own challenge ``real``."""
    return tuple(freedom for freedom in FREEDOMS if _differs(freedom, email, real))


def only(freedom: Freedom, email: ChallengeEmail, real: ChallengeEmail) -> ChallengeEmail:
    """The CA's challenge ``real`` with ``email``'s ``freedom`` alone (its own signature kept,
    unless that is the freedom)."""
    return replace(real, **{name: getattr(email, name) for name in freedom.fields})


@st.composite
def answerable_challenges(draw: st.DrawFn) -> ChallengeEmail:
    """``conforming_challenges()``, and as often a Subject of RFC 2047 encoded-words (folded or
    not): a CA is advised against it (CHAL-SUBJ-5), a client must decode it (CHAL-SUBJ-3)."""
    drawn = draw(conforming_challenges())
    if not draw(st.booleans()):
        return drawn
    plain = replace(drawn, subject_raw=None, folded=False, fold_at=None)
    encoded = plain.with_subject_encoded(
        draw(st.sampled_from(("utf-8", "UTF-8", "us-ascii"))),
        draw(st.sampled_from(("Q", "B"))),
        draw(st.sampled_from((None, "en"))),
    )
    return encoded.with_subject_folded() if draw(st.booleans()) else encoded


def _plain() -> ChallengeEmail:
    token = b64url_encode(b"one freedom at a time...")
    return ChallengeEmail(CHALLENGE_FROM_ADDRESSES[0], IDENTIFIERS[0], token)


_HTML = "<html><body><p>An ACME challenge: your client answers it.</p></body></html>"
EVERY_FREEDOM_ONCE: tuple[ChallengeEmail, ...] = (
    _plain().with_subject_folded(),
    _plain().with_subject_encoded("utf-8", "Q"),
    _plain().with_reply_to(f"acme-replies@{CA_DOMAIN}").with_cc(f"audit@{CA_DOMAIN}"),
    _plain().with_auto_submitted("AUTO-GENERATED (by the CA) ; type=acme; x-run=1"),
    _plain().with_body_alternative("See the HTML part.", _HTML),
    _plain().signed_dkim(dkim_key("ed"), selector="ed"),
)
"""One example per freedom, so each row the test covers is judged in every run. Unsigned
examples keep the CA's own signature (``unsigned``), so each uses its one freedom alone."""


def unsigned(email: ChallengeEmail) -> bool:
    """Whether ``email`` carries neither a DKIM nor an S/MIME signature."""
    return not email.dkim_signings and email.smime_signing is None
