"""Strategies for token parts, digests and account keys (RFC 8823 §3, §3.1, §3.2; AMB-1, AMB-2)."""

from __future__ import annotations

from typing import NamedTuple

from hypothesis import strategies as st

from rfc8823.tokens import b64url_encode
from rfc8823.values import KeyKind, PrivateKey
from rfc8823.world.keys import cached_key

NOTABLE_OCTETS = (16, 30, 32, 33)
"""Token-part lengths always worth trying: the 128-bit floor (16) and the RFC example's 32,
where the readings differ, and 30 and 33, where they agree (AMB-1)."""

_WHITESPACE = (" ", "\t", "  ", " \t", "\r\n ", "\r\n\t", " \r\n ")
_LINE_BREAKS = ("\r\n", "\n")
_ACCOUNT_KINDS: tuple[KeyKind, ...] = ("p256", "p384", "ed25519", "rsa2048")
_ACCOUNTS_PER_KIND = 2


class Written(NamedTuple):
    """A value in canonical form and one way of writing it that must be read as the same."""

    canonical: str
    written: str


def token_lengths(min_octets: int = 16, max_octets: int = 64) -> st.SearchStrategy[int]:
    """Decoded token-part lengths, always including the notable ones in range (TOK-3, AMB-1)."""
    notable = [n for n in NOTABLE_OCTETS if min_octets <= n <= max_octets]
    anywhere = st.integers(min_octets, max_octets)
    return st.one_of(st.sampled_from(notable), anywhere) if notable else anywhere


def token_parts(min_octets: int = 16, max_octets: int = 64) -> st.SearchStrategy[str]:
    """Random unpadded base64url token parts of varied length (TOK-1, TOK-3, TOK-4)."""
    return token_lengths(min_octets, max_octets).flatmap(_octets).map(b64url_encode)


def padded_token_parts(min_octets: int = 16, max_octets: int = 64) -> st.SearchStrategy[str]:
    """Token parts that carry trailing ``=`` padding, as the RFC example does (AMB-2)."""
    lengths = token_lengths(min_octets, max_octets).filter(lambda n: n % 3 != 0)
    return lengths.flatmap(_octets).map(lambda data: b64url_encode(data, pad=True))


@st.composite
def token_part1_with_whitespace(draw: st.DrawFn) -> Written:
    """token-part1 with spaces, tabs and folds inside, as a Subject may carry it (CHAL-SUBJ-2)."""
    token = draw(st.one_of(token_parts(), padded_token_parts()))
    insertions = draw(
        st.lists(
            st.tuples(st.integers(1, len(token) - 1), st.sampled_from(_WHITESPACE)),
            min_size=1,
            max_size=6,
        )
    )
    written = token
    for position, space in sorted(insertions, reverse=True):
        written = written[:position] + space + written[position:]
    return Written(token, written)


@st.composite
def digest_line_breaks(draw: st.DrawFn, digest: str | None = None) -> Written:
    """A digest broken over lines at any positions, down to one character a line (RESP-BODY-3).

    Line ends are CRLF or bare LF, chosen per break. Without ``digest``, a random
    32-octet digest is used.
    """
    canonical = digest if digest is not None else draw(_octets(32).map(b64url_encode))
    if len(canonical) < 2:
        raise ValueError(f"a digest of {len(canonical)} characters cannot be broken over lines")
    every = range(1, len(canonical))
    one_per_line = draw(st.booleans())
    cuts = every if one_per_line else sorted(draw(st.sets(st.sampled_from(every), min_size=1)))
    written, start = [], 0
    for cut in cuts:
        written += [canonical[start:cut], draw(st.sampled_from(_LINE_BREAKS))]
        start = cut
    return Written(canonical, "".join([*written, canonical[start:]]))


def account_keys() -> st.SearchStrategy[PrivateKey]:
    """ACME account keys of every kind the suite uses, a few of each, cached on disk (KA-2)."""
    names = [(f"account-{i}", kind) for kind in _ACCOUNT_KINDS for i in range(_ACCOUNTS_PER_KIND)]
    return st.sampled_from(names).map(lambda named: cached_key(*named))


def _octets(count: int) -> st.SearchStrategy[bytes]:
    """Exactly count random octets."""
    return st.binary(min_size=count, max_size=count)
