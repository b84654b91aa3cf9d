"""Token parts, concatenation readings, thumbprints and digest comparison (RFC 8823 §3)."""

import string

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from hypothesis import given
from hypothesis import strategies as st

from rfc8823.strategies.tokens import (
    Written,
    account_keys,
    digest_line_breaks,
    padded_token_parts,
    token_lengths,
    token_part1_with_whitespace,
    token_parts,
)
from rfc8823.tokens import (
    Concatenation,
    acme_token,
    b64url_decode,
    b64url_encode,
    digest_matches,
    entropy_octets,
    expected_digests,
    jwk_thumbprint,
    jwk_thumbprint_from_jwk,
    key_authorization,
    new_token_part,
    readings_agree,
    required_jwk_members,
    response_digest,
)
from rfc8823.world.keys import PrivateKey

B64URL = set(string.ascii_letters + string.digits + "-_")
RFC_PART1 = "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME="
PART2 = "DGyRejmCefe7v4NfDGDKfA"
THUMBPRINT = "1_nKJnlH9boVxdoO63T8zP7O2w42qZL4d6xj35Hy5aI"


@given(st.binary(max_size=80), st.booleans())
def test_b64url_round_trip(data: bytes, pad: bool) -> None:
    """Encoding then strict decoding gives the octets back, padded or not (AMB-2)."""
    text = b64url_encode(data, pad=pad)
    assert ("=" in text) == (pad and len(data) % 3 != 0)
    assert b64url_decode(text) == data


@pytest.mark.parametrize(
    ("text", "octets"),
    [
        ("", b""),
        ("AA", b"\0"),
        ("AA==", b"\0"),
        ("AAA", b"\0\0"),
        ("AAA=", b"\0\0"),
        ("-_8", b"\xfb\xff"),
    ],
)
def test_b64url_decode_accepts_optional_padding(text: str, octets: bytes) -> None:
    """Unpadded and correctly padded base64url both decode (docs/decisions.md#decision-3, AMB-2)."""
    assert b64url_decode(text) == octets


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("ab+c", r"\['\+'\] are outside"),
        ("ab/c", r"\['/'\] are outside"),
        ("ab c", "outside the RFC 4648"),
        ("ab\r\ncd", "outside the RFC 4648"),
        ("a=bc", r"\['='\] are outside"),
        ("abcde", "cannot encode whole octets"),
        ("AA=", "1 '=' after 2 characters, 2 would complete"),
        ("AAA==", "2 '=' after 3 characters, 1 would complete"),
        ("AAAA=", "1 '=' after 4 characters, 0 would complete"),
        ("AB", "non-zero unused bits"),
    ],
)
def test_b64url_decode_is_strict(text: str, complaint: str) -> None:
    """Standard-base64 characters, whitespace, bad lengths and bad padding are refused (TOK-4)."""
    with pytest.raises(ValueError, match=complaint):
        b64url_decode(text)


def test_new_token_part_is_fresh_unpadded_base64url() -> None:
    """New parts carry the asked entropy, no padding, and do not repeat (TOK-1..TOK-3)."""
    parts = {new_token_part() for _ in range(64)}
    assert len(parts) == 64
    assert all(len(part) == 22 and set(part) <= B64URL for part in parts)
    assert entropy_octets(new_token_part(33)) == 33


@pytest.mark.parametrize("octets", [0, -1])
def test_new_token_part_refuses_empty(octets: int) -> None:
    """A token part needs at least one octet."""
    with pytest.raises(ValueError, match="at least 1 octet"):
        new_token_part(octets)


def test_readings_of_the_rfc_example_differ() -> None:
    """The RFC's padded 32-octet token-part1 gives three different tokens (AMB-1, KA-4)."""
    tokens = {reading: acme_token(RFC_PART1, PART2, reading) for reading in Concatenation}
    assert tokens[Concatenation.STRING] == RFC_PART1 + PART2
    assert tokens[Concatenation.STRING_UNPADDED] == RFC_PART1[:-1] + PART2
    assert b64url_decode(tokens[Concatenation.OCTETS]) == b64url_decode(RFC_PART1) + b64url_decode(
        PART2
    )
    assert len(set(tokens.values())) == 3
    assert not readings_agree(RFC_PART1, PART2)


def test_readings_agree_on_a_multiple_of_three_octets() -> None:
    """An unpadded 18-octet token-part1 gives one token under every reading (V6,
    docs/decisions.md#decision-2)."""
    assert readings_agree("AAECAwQFBgcICQoLDA0ODxAR", PART2)
    assert readings_agree("AAECAwQFBgcI\r\n CQoLDA0ODxAR", PART2)
    assert not readings_agree("AAECAwQFBgcICQoLDA0ODxAR", b64url_encode(bytes(16), pad=True))


@pytest.mark.parametrize("reading", list(Concatenation))
def test_token_part1_comes_first(reading: Concatenation) -> None:
    """Swapping the parts changes the token: token-part1 is first (KA-1)."""
    part1 = new_token_part(18)
    part2 = new_token_part(18)
    assert acme_token(part1, part2, reading) == part1 + part2
    assert acme_token(part1, part2, reading) != acme_token(part2, part1, reading)


@pytest.mark.parametrize(
    ("part1", "part2", "complaint"),
    [
        ("", PART2, "empty"),
        (RFC_PART1, "", "empty"),
        ("ab+c", PART2, "outside"),
        (RFC_PART1, "DGyRejmCefe7v4NfDGDKf/", "outside"),
    ],
)
def test_acme_token_refuses_malformed_parts(part1: str, part2: str, complaint: str) -> None:
    """Parts that are empty or not base64url have no token under any reading (TOK-4)."""
    for reading in Concatenation:
        with pytest.raises(ValueError, match=complaint):
            acme_token(part1, part2, reading)
    assert not readings_agree(part1, part2)


@given(
    token_lengths(min_octets=1).flatmap(lambda n: st.binary(min_size=n, max_size=n)), token_parts()
)
def test_readings_agree_iff_whole_quanta(octets: bytes, part2: str) -> None:
    """Readings agree exactly when token-part1 is unpadded and a multiple of 3 octets (AMB-1)."""
    part1 = b64url_encode(octets)
    assert readings_agree(part1, part2) == (len(octets) % 3 == 0)
    if readings_agree(part1, part2):
        assert len({acme_token(part1, part2, reading) for reading in Concatenation}) == 1


def test_readings_can_coincide_by_chance() -> None:
    """All-zero 16-octet parts give one token, yet the length guarantees nothing (AMB-1)."""
    part1, part2 = b64url_encode(bytes(16)), b64url_encode(bytes(30))
    assert len({acme_token(part1, part2, reading) for reading in Concatenation}) == 1
    assert not readings_agree(part1, part2)


@given(padded_token_parts(), token_parts())
def test_padded_token_part1_never_agrees(part1: str, part2: str) -> None:
    """A padded token-part1 makes the string and octet readings differ (AMB-1, AMB-2)."""
    assert not readings_agree(part1, part2)
    assert entropy_octets(part1) % 3 != 0


@given(token_part1_with_whitespace(), token_parts())
def test_whitespace_inside_token_part1_is_ignored(part1: Written, part2: str) -> None:
    """Spaces, tabs and folds inside token-part1 change no reading (CHAL-SUBJ-2)."""
    assert part1.written != part1.canonical
    for reading in Concatenation:
        assert acme_token(part1.written, part2, reading) == acme_token(
            part1.canonical, part2, reading
        )
    assert entropy_octets(part1.written) == entropy_octets(part1.canonical)


@given(account_keys())
def test_thumbprint_same_for_public_and_private_key(key: PrivateKey) -> None:
    """The thumbprint depends on the public key only, given as object or JWK (KA-2, RFC 7638)."""
    thumbprint = jwk_thumbprint(key)
    assert thumbprint == jwk_thumbprint(key.public_key())
    assert thumbprint == jwk_thumbprint_from_jwk(required_jwk_members(key))
    assert len(thumbprint) == 43
    assert len(b64url_decode(thumbprint)) == 32


def test_thumbprint_of_ed448_key() -> None:
    """Ed448 keys are OKP keys with a 57-octet x (RFC 8037 §2)."""
    key = ed448.Ed448PrivateKey.generate()
    members = required_jwk_members(key)
    assert members.keys() == {"crv", "kty", "x"}
    assert (members["crv"], members["kty"], len(b64url_decode(members["x"]))) == (
        "Ed448",
        "OKP",
        57,
    )
    assert jwk_thumbprint(key) == jwk_thumbprint_from_jwk(members)


@pytest.mark.parametrize(
    "key",
    [
        x25519.X25519PrivateKey.generate(),
        ec.generate_private_key(ec.SECP256K1()),
    ],
    ids=["x25519", "secp256k1"],
)
def test_thumbprint_refuses_unsupported_keys(key: PrivateKeyTypes) -> None:
    """Keys that cannot be ACME account keys here are refused with ValueError."""
    with pytest.raises(ValueError, match="unsupported"):
        jwk_thumbprint(key)


def test_thumbprint_from_jwk_ignores_optional_members() -> None:
    """Only required members enter the thumbprint, in name order (RFC 7638 §3.2, §3.3)."""
    members = required_jwk_members(ec.generate_private_key(ec.SECP256R1()))
    reordered = {"use": "sig", "y": members["y"], "x": members["x"], "kty": "EC", "crv": "P-256"}
    extended = {**reordered, "key_ops": ["verify"], "kid": "k1", "alg": "ES256"}
    assert jwk_thumbprint_from_jwk(extended) == jwk_thumbprint_from_jwk(members)


def test_thumbprint_from_jwk_canonicalises_integers() -> None:
    """A sign octet on n is dropped and short EC coordinates are re-padded (A-KA-1)."""
    modulus = bytes([0xC5]) * 256
    rsa_jwk = {"kty": "RSA", "e": "AQAB", "n": b64url_encode(modulus)}
    signed = {**rsa_jwk, "n": b64url_encode(b"\0" + modulus)}
    assert jwk_thumbprint_from_jwk(signed) == jwk_thumbprint_from_jwk(rsa_jwk)
    coordinate = bytes(1) + bytes([0x7A]) * 31
    ec_jwk = {"kty": "EC", "crv": "P-256", "x": b64url_encode(coordinate), "y": "AQ"}
    short = {**ec_jwk, "x": b64url_encode(coordinate[1:]), "y": b64url_encode(bytes(31) + b"\1")}
    assert jwk_thumbprint_from_jwk(short) == jwk_thumbprint_from_jwk(ec_jwk)


@pytest.mark.parametrize(
    ("jwk", "complaint"),
    [
        ({"kty": "oct", "k": "AAAA"}, "lacks the required string member 'crv'"),
        ({"kty": "RSA", "e": "AQAB"}, "lacks the required string member 'n'"),
        ({"kty": "RSA", "e": "AQAB", "n": "AQAB=="}, "padding"),
        ({"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"}, "unsupported JWK key type 'EC'"),
        (
            {"kty": "EC", "crv": "P-256", "x": "AA", "y": b64url_encode(b"\1" + bytes(32))},
            "longer than 32",
        ),
        ({"kty": "OKP", "crv": "X25519", "x": b64url_encode(bytes(32))}, "unsupported"),
        ({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(bytes(31))}, "not 32 octets"),
        ({"kty": 1, "n": "AQAB", "e": "AQAB"}, "'kty'"),
    ],
)
def test_thumbprint_from_jwk_refuses_bad_jwks(jwk: dict[str, object], complaint: str) -> None:
    """Unsupported or malformed JWKs raise ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=complaint):
        jwk_thumbprint_from_jwk(jwk)


@given(st.one_of(token_parts(), padded_token_parts()), token_parts())
def test_key_authorization_and_digest_format(part1: str, part2: str) -> None:
    """keyAuthorization is token.thumbprint; the digest is 43 base64url chars (KA-2, KA-3)."""
    for reading, digest in expected_digests(part1, part2, THUMBPRINT).items():
        token = acme_token(part1, part2, reading)
        authorization = key_authorization(token, THUMBPRINT)
        assert authorization == f"{token}.{THUMBPRINT}"
        assert digest == response_digest(authorization)
        assert len(digest) == 43
        assert set(digest) <= B64URL


@pytest.mark.parametrize(
    ("token", "thumbprint", "complaint"),
    [
        ("a b", THUMBPRINT, "not base64url text"),
        ("", THUMBPRINT, "not base64url text"),
        (PART2, THUMBPRINT + "=", "not an unpadded"),
        (PART2, PART2, "not an unpadded"),
        (PART2, THUMBPRINT.replace("_", "/"), "outside"),
    ],
)
def test_key_authorization_refuses_malformed_input(
    token: str, thumbprint: str, complaint: str
) -> None:
    """Tokens and thumbprints that are not base64url are refused (RFC 8555 §8.1)."""
    with pytest.raises(ValueError, match=complaint):
        key_authorization(token, thumbprint)


def test_response_digest_refuses_non_ascii() -> None:
    """A key authorization is ASCII; anything else is refused (KA-3)."""
    with pytest.raises(ValueError, match="ASCII"):
        response_digest("tökén.thumb")


@given(digest_line_breaks(), st.booleans())
def test_digest_matches_across_line_breaks_and_padding(digest: Written, padded: bool) -> None:
    """Line breaks anywhere in the digest, and a trailing '=', still match (RESP-BODY-3, AMB-2)."""
    candidate = digest.written + ("=" if padded else "")
    assert "\n" in candidate
    assert digest_matches(candidate, digest.canonical)
    assert not digest_matches(candidate, response_digest("other.key-authorization"))


@given(digest_line_breaks(response_digest("token.thumbprint")))
def test_digest_line_breaks_keep_a_given_digest(digest: Written) -> None:
    """The strategy breaks the digest it is given, changing nothing but line ends."""
    assert digest.canonical == response_digest("token.thumbprint")
    assert digest.written.replace("\r\n", "").replace("\n", "") == digest.canonical


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "AjXW0h9_4YMP6Sv-9tKQNUrapI0us7ayBn0nCGOkUs",
        "AjXW0h9/4YMP6Sv+9tKQNUrapI0us7ayBn0nCGOkUsk=",
        "AjXW0h9_4YMP6Sv-9tKQNUrapI0us7ayBn0nCGOkUsk==",
        "02 35 d6 d2 1f 7f e1 83 0f e9 2b fe f6 d2 90 35",
        "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME=DGyRejmCefe7v4NfDGDKfA." + THUMBPRINT,
    ],
    ids=["empty", "truncated", "standard-base64", "double-padding", "hex", "raw-key-authorization"],
)
def test_digest_mismatches(candidate: str) -> None:
    """Truncated, standard-base64, hex or raw keyAuthorization responses do not match (KA-3)."""
    assert digest_matches(
        "AjXW0h9_4YMP6Sv-9tKQNUrapI0us7ayBn0nCGOkUsk", "AjXW0h9_4YMP6Sv-9tKQNUrapI0us7ayBn0nCGOkUsk"
    )
    assert not digest_matches(candidate, "AjXW0h9_4YMP6Sv-9tKQNUrapI0us7ayBn0nCGOkUsk")


@pytest.mark.parametrize(
    ("part", "octets"),
    [
        ("V4nE8NhYh6edBpfQTg5qqQ", 16),
        (RFC_PART1, 32),
        ("LgYemJLy3F1LDki JrdIGbEzyFJyOyf  6vBdyZ1TG3sME=", 32),
    ],
)
def test_entropy_octets(part: str, octets: int) -> None:
    """Entropy is measured on decoded octets, whitespace ignored (TOK-1, TOK-3)."""
    assert entropy_octets(part) == octets
