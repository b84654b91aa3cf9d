"""JWS signing and strict verification of ACME requests, and external account binding (RFC 8555
§6.2, §7.3.4)."""

import json
from typing import Any

import pytest

from rfc8823.acme.jws import (
    SUPPORTED_ALGORITHMS,
    JwsRequest,
    UnsupportedKeyError,
    algorithm_for,
    eab_binding,
    encode_json,
    key_from_jwk,
    parse_jws,
    public_jwk,
    sign_flattened,
    sign_jws,
    verify_eab,
)
from rfc8823.acme.problems import Problem, ProblemType
from rfc8823.requirements import covers
from rfc8823.tokens import b64url_encode, jwk_thumbprint
from rfc8823.world.keys import KeyKind, cached_key

URL = "https://localhost:1/acme/new-order"
KID = "https://localhost:1/acme/acct/abc"
KINDS: list[tuple[KeyKind, str]] = [
    ("p256", "ES256"),
    ("p384", "ES384"),
    ("rsa2048", "RS256"),
    ("ed25519", "EdDSA"),
]


def _key(kind: KeyKind = "p256") -> Any:
    return cached_key(f"acme-test-{kind}", kind)


def _parsed(body: bytes) -> JwsRequest:
    result = parse_jws(body)
    assert isinstance(result, JwsRequest), result
    return result


def _problem(body: bytes) -> Problem:
    result = parse_jws(body)
    assert isinstance(result, Problem), f"expected a problem, got {result}"
    return result


def _header(**changes: object) -> dict[str, object]:
    header: dict[str, object] = {"alg": "ES256", "nonce": "bm9uY2U", "url": URL, "kid": KID}
    for name, value in changes.items():
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    return header


def _flattened(header: dict[str, object], payload: bytes = b"{}") -> dict[str, str]:
    return sign_flattened(header, payload, _key(), alg="ES256")


@covers("A-JWS-3")
@pytest.mark.parametrize(("kind", "alg"), KINDS)
def test_round_trip_for_each_algorithm(kind: KeyKind, alg: str) -> None:
    """A request signed with each supported algorithm verifies with the embedded key."""
    key = _key(kind)
    request = _parsed(sign_jws({"a": 1}, key=key, url=URL, nonce="n1"))
    assert request.alg == alg == algorithm_for(key)
    embedded = request.embedded_key()
    assert not isinstance(embedded, Problem)
    assert request.verify_with(embedded) is None
    assert request.json_payload() == {"a": 1}
    assert request.jwk == public_jwk(key)
    assert jwk_thumbprint(embedded) == jwk_thumbprint(key)


@covers("A-JWS-2", "A-GET-1")
def test_kid_and_post_as_get() -> None:
    """``kid`` replaces ``jwk``; a None payload is POST-as-GET (empty payload)."""
    request = _parsed(sign_jws(None, key=_key(), url=URL, nonce="n", kid=KID))
    assert request.kid == KID
    assert request.jwk is None
    assert request.is_post_as_get
    assert isinstance(request.embedded_key(), Problem)
    assert request.verify_with(key_from_jwk(public_jwk(_key()))) is None
    payload = request.json_payload()
    assert isinstance(payload, Problem)
    assert payload.type == ProblemType.MALFORMED


@covers("A-JWS-3")
@pytest.mark.parametrize("alg", ["none", "HS256", "HS512", "ES512", "PS256", "RS384"])
def test_refused_algorithms_name_the_accepted_ones(alg: str) -> None:
    """``none``, MACs and unsupported algorithms give badSignatureAlgorithm with the list."""
    problem = _problem(encode_json(_flattened(_header(alg=alg))))
    assert problem.type == ProblemType.BAD_SIGNATURE_ALGORITHM
    assert problem.algorithms == SUPPORTED_ALGORITHMS


@covers("A-JWS-2")
@pytest.mark.parametrize(
    "header",
    [
        _header(jwk=public_jwk(cached_key("acme-test-p256", "p256"))),
        _header(kid=None),
        _header(kid=""),
        _header(kid=None, jwk="not-an-object"),
    ],
    ids=["both-jwk-and-kid", "neither", "empty-kid", "jwk-not-object"],
)
def test_exactly_one_of_jwk_and_kid(header: dict[str, object]) -> None:
    """Both ``jwk`` and ``kid``, neither, or a malformed one are ``malformed``."""
    assert _problem(encode_json(_flattened(header))).type == ProblemType.MALFORMED


@covers("A-NONCE-2", "A-URL-1")
def test_missing_nonce_is_bad_nonce_and_missing_url_is_malformed() -> None:
    """No ``nonce`` → badNonce; no ``url`` → malformed."""
    assert _problem(encode_json(_flattened(_header(nonce=None)))).type == ProblemType.BAD_NONCE
    assert _problem(encode_json(_flattened(_header(url=None)))).type == ProblemType.MALFORMED


def _with_member(**members: object) -> bytes:
    body: dict[str, object] = dict(_flattened(_header()))
    for name, value in members.items():
        if value is None:
            body.pop(name)
        else:
            body[name] = value
    return json.dumps(body).encode()


@covers("A-JWS-4", "A-JWS-1", "A-HTTPS-1")
@pytest.mark.parametrize(
    ("body", "what"),
    [
        (_with_member(header={"alg": "ES256"}), "unprotected header"),
        (json.dumps({"payload": "e30", "signatures": []}).encode(), "multiple signatures"),
        (_with_member(payload=None), "detached payload"),
        (_with_member(protected=None), "no protected header"),
        (_with_member(signature=None), "no signature"),
        (_with_member(extra="x"), "unknown member"),
        (_with_member(payload="e30="), "padded payload"),
        (_with_member(payload="e3+"), "standard base64 payload"),
        (_with_member(protected="!!!"), "protected not base64url"),
        (_with_member(protected=b64url_encode(b"[1]")), "protected not an object"),
        (_with_member(protected=b64url_encode(b"{")), "protected not JSON"),
        (b"{", "body not JSON"),
        (b"[]", "body not an object"),
        (b"\xff\xfe", "body not UTF-8"),
        (b'{"protected": "a", "protected": "b", "payload": "", "signature": ""}', "dup keys"),
        (b"[" * 100_000, "deep nesting"),
        (b"", "empty body"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_structural_rejections_are_malformed(body: bytes, what: str) -> None:
    """Every structural fault is a ``malformed`` problem, never an exception."""
    problem = _problem(body)
    assert problem.type == ProblemType.MALFORMED, what
    assert problem.status == 400


@covers("A-HTTPS-1")
def test_padded_signature_is_malformed() -> None:
    """``=`` padding on the signature is refused (RFC 8555 §6.1)."""
    body = _flattened(_header())
    body["signature"] += "=" * (-len(body["signature"]) % 4 or 1)
    assert _problem(encode_json(body)).type == ProblemType.MALFORMED


@covers("A-JWS-3")
def test_bad_signature_and_wrong_key_do_not_verify() -> None:
    """A flipped signature bit, another key, or an alg that does not fit the key fail."""
    request = _parsed(sign_jws({}, key=_key(), url=URL, nonce="n"))
    tampered = JwsRequest(
        protected=request.protected,
        payload=request.payload,
        signature=bytes([request.signature[0] ^ 1]) + request.signature[1:],
        signing_input=request.signing_input,
        alg=request.alg,
        nonce=request.nonce,
        url=request.url,
        jwk=request.jwk,
        kid=request.kid,
    )
    own = key_from_jwk(public_jwk(_key()))
    failed = tampered.verify_with(own)
    assert failed is not None
    assert failed.type == ProblemType.MALFORMED
    other = request.verify_with(key_from_jwk(public_jwk(cached_key("acme-test-other", "p256"))))
    assert other is not None
    mismatch = request.verify_with(key_from_jwk(public_jwk(_key("p384"))))
    assert mismatch is not None
    assert "does not fit" in mismatch.detail


@pytest.mark.parametrize(
    ("jwk", "unsupported"),
    [
        ({"kty": "oct", "k": "AAAA"}, True),
        ({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}, True),
        ({"kty": "OKP", "crv": "Ed448", "x": "AA"}, True),
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, True),
        ({"kty": "EC", "crv": "P-256", "x": "AQ", "y": "AQ"}, False),
        ({"kty": "EC", "crv": "P-256", "x": "AQ==", "y": "AQ"}, False),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}, False),
        ({"kty": "RSA"}, False),
    ],
)
def test_unusable_jwks(jwk: dict[str, str], unsupported: bool) -> None:
    """Unsupported key types/sizes raise UnsupportedKeyError; broken JWKs ValueError."""
    with pytest.raises(ValueError, match=r".") as caught:
        key_from_jwk(jwk)
    assert isinstance(caught.value, UnsupportedKeyError) == unsupported


@covers("A-ACCT-1")
def test_external_account_binding_round_trip_and_refusals() -> None:
    """EAB binds the account JWK with HS256; wrong key, URL, account or MAC are unauthorized."""
    secret = b"0123456789abcdef0123456789abcdef"
    jwk = public_jwk(_key())
    new_account = "https://localhost:1/acme/new-account"
    binding = eab_binding(account_jwk=jwk, eab_kid="kid-1", hmac_key=secret, url=new_account)
    keys = {"kid-1": secret}
    assert verify_eab(binding, account_jwk=jwk, url=new_account, keys=keys) == "kid-1"
    refusals = [
        verify_eab(binding, account_jwk=jwk, url=new_account, keys={"kid-1": b"other"}),
        verify_eab(binding, account_jwk=jwk, url=new_account, keys={"kid-2": secret}),
        verify_eab(binding, account_jwk=jwk, url=URL, keys=keys),
        verify_eab(binding, account_jwk=public_jwk(_key("p384")), url=new_account, keys=keys),
    ]
    for refusal in refusals:
        assert isinstance(refusal, Problem)
        assert refusal.type == ProblemType.UNAUTHORIZED
    for junk in ("x", {}, {**binding, "protected": binding["protected"] + "="}):
        malformed = verify_eab(junk, account_jwk=jwk, url=new_account, keys=keys)
        assert isinstance(malformed, Problem)
        assert malformed.type == ProblemType.MALFORMED
