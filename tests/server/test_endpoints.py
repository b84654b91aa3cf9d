"""Each endpoint of the reference CA on its happy path (RFC 8555 §7; A-DIR-1, A-ACCT-1, ...)."""

import json
import ssl
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from rfc8823.acme.driver import AcmeDriver
from rfc8823.acme.jws import eab_binding, encode_json, public_jwk, sign_flattened
from rfc8823.requirements import covers
from rfc8823.tokens import b64url_decode, jwk_thumbprint
from rfc8823.world.keys import cached_key

ERROR = "urn:ietf:params:acme:error:"


def _index_link(response: httpx.Response) -> bool:
    return any('rel="index"' in link for link in response.headers.get_list("Link"))


@covers("A-DIR-1")
async def test_directory(harness: Any) -> None:
    """The directory lists every mandatory entry point; no meta without EAB or terms."""
    response = await harness.acme.http.get(harness.server.directory_url)
    assert response.status_code == 200
    directory = response.json()
    for name in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"):
        assert directory[name].startswith(harness.server.base_url)
    assert "meta" not in directory
    assert "newAuthz" not in directory


@covers("A-NONCE-1")
async def test_new_nonce_head_and_get(harness: Any) -> None:
    """HEAD → 200, GET → 204, each with a fresh nonce, no-store and the index link."""
    url = await harness.acme.url("newNonce")
    head = await harness.acme.http.head(url)
    get = await harness.acme.http.get(url)
    assert (head.status_code, get.status_code) == (200, 204)
    for response in (head, get):
        assert response.headers["Cache-Control"] == "no-store"
        assert _index_link(response)
    assert head.headers["Replay-Nonce"] != get.headers["Replay-Nonce"]


@covers("A-ACCT-1")
async def test_new_account_create_find_and_only_return_existing(harness: Any) -> None:
    """201 + Location on creation, 200 + same Location after; onlyReturnExisting works."""
    key = cached_key("server-test-fresh-acct", "ed25519")
    url = await harness.acme.url("newAccount")
    created = await harness.acme.post_signed(
        url,
        {"contact": ["mailto:admin@example.test"], "termsOfServiceAgreed": True},
        key=key,
        kid=None,
    )
    assert created.status_code == 201
    assert created.json()["contact"] == ["mailto:admin@example.test"]
    assert created.json()["status"] == "valid"
    assert created.json()["orders"].endswith("/orders")
    again = await harness.acme.post_signed(url, {"onlyReturnExisting": True}, key=key, kid=None)
    assert again.status_code == 200
    assert again.headers["Location"] == created.headers["Location"]
    stranger = cached_key("server-test-never-registered", "p384")
    missing = await harness.acme.post_signed(
        url, {"onlyReturnExisting": True}, key=stranger, kid=None
    )
    assert missing.status_code == 400
    assert missing.json()["type"] == ERROR + "accountDoesNotExist"


@covers("A-ACCT-1")
async def test_account_update_orders_list_and_deactivation(harness: Any) -> None:
    """Contacts update, the orders list, and deactivation (later requests unauthorized)."""
    key = cached_key(f"server-test-deact-{harness.world.new_address().split('@')[0]}", "p256")
    account_url = (await harness.acme.account(key)).url
    updated = await harness.acme.post_signed(
        account_url, {"contact": ["mailto:new@example.test"]}, key=key, kid=account_url
    )
    assert updated.json()["contact"] == ["mailto:new@example.test"]
    fetched = await harness.acme.post_signed(account_url, None, key=key, kid=account_url)
    orders_url = fetched.json()["orders"]
    new_order = await harness.acme.url("newOrder")
    address = harness.world.new_address()
    order = await harness.acme.post_signed(
        new_order, {"identifiers": [{"type": "email", "value": address}]}, key=key, kid=account_url
    )
    listed = await harness.acme.post_signed(orders_url, None, key=key, kid=account_url)
    assert listed.json() == {"orders": [order.headers["Location"]]}
    gone = await harness.acme.post_signed(
        account_url, {"status": "deactivated"}, key=key, kid=account_url
    )
    assert gone.json()["status"] == "deactivated"
    refused = await harness.acme.post_signed(
        new_order, {"identifiers": []}, key=key, kid=account_url
    )
    assert refused.status_code == 403
    assert refused.json()["type"] == ERROR + "unauthorized"


@covers("A-ORD-1", "A-ORD-2", "A-AUTHZ-1", "ID-EMAIL-1", "ID-EMAIL-4")
async def test_new_order_and_authorization_shapes(harness: Any) -> None:
    """Order: pending, expires, identifiers echoed, one authz each; the authz offers
    email-reply-00 only; the arrays never change."""
    account = await harness.new_account()
    first, second = harness.world.new_address(), harness.world.new_address("other.test")
    created = await account.new_order(first, second)
    order_url, order = created.url, created.body
    assert order["status"] == "pending"
    assert order["identifiers"] == [
        {"type": "email", "value": first},
        {"type": "email", "value": second},
    ]
    assert len(order["authorizations"]) == 2
    assert order["finalize"].endswith("/finalize")
    assert "expires" in order
    authz = await account.fetch(order["authorizations"][1])
    assert authz["identifier"] == {"type": "email", "value": second}
    assert authz["status"] == "pending"
    assert "expires" in authz
    assert [c["type"] for c in authz["challenges"]] == ["email-reply-00"]
    again = await account.fetch(order_url)
    assert again["identifiers"] == order["identifiers"]
    assert again["authorizations"] == order["authorizations"]


@covers("A-GET-1")
async def test_resources_need_post_as_get(harness: Any) -> None:
    """A plain GET on an order is 405 malformed with Allow: POST."""
    account = await harness.new_account()
    order_url = (await account.new_order(harness.world.new_address())).url
    response = await harness.acme.http.get(order_url)
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == ERROR + "malformed"
    assert "POST" in response.headers["Allow"]
    assert "Replay-Nonce" in response.headers


async def test_resources_of_another_account_are_refused(harness: Any) -> None:
    """Another account may not read an order (unauthorized)."""
    owner = await harness.new_account()
    other = await harness.new_account("other-acct")
    order_url = (await owner.new_order(harness.world.new_address())).url
    response = await other.post(order_url, None)
    assert response.status_code == 403
    assert response.json()["type"] == ERROR + "unauthorized"


async def test_key_change(harness: Any) -> None:
    """An account key roll-over (RFC 8555 §7.3.5); the old key no longer finds the account."""
    tag = harness.world.new_address().split("@")[0]
    old_key = cached_key(f"server-test-roll-old-{tag}", "p256")
    new_key = cached_key(f"server-test-roll-new-{tag}", "ed25519")
    account_url = (await harness.acme.account(old_key)).url
    url = await harness.acme.url("keyChange")
    inner = sign_flattened(
        {"alg": "EdDSA", "jwk": public_jwk(new_key), "url": url},
        encode_json({"account": account_url, "oldKey": public_jwk(old_key)}),
        new_key,
    )
    response = await harness.acme.post_signed(url, inner, key=old_key, kid=account_url)
    assert response.status_code == 200, response.text
    found = await harness.acme.post_signed(
        await harness.acme.url("newAccount"), {"onlyReturnExisting": True}, key=new_key, kid=None
    )
    assert found.headers["Location"] == account_url
    lost = await harness.acme.post_signed(
        await harness.acme.url("newAccount"), {"onlyReturnExisting": True}, key=old_key, kid=None
    )
    assert lost.json()["type"] == ERROR + "accountDoesNotExist"


@covers("A-ACCT-1")
async def test_external_account_binding(ca_factory: Any, harness_for: Any) -> None:
    """With EAB required: meta says so; no binding → externalAccountRequired; a good one works."""
    secret = b"s" * 32
    server = ca_factory(eab_keys={"kid-7": secret}, eab_required=True)
    async with harness_for(server) as harness:
        directory = await harness.acme.directory()
        assert directory["meta"] == {"externalAccountRequired": True}
        key = cached_key("server-test-eab", "p256")
        url = await harness.acme.url("newAccount")
        refused = await harness.acme.post_signed(
            url, {"termsOfServiceAgreed": True}, key=key, kid=None
        )
        assert refused.json()["type"] == ERROR + "externalAccountRequired"
        wrong = eab_binding(account_jwk=public_jwk(key), eab_kid="kid-7", hmac_key=b"x", url=url)
        bad = await harness.acme.post_signed(
            url, {"externalAccountBinding": wrong}, key=key, kid=None
        )
        assert bad.json()["type"] == ERROR + "unauthorized"
        binding = eab_binding(
            account_jwk=public_jwk(key), eab_kid="kid-7", hmac_key=secret, url=url
        )
        created = await harness.acme.post_signed(
            url, {"externalAccountBinding": binding}, key=key, kid=None
        )
        assert created.status_code == 201, created.text
        account = server.store.account_by_thumbprint(jwk_thumbprint(key))
        assert account is not None
        assert account.eab_kid == "kid-7"


async def test_driver_account_options_go_into_new_account(harness: Any) -> None:
    """The raw driver writes its contact and terms agreement into a newAccount that does not
    carry its own (how the server suite meets a CA requiring a contact, RFC 8555 §7.3)."""
    sent: list[dict[str, Any]] = []

    async def keep(request: httpx.Request) -> None:
        payload = json.loads(request.content)["payload"] if request.method == "POST" else ""
        if payload:
            sent.append(json.loads(b64url_decode(payload)))

    context = ssl.create_default_context(cafile=harness.server.ca_bundle)
    hooks = {"request": [keep]}
    async with httpx.AsyncClient(verify=context, event_hooks=hooks) as http:
        driver = AcmeDriver(http, harness.server.directory_url, contact=["mailto:a@example.test"])
        account = await driver.account(cached_key("server-test-driver-contact", "p256"))
        fetched = await account.fetch(account.url)
        silent = AcmeDriver(http, harness.server.directory_url, agree_terms=False)
        fresh = ec.generate_private_key(ec.SECP256R1())
        await silent.new_account_raw(fresh, {"contact": ["mailto:b@example.test"]})
    assert fetched["contact"] == ["mailto:a@example.test"]
    assert sent[0] == {"termsOfServiceAgreed": True, "contact": ["mailto:a@example.test"]}
    assert sent[-1] == {"contact": ["mailto:b@example.test"]}
