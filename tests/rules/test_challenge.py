"""The challenge email (RFC 8823 §3.1): the builder's defaults conform, and each rule the
inspector judges fails on its own ID when one message breaks it.
"""

from collections.abc import Callable, Iterator
from dataclasses import FrozenInstanceError

import pytest

from rfc8823.auth.dkim import CHALLENGE_RECOMMENDED_HEADERS, CHALLENGE_REQUIRED_HEADERS
from rfc8823.auth.resolver import Resolver
from rfc8823.auth.secure_headers import Canonicalization, FieldStatus, SecureField
from rfc8823.auth.smime import SmimeForm
from rfc8823.findings import Verdict, by_requirement, failures
from rfc8823.messages.challenge import (
    DEFAULT_AUTO_SUBMITTED,
    ChallengeAuth,
    ChallengeEmail,
    ChallengeExpectation,
    ChallengeReport,
    authenticate_challenge,
    inspect_challenge,
)
from rfc8823.messages.mime import leaf, parse_message
from rfc8823.requirements import covers
from rfc8823.strategies.challenge import (
    CA_DOMAIN,
    ESP_DOMAIN,
    dkim_key,
    dkim_records,
    smime_identity,
)
from rfc8823.tokens import b64url_encode
from rfc8823.world.dns import DnsServer
from rfc8823.world.keys import KeyKind, cached_key
from rfc8823.world.pki import TestPki

CHALLENGE_FROM = "acme-generator@ca.example"
IDENTIFIER = "alexey@mail.example"
TOKEN_30 = b64url_encode(bytes(range(30)))
TOKEN_32 = b64url_encode(bytes(range(32)))
RFC_TOKEN = "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME="
ACME4J_SUBJECT = "=?UTF-8?Q?ACME:_LgYemJLy3F1LDki=20JrdIGbEzyFJyOyf=20=206vBdyZ1TG3sME=3D?="
FULL_H = (*CHALLENGE_REQUIRED_HEADERS, *CHALLENGE_RECOMMENDED_HEADERS)

Verify = Callable[[bytes], ChallengeAuth]


@pytest.fixture(scope="module")
def verify() -> Iterator[Verify]:
    """Real DKIM over the world's DNS and real S/MIME against the test PKI's root."""
    with DnsServer(zones=(CA_DOMAIN, ESP_DOMAIN)) as dns:
        for name, value in dkim_records():
            dns.records.add(name, "TXT", value)
        resolver = Resolver(dns.endpoint)
        anchors = [TestPki.load().trust_anchor_path]
        yield lambda raw: authenticate_challenge(raw, resolver=resolver, trust_anchors=anchors)


def base(token: str = TOKEN_30) -> ChallengeEmail:
    return ChallengeEmail(CHALLENGE_FROM, IDENTIFIER, token)


def dkim_signed(builder: ChallengeEmail, headers: tuple[str, ...] | None = None) -> ChallengeEmail:
    return builder.signed_dkim(dkim_key("ed"), selector="ed", headers=headers)


def smime_signed(builder: ChallengeEmail, address: str = CHALLENGE_FROM) -> ChallengeEmail:
    return builder.signed_smime(smime_identity(address))


def judge(
    builder: ChallengeEmail,
    verify: Verify | None = None,
    expect: ChallengeExpectation | None = None,
) -> ChallengeReport:
    raw = builder.build()
    auth = verify(raw) if verify is not None else None
    return inspect_challenge(raw, expect or builder.expectation(), auth)


def assert_clean(report: ChallengeReport) -> None:
    assert failures(report.findings) == [], "\n".join(map(str, failures(report.findings)))


def verdict(report: ChallengeReport, requirement: str) -> Verdict:
    [only] = report.verdicts(requirement)
    return only


@covers(
    "CHAL-SUBJ-1",
    "CHAL-SUBJ-5",
    "TOK-3",
    "TOK-4",
    "CHAL-HDR-1",
    "CHAL-HDR-2",
    "CHAL-HDR-4",
    "CHAL-AUTO-1",
    "CHAL-AUTO-2",
    "CHAL-AUTH-1",
    "CHAL-DKIM-1",
    "CHAL-DKIM-2",
    "CHAL-DKIM-3",
    "REF-6376-1",
)
@pytest.mark.parametrize("selector", ["ed", "rsa"])
def test_default_dkim_challenge_conforms(verify: Verify, selector: str) -> None:
    """The builder's defaults, DKIM-signed with RSA or Ed25519, pass every rule."""
    builder = base().signed_dkim(dkim_key(selector), selector=selector)
    report = judge(builder, verify)
    assert_clean(report)
    for requirement in ("CHAL-SUBJ-1", "TOK-4", "CHAL-AUTH-1", "CHAL-DKIM-1", "CHAL-DKIM-3"):
        assert verdict(report, requirement) is Verdict.PASS
    assert report.token_part1 == TOKEN_30
    assert report.message_id == builder.message_id
    assert report.from_address == CHALLENGE_FROM


@covers("CHAL-AUTH-1", "CHAL-SMIME-1", "CHAL-SMIME-2", "CHAL-BODY-2", "CHAL-BODY-3")
@pytest.mark.parametrize("form", ["multipart-signed", "opaque"])
@pytest.mark.parametrize("key_kind", ["p256", "rsa2048"])
def test_default_smime_challenge_conforms(
    verify: Verify, form: SmimeForm, key_kind: KeyKind
) -> None:
    """S/MIME-signed in either form with header protection, the challenge passes every rule."""
    identity = smime_identity(CHALLENGE_FROM, key_kind=key_kind)
    report = judge(base().signed_smime(identity, form=form), verify)
    assert_clean(report)
    for requirement in ("CHAL-AUTH-1", "CHAL-SMIME-1", "CHAL-SMIME-2", "CHAL-BODY-2"):
        assert verdict(report, requirement) is Verdict.PASS
    assert verdict(report, "CHAL-BODY-3") is Verdict.PASS


@covers("CHAL-AUTH-1", "CHAL-DKIM-3")
def test_dkim_over_smime_both_verify(verify: Verify) -> None:
    """DKIM signs the finished S/MIME message, so both signatures verify."""
    raw = dkim_signed(smime_signed(base())).build()
    assert raw.startswith(b"DKIM-Signature:")
    auth = verify(raw)
    assert auth.dkim is not None
    assert auth.dkim.status == "pass"
    assert auth.smime is not None
    assert auth.smime.status == "pass"
    assert_clean(inspect_challenge(raw, base().expectation(), auth))


def test_default_message_has_the_rfc_shape() -> None:
    """Bare From/To, ``ACME: <token>``, Auto-Submitted, Date, Message-ID, text/plain body."""
    builder = base()
    message = parse_message(builder.build())
    assert message.first("From") == CHALLENGE_FROM
    assert message.first("To") == IDENTIFIER
    assert message.first("Subject") == f"ACME: {TOKEN_30}"
    assert message.first("Auto-Submitted") == DEFAULT_AUTO_SUBMITTED
    assert message.first("Message-ID") == builder.message_id
    assert (builder.message_id or "").endswith(f"@{CA_DOMAIN}>")
    assert message.first("Date") == builder.date
    assert message.first("MIME-Version") == "1.0"
    [part] = message.parts
    assert part.content_type == "text/plain"
    assert IDENTIFIER in (part.text or "")
    assert "ACME:" not in (part.text or "").replace("'ACME:'", "")


def test_builders_are_immutable_and_ids_unique() -> None:
    """Each with_* returns a new builder; every builder gets its own Message-ID."""
    first = base()
    folded = first.with_subject_folded()
    assert first.subject_value() == f"ACME: {TOKEN_30}"
    assert folded.subject_value() != first.subject_value()
    assert folded.message_id == first.message_id
    assert base().message_id != first.message_id
    with pytest.raises(FrozenInstanceError):
        first.to = "x@y.example"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ChallengeEmail(CHALLENGE_FROM, IDENTIFIER, "a+b/"), "with_subject"),
        (lambda: ChallengeEmail(CHALLENGE_FROM, IDENTIFIER, RFC_TOKEN), "with_padding"),
        (lambda: ChallengeEmail(f"CA <{CHALLENGE_FROM}>", IDENTIFIER, TOKEN_30), "bare"),
        (lambda: base(TOKEN_30).with_padding(), "needs no padding"),
        (lambda: base().with_subject("x").with_subject_folded(), "verbatim"),
        (lambda: base().with_subject_encoded().with_subject("x"), "replaces"),
        (lambda: base().with_subject_encoded(encoding="X"), "encoding"),  # type: ignore[arg-type]
        (lambda: base().signed_smime(smime_identity(CHALLENGE_FROM), form="x"), "form"),  # type: ignore[arg-type]
        (lambda: base().without_header("Content-Type"), "body entity"),
        (lambda: base().with_header("MIME-Version", "2.0"), "body entity"),
        (lambda: base().signed_dkim(dkim_key("ed"), selector=""), "selector"),
        (lambda: base().signed_dkim(dkim_key("ed"), selector="ed", headers=()), "h="),
    ],
)
def test_invalid_combinations_raise_early(make: Callable[[], object], message: str) -> None:
    """Builder misuse fails at the call that causes it, saying what to do instead."""
    with pytest.raises(ValueError, match=message):
        make()


def test_wrong_key_types_raise_early() -> None:
    """DKIM needs RSA or Ed25519 (RFC 8463); S/MIME needs RSA or EC."""
    with pytest.raises(TypeError, match="DKIM"):
        base().signed_dkim(cached_key("dkim-p256", "p256"), selector="p")  # type: ignore[arg-type]
    ed_signer = TestPki.load().smime_signer(CHALLENGE_FROM, key_kind="ed25519")
    with pytest.raises(TypeError, match="S/MIME"):
        base().signed_smime(ed_signer)


@covers("CHAL-SUBJ-2", "CHAL-SUBJ-3", "KA-4", "TOK-4")
def test_rfc_example_is_read_with_its_risks() -> None:
    """The §5.1 example: token read with padding kept; padding is a KA-4 risk; not signed."""
    raw = (
        b"Auto-Submitted: auto-generated; type=acme\r\n"
        b"Date: Sat, 5 Dec 2020 10:08:55 +0100\r\n"
        b"Message-ID: <A2299BB.FF7788@example.org>\r\n"
        b"From: acme-generator@example.org\r\n"
        b"To: alexey@example.com\r\n"
        b"Subject: ACME: " + RFC_TOKEN.encode() + b"\r\n"
        b"Content-Type: text/plain\r\n"
        b"MIME-Version: 1.0\r\n\r\n"
        b"This is an automatically generated ACME challenge.\r\n"
    )
    expect = ChallengeExpectation("alexey@example.com", "acme-generator@example.org")
    report = inspect_challenge(raw, expect)
    assert report.token_part1 == RFC_TOKEN
    assert report.message_id == "<A2299BB.FF7788@example.org>"
    assert report.failed_ids() == {"KA-4"}
    assert verdict(report, "KA-4") is Verdict.WARN
    assert verdict(report, "CHAL-AUTH-1") is Verdict.INFO


@covers("CHAL-SUBJ-2", "CHAL-SUBJ-5", "KA-4")
def test_acme4j_encoded_spaced_subject() -> None:
    """acme4j's Q-encoded Subject with spaces inside the token yields the RFC token."""
    report = judge(base().with_subject(ACME4J_SUBJECT))
    assert report.token_part1 == RFC_TOKEN
    assert verdict(report, "CHAL-SUBJ-2") is Verdict.INFO
    assert report.failed_ids() == {"CHAL-SUBJ-5", "KA-4"}


@covers("CHAL-SUBJ-1", "CHAL-SUBJ-2", "REF-5322-1")
@pytest.mark.parametrize("at", [None, [5], [8, 20], [5, 7, 30]])
def test_folded_subject_conforms(verify: Verify, at: list[int] | None) -> None:
    """Folds after the label or inside the token are FWS; receivers drop the white space."""
    report = judge(dkim_signed(base().with_subject_folded(at=at)), verify)
    assert_clean(report)
    assert report.token_part1 == TOKEN_30
    assert verdict(report, "CHAL-SUBJ-2") is Verdict.INFO


@covers("CHAL-SUBJ-4", "CHAL-SUBJ-5", "REF-2047-1", "REF-2231-1")
@pytest.mark.parametrize("charset", ["utf-8", "us-ascii"])
@pytest.mark.parametrize("encoding", ["Q", "B"])
@pytest.mark.parametrize("language", [None, "en"])
def test_encoded_subject_is_only_discouraged(charset: str, encoding: str, language: str) -> None:
    """UTF-8 or US-ASCII encoded-words are allowed (SUBJ-4 passes) but not preferred (SUBJ-5)."""
    builder = base().with_subject_encoded(charset, encoding, language)  # type: ignore[arg-type]
    report = judge(dkim_signed(builder))
    assert report.token_part1 == TOKEN_30
    assert verdict(report, "CHAL-SUBJ-4") is Verdict.PASS
    assert verdict(report, "REF-2047-1") is Verdict.PASS
    assert report.failed_ids() == {"CHAL-SUBJ-5"}


@covers("KA-4", "TOK-3")
@pytest.mark.parametrize(
    ("octets", "agree"), [(16, False), (18, True), (30, True), (32, False), (33, True)]
)
def test_concatenation_readings_recorded(octets: int, agree: bool) -> None:
    """KA-4 records whether string and octet readings agree for the token length (AMB-1)."""
    report = judge(base(b64url_encode(bytes(octets))))
    [finding] = by_requirement(report.findings, "KA-4")
    assert finding.verdict is Verdict.INFO
    assert ("agree" in finding.observed) is agree
    assert verdict(report, "TOK-3") is Verdict.PASS


@covers("KA-4")
def test_concatenation_readings_use_token_part2_when_known() -> None:
    """With the challenge object's token, KA-4 judges the exact pair (tokens.readings_agree)."""
    builder = base(TOKEN_30)
    padded_part2 = ChallengeExpectation(
        IDENTIFIER, CHALLENGE_FROM, token_part2="DGyRejmCefe7v4NfDGDKfA=="
    )
    [finding] = by_requirement(judge(builder, expect=padded_part2).findings, "KA-4")
    assert "differ" in finding.observed
    plain_part2 = ChallengeExpectation(
        IDENTIFIER, CHALLENGE_FROM, token_part2="DGyRejmCefe7v4NfDGDKfA"
    )
    [finding] = by_requirement(judge(builder, expect=plain_part2).findings, "KA-4")
    assert "agree" in finding.observed


@covers("CHAL-HDR-3")
def test_reply_to_and_cc_are_recorded(verify: Verify) -> None:
    """Reply-To and Cc are allowed; the report names the Reply-To replies go to."""
    builder = dkim_signed(base().with_reply_to("replies@ca.example").with_cc("audit@ca.example"))
    report = judge(builder, verify)
    assert_clean(report)
    assert verdict(report, "CHAL-HDR-3") is Verdict.INFO
    assert report.reply_to == "replies@ca.example"


@covers("CHAL-AUTO-1", "CHAL-AUTO-3", "REF-3834-1")
@pytest.mark.parametrize(
    "value",
    [
        "AUTO-GENERATED; type=acme; foo=bar",
        'auto-generated (sent by the CA); TYPE="acme"',
        "auto-generated;\r\n type=acme",
    ],
)
def test_auto_submitted_variants_conform(value: str) -> None:
    """Keyword case, CFWS, quoting and extra parameters are all allowed (RFC 3834 §5)."""
    report = judge(base().with_auto_submitted(value))
    assert report.failed_ids() == frozenset()
    assert verdict(report, "CHAL-AUTO-1") is Verdict.PASS
    assert verdict(report, "CHAL-AUTO-2") is Verdict.PASS


@covers("CHAL-BODY-1", "CHAL-HTML-1")
@pytest.mark.parametrize(
    ("change", "types", "html"),
    [
        (lambda b: b, "text/plain", False),
        (lambda b: b.with_body_html("<p>ACME challenge</p>"), "text/html", True),
        (lambda b: b.with_body_alternative("text", "<p>html</p>"), "text/plain, text/html", True),
        (lambda b: b.with_body_text(""), "text/plain", False),
    ],
)
def test_body_types_are_recorded(
    verify: Verify, change: Callable[[ChallengeEmail], ChallengeEmail], types: str, html: bool
) -> None:
    """Any body type is allowed; the report records it, inside S/MIME too."""
    for builder in (dkim_signed(change(base())), smime_signed(change(base()))):
        report = judge(builder, verify)
        assert_clean(report)
        [body] = by_requirement(report.findings, "CHAL-BODY-1")
        assert body.observed == f"body parts: {types}"
        [shown] = by_requirement(report.findings, "CHAL-HTML-1")
        assert shown.observed == ("a text/html part" if html else "no text/html part")


@covers("CHAL-BODY-1")
def test_decoys_are_flagged_but_allowed(verify: Verify) -> None:
    """A decoy ``ACME:`` line and response block in the body are noted for receivers to ignore."""
    report = judge(dkim_signed(base().with_decoys()), verify)
    assert_clean(report)
    [body] = by_requirement(report.findings, "CHAL-BODY-1")
    assert "'ACME:' line" in body.detail
    assert "response block" in body.detail
    assert report.token_part1 == TOKEN_30


@covers("CHAL-AUTH-1")
def test_without_auth_the_signature_is_not_judged() -> None:
    """The pure path never passes CHAL-AUTH-1: it records that nothing was verified."""
    report = judge(dkim_signed(base()))
    assert verdict(report, "CHAL-AUTH-1") is Verdict.INFO
    assert report.failed_ids() == frozenset()


@covers("CHAL-DKIM-3", "CHAL-AUTH-1")
def test_unaligned_dkim_is_moot_when_smime_authenticates(verify: Verify) -> None:
    """An ESP's DKIM signature beside a valid S/MIME signature is recorded, not failed."""
    esp = dkim_key("rsa", domain=ESP_DOMAIN)
    builder = smime_signed(base()).signed_dkim(esp, selector="rsa", domain=ESP_DOMAIN)
    report = judge(builder, verify)
    assert_clean(report)
    assert verdict(report, "CHAL-DKIM-3") is Verdict.INFO


def _subject(raw: str) -> Callable[[ChallengeEmail], ChallengeEmail]:
    return lambda b: b.with_subject(raw)


def _dkim_h(headers: tuple[str, ...]) -> Callable[[ChallengeEmail], ChallengeEmail]:
    return lambda b: b.unsigned().signed_dkim(dkim_key("ed"), selector="ed", headers=headers)


def _signer(identity_address: str, **kwargs: object) -> Callable[[ChallengeEmail], ChallengeEmail]:
    return lambda b: b.unsigned().signed_smime(smime_identity(identity_address, **kwargs))


def _violation(
    change: Callable[[ChallengeEmail], ChallengeEmail], *failing: str, name: str
) -> object:
    return pytest.param(change, frozenset(failing), id=name, marks=covers(failing[0]))


VIOLATIONS = [
    _violation(_subject(f"ACME:{TOKEN_30}"), "CHAL-SUBJ-1", name="subj1-no-fws"),
    _violation(_subject(f"Re: ACME: {TOKEN_30}"), "CHAL-SUBJ-1", name="subj1-reply-prefix"),
    _violation(_subject(f"acme: {TOKEN_30}"), "CHAL-SUBJ-1", name="subj1-label-case"),
    _violation(_subject("ACME: "), "CHAL-SUBJ-1", name="subj1-no-token"),
    _violation(lambda b: b.without_header("Subject"), "CHAL-SUBJ-1", name="subj1-absent"),
    _violation(
        lambda b: b.with_header("Subject", f"ACME: {TOKEN_32}"),
        "CHAL-SUBJ-1",
        "REF-5322-4",
        name="subj1-twice",
    ),
    _violation(
        lambda b: b.with_subject_encoded("iso-8859-1"),
        "CHAL-SUBJ-4",
        "CHAL-SUBJ-5",
        name="subj4-latin1",
    ),
    _violation(
        lambda b: b.with_subject_encoded("windows-1252", "B", "en"),
        "CHAL-SUBJ-4",
        "CHAL-SUBJ-5",
        name="subj4-cp1252-b",
    ),
    _violation(lambda b: b.with_subject_encoded("us-ascii"), "CHAL-SUBJ-5", name="subj5-encoded"),
    _violation(
        _subject(f"ACME: {TOKEN_30}\u00a0"), "CHAL-SUBJ-5", "TOK-4", name="subj5-raw-8bit-nbsp"
    ),
    _violation(
        lambda b: b.with_subject_encoded(encoding="B", max_word=500),
        "REF-2047-1",
        "CHAL-SUBJ-5",
        name="ref2047-long-word",
    ),
    _violation(_subject("ACME: " + TOKEN_30[:-2] + "+/"), "TOK-4", name="tok4-plus-slash"),
    _violation(_subject("ACME: " + TOKEN_30 + "A"), "TOK-4", name="tok4-impossible-length"),
    _violation(_subject("ACME: " + TOKEN_32[:-1] + "B"), "TOK-4", name="tok4-unused-bits"),
    _violation(_subject("ACME: " + b64url_encode(bytes(15))), "TOK-3", name="tok3-120-bits"),
    _violation(lambda b: b.with_from("other@ca.example"), "CHAL-HDR-1", name="hdr1-other"),
    _violation(
        lambda b: b.with_header("From", CHALLENGE_FROM),
        "CHAL-HDR-1",
        "CHAL-AUTH-1",
        "REF-5322-4",
        name="hdr1-two-fields-dkim-rejects",
    ),
    _violation(
        lambda b: b.with_from(f"{CHALLENGE_FROM}, x@ca.example"),
        "CHAL-HDR-1",
        name="hdr1-two-addresses",
    ),
    _violation(
        lambda b: b.with_from(f"Certificates <{CHALLENGE_FROM}>"),
        "CHAL-HDR-1",
        name="hdr1-display-name-risk",
    ),
    _violation(lambda b: b.with_to("eve@mail.example"), "CHAL-HDR-2", name="hdr2-other"),
    _violation(lambda b: b.without_header("To"), "CHAL-HDR-2", name="hdr2-absent"),
    _violation(
        lambda b: b.with_to(f"Alexey <{IDENTIFIER}>"), "CHAL-HDR-2", name="hdr2-display-name-risk"
    ),
    _violation(lambda b: b.without_header("Message-ID"), "CHAL-HDR-4", name="hdr4-absent"),
    _violation(
        lambda b: b.without_header("Message-ID").with_header("Message-ID", "no-brackets"),
        "CHAL-HDR-4",
        name="hdr4-malformed",
    ),
    _violation(lambda b: b.with_auto_submitted(None), "CHAL-AUTO-1", name="auto1-absent"),
    _violation(lambda b: b.with_auto_submitted("no"), "CHAL-AUTO-1", name="auto1-no"),
    _violation(
        lambda b: b.with_auto_submitted("auto-replied; type=acme"),
        "CHAL-AUTO-1",
        name="auto1-auto-replied",
    ),
    _violation(lambda b: b.with_header("Auto-Submitted", "no"), "CHAL-AUTO-1", name="auto1-twice"),
    _violation(
        lambda b: b.with_auto_submitted("auto-generated"), "CHAL-AUTO-2", name="auto2-no-type"
    ),
    _violation(
        lambda b: b.with_auto_submitted("auto-generated; type=other"),
        "CHAL-AUTO-2",
        name="auto2-other-type",
    ),
    _violation(
        lambda b: b.with_auto_submitted("auto-generated; type=acme; broken"),
        "REF-3834-1",
        name="ref3834-bad-parameter",
    ),
    _violation(lambda b: b.unsigned(), "CHAL-AUTH-1", name="auth1-unsigned"),
    _violation(
        _dkim_h(tuple(n for n in FULL_H if n != "auto-submitted")),
        "CHAL-DKIM-1",
        name="dkim1-no-auto-submitted",
    ),
    _violation(
        _dkim_h(tuple(n for n in FULL_H if n != "subject")), "CHAL-DKIM-1", name="dkim1-no-subject"
    ),
    _violation(
        _dkim_h(("from", "to", "subject", "date", "message-id", "auto-submitted")),
        "CHAL-DKIM-1",
        "CHAL-DKIM-2",
        name="dkim1-acme-email-list",
    ),
    _violation(_dkim_h(CHALLENGE_REQUIRED_HEADERS), "CHAL-DKIM-2", name="dkim2-required-only"),
    _violation(
        lambda b: b.unsigned().signed_dkim(
            dkim_key("ed", domain=ESP_DOMAIN), selector="ed", domain=ESP_DOMAIN
        ),
        "CHAL-DKIM-3",
        name="dkim3-esp-domain",
    ),
    _violation(
        _dkim_h(tuple(n for n in FULL_H if n != "from")),
        "REF-6376-1",
        "CHAL-AUTH-1",
        name="ref6376-no-from",
    ),
    _violation(_signer("someone@ca.example"), "CHAL-SMIME-1", name="smime1-other-san"),
    _violation(
        lambda b: b.unsigned().signed_smime(TestPki.load().smime_signer(CHALLENGE_FROM, san=[])),
        "CHAL-SMIME-1",
        name="smime1-no-san",
    ),
    _violation(
        _signer(CHALLENGE_FROM, ca="untrusted"),
        "CHAL-SMIME-2",
        "CHAL-AUTH-1",
        name="smime2-untrusted",
    ),
    _violation(
        _signer(CHALLENGE_FROM, expired=True), "CHAL-SMIME-2", "CHAL-AUTH-1", name="smime2-expired"
    ),
    _violation(
        lambda b: b.unsigned().signed_smime(
            smime_identity(CHALLENGE_FROM), legacy_media_types=True
        ),
        "CHAL-BODY-2",
        name="body2-legacy-x-types",
    ),
    _violation(
        lambda b: b.unsigned().signed_smime(
            smime_identity(CHALLENGE_FROM), header_protection="none"
        ),
        "CHAL-BODY-3",
        name="body3-unprotected",
    ),
    _violation(
        lambda b: b.unsigned().signed_smime(
            smime_identity(CHALLENGE_FROM), form="opaque", header_protection="none"
        ),
        "CHAL-BODY-3",
        name="body3-unprotected-opaque",
    ),
    _violation(
        lambda b: b.unsigned().signed_smime(
            smime_identity(CHALLENGE_FROM),
            header_protection="rfc7508",
            secure_fields=[SecureField("From", CHALLENGE_FROM), SecureField("To", IDENTIFIER)],
        ),
        "CHAL-BODY-3",
        name="body3-rfc7508-without-subject",
    ),
    _violation(lambda b: b.with_header("X-Note", "x" * 999), "REF-5322-1", name="ref5322-long"),
]


@pytest.mark.parametrize(("change", "failing"), VIOLATIONS)
def test_each_violation_fails_on_its_id(
    verify: Verify, change: Callable[[ChallengeEmail], ChallengeEmail], failing: frozenset[str]
) -> None:
    """A DKIM-signed conforming challenge changed in one way breaks exactly the rows named."""
    report = judge(change(dkim_signed(base())), verify)
    assert report.failed_ids() == failing, "\n".join(map(str, failures(report.findings)))


@covers("CHAL-BODY-3")
@pytest.mark.parametrize("field", ["Subject", "From", "To"])
def test_tampered_outer_header_breaks_protection(verify: Verify, field: str) -> None:
    """Changing an outer field after signing no longer matches the protected copy (AMB-8)."""
    raw = smime_signed(base()).build()
    head, _, body = raw.partition(b"\r\n\r\n")
    original = {"Subject": f"ACME: {TOKEN_30}", "From": CHALLENGE_FROM, "To": IDENTIFIER}[field]
    changed = {"Subject": f"ACME: {TOKEN_32}", "From": "ca@ca.example", "To": "eve@mail.example"}
    line = f"{field}: {original}".encode()
    tampered = head.replace(line, f"{field}: {changed[field]}".encode(), 1) + b"\r\n\r\n" + body
    assert tampered != raw
    report = inspect_challenge(tampered, base().expectation(), verify(tampered))
    assert "CHAL-BODY-3" in report.failed_ids()
    assert verdict(report, "CHAL-BODY-3") is Verdict.FAIL


@covers("CHAL-BODY-3", "REF-7508-1")
@pytest.mark.parametrize("form", ["multipart-signed", "opaque"])
@pytest.mark.parametrize("canonicalization", ["simple", "relaxed"])
def test_rfc7508_protected_challenge_conforms(
    verify: Verify, form: SmimeForm, canonicalization: Canonicalization
) -> None:
    """An RFC 7508 SecureHeaderFields attribute is header protection too (AMB-8): PASS, and
    the mechanism is recorded as INFO on REF-7508-1."""
    builder = base().signed_smime(
        smime_identity(CHALLENGE_FROM),
        form=form,
        header_protection="rfc7508",
        canonicalization=canonicalization,
    )
    for report in (judge(builder, verify), judge(builder)):
        assert_clean(report)
        assert verdict(report, "CHAL-BODY-3") is Verdict.PASS
        assert verdict(report, "REF-7508-1") is Verdict.INFO
        assert report.verdicts("REF-8551-1") == ()
    wrapped = judge(smime_signed(base()), verify)
    assert verdict(wrapped, "REF-8551-1") is Verdict.INFO
    assert wrapped.verdicts("REF-7508-1") == ()


def _outer_changed(raw: bytes, field: str, value: str | None) -> bytes:
    """``raw`` with the outer ``field`` written as ``value`` (None: left out) after signing."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.startswith(f"{field}:".encode())]
    if value is not None:
        lines.append(f"{field}: {value}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@covers("CHAL-BODY-3", "REF-7508-1")
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Subject", f"ACME: {TOKEN_32}"),
        ("From", "ca@ca.example"),
        ("To", "eve@mail.example"),
        ("Subject", None),
    ],
)
def test_rfc7508_outer_change_fails_naming_the_field(
    verify: Verify, field: str, value: str | None
) -> None:
    """An outer From, To or Subject that no longer shows the protected one is a FAIL naming it."""
    builder = base().signed_smime(smime_identity(CHALLENGE_FROM), header_protection="rfc7508")
    tampered = _outer_changed(builder.build(), field, value)
    report = inspect_challenge(tampered, base().expectation(), verify(tampered))
    [finding] = [f for f in report.findings if f.requirement == "CHAL-BODY-3"]
    assert finding.verdict is Verdict.FAIL
    assert f"RFC 7508: protected {field}" in finding.observed or f"{field} [" in finding.observed


@covers("CHAL-BODY-3", "REF-7508-1")
def test_rfc7508_attribute_that_leaves_out_a_field_fails(verify: Verify) -> None:
    """A required field left out of the attribute leaves the outer one unprotected:
    CHAL-BODY-3 FAIL naming the field."""
    written = dict(base().header_fields())
    listed = [SecureField(name, written[name]) for name in ("From", "To")]
    builder = base().signed_smime(
        smime_identity(CHALLENGE_FROM), header_protection="rfc7508", secure_fields=listed
    )
    report = judge(builder, verify)
    assert report.failed_ids() == {"CHAL-BODY-3"}
    [finding] = [f for f in report.findings if f.requirement == "CHAL-BODY-3"]
    assert "Subject [" in finding.observed


@covers("CHAL-BODY-3", "REF-7508-1")
@pytest.mark.parametrize("status", ["deleted", "modified"])
@pytest.mark.parametrize("same", [True, False], ids=["outer-shows-it", "outer-differs"])
def test_rfc7508_deleted_or_modified_field_is_compared_like_any(
    verify: Verify, status: FieldStatus, same: bool
) -> None:
    """A field declared deleted or modified (RFC 7508 §4.4) in a signed, unencrypted
    challenge: PASS while the outer header shows the protected value, FAIL naming the status
    once it does not (§4.5.2)."""
    written = dict(base().header_fields())
    subject = written["Subject"] if same else f"ACME: {TOKEN_32}"
    listed = [
        SecureField("From", written["From"]),
        SecureField("To", written["To"], status),
        SecureField("Subject", subject, status),
    ]
    builder = base().signed_smime(
        smime_identity(CHALLENGE_FROM), header_protection="rfc7508", secure_fields=listed
    )
    report = judge(builder, verify)
    [finding] = [f for f in report.findings if f.requirement == "CHAL-BODY-3"]
    if same:
        assert finding.verdict is Verdict.PASS, finding.observed
        return
    assert report.failed_ids() == {"CHAL-BODY-3"}
    assert "outer Subject" in finding.observed
    assert f"declared {status}" in finding.observed


@covers("CHAL-BODY-3", "REF-8551-1", "REF-7508-1")
def test_both_mechanisms_must_agree_with_the_outer_header(verify: Verify) -> None:
    """A wrapped message/rfc822 body under an RFC 7508 signature: each is compared (AMB-8)."""
    inner = base(TOKEN_32).build()
    builder = base().with_body(leaf("message/rfc822", inner, transfer_encoding="7bit"))
    signed = builder.signed_smime(smime_identity(CHALLENGE_FROM), header_protection="rfc7508")
    report = judge(signed, verify)
    [finding] = [f for f in report.findings if f.requirement == "CHAL-BODY-3"]
    assert finding.verdict is Verdict.FAIL
    assert finding.observed.startswith("RFC 8551: outer Subject")
    assert "RFC 7508" not in finding.observed
    assert verdict(report, "REF-8551-1") is Verdict.INFO
    assert verdict(report, "REF-7508-1") is Verdict.INFO
    agreeing = base().with_body(leaf("message/rfc822", base().build(), transfer_encoding="7bit"))
    both = agreeing.signed_smime(smime_identity(CHALLENGE_FROM), header_protection="rfc7508")
    assert verdict(judge(both, verify), "CHAL-BODY-3") is Verdict.PASS


def test_builder_refuses_unknown_protection_choices() -> None:
    """Invalid S/MIME header-protection choices fail when the builder is called."""
    identity = smime_identity(CHALLENGE_FROM)
    with pytest.raises(ValueError, match="header_protection"):
        base().signed_smime(identity, header_protection="rfc9788")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="canonicalization"):
        base().signed_smime(identity, canonicalization="loose")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="secure_fields"):
        base().signed_smime(identity, secure_fields=[SecureField("To", IDENTIFIER)])


@covers("CHAL-DKIM-1", "CHAL-DKIM-2", "CHAL-DKIM-3", "CHAL-BODY-2", "CHAL-BODY-3")
def test_static_rules_are_judged_without_auth() -> None:
    """``h=``, ``d=``, the S/MIME form and multipart/signed protection need no verification."""
    no_subject = dkim_signed(base(), tuple(n for n in FULL_H if n != "subject"))
    assert judge(no_subject).failed_ids() == {"CHAL-DKIM-1"}
    esp = base().signed_dkim(dkim_key("ed", domain=ESP_DOMAIN), selector="ed", domain=ESP_DOMAIN)
    assert judge(esp).failed_ids() == {"CHAL-DKIM-3"}
    unprotected = base().signed_smime(smime_identity(CHALLENGE_FROM), header_protection="none")
    assert judge(unprotected).failed_ids() == {"CHAL-BODY-3"}
    legacy = base().signed_smime(smime_identity(CHALLENGE_FROM), legacy_media_types=True)
    assert judge(legacy).failed_ids() == {"CHAL-BODY-2"}
    opaque = base().signed_smime(smime_identity(CHALLENGE_FROM), form="opaque")
    opaque_report = judge(opaque)
    assert opaque_report.failed_ids() == frozenset()
    assert verdict(opaque_report, "CHAL-BODY-3") is Verdict.INFO


@covers("CHAL-OBJ-3", "CHAL-HDR-1")
def test_challenge_object_from_must_be_bare() -> None:
    """A display-name ``from`` in the challenge object is flagged even if the address matches."""
    expect = ChallengeExpectation(IDENTIFIER, f"ACME CA <{CHALLENGE_FROM}>")
    report = judge(base(), expect=expect)
    assert report.failed_ids() == {"CHAL-OBJ-3"}
    assert verdict(report, "CHAL-HDR-1") is Verdict.PASS


@covers("CHAL-HDR-1")
def test_unknown_challenge_from_is_recorded() -> None:
    """Without the challenge object's ``from``, CHAL-HDR-1 is only recorded."""
    report = judge(base(), expect=ChallengeExpectation(IDENTIFIER))
    assert verdict(report, "CHAL-HDR-1") is Verdict.INFO


@covers("CHAL-HDR-1", "CHAL-HDR-2")
def test_address_comparison_ignores_domain_case() -> None:
    """Domains compare case-insensitively; local parts exactly (I18N-5)."""
    upper_domain = base().with_from("acme-generator@CA.Example").with_to("alexey@MAIL.example")
    assert judge(upper_domain).failed_ids() == frozenset()
    upper_local = base().with_to("Alexey@mail.example")
    assert judge(upper_local).failed_ids() == {"CHAL-HDR-2"}


def test_default_body_of_an_eai_challenge_is_utf8() -> None:
    """An internationalized address in the default body is sent as UTF-8, not refused (I18N-4)."""
    raw = ChallengeEmail("acme-challenge@ca.test", "üser@example.test", "A" * 24).build()
    part = parse_message(raw).parts[0]
    assert part.charset == "utf-8"
    assert part.text is not None
    assert "üser@example.test" in part.text
