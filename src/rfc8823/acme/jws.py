"""Flattened-JSON JWS as ACME uses it: sign requests, verify them strictly (RFC 8555 §6.2, §7.3.4).

Verification never raises on bad input: :func:`parse_jws` and :meth:`JwsRequest.verify_with`
answer a :class:`~rfc8823.acme.problems.Problem` naming the rule that was broken (A-JWS-1..4,
A-HTTPS-1). Signing and verifying RS256/ES256/ES384 and the HS256 of external account binding go
through josepy; EdDSA (Ed25519, RFC 8037), which josepy lacks, through cryptography.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from josepy import jwa

from rfc8823.acme.problems import Problem, ProblemType
from rfc8823.tokens import b64url_decode, b64url_encode, jwk_thumbprint, required_jwk_members

JOSE_CONTENT_TYPE = "application/jose+json"
SUPPORTED_ALGORITHMS: tuple[str, ...] = ("ES256", "ES384", "RS256", "EdDSA")
"""What the reference server accepts: ES256 (MUST), EdDSA (SHOULD), ES384 and RS256 (A-JWS-3)."""

EAB_ALGORITHMS: tuple[str, ...] = ("HS256",)
MIN_RSA_BITS = 2048

AccountPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
AccountPublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

_EC_ALGORITHMS: Mapping[str, str] = {"secp256r1": "ES256", "secp384r1": "ES384"}
_EC_CURVES: Mapping[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}
_JOSEPY_ALGORITHMS: Mapping[str, jwa.JWASignature] = {
    "ES256": jwa.ES256,
    "ES384": jwa.ES384,
    "RS256": jwa.RS256,
}


class UnsupportedKeyError(ValueError):
    """A well-formed JWK of a key type or size this layer does not accept (``badPublicKey``)."""


def algorithm_for(key: AccountPrivateKey | AccountPublicKey) -> str:
    """The JWS ``alg`` for an account key: ES256/ES384 by curve, RS256, or EdDSA."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    alg = _EC_ALGORITHMS.get(key.curve.name)
    if alg is None:
        raise UnsupportedKeyError(f"EC curve {key.curve.name} has no supported JWS algorithm")
    return alg


def public_jwk(key: AccountPrivateKey | AccountPublicKey) -> dict[str, str]:
    """The public JWK of an account key: the RFC 7638 required members (RFC 7517, RFC 8037)."""
    algorithm_for(key)
    return required_jwk_members(key)


def key_from_jwk(jwk: Mapping[str, Any]) -> AccountPublicKey:
    """The public key a JWK describes; :class:`UnsupportedKeyError` or ``ValueError`` if unusable.

    Members must be unpadded base64url (A-HTTPS-1); RSA keys need at least 2048 bits.
    """
    kty = jwk.get("kty")
    if kty == "RSA":
        n, e = (int.from_bytes(_jwk_octets(jwk, name), "big") for name in ("n", "e"))
        if n.bit_length() < MIN_RSA_BITS:
            raise UnsupportedKeyError(f"RSA key of {n.bit_length()} bits; at least 2048 needed")
        return rsa.RSAPublicNumbers(e, n).public_key()
    if kty == "EC":
        curve = _EC_CURVES.get(str(jwk.get("crv")))
        if curve is None:
            raise UnsupportedKeyError(f"EC curve {jwk.get('crv')!r}; supported: P-256, P-384")
        x, y = (int.from_bytes(_jwk_octets(jwk, name), "big") for name in ("x", "y"))
        return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
    if kty == "OKP":
        if jwk.get("crv") != "Ed25519":
            raise UnsupportedKeyError(f"OKP curve {jwk.get('crv')!r}; supported: Ed25519")
        return ed25519.Ed25519PublicKey.from_public_bytes(_jwk_octets(jwk, "x"))
    raise UnsupportedKeyError(f"JWK key type {kty!r}; supported: RSA, EC, OKP")


def _jwk_octets(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"JWK member {name!r} is missing or not a string")
    if "=" in value:
        raise ValueError(f"JWK member {name!r} carries '=' padding (RFC 8555 §6.1)")
    return b64url_decode(value)


def _sign(key: AccountPrivateKey, alg: str, message: bytes) -> bytes:
    if alg == "EdDSA":
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError("EdDSA needs an Ed25519 key")
        return key.sign(message)
    signer = _JOSEPY_ALGORITHMS.get(alg)
    if signer is None:
        raise ValueError(f"cannot sign with alg {alg!r}; supported: {SUPPORTED_ALGORITHMS}")
    return signer.sign(key, message)


def _verify(key: AccountPublicKey, alg: str, message: bytes, signature: bytes) -> bool:
    if isinstance(key, ed25519.Ed25519PublicKey):
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True
    return _JOSEPY_ALGORITHMS[alg].verify(key, message, signature)


def encode_json(data: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, the form ACME puts in JWS protected headers and payloads."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_flattened(
    protected: Mapping[str, Any], payload: bytes, key: AccountPrivateKey, alg: str | None = None
) -> dict[str, str]:
    """Sign ``payload`` under exactly the given protected header (for tests that bend rules).

    ``alg`` is the algorithm actually used to sign; the header's ``alg`` is left as given.
    """
    protected_b64 = b64url_encode(encode_json(protected))
    payload_b64 = b64url_encode(payload)
    used = alg or str(protected.get("alg") or algorithm_for(key))
    signature = _sign(key, used, f"{protected_b64}.{payload_b64}".encode("ascii"))
    return {
        "protected": protected_b64,
        "payload": payload_b64,
        "signature": b64url_encode(signature),
    }


def sign_jws(
    payload: Mapping[str, Any] | bytes | None,
    *,
    key: AccountPrivateKey,
    url: str,
    nonce: str,
    kid: str | None = None,
) -> bytes:
    """The body of an ACME POST: flattened JSON JWS with ``kid`` if given, else ``jwk``.

    ``payload`` None is POST-as-GET (empty payload, RFC 8555 §6.3); bytes go out verbatim.
    """
    protected: dict[str, Any] = {"alg": algorithm_for(key), "nonce": nonce, "url": url}
    if kid is None:
        protected["jwk"] = public_jwk(key)
    else:
        protected["kid"] = kid
    if payload is None:
        body = b""
    elif isinstance(payload, bytes):
        body = payload
    else:
        body = encode_json(payload)
    return encode_json(sign_flattened(protected, body, key))


@dataclass(frozen=True, slots=True)
class JwsRequest:
    """A structurally valid ACME JWS whose signature is not yet checked.

    The caller checks ``nonce`` and ``url`` against the request, finds the key (``jwk`` or
    the account named by ``kid``), then calls :meth:`verify_with`.
    """

    protected: Mapping[str, Any]
    payload: bytes
    signature: bytes
    signing_input: bytes
    alg: str
    nonce: str
    url: str
    jwk: Mapping[str, Any] | None
    kid: str | None

    @property
    def is_post_as_get(self) -> bool:
        """Whether the payload is the empty string (RFC 8555 §6.3)."""
        return self.payload == b""

    def embedded_key(self) -> AccountPublicKey | Problem:
        """The key in the ``jwk`` header, or its problem (``badPublicKey`` or ``malformed``)."""
        if self.jwk is None:
            return Problem.of(ProblemType.MALFORMED, "this request needs a 'jwk' header, not 'kid'")
        try:
            return key_from_jwk(self.jwk)
        except UnsupportedKeyError as error:
            return Problem.of(ProblemType.BAD_PUBLIC_KEY, str(error))
        except ValueError as error:
            return Problem.of(ProblemType.MALFORMED, f"unusable 'jwk' header: {error}")

    def verify_with(self, key: AccountPublicKey) -> Problem | None:
        """None if the signature is good under ``key`` with the header's ``alg`` (A-JWS-3)."""
        try:
            expected = algorithm_for(key)
        except UnsupportedKeyError as error:
            return Problem.of(ProblemType.BAD_PUBLIC_KEY, str(error))
        if expected != self.alg:
            return Problem.of(
                ProblemType.MALFORMED,
                f"alg {self.alg!r} does not fit the account key, which signs with {expected!r}",
            )
        if not _verify(key, self.alg, self.signing_input, self.signature):
            return Problem.of(ProblemType.MALFORMED, "JWS signature does not verify (A-JWS-3)")
        return None

    def json_payload(self) -> dict[str, Any] | Problem:
        """The payload as a JSON object, or ``malformed`` (POST-as-GET has none)."""
        if self.is_post_as_get:
            return Problem.of(
                ProblemType.MALFORMED, "expected a JSON object payload, got POST-as-GET"
            )
        parsed = _strict_json(self.payload, "payload")
        if isinstance(parsed, Problem):
            return parsed
        if not isinstance(parsed, dict):
            return Problem.of(ProblemType.MALFORMED, "the JWS payload is not a JSON object")
        return parsed


def parse_jws(body: bytes, *, nested: bool = False) -> JwsRequest | Problem:
    """Check an ACME request body against RFC 8555 §6.2 without verifying the signature.

    Flattened JSON only (no ``signatures``, no unprotected ``header``, payload present);
    unpadded base64url (A-HTTPS-1); ``alg`` supported and not ``none``/MAC (A-JWS-3,
    ``badSignatureAlgorithm`` with ``algorithms``); exactly one of ``jwk``/``kid`` (A-JWS-2);
    ``nonce`` present (``badNonce``, A-NONCE-2); ``url`` present (A-URL-1). ``nested`` checks
    the inner JWS of a key change instead: ``jwk`` and no ``nonce`` (RFC 8555 §7.3.5); its
    ``nonce`` is then the empty string.
    """
    outer = _strict_json(body, "request body")
    if isinstance(outer, Problem):
        return outer
    if not isinstance(outer, dict):
        return _malformed("the request body is not a JSON object (flattened JWS, A-JWS-1)")
    if "signatures" in outer:
        return _malformed("general JWS serialization / multiple signatures are refused (A-JWS-4)")
    if "header" in outer:
        return _malformed("an unprotected JWS header is refused (A-JWS-4)")
    if "payload" not in outer:
        return _malformed("detached JWS payload is refused (A-JWS-4)")
    extra = set(outer) - {"protected", "payload", "signature"}
    if extra:
        return _malformed(f"unexpected JWS members {sorted(extra)}")
    read = _read_flattened(outer, "JWS", "protected header")
    if isinstance(read, Problem):
        return read
    checked = _check_header(read.header, nested)
    if isinstance(checked, Problem):
        return checked
    alg, nonce, url, jwk, kid = checked
    return JwsRequest(
        protected=read.header,
        payload=read.payload,
        signature=read.signature,
        signing_input=read.signing_input,
        alg=alg,
        nonce=nonce,
        url=url,
        jwk=jwk,
        kid=kid,
    )


_PARTS = ("protected", "payload", "signature")


@dataclass(frozen=True)
class _Flattened:
    """A flattened JWS decoded: its protected header (a JSON object), payload and signature."""

    header: dict[str, Any]
    payload: bytes
    signature: bytes
    signing_input: bytes


def _read_flattened(outer: Mapping[str, Any], what: str, header_what: str) -> _Flattened | Problem:
    """The three members as unpadded base64url, the protected header a JSON object (§6.2)."""
    parts = _parts(outer)
    if isinstance(parts, Problem):
        return parts
    decoded = _decode_parts(parts, what)
    if isinstance(decoded, Problem):
        return decoded
    protected_raw, payload, signature = decoded
    header = _strict_json(protected_raw, header_what)
    if isinstance(header, Problem):
        return header
    if not isinstance(header, dict):
        return _malformed(f"the {what} protected header is not a JSON object")
    return _Flattened(header, payload, signature, f"{parts[0]}.{parts[1]}".encode("ascii"))


def _parts(outer: Mapping[str, Any]) -> tuple[str, str, str] | Problem:
    values = [outer.get(name) for name in _PARTS]
    for name, value in zip(_PARTS, values, strict=True):
        if not isinstance(value, str):
            return _malformed(f"JWS member {name!r} is missing or not a string")
    protected, payload, signature = (str(value) for value in values)
    if not protected:
        return _malformed("the JWS has no protected header")
    return protected, payload, signature


def _check_header(
    header: Mapping[str, Any], nested: bool
) -> tuple[str, str, str, Mapping[str, Any] | None, str | None] | Problem:
    alg = header.get("alg")
    if not isinstance(alg, str):
        return _malformed("the protected header has no string 'alg'")
    if alg not in SUPPORTED_ALGORITHMS:
        return Problem.of(
            ProblemType.BAD_SIGNATURE_ALGORITHM,
            f"alg {alg!r} is not accepted; 'none' and MAC algorithms never are (A-JWS-3)",
            algorithms=SUPPORTED_ALGORITHMS,
        )
    if "crit" in header or "b64" in header:
        return _malformed("'crit'/'b64' JWS extensions are not supported")
    jwk, kid = header.get("jwk"), header.get("kid")
    if (jwk is None) == (kid is None):
        return _malformed("the protected header needs exactly one of 'jwk' and 'kid' (A-JWS-2)")
    if jwk is not None and not isinstance(jwk, dict):
        return _malformed("the 'jwk' header is not a JSON object")
    if kid is not None and not (isinstance(kid, str) and kid):
        return _malformed("the 'kid' header is not a non-empty string")
    nonce = header.get("nonce")
    if nested:
        if nonce is not None or jwk is None:
            return _malformed("an inner key-change JWS has 'jwk' and no 'nonce' (RFC 8555 §7.3.5)")
        nonce = ""
    elif not isinstance(nonce, str) or not nonce:
        return Problem.of(ProblemType.BAD_NONCE, "the protected header has no 'nonce' (A-NONCE-2)")
    url = header.get("url")
    if not isinstance(url, str) or not url:
        return _malformed("the protected header has no 'url' (A-URL-1)")
    return alg, nonce, url, jwk, kid


def _decode_parts(parts: tuple[str, str, str], what: str) -> tuple[bytes, bytes, bytes] | Problem:
    """The three parts decoded as strict unpadded base64url (A-HTTPS-1, RFC 8555 §6.1)."""
    decoded: list[bytes] = []
    for text, name in zip(parts, _PARTS, strict=True):
        if "=" in text:
            return _malformed(f"{what} {name} carries '=' padding (A-HTTPS-1, RFC 8555 §6.1)")
        try:
            decoded.append(b64url_decode(text))
        except ValueError as error:
            return _malformed(f"{what} {name}: {error}")
    return decoded[0], decoded[1], decoded[2]


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(
            f"duplicate member names {sorted({n for n in names if names.count(n) > 1})}"
        )
    return dict(pairs)


def _strict_json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        return _malformed(f"{what} is not valid JSON: {error}")


def _malformed(detail: str) -> Problem:
    return Problem.of(ProblemType.MALFORMED, detail)


def eab_binding(
    *, account_jwk: Mapping[str, Any], eab_kid: str, hmac_key: bytes, url: str
) -> dict[str, str]:
    """The ``externalAccountBinding`` of a newAccount payload: HS256 over the account JWK.

    RFC 8555 §7.3.4: protected ``alg``/``kid``/``url`` (no nonce), payload the account JWK.
    """
    protected = {"alg": "HS256", "kid": eab_kid, "url": url}
    protected_b64 = b64url_encode(encode_json(protected))
    payload_b64 = b64url_encode(encode_json(account_jwk))
    mac = jwa.HS256.sign(hmac_key, f"{protected_b64}.{payload_b64}".encode("ascii"))
    return {"protected": protected_b64, "payload": payload_b64, "signature": b64url_encode(mac)}


def verify_eab(
    binding: object, *, account_jwk: Mapping[str, Any], url: str, keys: Mapping[str, bytes]
) -> str | Problem:
    """The EAB key identifier if ``binding`` is a valid binding of ``account_jwk`` (§7.3.4).

    Structure errors are ``malformed``; an unknown key identifier, a wrong MAC, another
    account key or another URL are ``unauthorized``.
    """
    if not isinstance(binding, dict):
        return _malformed("externalAccountBinding is not a JSON object")
    if set(binding) != set(_PARTS):
        return _malformed("externalAccountBinding must be a flattened JWS with three members")
    read = _read_flattened(binding, "EAB", "EAB protected header")
    if isinstance(read, Problem):
        return read
    header = read.header
    if header.get("alg") not in EAB_ALGORITHMS:
        return Problem.of(
            ProblemType.BAD_SIGNATURE_ALGORITHM,
            f"EAB alg {header.get('alg')!r} is not accepted",
            algorithms=EAB_ALGORITHMS,
        )
    if "nonce" in header:
        return _malformed("the EAB protected header must not carry a nonce (RFC 8555 §7.3.4)")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        return Problem.of(ProblemType.UNAUTHORIZED, f"unknown EAB key identifier {kid!r}")
    if header.get("url") != url:
        return Problem.of(ProblemType.UNAUTHORIZED, "the EAB 'url' is not the newAccount URL")
    expected = jwa.HS256.sign(keys[kid], read.signing_input)
    if not hmac.compare_digest(expected, read.signature):
        return Problem.of(ProblemType.UNAUTHORIZED, "the EAB MAC does not verify")
    bound = _strict_json(read.payload, "EAB payload")
    if isinstance(bound, Problem):
        return bound
    if not isinstance(bound, dict) or not _same_key(bound, account_jwk):
        return Problem.of(ProblemType.UNAUTHORIZED, "the EAB binds a different account key")
    return kid


def _same_key(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    try:
        return jwk_thumbprint(key_from_jwk(left)) == jwk_thumbprint(key_from_jwk(right))
    except ValueError:
        return False
