"""The reference CA's faults: each changes exactly the behaviour its declaration names.

Unit level: challenge emails built by the engine and judged by the inspector, reply judgements
re-read by the engine, identifier checks, and the ACME app driven in-process over ASGI (no
sockets; challenge emails go to a closed port and are dropped). The suites catching each fault
are the self-check's business (``rfc8823 selfcheck``).
"""

from __future__ import annotations

import re
import time
from argparse import Namespace
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import rfc8823.server
from rfc8823.acme.identifier import EMAIL_REPLY_00, Identifier
from rfc8823.acme.jws import AccountPrivateKey, encode_json, sign_flattened, sign_jws
from rfc8823.acme.objects import AuthorizationStatus, ChallengeStatus
from rfc8823.acme.problems import Problem
from rfc8823.auth.dkim import RESPONSE_REQUIRED_HEADERS, DkimResult, DkimSignatureResult
from rfc8823.auth.resolver import DnsEndpoint
from rfc8823.certificates import parse_pem_chain
from rfc8823.cli import build_parser
from rfc8823.csr import build_csr, key_usage_bits
from rfc8823.faults import NO_FAULTS, FaultSet, registry
from rfc8823.findings import Finding, Verdict, broken, info
from rfc8823.messages.challenge import ChallengeExpectation, inspect_challenge
from rfc8823.messages.mime import parse_message
from rfc8823.messages.response import ResponseAuth, ResponseReport
from rfc8823.requirements import load_catalog
from rfc8823.server.cli import config_from_args
from rfc8823.server.config import ServerConfig
from rfc8823.server.engine import CHALLENGE_FAULTS, ChallengeEngine, address_token
from rfc8823.server.identifiers import check_order_identifiers
from rfc8823.server.records import AuthzRecord, ChallengeRecord
from rfc8823.server.reply_faults import (
    ALIGNMENT_FAULTS,
    DIGEST_FAULTS,
    LENIENT_FAULTS,
    UNSIGNED_FIELD_FAULTS,
    misjudged,
)
from rfc8823.server.runner import ReferenceServer, resource_id
from rfc8823.server.store import STATE_FAULTS, Store
from rfc8823.tokens import b64url_encode, entropy_octets, jwk_thumbprint
from rfc8823.world.keys import cached_key
from rfc8823.world.pki import TestPki
from rfc8823.world.ports import unused_port

SERVER_FAULTS = {name: f for name, f in registry().items() if f.role == "server"}
ROOT = Path(__file__).resolve().parents[2]
BASE = "https://ca.test/"
JOSE = "application/jose+json"
ADDRESS = "alice@example.test"
_FAULT_USE = re.compile(r'faults\.on\(\s*"([a-z0-9-]+)"')


def config(*faults: str, **changes: Any) -> ServerConfig:
    """A CA configuration that mails nowhere, with ``faults`` on."""
    return ServerConfig(
        resolver=DnsEndpoint("127.0.0.1", unused_port()),
        smarthost=("127.0.0.1", unused_port()),
        faults=FaultSet.of(faults),
        **changes,
    )


def test_declarations_name_catalog_ids_and_existing_tests() -> None:
    """Each server fault breaks catalog rows and names server-suite tests that exist."""
    catalog = load_catalog()
    assert len(SERVER_FAULTS) >= 50
    for fault in SERVER_FAULTS.values():
        assert fault.breaks, fault.name
        assert fault.suites, fault.name
        catalog.check_ids(fault.breaks)
        for node in fault.suites:
            path, _, test = node.partition("::")
            assert path.startswith("suites/server/"), node
            source = (ROOT / path).read_text(encoding="utf-8")
            function = test.partition("[")[0]
            assert re.search(rf"^(async )?def {function}\(", source, re.M), node


def test_every_server_fault_acts_in_the_server_and_nowhere_else() -> None:
    """The names the CA asks about are exactly the declared server faults."""
    folder = Path(rfc8823.server.__file__).parent
    used = {name for path in folder.glob("*.py") for name in _FAULT_USE.findall(path.read_text())}
    tables = {name for name, _ in CHALLENGE_FAULTS} | set(LENIENT_FAULTS)
    tables |= set(ALIGNMENT_FAULTS) | set(UNSIGNED_FIELD_FAULTS) | set(DIGEST_FAULTS)
    tables |= set(STATE_FAULTS)
    assert used | tables == set(SERVER_FAULTS)


def test_faults_are_off_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default configuration has none; ``rfc8823 serve`` reads ``RFC8823_FAULTS``."""
    assert ServerConfig().faults is NO_FAULTS
    monkeypatch.setenv("RFC8823_FAULTS", "no-rate-limit, accept-list-reply")
    args = _serve_args()
    assert set(config_from_args(args).faults) == {"no-rate-limit", "accept-list-reply"}
    monkeypatch.delenv("RFC8823_FAULTS")
    assert not config_from_args(args).faults


def _serve_args() -> Namespace:
    """``rfc8823 serve`` without any flag, as its own parser reads it."""
    return build_parser().parse_args(["serve"])


def engine_with(*faults: str) -> ChallengeEngine:
    """The challenge engine alone, over an empty store."""
    return ChallengeEngine(config(*faults), Store(None), clock=time.time, pki=TestPki.load())


def challenge_email(engine: ChallengeEngine, token: str = "A" * 32) -> bytes:
    """The challenge email the engine writes for ``ADDRESS``."""
    authz = AuthzRecord(
        "z1", "o1", "a1", Identifier.email(ADDRESS), ADDRESS, AuthorizationStatus.PENDING, 0, (), 0
    )
    challenge = ChallengeRecord(
        "c1", "z1", "email-reply-00", ChallengeStatus.PENDING, "B" * 22, token, "<m1@ca.test>",
        None, None, None, None, None, None,
    )  # fmt: skip
    return engine.build_challenge(challenge, authz)


def broken_ids(raw: bytes) -> set[str]:
    """Requirements the inspector finds broken in a challenge email (signatures not verified)."""
    expect = ChallengeExpectation(identifier=ADDRESS, challenge_from="acme-challenge@ca.test")
    report = inspect_challenge(raw, expect)
    return {f.requirement for f in report.findings if f.verdict in (Verdict.FAIL, Verdict.WARN)}


@pytest.mark.parametrize(
    ("fault", "requirement"),
    [
        ("challenge-without-auto-submitted", "CHAL-AUTO-1"),
        ("challenge-auto-submitted-without-type", "CHAL-AUTO-2"),
        ("challenge-dkim-h-without-subject", "CHAL-DKIM-1"),
        ("challenge-dkim-other-domain", "CHAL-DKIM-3"),
        ("challenge-from-not-announced", "CHAL-HDR-1"),
        ("challenge-to-not-identifier", "CHAL-HDR-2"),
        ("challenge-subject-latin1", "CHAL-SUBJ-4"),
        ("challenge-subject-without-space", "CHAL-SUBJ-1"),
        ("token-part1-not-base64url", "TOK-4"),
    ],
)
def test_challenge_faults_break_their_rule(fault: str, requirement: str) -> None:
    """With the fault, the challenge email breaks the rule; without, nothing is broken."""
    assert broken_ids(challenge_email(engine_with())) == set()
    assert requirement in broken_ids(challenge_email(engine_with(fault)))


@pytest.mark.parametrize("protection", ["rfc8551", "rfc7508"])
@pytest.mark.parametrize(
    "fault", ["challenge-smime-unprotected", "challenge-smime-protects-other-subject"]
)
def test_smime_header_protection_faults_break_chal_body_3(fault: str, protection: str) -> None:
    """With ``smime_sign``, either header-protection fault breaks CHAL-BODY-3 and nothing else."""
    changes = {"smime_sign": True, "smime_header_protection": protection}
    plain = ChallengeEngine(config(**changes), Store(None), clock=time.time, pki=TestPki.load())
    assert broken_ids(challenge_email(plain)) == set()
    faulty = ChallengeEngine(
        config(fault, **changes), Store(None), clock=time.time, pki=TestPki.load()
    )
    assert broken_ids(challenge_email(faulty)) == {"CHAL-BODY-3"}


def test_unsigned_challenge_has_no_signature() -> None:
    """``challenge-unsigned`` drops the DKIM signature (CHAL-AUTH-1)."""
    assert parse_message(challenge_email(engine_with())).first("DKIM-Signature")
    assert (
        parse_message(challenge_email(engine_with("challenge-unsigned"))).first("DKIM-Signature")
        is None
    )


def test_reused_token_part1_repeats_for_one_address(tmp_path: Path) -> None:
    """``token-part1-reused``: the token comes from the address alone, and the challenge that
    takes it is the one a reply with it now validates (TOK-2)."""
    assert address_token("a@example.test", 24) == address_token("a@EXAMPLE.test", 24)
    assert address_token("a@example.test", 24) != address_token("b@example.test", 24)
    store = Store(tmp_path / "ca.sqlite3")
    first, second = (_challenge_of_new_order(store, f"account-{n}") for n in range(2))
    token = address_token("a@example.test", 24)
    store.take_token_part1(first, token, "<1@ca.test>")
    store.take_token_part1(second, token, "<2@ca.test>")
    holder = store.challenge_by_token_part1(token)
    assert holder is not None
    assert holder.id == second


def _challenge_of_new_order(store: Store, thumbprint: str) -> str:
    account = store.create_account(
        jwk={"kty": "x"}, thumbprint=thumbprint, contact=(), eab_kid=None, now=time.time()
    )
    order = store.create_order(
        account_id=account.id,
        identifiers=[Identifier.email("a@example.test")],
        addresses=["a@example.test"],
        challenge_type=EMAIL_REPLY_00,
        token_part2s=["part2"],
        now=time.time(),
        order_expires=time.time() + 3600,
        authz_expires=time.time() + 3600,
    )
    authz = store.authorization(order.authz_ids[0], time.time())
    assert authz is not None
    return authz.challenge_ids[0]


UNVERIFIED = ResponseAuth(dkim=None)
"""Authentication results of a reply nobody verified (the lenient faults ignore them)."""


def read_as(
    fault: str | None, report: ResponseReport, raw: bytes, auth: ResponseAuth = UNVERIFIED
) -> ResponseReport:
    """``report`` as the CA reads it with ``fault`` on (none: as the report says)."""
    return misjudged(report, raw, auth, FaultSet.of([fault]) if fault else NO_FAULTS)


def report_of(reasons: tuple[str, ...], *findings: Finding) -> ResponseReport:
    """A judged reply refused for ``reasons`` (empty: accepted)."""
    return ResponseReport(
        findings=findings,
        digests_found=(),
        reading=None,
        token_part1_seen=None,
        authentic=False,
        acceptable=not reasons,
        rejection_reasons=reasons,
    )


@pytest.mark.parametrize(
    ("fault", "reasons"),
    [
        ("accept-unsigned-reply", ("RESP-DKIM-1",)),
        ("accept-misaligned-dkim-reply", ("RESP-DKIM-4", "SEC-10")),
        ("accept-reply-beyond-body-length", ("RESP-DKIM-5", "SEC-10")),
        ("accept-spf-only-reply", ("RESP-DKIM-1", "SEC-10")),
        ("accept-list-reply", ("RESP-LIST-1",)),
        ("accept-reply-from-other-address", ("RESP-FROM-1",)),
        ("accept-other-accounts-digest", ("SEC-7",)),
        ("accept-html-only-reply", ("RESP-BODY-1", "RESP-HTML-1")),
    ],
)
def test_lenient_reply_faults_accept_what_they_overlook(
    fault: str, reasons: tuple[str, ...]
) -> None:
    """The fault turns exactly this refusal into an acceptance; another defect still refuses."""
    raw = b"Subject: Re: ACME: abc\r\n\r\n"
    assert read_as(fault, report_of(reasons), raw).acceptable
    stricter = read_as(fault, report_of((*reasons, "RESP-BODY-2")), raw)
    assert stricter.rejection_reasons == ("RESP-BODY-2",)


def signed_by(domain: str, *, without: str = "") -> ResponseAuth:
    """A passing DKIM signature by ``domain`` whose ``h=`` lists the required fields but one."""
    names = tuple(name for name in RESPONSE_REQUIRED_HEADERS if name != without)
    signature = DkimSignatureResult(domain, "rsa", "rsa-sha256", names, None, "pass", "ok")
    return ResponseAuth(dkim=DkimResult(signatures=(signature,)))


@pytest.mark.parametrize(
    ("fault", "signer", "accepted"),
    [
        ("accept-org-aligned-dkim-reply", "a.example.test", True),
        ("accept-org-aligned-dkim-reply", "notexample.test", False),
        ("accept-affix-matched-dkim-reply", "notexample.test", True),
        ("accept-affix-matched-dkim-reply", "a.example.test", False),
    ],
)
def test_alignment_faults_take_only_the_relation_they_mistake(
    fault: str, signer: str, accepted: bool
) -> None:
    """Relaxed alignment takes a sibling, not a lookalike; a textual check the other way round."""
    raw = b"From: user@b.example.test\r\nSubject: Re: ACME: abc\r\n\r\n"
    if signer == "notexample.test":
        raw = raw.replace(b"b.example.test", b"example.test")
    judged = read_as(fault, report_of(("RESP-DKIM-4", "SEC-10")), raw, signed_by(signer))
    assert judged.acceptable is accepted


@pytest.mark.parametrize("unsigned", ["to", "content-type"])
def test_unsigned_field_faults_forget_only_their_field(unsigned: str) -> None:
    """A CA forgetting To takes a signature without To, not one without Content-Type."""
    raw = b"From: u@example.test\r\nTo: acme@ca.test\r\nContent-Type: text/plain\r\n\r\n"
    auth = signed_by("example.test", without=unsigned)
    judged = read_as("accept-reply-h-without-to", report_of(("RESP-DKIM-2",)), raw, auth)
    assert judged.acceptable is (unsigned == "to")
    assert set(UNSIGNED_FIELD_FAULTS.values()) == set(RESPONSE_REQUIRED_HEADERS)


def test_spf_only_fault_needs_an_spf_pass() -> None:
    """Without the SEC-10 refusal (SPF did not pass) an unsigned reply stays refused."""
    assert not read_as("accept-spf-only-reply", report_of(("RESP-DKIM-1",)), b"\r\n").acceptable


@pytest.mark.parametrize(
    ("fault", "finding", "subject"),
    [
        ("reject-wrapped-digest", info("RESP-BODY-3", "digest over 2 lines"), "Re: ACME: a"),
        ("reject-encoded-word-subject", info("RESP-SUBJ-2", "encoded-words"), "Re: ACME: a"),
        ("reject-folded-token", info("RESP-SUBJ-4", "token written as 'a b'"), "Re: ACME: a"),
        ("require-in-reply-to", broken("RESP-IRT-1", "In-Reply-To absent", "<m>"), "ACME: a"),
        ("reject-uncommon-reply-prefix", info("RESP-SUBJ-3", "'AW: '"), "AW: ACME: a"),
    ],
)
def test_strict_reply_faults_refuse_a_freedom(fault: str, finding: Finding, subject: str) -> None:
    """A reply the CA accepts is refused under the fault, for the rule that allows it."""
    raw = f"Subject: {subject}\r\n\r\n".encode()
    requirement = finding.requirement
    assert read_as(None, report_of((), finding), raw).acceptable
    refused = read_as(fault, report_of((), finding), raw)
    assert refused.rejection_reasons == (requirement,)
    assert not refused.acceptable


def test_uncommon_prefix_fault_still_takes_re() -> None:
    """``reject-uncommon-reply-prefix`` accepts the plain ``Re:`` reply."""
    raw = b"Subject: Re: ACME: a\r\n\r\n"
    assert read_as("reject-uncommon-reply-prefix", report_of(()), raw).acceptable


@pytest.mark.parametrize(
    ("fault", "identifier"),
    [
        ("accept-wildcard-identifier", {"type": "email", "value": "*@example.test"}),
        ("accept-any-address-text", {"type": "email", "value": f"{ADDRESS}\r\nBcc: x@y.test"}),
        ("accept-any-address-text", {"type": "email", "value": f"{ADDRESS}, x@y.test"}),
        ("accept-dns-identifier-with-at", {"type": "dns", "value": ADDRESS}),
    ],
)
def test_identifier_faults_accept_what_is_refused(fault: str, identifier: dict[str, str]) -> None:
    """The identifier is refused normally and accepted under the fault (ID-EMAIL-3/5, A-ORD-3)."""
    assert isinstance(check_order_identifiers([identifier]), Problem)
    accepted = check_order_identifiers([identifier], FaultSet.of([fault]))
    assert not isinstance(accepted, Problem)


@dataclass
class Ca:
    """The reference CA's ASGI app driven in-process, with one account."""

    server: ReferenceServer
    http: httpx.AsyncClient
    key: AccountPrivateKey
    kid: str = ""

    async def nonce(self) -> str:
        """A fresh nonce."""
        return (await self.http.head("acme/new-nonce")).headers["Replay-Nonce"]

    async def post(
        self,
        path: str,
        payload: Any,
        *,
        jwk: bool = False,
        nonce: str | None = None,
        url: str | None = None,
        content_type: str = JOSE,
    ) -> httpx.Response:
        """A signed POST, ``kid`` unless ``jwk``; ``url`` overrides the signed URL."""
        body = sign_jws(
            payload,
            key=self.key,
            url=url or BASE + path,
            nonce=nonce or await self.nonce(),
            kid=None if jwk else self.kid,
        )
        return await self.http.post(path, content=body, headers={"Content-Type": content_type})

    async def new_account(self) -> httpx.Response:
        """newAccount for the key."""
        return await self.post("acme/new-account", {"termsOfServiceAgreed": True}, jwk=True)

    async def order(self, address: str = ADDRESS) -> dict[str, Any]:
        """A new order for one address (asserting 201), with its URL under ``url``."""
        response = await self.post(
            "acme/new-order", {"identifiers": [{"type": "email", "value": address}]}
        )
        assert response.status_code == 201, response.text
        return {**response.json(), "url": response.headers.get("Location", "")}

    async def fetch(self, url: str) -> dict[str, Any]:
        """POST-as-GET a resource URL."""
        response = await self.post(url.removeprefix(BASE), None)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def validate(self, order: dict[str, Any]) -> None:
        """Make every authorization of ``order`` valid, as a client POST and a good reply do."""
        store, now = self.server.store, time.time()
        for authz_url in order["authorizations"]:
            for challenge in store.challenges_of(resource_id(authz_url)):
                store.mark_client_ready(challenge.id, now)
                store.apply_reply(challenge.id, acceptable=True, incorrect=None, now=now)


@asynccontextmanager
async def running_ca(*faults: str, **changes: Any) -> AsyncIterator[Ca]:
    """The CA with ``faults`` on and an account registered (unless that fault forbids it)."""
    server = ReferenceServer(config(*faults, **changes))
    transport = httpx.ASGITransport(app=server.acme.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        ca = Ca(server, http, cached_key("fault-tests-account", "p256"))
        created = await ca.new_account()
        ca.kid = created.headers.get("Location", "")
        yield ca
        await server.engine.drain(5.0)


async def test_directory_and_account_faults() -> None:
    """keyChange missing (A-DIR-1); 201 without Location or Replay-Nonce (A-ACCT-1, A-NONCE-1)."""
    async with running_ca() as ca:
        assert "keyChange" in (await ca.http.get("directory")).json()
    async with running_ca("directory-without-key-change") as ca:
        assert "keyChange" not in (await ca.http.get("directory")).json()
    async with running_ca("new-account-without-location", "no-replay-nonce-on-success") as ca:
        ca.key = cached_key("fault-tests-second-account", "p256")
        created = await ca.new_account()
        assert created.status_code == 201
        assert "Location" not in created.headers
        assert "Replay-Nonce" not in created.headers


async def test_non_canonical_thumbprint() -> None:
    """The stored thumbprint is not the RFC 7638 one (A-KA-1)."""
    async with running_ca("account-thumbprint-not-canonical") as ca:
        record = ca.server.store.account(resource_id(ca.kid))
        assert record is not None
        assert record.thumbprint != jwk_thumbprint(ca.key)


JwsBend = Callable[[Ca], Any]


async def _json_media(ca: Ca) -> httpx.Response:
    return await ca.post(ca.kid.removeprefix(BASE), None, content_type="application/json")


async def _wrong_url(ca: Ca) -> httpx.Response:
    return await ca.post(ca.kid.removeprefix(BASE), None, url=BASE + "acme/new-order")


async def _reused_nonce(ca: Ca) -> httpx.Response:
    nonce = await ca.nonce()
    await ca.post(ca.kid.removeprefix(BASE), None, nonce=nonce)
    return await ca.post(ca.kid.removeprefix(BASE), None, nonce=nonce)


async def _alg_none(ca: Ca) -> httpx.Response:
    url = ca.kid
    protected = {"alg": "none", "nonce": await ca.nonce(), "url": url, "kid": ca.kid}
    body = {"protected": b64url_encode(encode_json(protected)), "payload": "", "signature": ""}
    return await ca.http.post(url, content=encode_json(body), headers={"Content-Type": JOSE})


async def _jwk_for_kid(ca: Ca) -> httpx.Response:
    payload = {"identifiers": [{"type": "email", "value": ADDRESS}]}
    return await ca.post("acme/new-order", payload, jwk=True)


async def _unprotected_header(ca: Ca) -> httpx.Response:
    url = ca.kid
    protected = {"alg": "ES256", "nonce": await ca.nonce(), "url": url, "kid": ca.kid}
    body = {**sign_flattened(protected, b"", ca.key), "header": {"kid": ca.kid}}
    return await ca.http.post(url, content=encode_json(body), headers={"Content-Type": JOSE})


@pytest.mark.parametrize(
    ("fault", "bend", "status"),
    [
        ("accept-json-content-type", _json_media, 200),
        ("accept-wrong-url", _wrong_url, 200),
        ("accept-bad-nonce", _reused_nonce, 200),
        ("accept-alg-none", _alg_none, 200),
        ("accept-jwk-for-kid", _jwk_for_kid, 201),
        ("bad-jws-is-internal-error", _unprotected_header, 500),
    ],
)
async def test_jws_faults(fault: str, bend: JwsBend, status: int) -> None:
    """A request refused with a 4xx problem is answered ``status`` under the fault."""
    async with running_ca() as ca:
        refused = await bend(ca)
        assert 400 <= refused.status_code < 500, refused.text
    async with running_ca(fault) as ca:
        answered = await bend(ca)
        assert answered.status_code == status, answered.text


async def test_plain_get_serves_resources() -> None:
    """Orders, authorizations and challenges answer a plain GET (A-GET-1)."""
    async with running_ca("plain-get-serves-resources") as ca:
        order = await ca.order()
        authz = await ca.fetch(order["authorizations"][0])
        for url in (order["url"], order["authorizations"][0], authz["challenges"][0]["url"]):
            response = await ca.http.get(url)
            assert response.status_code == 200, response.text
    async with running_ca() as ca:
        order = await ca.order()
        assert (await ca.http.get(order["url"])).status_code == 405


async def test_order_faults() -> None:
    """No ``expires`` in newOrder (A-ORD-1); no rate limit (SEC-8); short token-part1 (TOK-3)."""
    async with running_ca("new-order-without-expires", "no-rate-limit", "token-part1-short",
                          challenge_mails_per_window=1) as ca:  # fmt: skip
        order = await ca.order()
        assert "expires" not in order
        await ca.order()
        authz = await ca.fetch(order["authorizations"][0])
        challenge = ca.server.store.challenge(resource_id(authz["challenges"][0]["url"]), 0)
        assert challenge is not None
        assert challenge.token_part1 is not None
        assert entropy_octets(challenge.token_part1) == 8
    async with running_ca(challenge_mails_per_window=1) as ca:
        await ca.order()
        refused = await ca.post(
            "acme/new-order", {"identifiers": [{"type": "email", "value": ADDRESS}]}
        )
        assert refused.status_code == 429


async def test_valid_resources_lose_members() -> None:
    """Valid authz without expires, challenge without validated, order without it (A-*)."""
    faults = (
        "valid-authz-without-expires",
        "valid-challenge-without-validated",
        "order-drops-valid-authorizations",
    )
    async with running_ca(*faults) as ca:
        order = await ca.order()
        ca.validate(order)
        authz = await ca.fetch(order["authorizations"][0])
        assert authz["status"] == "valid"
        assert "expires" not in authz
        assert "validated" not in authz["challenges"][0]
        assert (await ca.fetch(order["url"]))["authorizations"] == []


async def test_challenge_state_faults() -> None:
    """authz POST triggers (A-CHAL-2); re-POST refused (A-CHAL-4); valid goes back (A-STATE-1)."""
    faults = (
        "authz-post-triggers-challenge",
        "repost-while-processing-refused",
        "valid-challenge-repost-goes-back",
    )
    async with running_ca(*faults) as ca:
        order = await ca.order()
        authz_path = order["authorizations"][0].removeprefix(BASE)
        challenge_url = (await ca.fetch(order["authorizations"][0]))["challenges"][0]["url"]
        assert (await ca.post(authz_path, {})).status_code == 200
        assert (await ca.fetch(challenge_url))["status"] == "processing"
        assert (await ca.post(challenge_url.removeprefix(BASE), {})).status_code == 400
        ca.validate(order)
        again = await ca.post(challenge_url.removeprefix(BASE), {})
        assert again.json()["status"] == "pending"


async def test_deactivation_not_kept() -> None:
    """Deactivation is answered but not stored (A-AUTHZ-2)."""
    async with running_ca("deactivation-not-kept") as ca:
        order = await ca.order()
        url = order["authorizations"][0]
        answered = await ca.post(url.removeprefix(BASE), {"status": "deactivated"})
        assert answered.json()["status"] == "deactivated"
        assert (await ca.fetch(url))["status"] == "pending"


async def _finalize(ca: Ca, order: dict[str, Any], csr: x509.CertificateSigningRequest,
                    *, padded: bool = False) -> httpx.Response:  # fmt: skip
    value = b64url_encode(csr.public_bytes(serialization.Encoding.DER))
    if padded:
        value += "=" * (-len(value) % 4) or "===="
    return await ca.post(order["finalize"].removeprefix(BASE), {"csr": value})


async def _issued(ca: Ca, order: dict[str, Any]) -> tuple[httpx.Response, x509.Certificate]:
    done = await ca.fetch(order["url"])
    response = await ca.post(done["certificate"].removeprefix(BASE), None)
    return response, parse_pem_chain(response.text)[0]


def csr_for(usage: Any, *addresses: str, kind: Any = "p256") -> x509.CertificateSigningRequest:
    """A CSR for ``addresses`` (default: ``ADDRESS``) asking for ``usage``."""
    return build_csr(cached_key(f"fault-tests-csr-{kind}", kind), addresses or (ADDRESS,), usage)


async def test_finalize_faults() -> None:
    """Finalize before ready is not orderNotReady (A-FIN-1); a padded csr is taken (A-HTTPS-1);
    the certificate's media type (A-CERT-1); revoking twice (A-REV-1)."""
    faults = (
        "finalize-before-ready",
        "padded-csr-accepted",
        "certificate-as-x-pem-file",
        "already-revoked-not-reported",
    )
    async with running_ca(*faults) as ca:
        order = await ca.order()
        early = await _finalize(ca, order, csr_for("both"))
        assert early.json()["type"].endswith(":serverInternal"), early.text
        ca.validate(order)
        response = await _finalize(ca, order, csr_for("both"), padded=True)
        assert response.status_code == 200, response.text
        download, cert = await _issued(ca, order)
        assert download.headers["Content-Type"].startswith("application/x-pem-file")
        der = b64url_encode(cert.public_bytes(serialization.Encoding.DER))
        for _ in range(2):
            revoked = await ca.post("acme/revoke-cert", {"certificate": der})
            assert revoked.status_code == 200, revoked.text


@pytest.mark.parametrize(
    ("fault", "usage", "kind", "granted"),
    [
        ("dual-use-for-signing-only", "signing", "p256", {"digitalSignature", "keyAgreement"}),
        ("encryption-bit-for-other-key-type", "encryption", "p256", {"keyEncipherment"}),
        ("encryption-bit-for-other-key-type", "encryption", "rsa2048", {"keyAgreement"}),
    ],
)
async def test_key_usage_faults(fault: str, usage: str, kind: Any, granted: set[str]) -> None:
    """The certificate's keyUsage is wider than asked, or has the wrong encryption bit."""
    async with running_ca(fault) as ca:
        order = await ca.order()
        ca.validate(order)
        response = await _finalize(ca, order, csr_for(usage, kind=kind))
        assert response.status_code == 200, response.text
        _, cert = await _issued(ca, order)
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert key_usage_bits(key_usage) == granted


async def test_certificate_content_faults() -> None:
    """The certificate names an unordered address (CSR-ID-1) and lacks emailProtection (CERT-1)."""
    async with running_ca("issue-for-csr-addresses", "no-email-protection-eku") as ca:
        order = await ca.order()
        ca.validate(order)
        response = await _finalize(ca, order, csr_for("both", ADDRESS, "mallory@other.test"))
        assert response.status_code == 200, response.text
        _, cert = await _issued(ca, order)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "mallory@other.test" in san.get_values_for_type(x509.RFC822Name)
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert x509.oid.ExtendedKeyUsageOID.EMAIL_PROTECTION not in eku
