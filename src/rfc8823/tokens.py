"""Token parts, key authorization and response digest of email-reply-00 (RFC 8823 §3).

Pure functions only. Malformed input raises ``ValueError`` naming what was wrong,
except the two predicates (``readings_agree``, ``digest_matches``), which answer
``False`` instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from enum import StrEnum

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

_B64URL_BODY = re.compile(r"[A-Za-z0-9_-]*")
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_=-]+")
_WHITESPACE = re.compile(r"[ \t\r\n]+")
_EC_CURVES: Mapping[str, tuple[type[ec.EllipticCurve], int]] = {
    "P-256": (ec.SECP256R1, 32),
    "P-384": (ec.SECP384R1, 48),
    "P-521": (ec.SECP521R1, 66),
}
_OKP_CURVES: Mapping[str, int] = {"Ed25519": 32, "Ed448": 57}

_SIGNING_PRIVATE_KEYS = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)


def b64url_encode(data: bytes, *, pad: bool = False) -> str:
    """Encode octets as base64url, unpadded unless asked (RFC 4648 §5; RFC 8555 §6.1)."""
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if pad else text.rstrip("=")


def b64url_decode(text: str) -> bytes:
    """Strictly decode base64url; correct trailing ``=`` padding is accepted (AMB-2).

    Rejects characters outside the RFC 4648 §5 alphabet (``+``, ``/``, whitespace),
    impossible lengths, wrong padding and non-zero unused bits in the last character.
    """
    body = text.rstrip("=")
    padding = len(text) - len(body)
    if not _B64URL_BODY.fullmatch(body):
        bad = sorted({c for c in body if not _B64URL_BODY.fullmatch(c)})
        raise ValueError(f"not base64url: characters {bad!r} are outside the RFC 4648 §5 alphabet")
    if len(body) % 4 == 1:
        raise ValueError(f"not base64url: {len(body)} characters cannot encode whole octets")
    if padding and padding != -len(body) % 4:
        raise ValueError(
            f"not base64url: {padding} '=' after {len(body)} characters, "
            f"{-len(body) % 4} would complete the last quantum"
        )
    octets = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if b64url_encode(octets) != body:
        raise ValueError("not base64url: the last character has non-zero unused bits")
    return octets


def new_token_part(octets: int = 16) -> str:
    """Fresh random token part from the OS CSPRNG, unpadded base64url (TOK-1, TOK-2, TOK-3)."""
    if octets < 1:
        raise ValueError(f"a token part needs at least 1 octet, got {octets}")
    return b64url_encode(secrets.token_bytes(octets))


class Concatenation(StrEnum):
    """Readings of "token-part1 || token-part2" (KA-4, AMB-1; docs/decisions.md#decision-2).

    ``STRING`` is the reference reading; ``STRING_UNPADDED`` (catalog vector V2) and
    ``OCTETS`` (acmez, acme_email) occur in the wild.
    """

    STRING = "string"
    """Join the texts: token-part1 as written (whitespace removed, ``=`` kept), then part2."""
    OCTETS = "octets"
    """Decode both parts, join the octets, re-encode as unpadded base64url."""
    STRING_UNPADDED = "string-unpadded"
    """Strip ``=`` from both parts, then join the texts."""


def without_whitespace(token_part1: str) -> str:
    """token-part1 with SP, HTAB, CR and LF removed, as a receiver must read it (CHAL-SUBJ-2)."""
    return _WHITESPACE.sub("", token_part1)


def acme_token(token_part1: str, token_part2: str, reading: Concatenation) -> str:
    """The ACME token: token-part1 first, then token-part2, under one reading (KA-1, KA-4)."""
    part1 = without_whitespace(token_part1)
    octets = [b64url_decode(part) for part in (part1, token_part2)]
    if not all(octets):
        raise ValueError("a token part is empty")
    if reading is Concatenation.STRING:
        return part1 + token_part2
    if reading is Concatenation.STRING_UNPADDED:
        return part1.rstrip("=") + token_part2.rstrip("=")
    return b64url_encode(octets[0] + octets[1])


def readings_agree(token_part1: str, token_part2: str) -> bool:
    """Whether every reading gives the same token whatever octets the parts hold (AMB-1).

    True exactly when both parts are unpadded base64url and token-part1 decodes to a
    multiple of 3 octets; the basis of the INFO line of docs/decisions.md#decision-2. Parts of other
    lengths can still agree by chance (all-zero octets, say), which says nothing of the sender.
    Undecodable or empty parts give ``False``.
    """
    part1 = without_whitespace(token_part1)
    try:
        octets1, octets2 = b64url_decode(part1), b64url_decode(token_part2)
    except ValueError:
        return False
    unpadded = "=" not in part1 + token_part2
    return unpadded and bool(octets1) and bool(octets2) and len(octets1) % 3 == 0


def required_jwk_members(key: PublicKeyTypes | PrivateKeyTypes) -> dict[str, str]:
    """The RFC 7638 §3.2 required public JWK members of an account key (RFC 7518 §6, RFC 8037).

    Accepts public or private RSA, EC (P-256/384/521), Ed25519 and Ed448 keys; raises
    ``ValueError`` for any other key.
    """
    public = key.public_key() if isinstance(key, _SIGNING_PRIVATE_KEYS) else key
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        return {"e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)}
    if isinstance(public, ec.EllipticCurvePublicKey):
        crv = _ec_jwk_name(public.curve)
        size = _EC_CURVES[crv][1]
        point = public.public_numbers()
        return {"crv": crv, "kty": "EC", "x": _uint(point.x, size), "y": _uint(point.y, size)}
    if isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        crv = "Ed25519" if isinstance(public, ed25519.Ed25519PublicKey) else "Ed448"
        return {"crv": crv, "kty": "OKP", "x": b64url_encode(raw)}
    raise ValueError(f"unsupported account key type {type(key).__name__}")


def jwk_thumbprint(key: PublicKeyTypes | PrivateKeyTypes) -> str:
    """RFC 7638 SHA-256 thumbprint of an account key, unpadded base64url (KA-2, A-KA-1)."""
    return _thumbprint(required_jwk_members(key))


def jwk_thumbprint_from_jwk(jwk: Mapping[str, object]) -> str:
    """RFC 7638 SHA-256 thumbprint of a JWK dict, members canonicalised first (KA-2, A-KA-1).

    RSA integers lose leading zero octets and EC coordinates are left-padded to the
    field size, so the result equals that of the key the JWK describes. Raises
    ``ValueError`` for an unsupported key type or curve, or a missing or bad member.
    """
    kty = _member(jwk, "kty")
    if kty == "RSA":
        return _thumbprint({"e": _jwk_uint(jwk, "e"), "kty": kty, "n": _jwk_uint(jwk, "n")})
    crv = _member(jwk, "crv")
    if kty == "EC" and crv in _EC_CURVES:
        size = _EC_CURVES[crv][1]
        x, y = (_jwk_uint(jwk, name, size) for name in ("x", "y"))
        return _thumbprint({"crv": crv, "kty": kty, "x": x, "y": y})
    if kty == "OKP" and crv in _OKP_CURVES:
        x = _member(jwk, "x")
        if "=" in x or len(b64url_decode(x)) != _OKP_CURVES[crv]:
            raise ValueError(f"JWK member 'x' is not {_OKP_CURVES[crv]} octets for {crv}")
        return _thumbprint({"crv": crv, "kty": kty, "x": x})
    raise ValueError(
        f"unsupported JWK key type {kty!r} with curve {crv!r}; expected RSA, "
        f"EC {sorted(_EC_CURVES)} or OKP {sorted(_OKP_CURVES)}"
    )


def key_authorization(token: str, thumbprint: str) -> str:
    """keyAuthorization = token "." thumbprint (RFC 8555 §8.1; KA-2)."""
    if not _TOKEN_TEXT.fullmatch(token):
        raise ValueError(f"token {token!r} is not base64url text")
    if "=" in thumbprint or len(b64url_decode(thumbprint)) != 32:
        raise ValueError(f"thumbprint {thumbprint!r} is not an unpadded base64url SHA-256 value")
    return f"{token}.{thumbprint}"


def response_digest(key_authorization: str) -> str:
    """base64url(SHA-256(ASCII(keyAuthorization))), unpadded: the emailed value (KA-3)."""
    if not key_authorization.isascii():
        raise ValueError("a key authorization is ASCII text")
    return b64url_encode(hashlib.sha256(key_authorization.encode("ascii")).digest())


def expected_digests(
    token_part1: str, token_part2: str, thumbprint: str
) -> dict[Concatenation, str]:
    """The response digest under each concatenation reading (KA-1..KA-4, AMB-1)."""
    return {
        reading: response_digest(
            key_authorization(acme_token(token_part1, token_part2, reading), thumbprint)
        )
        for reading in Concatenation
    }


def digest_matches(candidate: str, expected: str) -> bool:
    """Whether a received digest equals the expected one as octets (RESP-BODY-3, AMB-2).

    Line breaks and whitespace inside the candidate are ignored and ``=`` padding is
    accepted; anything undecodable does not match.
    """
    try:
        received = b64url_decode(_WHITESPACE.sub("", candidate))
        wanted = b64url_decode(expected)
    except ValueError:
        return False
    return hmac.compare_digest(received, wanted)


def entropy_octets(token_part: str) -> int:
    """Decoded length of a token part, whitespace ignored: the TOK-1/TOK-3 measure (>= 16)."""
    return len(b64url_decode(without_whitespace(token_part)))


def _uint(value: int, size: int = 0) -> str:
    """Unsigned big-endian base64url of an integer: minimal, or left-padded to size octets."""
    return b64url_encode(value.to_bytes(max(size, (value.bit_length() + 7) // 8, 1), "big"))


def _member(jwk: Mapping[str, object], name: str) -> str:
    """A required JWK member as a string."""
    value = jwk.get(name)
    if not isinstance(value, str):
        raise ValueError(f"JWK lacks the required string member {name!r}")
    return value


def _jwk_uint(jwk: Mapping[str, object], name: str, size: int = 0) -> str:
    """A JWK integer member re-encoded canonically: minimal, or padded to size octets."""
    text = _member(jwk, name)
    if "=" in text:
        raise ValueError(f"JWK member {name!r} carries '=' padding")
    value = int.from_bytes(b64url_decode(text), "big")
    if size and value.bit_length() > 8 * size:
        raise ValueError(f"JWK member {name!r} is longer than {size} octets")
    return _uint(value, size)


def _ec_jwk_name(curve: ec.EllipticCurve) -> str:
    """The JWK "crv" name of a supported curve."""
    for name, (curve_type, _size) in _EC_CURVES.items():
        if isinstance(curve, curve_type):
            return name
    raise ValueError(f"unsupported EC curve {curve.name}; expected P-256, P-384 or P-521")


def _thumbprint(members: Mapping[str, str]) -> str:
    """SHA-256 over the members as compact JSON with sorted names (RFC 7638 §3)."""
    canonical = json.dumps(dict(members), sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())
