"""Properties of the response inspector: every freedom accepted, every single fault named alone,
and no input, however broken, makes it raise (RFC 8823 §3.2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from rfc8823.auth.dkim import DkimResult, DkimSignatureResult, dkim_txt_record
from rfc8823.auth.resolver import Resolver
from rfc8823.findings import failures
from rfc8823.messages.response import (
    DEFAULT_DKIM_HEADERS,
    ResponseAuth,
    ResponseReport,
    authenticate_response,
    inspect_response,
)
from rfc8823.requirements import covers
from rfc8823.strategies.response import (
    ResponseCase,
    ResponseWorld,
    Violation,
    conforming_responses,
    single_violations,
)
from rfc8823.world.dns import DnsServer
from rfc8823.world.keys import cached_key

NOT_DECISIVE = frozenset({"RESP-TO-1", "RESP-IRT-1", "RESP-IRT-2", "RESP-DKIM-3", "KA-4"})
"""Rows a client can break while a CA still accepts the reply (client duties only)."""


def ed25519_key(name: str) -> ed25519.Ed25519PrivateKey:
    key = cached_key(name, "ed25519")
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


WORLD = ResponseWorld(
    dkim_key=ed25519_key("rules-response-properties-dkim"),
    selector="prop",
    domains=("mail.test", "xn--bcher-kva.test"),
    third_party="esp.test",
)


@pytest.fixture(scope="module")
def resolver() -> Iterator[Resolver]:
    """The world's DKIM key published at every domain the strategies sign for."""
    with DnsServer(zones=["test"]) as server:
        record = dkim_txt_record(WORLD.dkim_key.public_key())
        for domain in (*WORLD.domains, WORLD.third_party):
            server.records.add(f"{WORLD.selector}._domainkey.{domain}", "TXT", record)
        yield Resolver(server.endpoint, timeout=2.0)


def judged(raw: bytes, case: ResponseCase | Violation, resolver: Resolver) -> ResponseReport:
    auth = authenticate_response(raw, resolver=resolver, peer_ip=None, mail_from=None, helo=None)
    return inspect_response(raw, case.expect, auth)


def shown(raw: bytes, report: ResponseReport) -> str:
    """What a shrunk failure prints: the message and the broken findings."""
    lines = [raw.decode("utf-8", "replace"), *map(str, failures(report.findings))]
    return "\n".join([*lines, f"rejected for {report.rejection_reasons}"])


@given(conforming_responses(WORLD))
@covers("SRV-VAL-1", "RESP-SUBJ-2", "RESP-SUBJ-3", "RESP-SUBJ-4", "RESP-BODY-3", "RESP-BODY-4")
def test_every_conforming_reply_is_accepted_without_failure(
    resolver: Resolver, case: ResponseCase
) -> None:
    """Every freedom §3.2 leaves (prefixes, folds, encodings, wrapping, layout) is accepted."""
    raw = case.builder.build()
    report = judged(raw, case, resolver)
    assert report.acceptable, shown(raw, report)
    assert report.failed_requirements == (), shown(raw, report)
    assert report.authentic


@given(single_violations(WORLD))
@covers("RESP-SUBJ-1", "RESP-FROM-1", "RESP-LIST-1", "RESP-BODY-2", "RESP-DKIM-4", "KA-3")
def test_each_single_violation_fails_on_exactly_its_requirement(
    resolver: Resolver, violation: Violation
) -> None:
    """One broken rule gives findings on that ID alone, and is the only reason to reject."""
    raw = violation.builder.build()
    report = judged(raw, violation, resolver)
    assert report.failed_requirements == (violation.requirement,), shown(raw, report)
    if report.acceptable:
        assert violation.requirement in NOT_DECISIVE | {"RESP-SUBJ-1"}
    else:
        assert report.rejection_reasons == (violation.requirement,), shown(raw, report)
    if violation.requirement in NOT_DECISIVE:
        assert report.acceptable, shown(raw, report)


def synthetic_auth() -> ResponseAuth:
    signature = DkimSignatureResult(
        domain="mail.test",
        selector=WORLD.selector,
        algorithm="ed25519-sha256",
        signed_headers=DEFAULT_DKIM_HEADERS,
        body_length=0,
        result="pass",
        reason="precomputed",
    )
    return ResponseAuth(dkim=DkimResult(signatures=(signature,)))


@given(st.data())
@covers("SRV-VAL-1")
def test_inspection_never_raises_on_arbitrary_bytes(data: st.DataObject) -> None:
    """Any bytes give a report, with or without authentication results."""
    case = data.draw(conforming_responses(WORLD))
    raw = data.draw(st.binary(max_size=3000))
    for auth in (None, synthetic_auth()):
        report = inspect_response(raw, case.expect, auth)
        assert isinstance(report, ResponseReport)


@st.composite
def mutated(draw: st.DrawFn, raw: bytes) -> bytes:
    """The message with a few random deletions, insertions and overwrites."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(("delete", "insert", "overwrite")))
        chunk = draw(st.binary(min_size=1, max_size=20) | st.sampled_from(_INTERESTING))
        if kind == "delete":
            del data[where : where + len(chunk)]
        elif kind == "insert":
            data[where:where] = chunk
        else:
            data[where : where + len(chunk)] = chunk
    return bytes(data)


_INTERESTING = (
    b"\r\n",
    b"\n\n",
    b"\r\n\r\n",
    b"-----BEGIN ACME RESPONSE-----\r\n",
    b"-----END ACME RESPONSE-----\r\n",
    b"Content-Type: multipart/alternative; boundary=x\r\n",
    b"--x\r\n",
    b"=?utf-8?q?",
    b"?=",
    b"List-Id: <l>\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"DKIM-Signature: v=1; l=5; c=bogus;\r\n",
    b"\xff\xfe\x00",
)


@given(st.data())
@covers("SRV-VAL-1")
def test_inspection_never_raises_on_mutated_replies(
    resolver: Resolver, data: st.DataObject
) -> None:
    """Damaged replies, authenticated over real DNS and inspected, give a report."""
    case = data.draw(conforming_responses(WORLD))
    raw = data.draw(mutated(case.builder.build()))
    auth = authenticate_response(
        raw, resolver=resolver, peer_ip="127.0.0.1", mail_from="", helo="mx.test"
    )
    for given_auth in (auth, synthetic_auth(), None):
        report = inspect_response(raw, case.expect, given_auth)
        assert isinstance(report, ResponseReport)
        assert report.acceptable is not bool(report.rejection_reasons)
