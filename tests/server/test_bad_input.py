"""Malformed and hostile requests get the right RFC 8555 problem document, never a 500
(issue "Bad input"; A-ERR-1, A-JWS-*, A-NONCE-2, A-URL-1, A-GET-1, A-HTTPS-1)."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from rfc8823.acme.driver import Account
from rfc8823.acme.jws import encode_json, public_jwk, sign_flattened, sign_jws
from rfc8823.requirements import covers
from rfc8823.tokens import b64url_encode
from rfc8823.world.keys import cached_key

from .conftest import Harness

ERROR = "urn:ietf:params:acme:error:"

Case = Callable[[Harness, Account], Awaitable[httpx.Response]]


async def _signed(
    h: Harness, a: Account, url_name: str, header: dict[str, Any], payload: bytes
) -> httpx.Response:
    url = await h.acme.url(url_name)
    protected = {"nonce": await h.acme.nonce(), "url": url, **header}
    return await h.acme.post_raw(
        url, encode_json(sign_flattened(protected, payload, a.key, "ES256"))
    )


async def _order_body(h: Harness, a: Account, payload: Any) -> httpx.Response:
    return await a.post(await h.acme.url("newOrder"), payload)


async def _reused_nonce(h: Harness, a: Account) -> httpx.Response:
    url = await h.acme.url("newOrder")
    nonce = await h.acme.nonce()
    await h.acme.post_signed(url, {"identifiers": []}, key=a.key, kid=a.url, nonce=nonce)
    return await h.acme.post_signed(url, {"identifiers": []}, key=a.key, kid=a.url, nonce=nonce)


async def _padded(h: Harness, a: Account) -> httpx.Response:
    url = await h.acme.url("newOrder")
    body = json.loads(sign_jws({"a": 1}, key=a.key, url=url, nonce=await h.acme.nonce(), kid=a.url))
    body["payload"] += "=" * (-len(body["payload"]) % 4 or 2)
    return await h.acme.post_raw(url, json.dumps(body).encode())


async def _bad_signature(h: Harness, a: Account) -> httpx.Response:
    url = await h.acme.url("newOrder")
    body = json.loads(sign_jws({"a": 1}, key=a.key, url=url, nonce=await h.acme.nonce(), kid=a.url))
    body["signature"] = b64url_encode(b"\x00" * 64)
    return await h.acme.post_raw(url, json.dumps(body).encode())


async def _unknown_order(h: Harness, a: Account) -> httpx.Response:
    return await a.post(h.server.base_url + "acme/order/no-such-order", None)


async def _finalize_not_ready(h: Harness, a: Account) -> httpx.Response:
    order = (await a.new_order(h.world.new_address())).body
    return await a.post(order["finalize"], {"csr": "MIIB"})


async def _authz_bad_update(h: Harness, a: Account) -> httpx.Response:
    order = (await a.new_order(h.world.new_address())).body
    return await a.post(order["authorizations"][0], {"status": "valid"})


async def _payload_on_post_as_get(h: Harness, a: Account) -> httpx.Response:
    order_url = (await a.new_order(h.world.new_address())).url
    return await a.post(order_url, {})


async def _contact(h: Harness, a: Account, contact: list[str]) -> httpx.Response:
    key = cached_key("server-test-contact-probe", "p384")
    url = await h.acme.url("newAccount")
    return await h.acme.post_signed(url, {"contact": contact}, key=key, kid=None)


async def _revoke(h: Harness, a: Account, certificate: str) -> httpx.Response:
    return await a.post(await h.acme.url("revokeCert"), {"certificate": certificate})


CASES: list[tuple[str, Case, int, str]] = [
    (
        "json-content-type",
        lambda h, a: h.acme.post_raw(
            h.server.base_url + "acme/new-order", b"{}", content_type="application/json"
        ),
        415,
        "malformed",
    ),
    (
        "no-content-type",
        lambda h, a: h.acme.http.post(h.server.base_url + "acme/new-order", content=b"{}"),
        415,
        "malformed",
    ),
    (
        "body-not-json",
        lambda h, a: h.acme.post_raw(h.server.base_url + "acme/new-order", b"{"),
        400,
        "malformed",
    ),
    (
        "body-binary",
        lambda h, a: h.acme.post_raw(h.server.base_url + "acme/new-order", bytes(range(256))),
        400,
        "malformed",
    ),
    (
        "oversized-body",
        lambda h, a: h.acme.post_raw(h.server.base_url + "acme/new-order", b" " * (80 * 1024)),
        413,
        "malformed",
    ),
    (
        "deep-nesting",
        lambda h, a: h.acme.post_raw(h.server.base_url + "acme/new-order", b"[" * 30_000),
        400,
        "malformed",
    ),
    ("padded-base64url", _padded, 400, "malformed"),
    ("bad-signature", _bad_signature, 400, "malformed"),
    (
        "alg-none",
        lambda h, a: _signed(h, a, "newOrder", {"alg": "none", "kid": a.url}, b"{}"),
        400,
        "badSignatureAlgorithm",
    ),
    (
        "alg-hs256",
        lambda h, a: _signed(h, a, "newOrder", {"alg": "HS256", "kid": a.url}, b"{}"),
        400,
        "badSignatureAlgorithm",
    ),
    (
        "jwk-and-kid",
        lambda h, a: _signed(
            h, a, "newOrder", {"alg": "ES256", "kid": a.url, "jwk": public_jwk(a.key)}, b"{}"
        ),
        400,
        "malformed",
    ),
    (
        "jwk-on-new-order",
        lambda h, a: _signed(h, a, "newOrder", {"alg": "ES256", "jwk": public_jwk(a.key)}, b"{}"),
        400,
        "malformed",
    ),
    (
        "kid-on-new-account",
        lambda h, a: _signed(h, a, "newAccount", {"alg": "ES256", "kid": a.url}, b"{}"),
        400,
        "malformed",
    ),
    (
        "unknown-kid",
        lambda h, a: _signed(
            h, a, "newOrder", {"alg": "ES256", "kid": h.server.base_url + "acme/acct/nobody"}, b"{}"
        ),
        400,
        "accountDoesNotExist",
    ),
    (
        "missing-nonce",
        lambda h, a: h.acme.post_raw(
            h.server.base_url + "acme/new-order",
            encode_json(
                sign_flattened(
                    {"alg": "ES256", "kid": a.url, "url": h.server.base_url + "acme/new-order"},
                    b"{}",
                    a.key,
                )
            ),
        ),
        400,
        "badNonce",
    ),
    (
        "unknown-nonce",
        lambda h, a: h.acme.post_signed(
            h.server.base_url + "acme/new-order", {}, key=a.key, kid=a.url, nonce="bm9wZQ"
        ),
        400,
        "badNonce",
    ),
    ("reused-nonce", _reused_nonce, 400, "badNonce"),
    (
        "wrong-url",
        lambda h, a: h.acme.post_signed(
            h.server.base_url + "acme/new-order",
            {},
            key=a.key,
            kid=a.url,
            signed_url=h.server.base_url + "acme/x",
        ),
        403,
        "unauthorized",
    ),
    (
        "unknown-url",
        lambda h, a: a.post(h.server.base_url + "acme/unknown", None),
        404,
        "malformed",
    ),
    ("unknown-order", _unknown_order, 404, "malformed"),
    (
        "get-new-account",
        lambda h, a: h.acme.http.get(h.server.base_url + "acme/new-account"),
        405,
        "malformed",
    ),
    ("payload-not-object", lambda h, a: _order_body(h, a, b"[1]"), 400, "malformed"),
    ("payload-not-json", lambda h, a: _order_body(h, a, b"{"), 400, "malformed"),
    ("order-post-as-get", lambda h, a: _order_body(h, a, None), 400, "malformed"),
    ("no-identifiers", lambda h, a: _order_body(h, a, {}), 400, "malformed"),
    (
        "identifiers-not-objects",
        lambda h, a: _order_body(h, a, {"identifiers": ["a@b.test"]}),
        400,
        "malformed",
    ),
    (
        "not-before",
        lambda h, a: _order_body(
            h,
            a,
            {
                "identifiers": [{"type": "email", "value": "a@example.test"}],
                "notBefore": "2030-01-01T00:00:00Z",
            },
        ),
        400,
        "malformed",
    ),
    ("payload-on-post-as-get-resource", _payload_on_post_as_get, 400, "malformed"),
    ("finalize-not-ready", _finalize_not_ready, 403, "orderNotReady"),
    ("authz-bad-update", _authz_bad_update, 400, "malformed"),
    ("contact-not-mailto", lambda h, a: _contact(h, a, ["tel:+1555"]), 400, "unsupportedContact"),
    (
        "contact-hfields",
        lambda h, a: _contact(h, a, ["mailto:a@example.test?subject=x"]),
        400,
        "invalidContact",
    ),
    ("contact-not-address", lambda h, a: _contact(h, a, ["mailto:nobody"]), 400, "invalidContact"),
    (
        "revoke-unknown",
        lambda h, a: _revoke(h, a, b64url_encode(b"\x30\x03\x02\x01\x01")),
        404,
        "malformed",
    ),
    ("revoke-not-base64url", lambda h, a: _revoke(h, a, "***"), 400, "malformed"),
]


@covers(
    "A-ERR-1",
    "A-JWS-1",
    "A-JWS-2",
    "A-JWS-3",
    "A-JWS-4",
    "A-NONCE-2",
    "A-URL-1",
    "A-GET-1",
    "A-HTTPS-1",
)
@pytest.mark.parametrize(("case", "build", "status", "kind"), CASES, ids=[c[0] for c in CASES])
async def test_bad_request_gets_a_problem_document(
    harness: Any, case: str, build: Case, status: int, kind: str
) -> None:
    """The answer is the expected status and problem type, with nonce and index link."""
    account = await harness.new_account()
    internal_before = harness.server.acme.internal_errors
    response = await build(harness, account)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == ERROR + kind, problem
    assert problem["status"] == status
    assert problem["detail"]
    assert response.headers.get("Replay-Nonce")
    assert any('rel="index"' in link for link in response.headers.get_list("Link"))
    assert harness.server.acme.internal_errors == internal_before


async def test_bad_algorithm_problem_lists_accepted_algorithms(harness: Any) -> None:
    """badSignatureAlgorithm carries the ``algorithms`` list (RFC 8555 §6.2)."""
    account = await harness.new_account()
    response = await _signed(
        harness, account, "newOrder", {"alg": "HS256", "kid": account.url}, b"{}"
    )
    assert response.json()["algorithms"] == ["ES256", "ES384", "RS256", "EdDSA"]
