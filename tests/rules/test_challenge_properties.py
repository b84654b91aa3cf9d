"""Properties of the challenge inspector: conforming variations pass, each single violation
fails on exactly its rows, and no input makes it raise (RFC 8823 §3.1).
"""

import functools
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rfc8823.auth.resolver import Resolver
from rfc8823.findings import Verdict, by_requirement, failures
from rfc8823.messages.challenge import (
    ChallengeAuth,
    ChallengeEmail,
    ChallengeExpectation,
    authenticate_challenge,
    inspect_challenge,
)
from rfc8823.requirements import covers
from rfc8823.strategies.challenge import (
    CA_DOMAIN,
    ESP_DOMAIN,
    VIOLATED_REQUIREMENTS,
    Deviation,
    conforming_challenges,
    discouraged_choices,
    dkim_key,
    dkim_records,
    single_violations,
    smime_identity,
)
from rfc8823.tokens import b64url_encode
from rfc8823.world.dns import DnsServer
from rfc8823.world.pki import TestPki

Verify = Callable[[bytes], ChallengeAuth]
EXPECT = ChallengeExpectation("alice@mail.example", "acme-challenge@ca.example")


@pytest.fixture(scope="module")
def verify() -> Iterator[Verify]:
    """Real DKIM over the world's DNS and real S/MIME against the test PKI's root."""
    with DnsServer(zones=(CA_DOMAIN, ESP_DOMAIN)) as dns:
        for name, value in dkim_records():
            dns.records.add(name, "TXT", value)
        resolver = Resolver(dns.endpoint)
        anchors = [TestPki.load().trust_anchor_path]
        yield lambda raw: authenticate_challenge(raw, resolver=resolver, trust_anchors=anchors)


def _show(builder: ChallengeEmail, raw: bytes, findings: object) -> str:
    return f"{builder}\n{raw.decode('utf-8', 'replace')}\n{findings}"


@covers("CHAL-SUBJ-1", "CHAL-SUBJ-2", "CHAL-HDR-3", "CHAL-AUTO-3", "CHAL-BODY-1", "CHAL-AUTH-1")
@given(builder=conforming_challenges())
def test_conforming_challenges_pass_everything(verify: Verify, builder: ChallengeEmail) -> None:
    """Every allowed variation, really signed and verified, yields no FAIL and no WARN."""
    raw = builder.build()
    report = inspect_challenge(raw, builder.expectation(), verify(raw))
    broken = failures(report.findings)
    assert broken == [], _show(builder, raw, broken)
    assert [f.verdict for f in by_requirement(report.findings, "CHAL-AUTH-1")] == [Verdict.PASS]
    assert report.token_part1 == builder.token_part1


@given(builder=conforming_challenges())
def test_pure_path_agrees_on_conforming_challenges(builder: ChallengeEmail) -> None:
    """Without verification nothing fails either; CHAL-AUTH-1 is only recorded."""
    raw = builder.build()
    report = inspect_challenge(raw, builder.expectation())
    assert failures(report.findings) == [], _show(builder, raw, failures(report.findings))
    assert [f.verdict for f in by_requirement(report.findings, "CHAL-AUTH-1")] == [Verdict.INFO]


@covers("CHAL-SUBJ-5", "KA-4", "CHAL-HDR-1", "CHAL-HDR-2")
@given(deviation=discouraged_choices())
def test_discouraged_choices_warn_on_one_row(verify: Verify, deviation: Deviation) -> None:
    """Encoded Subjects, padding and display-name addresses give one WARN and nothing else."""
    raw = deviation.builder.build()
    report = inspect_challenge(raw, deviation.builder.expectation(), verify(raw))
    broken = failures(report.findings)
    assert report.failed_ids() == {deviation.requirement}, _show(deviation.builder, raw, broken)
    assert {f.verdict for f in broken} == {Verdict.WARN}


@covers(*sorted(VIOLATED_REQUIREMENTS))
@given(deviation=single_violations())
def test_single_violations_fail_on_exactly_their_rows(verify: Verify, deviation: Deviation) -> None:
    """A challenge that breaks one rule is failed on that rule's ID and on nothing else."""
    raw = deviation.builder.build()
    report = inspect_challenge(raw, deviation.builder.expectation(), verify(raw))
    found = report.failed_ids()
    expected = deviation.expected_failures
    assert found == expected, _show(deviation.builder, raw, failures(report.findings))


@functools.cache
def _samples() -> tuple[bytes, ...]:
    """Real challenges of each shape, built once: plain, folded, decoys, DKIM, S/MIME."""
    token = b64url_encode(bytes(range(32)))
    builder = ChallengeEmail("acme-challenge@ca.example", "alice@mail.example", token)
    identity = smime_identity("acme-challenge@ca.example")
    return (
        builder.build(),
        builder.with_subject_folded()
        .with_decoys()
        .signed_dkim(dkim_key("ed"), selector="ed")
        .build(),
        builder.with_body_alternative("a", "<p>b</p>").signed_smime(identity).build(),
        builder.with_subject_encoded().signed_smime(identity, form="opaque").build(),
    )


@st.composite
def mutated_challenges(draw: st.DrawFn) -> bytes:
    """A real challenge with bytes flipped, cut, inserted, duplicated or line endings changed."""
    raw = bytearray(draw(st.sampled_from(_samples())))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("flip", "cut", "insert", "lf", "truncate", "repeat")))
        position = draw(st.integers(0, max(len(raw) - 1, 0)))
        if kind == "flip" and raw:
            raw[position] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del raw[position : position + draw(st.integers(1, 200))]
        elif kind == "insert":
            raw[position:position] = draw(
                st.sampled_from([b"\r\n", b"\r\n\r\n", b"--", b"=?", b":", b"\x00", b"\xff" * 9])
            )
        elif kind == "lf":
            raw = bytearray(bytes(raw).replace(b"\r\n", b"\n"))
        elif kind == "truncate":
            del raw[position:]
        else:
            raw[position:position] = raw[position : position + draw(st.integers(1, 300))]
    return bytes(raw)


@given(raw=st.binary(max_size=3000))
def test_inspector_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    """Any octets give a report, never an exception."""
    report = inspect_challenge(raw, EXPECT)
    assert report.parsed.raw == raw


@given(raw=mutated_challenges())
def test_inspector_never_raises_on_mutated_challenges(raw: bytes) -> None:
    """Damaged real challenges give a report, never an exception."""
    report = inspect_challenge(raw, EXPECT)
    assert report.findings


@settings(max_examples=25)
@given(raw=mutated_challenges())
def test_authentication_never_raises_on_mutated_challenges(verify: Verify, raw: bytes) -> None:
    """Verification and inspection together survive damaged signed challenges."""
    report = inspect_challenge(raw, EXPECT, verify(raw))
    assert report.findings
