"""RFC 8555 basics on the email path: directory, nonces, JWS rules, URLs, accounts, states.

RFC 8555 §6.1-§6.5, §7.1.1, §7.1.6, §7.2, §7.3, §7.5.1, §7.5.2, §8.2; RFC 8823 §3.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from rfc8823.acme.driver import Account, json_object
from rfc8823.acme.jws import encode_json, public_jwk, sign_flattened, sign_jws
from rfc8823.acme.problems import ProblemType
from rfc8823.report.outcomes import HarnessError
from rfc8823.report.plugin import Conformance
from rfc8823.requirements import covers
from rfc8823.tokens import b64url_encode
from rfc8823.world.keys import KeyKind, cached_key

from .helpers import ChallengeFlow, ServerSuite, fresh_key
from .replies import expect_validated, post_once

DIRECTORY_ENTRIES = ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange")


async def bent_post(
    account: Account, url: str, payload: bytes, *, header: dict[str, Any] | None = None
) -> dict[str, str]:
    """A correctly signed flattened JWS for ``url`` whose protected header has ``header`` merged."""
    protected: dict[str, Any] = {
        "alg": "ES256",
        "nonce": await account.driver.nonce(),
        "url": url,
        "kid": account.url,
        **(header or {}),
    }
    protected = {k: v for k, v in protected.items() if v is not None}
    return sign_flattened(protected, payload, account.key, alg="ES256")


def status_of(response: httpx.Response) -> object:
    """The ``status`` member of a JSON object response, None when it is no such object."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("status") if isinstance(body, dict) else None


async def post_body(account: Account, url: str, body: dict[str, Any]) -> Any:
    """POST a JWS object given as a dict, as JSON bytes."""
    return await account.driver.post_raw(url, encode_json(body))


async def assert_not_triggered(ca: ServerSuite, flow: ChallengeFlow, rule: str) -> None:
    """The challenge is still pending, unless the flow had to POST to get its email (AMB-3):
    the refused or misdirected POST under ``rule`` started no validation."""
    challenge, _ = await flow.read()
    status = challenge.get("status")
    allowed = ("pending", "processing") if flow.posted else ("pending",)
    ca.check(
        rule,
        status in allowed,
        f"challenge {status!r} after a refused or non-challenge POST",
        f"{' or '.join(allowed)}: no validation started",
    )


@covers("A-DIR-1", "A-HTTPS-1")
async def test_directory_lists_the_entry_points(ca: ServerSuite, conformance: Conformance) -> None:
    """The directory (over HTTPS) names newNonce, newAccount, newOrder, revokeCert, keyChange."""
    url = ca.endpoints.directory_url
    ca.check("A-HTTPS-1", url.startswith("https://"), f"directory URL {url}", "https (§6.1)")
    directory = await ca.acme.directory()
    missing = [name for name in DIRECTORY_ENTRIES if not isinstance(directory.get(name), str)]
    ca.check("A-DIR-1", not missing, f"directory {directory}", f"entries {missing}")
    meta = directory.get("meta", {})
    conformance.info(
        "A-DIR-1",
        f"newAuthz {'offered' if 'newAuthz' in directory else 'absent'}; "
        f"externalAccountRequired={bool(meta.get('externalAccountRequired'))}",
    )


@covers("A-NONCE-1")
@pytest.mark.needs("challenge-email")
async def test_new_nonce_and_replay_nonce_headers(ca: ServerSuite) -> None:
    """newNonce: HEAD 200 and GET 204, no-store; each successful POST carries a fresh nonce."""
    url = await ca.acme.url("newNonce")
    head = await ca.acme.http.head(url)
    get = await ca.acme.http.get(url)
    ca.check(
        "A-NONCE-1",
        (head.status_code, get.status_code) == (200, 204),
        f"newNonce HEAD {head.status_code}, GET {get.status_code}",
        "200, 204",
    )
    caching = [response.headers.get("Cache-Control", "") for response in (head, get)]
    ca.check(
        "A-NONCE-1",
        all("no-store" in value for value in caching),
        f"newNonce Cache-Control {caching}",
        "no-store on both",
    )
    nonces = [head.headers.get("Replay-Nonce"), get.headers.get("Replay-Nonce")]
    account = await ca.account()
    flow = await ca.flow(account)
    for response in (
        await account.new_order_raw([{"type": "email", "value": ca.new_address()}]),
        await account.post(flow.authz_url, None),
        await flow.post(),
    ):
        if response.status_code not in (200, 201):
            raise HarnessError(f"a conforming request answered HTTP {response.status_code}")
        nonces.append(response.headers.get("Replay-Nonce"))
    ca.check(
        "A-NONCE-1",
        all(nonces) and len(set(nonces)) == len(nonces),
        f"Replay-Nonce values {nonces}",
        "a fresh nonce on each response",
    )


@covers("A-NONCE-2")
@pytest.mark.needs("challenge-email")
@pytest.mark.parametrize("fault", ["reused", "unknown"])
async def test_bad_nonce_on_challenge_post(ca: ServerSuite, fault: str) -> None:
    """A reused or invented nonce on the challenge POST: badNonce with a fresh Replay-Nonce."""
    account = await ca.account()
    flow = await ca.flow(account)
    if fault == "reused":
        nonce = await ca.acme.fresh_nonce()
        first = await ca.acme.post_signed(
            flow.authz_url, None, key=account.key, kid=account.url, nonce=nonce
        )
        shown = f"HTTP {first.status_code} on a fresh nonce"
        ca.check("A-NONCE-1", first.status_code == 200, shown, "the fresh nonce taken")
    else:
        nonce = b64url_encode(secrets.token_bytes(16))
    response = await ca.acme.post_signed(
        flow.challenge_url, {}, key=account.key, kid=account.url, nonce=nonce
    )
    ca.expect_refused("A-NONCE-2", response, ProblemType.BAD_NONCE, status=400)
    fresh = response.headers.get("Replay-Nonce")
    ca.check("A-NONCE-2", bool(fresh), f"badNonce with Replay-Nonce {fresh!r}", "a fresh nonce")
    await assert_not_triggered(ca, flow, "A-NONCE-2")


@covers("A-JWS-1")
@pytest.mark.needs("challenge-email")
async def test_wrong_content_type_is_415(ca: ServerSuite) -> None:
    """A JWS POSTed as application/json is refused with HTTP 415."""
    account = await ca.account()
    flow = await ca.flow(account)
    body = sign_jws(
        {}, key=account.key, url=flow.challenge_url, nonce=await ca.acme.nonce(), kid=account.url
    )
    response = await ca.acme.post_raw(flow.challenge_url, body, content_type="application/json")
    ca.check(
        "A-JWS-1",
        response.status_code == 415,
        f"HTTP {response.status_code}: {response.text[:200]}",
        "415",
    )


@covers("A-JWS-2", "A-ERR-1")
@pytest.mark.needs("account")
@pytest.mark.parametrize("shape", ["jwk and kid", "neither", "jwk instead of kid"])
async def test_key_header_rules(ca: ServerSuite, shape: str) -> None:
    """Exactly one of ``jwk``/``kid``, and ``kid`` outside newAccount: else malformed."""
    account = await ca.account()
    url = await ca.acme.url("newOrder")
    headers: dict[str, dict[str, Any]] = {
        "jwk and kid": {"jwk": public_jwk(account.key)},
        "neither": {"kid": None},
        "jwk instead of kid": {"kid": None, "jwk": public_jwk(account.key)},
    }
    header = headers[shape]
    payload = encode_json({"identifiers": [{"type": "email", "value": ca.new_address()}]})
    response = await post_body(account, url, await bent_post(account, url, payload, header=header))
    ca.expect_refused("A-JWS-2", response, ProblemType.MALFORMED, ProblemType.UNAUTHORIZED)


@covers("A-JWS-3", "A-ERR-1")
@pytest.mark.needs("account")
@pytest.mark.parametrize("alg", ["none", "HS256"])
async def test_none_and_mac_algorithms_are_refused(ca: ServerSuite, alg: str) -> None:
    """``alg`` none or a MAC is refused: badSignatureAlgorithm listing ES256, or malformed."""
    account = await ca.account()
    url = account.url
    protected = {"alg": alg, "nonce": await ca.acme.nonce(), "url": url, "kid": account.url}
    signature = b"" if alg == "none" else secrets.token_bytes(32)
    body = {
        "protected": b64url_encode(encode_json(protected)),
        "payload": "",
        "signature": b64url_encode(signature),
    }
    response = await post_body(account, url, body)
    problem = ca.expect_refused(
        "A-JWS-3", response, ProblemType.BAD_SIGNATURE_ALGORITHM, ProblemType.MALFORMED
    )
    if problem.type == ProblemType.BAD_SIGNATURE_ALGORITHM:
        ca.check(
            "A-JWS-3",
            "ES256" in (problem.algorithms or ()),
            f"algorithms {problem.algorithms}",
            "a list including ES256",
        )


@covers("A-JWS-3")
async def test_eddsa_account_keys(ca: ServerSuite, conformance: Conformance) -> None:
    """ES256 is required (every flow uses it); EdDSA is a SHOULD: INFO whether it works."""
    key = cached_key("server-suite-ed25519", "ed25519")
    response = await ca.acme.new_account_raw(key)
    conformance.info(
        "A-JWS-3",
        "EdDSA (Ed25519) account keys "
        + ("work" if response.status_code in (200, 201) else f"refused: {response.text[:120]}"),
    )


@covers("A-KA-1")
@pytest.mark.needs("validation")
@pytest.mark.parametrize("kind", ["p384", "rsa2048", "ed25519"])
async def test_key_authorization_for_each_account_key_type(
    ca: ServerSuite, conformance: Conformance, kind: KeyKind
) -> None:
    """A reply made with the RFC 7638 thumbprint of a P-384, RSA or Ed25519 account validates.

    ES256 (P-256) is the only algorithm a CA must take; a refused key type is recorded (INFO:
    nothing about key authorizations could be judged then).
    """
    key = cached_key(f"server-suite-account-{kind}", kind)
    response = await ca.acme.new_account_raw(key)
    if response.status_code not in (200, 201):
        conformance.info("A-KA-1", f"{kind} account keys refused: {response.text[:120]}")
        return
    account = await ca.acme.account(key)
    flow = await ca.flow(account)
    await flow.answer()
    await expect_validated(
        conformance, flow, "A-KA-1", f"a reply with the thumbprint of a {kind} account key"
    )


@covers("A-JWS-4", "A-ERR-1")
@pytest.mark.needs("challenge-email")
@pytest.mark.parametrize("shape", ["unprotected header", "general serialization", "no payload"])
async def test_jws_serialization_rules(ca: ServerSuite, shape: str) -> None:
    """No unprotected header, no multiple signatures, no detached payload: malformed."""
    account = await ca.account()
    flow = await ca.flow(account)
    good = await bent_post(account, flow.challenge_url, b"{}")
    if shape == "unprotected header":
        body: dict[str, Any] = {**good, "header": {"kid": account.url}}
    elif shape == "general serialization":
        body = {
            "payload": good["payload"],
            "signatures": [{"protected": good["protected"], "signature": good["signature"]}],
        }
    else:
        body = {"protected": good["protected"], "signature": good["signature"]}
    response = await post_body(account, flow.challenge_url, body)
    ca.expect_refused("A-JWS-4", response, ProblemType.MALFORMED)
    await assert_not_triggered(ca, flow, "A-JWS-4")


@covers("A-HTTPS-1", "A-ERR-1")
@pytest.mark.needs("challenge-email")
async def test_padded_base64url_is_refused(ca: ServerSuite) -> None:
    """A JWS member written with '=' padding is malformed (RFC 8555 §6.1)."""
    account = await ca.account()
    flow = await ca.flow(account)
    good = await bent_post(account, flow.challenge_url, b"{}")
    padding = "=" * (-len(good["signature"]) % 4)
    if not padding:
        raise HarnessError("an ES256 signature of 86 characters takes '==' padding")
    body = {**good, "signature": good["signature"] + padding}
    response = await post_body(account, flow.challenge_url, body)
    ca.expect_refused("A-HTTPS-1", response, ProblemType.MALFORMED)


@covers("A-URL-1", "A-ERR-1")
@pytest.mark.needs("challenge-email")
async def test_url_header_must_match(ca: ServerSuite) -> None:
    """A challenge POST whose signed ``url`` is the authz URL is refused as unauthorized."""
    account = await ca.account()
    flow = await ca.flow(account)
    response = await ca.acme.post_signed(
        flow.challenge_url, {}, key=account.key, kid=account.url, signed_url=flow.authz_url
    )
    ca.expect_refused("A-URL-1", response, ProblemType.UNAUTHORIZED)
    await assert_not_triggered(ca, flow, "A-URL-1")


@covers("A-GET-1")
@pytest.mark.needs("authorization")
async def test_resources_need_post_as_get(ca: ServerSuite) -> None:
    """A plain GET of an authorization or order is 405; POST-as-GET is 200.

    The challenge URL is left alone: its reads are judged in
    ``test_reading_a_challenge_starts_no_validation``.
    """
    account = await ca.account()
    flow = await ca.flow(account, receive=False)
    for url in (flow.authz_url, flow.order.url):
        response = await ca.acme.http.get(url)
        shown = f"GET {url} HTTP {response.status_code}"
        ca.check("A-GET-1", response.status_code == 405, shown, "405")
        read = await account.post(url, None)
        ca.check(
            "A-GET-1",
            read.status_code == 200,
            f"POST-as-GET {url} HTTP {read.status_code}: {read.text[:200]}",
            "200 with the resource",
        )


@covers("A-GET-1")
@pytest.mark.needs("barrier")
async def test_reading_a_challenge_starts_no_validation(
    ca: ServerSuite, conformance: Conformance
) -> None:
    """A POST-as-GET of the challenge URL is a read, processed as a GET would be (RFC 8555
    §6.3): with a correct reply waiting, reading the challenge must not start its validation;
    only the ``{}`` POST does (§7.5.1). The harness itself reads through the authorization."""
    account = await ca.account()
    flow = await ca.flow(account)
    if flow.posted:
        conformance.info("A-GET-1", "not tried: the challenge email came only after the POST")
        return
    await flow.answer()
    plain_get = await ca.acme.http.get(flow.challenge_url)
    ca.check(
        "A-GET-1",
        plain_get.status_code == 405,
        f"GET {flow.challenge_url} HTTP {plain_get.status_code}",
        "405",
    )
    read = await account.post(flow.challenge_url, None)
    ca.check(
        "A-GET-1",
        read.status_code == 200,
        f"POST-as-GET of the challenge HTTP {read.status_code}: {read.text[:200]}",
        "200 with the challenge",
    )
    await ca.settle(flow)
    challenge, authz = await flow.read()
    ca.check(
        "A-GET-1",
        challenge.get("status") == "pending" and authz.get("status") == "pending",
        f"challenge {challenge.get('status')!r}, authorization {authz.get('status')!r} after a "
        "POST-as-GET of the challenge with a correct reply waiting",
        "both still pending: a read is no trigger",
    )
    await post_once(flow)
    await expect_validated(conformance, flow, "A-CHAL-2", "the {} POST after the reads")


@covers("A-ACCT-1", "A-ERR-1")
async def test_account_creation_and_lookup(ca: ServerSuite) -> None:
    """newAccount: 201 + Location; same key again 200 + same URL; onlyReturnExisting unknown key
    gives accountDoesNotExist."""
    key = fresh_key()
    contact = f"mailto:{ca.new_address()}"
    created = await ca.acme.new_account_raw(key, {"contact": [contact]})
    shown = f"newAccount HTTP {created.status_code}: {created.text[:300]}"
    ca.check("A-ACCT-1", created.status_code == 201, shown, "HTTP 201")
    body = json_object(created, 201)
    location = created.headers.get("Location")
    ca.check("A-ACCT-1", bool(location), f"{shown}, Location {location!r}", "a Location")
    status = body.get("status")
    ca.check("A-ACCT-1", status == "valid", f"account status {status!r}", "valid")
    again = await ca.acme.new_account_raw(key)
    ca.check(
        "A-ACCT-1", again.status_code == 200, f"HTTP {again.status_code} for a known key", "200"
    )
    ca.check(
        "A-ACCT-1",
        again.headers.get("Location") == location,
        f"Location {again.headers.get('Location')} for a known key",
        f"{location}",
    )
    unknown = await ca.acme.new_account_raw(fresh_key(), {"onlyReturnExisting": True})
    ca.expect_refused("A-ACCT-1", unknown, ProblemType.ACCOUNT_DOES_NOT_EXIST)


@covers("A-STATE-1", "A-CHAL-4", "SRV-VAL-6")
@pytest.mark.needs("barrier")
async def test_state_sequence_and_repost(ca: ServerSuite, conformance: Conformance) -> None:
    """pending -> processing -> valid; a re-POST while processing or once valid is no error.

    A CA that judges at the POST and fails a challenge whose reply is not in yet moves it
    pending -> invalid, which the state machine allows (RFC 8555 §7.1.6; the POST-before-reply
    order is FLOW-7's to judge): the sequence then goes on with a reply sent before the POST.
    """
    account = await ca.account()
    flow = await ca.flow(account)
    first = await flow.post()
    ca.check(
        "A-CHAL-2",
        first.status_code == 200,
        f"challenge POST HTTP {first.status_code}: {first.text[:300]}",
        "200",
    )
    posted = json_object(first)
    status = posted.get("status")
    ca.check(
        "A-STATE-1",
        status in ("pending", "processing", "invalid"),
        f"{status!r} on POST",
        "pending or processing (or invalid: judged at the POST, no reply yet)",
    )
    if status == "invalid":
        conformance.info(
            "A-STATE-1", "a POST before the reply: pending -> invalid (the CA judges at the POST)"
        )
        conformance.info("A-CHAL-4", "no re-POST while processing: the POST ended the challenge")
        flow = await ca.flow(account)
        await flow.answer()
        await post_once(flow)
    else:
        again = await flow.post()
        ca.check(
            "A-CHAL-4",
            again.status_code == 200,
            f"re-POST while {status} HTTP {again.status_code}: {again.text[:300]}",
            "200",
        )
        await ca.mail_barrier()
        extra = len(ca.mail_to(flow.address)) - 1
        conformance.info(
            "A-CHAL-4",
            f"a re-POST while {status} sent {extra} more email(s)"
            + (
                f", Retry-After {again.headers.get('Retry-After')}"
                if "Retry-After" in again.headers
                else ""
            ),
        )
        await flow.answer()
    valid = await flow.wait_challenge("valid")
    status = valid.get("status")
    ca.check("A-STATE-1", status == "valid", f"challenge {status!r} after a reply", "valid")
    repost = await flow.post()
    ca.check(
        "A-CHAL-4",
        repost.status_code == 200,
        f"re-POST once valid HTTP {repost.status_code}: {repost.text[:300]}",
        "200",
    )
    status = status_of(repost)
    ca.check("A-STATE-1", status == "valid", f"{status!r} after a re-POST", "valid")
    await flow.answer()
    await ca.settle()
    status = (await account.fetch(flow.authz_url)).get("status")
    ca.check("SRV-VAL-6", status == "valid", f"authz {status!r} after a second reply", "valid")
    status = (await flow.order.refresh()).get("status")
    ca.check("SRV-VAL-6", status == "ready", f"order {status!r} after a second reply", "ready")


@covers("A-AUTHZ-2", "A-STATE-1")
@pytest.mark.needs("barrier")
async def test_deactivated_authz_stays_deactivated(ca: ServerSuite) -> None:
    """Deactivate, then send a correct reply and POST: the authorization is not revived.

    A second deactivation of the now final authorization (RFC 8555 §7.1.6) is refused or
    changes nothing, and leaves the CA able to deactivate the account's other authorization.
    """
    account = await ca.account()
    flow = await ca.flow(account)
    other = await ca.flow(account)
    response = await flow.account.post(flow.authz_url, {"status": "deactivated"})
    status = status_of(response) if response.status_code == 200 else None
    ca.check(
        "A-AUTHZ-2",
        status == "deactivated",
        f"deactivation HTTP {response.status_code}: {response.text[:200]}",
        "200 with status deactivated",
    )
    again = await flow.account.post(flow.authz_url, {"status": "deactivated"})
    ca.check(
        "A-AUTHZ-2",
        400 <= again.status_code < 500
        or (again.status_code == 200 and status_of(again) == "deactivated"),
        f"second deactivation HTTP {again.status_code}: {again.text[:200]}",
        "a 4xx refusal, or 200 with status deactivated",
    )
    response = await other.account.post(other.authz_url, {"status": "deactivated"})
    status = status_of(response) if response.status_code == 200 else None
    ca.check(
        "A-AUTHZ-2",
        status == "deactivated",
        f"then the other authorization's deactivation HTTP {response.status_code}: "
        f"{response.text[:200]}",
        "200 with status deactivated",
    )
    await flow.answer()
    await flow.post()
    await ca.settle()
    authz = await account.fetch(flow.authz_url)
    status = authz.get("status")
    ca.check("A-AUTHZ-2", status == "deactivated", f"authz {status!r} after a reply", "deactivated")
    statuses = [c.get("status") for c in authz.get("challenges", [])]
    ca.check("A-AUTHZ-2", "valid" not in statuses, f"challenge statuses {statuses}", "none valid")
    status = (await flow.order.refresh()).get("status")
    ca.check(
        "A-AUTHZ-2", status != "ready", f"order {status!r} with a deactivated authz", "not ready"
    )
    ca.check(
        "A-STATE-1", status in ("pending", "invalid"), f"order {status!r}", "pending or invalid"
    )


@covers("A-CHAL-2")
@pytest.mark.needs("barrier")
async def test_posting_the_authz_is_no_trigger(ca: ServerSuite, conformance: Conformance) -> None:
    """A correct reply plus ``{}`` POSTed to the authz URL does not validate; the challenge POST
    does."""
    account = await ca.account()
    flow = await ca.flow(account)
    if flow.posted:
        conformance.info("A-CHAL-2", "authz POST not tried: the email came only after the POST")
        return
    await flow.answer()
    await account.post(flow.authz_url, {})
    await ca.settle(flow)
    await assert_not_triggered(ca, flow, "A-CHAL-2")
    await post_once(flow)
    await expect_validated(conformance, flow, "A-CHAL-2", "the {} POST to the challenge URL")
