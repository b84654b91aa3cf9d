"""Known-answer vectors of fixtures/vectors/ recomputed (RFC 8823 §3, RFC 8555 §8.1, RFC 7638)."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from josepy.jwk import JWK

from rfc8823.tokens import (
    Concatenation,
    acme_token,
    b64url_decode,
    b64url_encode,
    digest_matches,
    expected_digests,
    jwk_thumbprint,
    jwk_thumbprint_from_jwk,
    key_authorization,
    readings_agree,
    response_digest,
)

VECTORS_FILE = Path(__file__).parents[2] / "fixtures" / "vectors" / "key-authorization.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
BY_ID = {vector["id"]: vector for vector in VECTORS}
WITH_JWK = [vector for vector in VECTORS if "jwk" in vector]

CATALOG_DIGESTS = {
    "V1": "AjXW0h9_4YMP6Sv-9tKQNUrapI0us7ayBn0nCGOkUsk",
    "V2": "aeF6_NPRTqHBh0L1_wlbKFwocQfQb1S5_ZJZS3_iKlI",
    "V3": "xyC6Z01DHFuV0pZgacdI2xN9nIKkPSARDv1gLbxY8Xk",
    "V4": "Fjt2SD7KoqSt3I6jwgg8ljjkP9Er7h1w0wF0UihvQIU",
    "V5": "gtzugYfQ1gO_Pi-ripWZTUtKP_xzPoQe-brDkSOvX5c",
    "V6": "Q9R1CmyL2ChbblcjpayuiQHiTvrZ-FtuFPafuQRV32A",
}
RFC_THUMBPRINTS = {
    "rfc7638-rsa": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
    "rfc8037-ed25519": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
}
RFC8037_PRIVATE_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}


def public_key(jwk: dict[str, str]) -> PublicKeyTypes:
    """The cryptography key a JWK describes (EC points are checked to be on the curve)."""

    def integer(name: str) -> int:
        return int.from_bytes(b64url_decode(jwk[name]), "big")

    if jwk["kty"] == "RSA":
        return rsa.RSAPublicNumbers(integer("e"), integer("n")).public_key()
    if jwk["kty"] == "EC":
        curve = CURVES[jwk["crv"]]
        return ec.EllipticCurvePublicNumbers(integer("x"), integer("y"), curve).public_key()
    okp = ed25519.Ed25519PublicKey if jwk["crv"] == "Ed25519" else ed448.Ed448PublicKey
    return okp.from_public_bytes(b64url_decode(jwk["x"]))


def naive_thumbprint(members: dict[str, str]) -> str:
    """RFC 7638 hash over members exactly as given, to show what a wrong encoding yields."""
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return b64url_encode(hashlib.sha256(canonical).digest())


def test_fixture_holds_the_catalog_and_rfc_values() -> None:
    """V1–V6 carry the catalog §5.3 digests; RFC examples carry the RFCs' thumbprints."""
    assert {id_: BY_ID[id_]["digest"] for id_ in CATALOG_DIGESTS} == CATALOG_DIGESTS
    assert {id_: BY_ID[id_]["thumbprint"] for id_ in RFC_THUMBPRINTS} == RFC_THUMBPRINTS
    assert len(BY_ID) == len(VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["id"] for vector in VECTORS])
def test_vector_recomputes(vector: dict[str, Any]) -> None:
    """Token, keyAuthorization and digest follow from parts, reading and thumbprint (KA-1..3)."""
    token = acme_token(
        vector["token_part1"], vector["token_part2"], Concatenation(vector["reading"])
    )
    assert token == vector["token"]
    assert key_authorization(token, vector["thumbprint"]) == vector["key_authorization"]
    assert response_digest(vector["key_authorization"]) == vector["digest"]
    assert digest_matches(vector["digest"] + "=", vector["digest"])


@pytest.mark.parametrize("vector", WITH_JWK, ids=[vector["id"] for vector in WITH_JWK])
def test_vector_thumbprint(vector: dict[str, Any]) -> None:
    """The JWK, and the key it describes, hash to the stored thumbprint (KA-2, RFC 7638)."""
    assert jwk_thumbprint_from_jwk(vector["jwk"]) == vector["thumbprint"]
    assert jwk_thumbprint(public_key(vector["jwk"])) == vector["thumbprint"]
    if vector["jwk"]["kty"] != "OKP":
        oracle = JWK.from_json(vector["jwk"])
        assert isinstance(oracle, JWK)
        assert b64url_encode(oracle.thumbprint()) == vector["thumbprint"]


def test_rfc8037_private_key_has_the_rfc_thumbprint() -> None:
    """The RFC 8037 example private key gives the A.3 thumbprint, like its public key."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(RFC8037_PRIVATE_D))
    assert jwk_thumbprint(key) == RFC_THUMBPRINTS["rfc8037-ed25519"]


@pytest.mark.parametrize(
    ("ids", "agree"),
    [(("V1", "V2", "V3"), False), (("V5", "V4"), False), (("V6",), True)],
)
def test_readings_on_shared_parts(ids: tuple[str, ...], agree: bool) -> None:
    """Vectors on the same parts give each reading's digest; V6's readings coincide (AMB-1)."""
    first = BY_ID[ids[0]]
    digests = expected_digests(first["token_part1"], first["token_part2"], first["thumbprint"])
    for id_ in ids:
        assert digests[Concatenation(BY_ID[id_]["reading"])] == BY_ID[id_]["digest"]
    assert readings_agree(first["token_part1"], first["token_part2"]) == agree
    assert (len(set(digests.values())) == 1) == agree


def test_spaced_subject_token_gives_v1() -> None:
    """token-part1 written with spaces inside gives V1's digest (CHAL-SUBJ-2)."""
    assert BY_ID["acme4j-spaced-subject"]["digest"] == BY_ID["V1"]["digest"]


def test_rsa_vector_needs_the_sign_octet_dropped() -> None:
    """n has its top bit set; hashing it with a sign octet gives a wrong thumbprint (A-KA-1)."""
    vector = BY_ID["own-rsa-2048-sign-octet"]
    modulus = b64url_decode(vector["jwk"]["n"])
    assert len(modulus) == 256
    assert modulus[0] >= 0x80
    signed = {**vector["jwk"], "n": b64url_encode(b"\0" + modulus)}
    assert naive_thumbprint(signed) != vector["thumbprint"]
    assert jwk_thumbprint_from_jwk(signed) == vector["thumbprint"]


@pytest.mark.parametrize(
    ("id_", "member", "size"),
    [
        ("own-p256-x-leading-zero", "x", 32),
        ("own-p384-y-leading-zero", "y", 48),
        ("own-p521-x-leading-zero", "x", 66),
    ],
)
def test_ec_vectors_keep_the_leading_zero_octet(id_: str, member: str, size: int) -> None:
    """Coordinates stay field-sized; dropping their zero octet gives a wrong thumbprint (A-KA-1)."""
    vector = BY_ID[id_]
    coordinate = b64url_decode(vector["jwk"][member])
    assert (len(coordinate), coordinate[0]) == (size, 0)
    trimmed = {**vector["jwk"], member: b64url_encode(coordinate[1:])}
    assert naive_thumbprint(trimmed) != vector["thumbprint"]
    assert jwk_thumbprint_from_jwk(trimmed) == vector["thumbprint"]
