"""The response email of RFC 8823 §3.2: the builder, the inspector, and the CA's decision."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from rfc8823.auth.dkim import (
    RESPONSE_REQUIRED_HEADERS,
    DkimResult,
    DkimSignatureResult,
    dkim_txt_record,
)
from rfc8823.auth.resolver import Resolver
from rfc8823.findings import Verdict, by_requirement
from rfc8823.messages.headers import parse_acme_subject
from rfc8823.messages.mime import parse_message
from rfc8823.messages.response import (
    BEGIN_MARKER,
    DEFAULT_DKIM_HEADERS,
    END_MARKER,
    ResponseAuth,
    ResponseEmail,
    ResponseExpectation,
    ResponseReport,
    authenticate_response,
    inspect_response,
)
from rfc8823.requirements import covers
from rfc8823.tokens import Concatenation, b64url_encode, key_authorization, response_digest
from rfc8823.world.dns import DnsServer
from rfc8823.world.keys import cached_key
from rfc8823.world.pki import TestPki

IDENTIFIER = "alexey@mail.test"
DOMAIN = "mail.test"
SELECTOR = "sel"
TOKEN_PART1 = "LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME="
TOKEN_PART2 = "DGyRejmCefe7v4NfDGDKfA"
THUMBPRINT = "1_nKJnlH9boVxdoO63T8zP7O2w42qZL4d6xj35Hy5aI"
OTHER_THUMBPRINT = "hC4xyXNn8ZDH4yrcp93Zj3qgQs7LyT_GUL45YD7IVMQ"
DIGEST_STRING = "AjXW0h9_4YMP6Sv-9tKQNUrapI0us7ayBn0nCGOkUsk"
DIGEST_STRING_UNPADDED = "aeF6_NPRTqHBh0L1_wlbKFwocQfQb1S5_ZJZS3_iKlI"
DIGEST_OCTETS = "xyC6Z01DHFuV0pZgacdI2xN9nIKkPSARDv1gLbxY8Xk"
CHALLENGE_ID = "<A2299BB.FF7788@example.org>"
CHALLENGE = (
    b"Auto-Submitted: auto-generated; type=acme\r\n"
    b"Date: Sat, 5 Dec 2020 10:08:55 +0100\r\n"
    b"Message-ID: <A2299BB.FF7788@example.org>\r\n"
    b"From: acme-generator@example.org\r\n"
    b"To: Alexey <alexey@mail.test>\r\n"
    b"Reply-To: acme-validator@example.org\r\n"
    b"Subject: =?UTF-8?Q?ACME:_LgYemJLy3F1LDki=20JrdIGbEzyFJyOyf=20=206vBdyZ1TG3sME=3D?=\r\n"
    b"Content-Type: text/plain\r\n"
    b"MIME-Version: 1.0\r\n"
    b"\r\n"
    b"This is an automatically generated ACME challenge for alexey@mail.test.\r\n"
)
EXPECT = ResponseExpectation(
    identifier=IDENTIFIER,
    challenge_from="acme-generator@example.org",
    challenge_reply_to="acme-validator@example.org",
    token_part1=TOKEN_PART1,
    token_part2=TOKEN_PART2,
    thumbprint=THUMBPRINT,
    challenge_message_id=CHALLENGE_ID,
)
LIST_FIELDS = (
    "List-Id",
    "List-Post",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Help",
    "List-Subscribe",
    "List-Owner",
    "List-Archive",
)
NOT_DECISIVE = frozenset({"RESP-TO-1", "RESP-IRT-1", "RESP-IRT-2", "RESP-DKIM-3", "KA-4"})


def ed25519_key(name: str) -> ed25519.Ed25519PrivateKey:
    key = cached_key(name, "ed25519")
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


def rsa_key(name: str) -> rsa.RSAPrivateKey:
    key = cached_key(name, "rsa2048")
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


KEY = ed25519_key("rules-response-dkim")
RSA_KEY = rsa_key("rules-response-dkim-rsa")


@pytest.fixture(scope="module")
def resolver() -> Iterator[Resolver]:
    """Real DNS for the module: DKIM keys, SPF and DMARC for the identifier's domain."""
    with DnsServer(zones=["test"]) as server:
        records = server.records
        for domain in (DOMAIN, "sub.mail.test", "test", "esp.test"):
            records.add(f"{SELECTOR}._domainkey.{domain}", "TXT", dkim_txt_record(KEY.public_key()))
        records.add(f"rsa._domainkey.{DOMAIN}", "TXT", dkim_txt_record(RSA_KEY.public_key()))
        records.add(DOMAIN, "TXT", "v=spf1 ip4:127.0.0.1 -all")
        records.add(f"_dmarc.{DOMAIN}", "TXT", "v=DMARC1; p=reject")
        yield Resolver(server.endpoint, timeout=2.0)


def reply() -> ResponseEmail:
    """The conforming reply to CHALLENGE, not yet signed."""
    return ResponseEmail.answering(
        CHALLENGE, identifier=IDENTIFIER, thumbprint=THUMBPRINT, token_part2=TOKEN_PART2
    )


def signed(builder: ResponseEmail, **options: object) -> ResponseEmail:
    return builder.signed_dkim(KEY, selector=SELECTOR, **options)  # type: ignore[arg-type]


def judged(
    builder: ResponseEmail,
    resolver: Resolver,
    expect: ResponseExpectation = EXPECT,
    **session: str,
) -> ResponseReport:
    """Build, authenticate over real DNS, and inspect a response."""
    raw = builder.build()
    auth = authenticate_response(
        raw,
        resolver=resolver,
        peer_ip=session.get("peer_ip"),
        mail_from=session.get("mail_from"),
        helo=session.get("helo"),
    )
    return inspect_response(raw, expect, auth)


def verdicts(report: ResponseReport, requirement: str) -> set[Verdict]:
    return {finding.verdict for finding in by_requirement(report.findings, requirement)}


def assert_clean(report: ResponseReport) -> None:
    assert report.acceptable, [str(f) for f in report.findings]
    assert report.failed_requirements == (), [str(f) for f in report.findings]
    assert report.rejection_reasons == ()


def assert_fails_only(report: ResponseReport, requirement: str) -> None:
    """The report breaks exactly ``requirement``; a CA rejects it for that alone if at all."""
    assert report.failed_requirements == (requirement,), [str(f) for f in report.findings]
    if requirement in NOT_DECISIVE:
        assert report.acceptable
    else:
        assert not report.acceptable
        assert report.rejection_reasons == (requirement,)


@covers("RESP-TO-1", "RESP-SUBJ-1", "RESP-IRT-1", "RESP-IRT-2", "KA-1", "KA-2")
def test_answering_builds_the_reply_section_3_2_describes() -> None:
    """From the identifier, To the Reply-To, Re: Subject, threading, and acme4j's digest (V1)."""
    builder = reply()
    assert (builder.from_addr, builder.to) == (IDENTIFIER, "acme-validator@example.org")
    assert (builder.in_reply_to, builder.references) == (CHALLENGE_ID, CHALLENGE_ID)
    assert builder.digest == DIGEST_STRING
    message = parse_message(builder.build())
    assert message.first("Subject") == f"Re: ACME: {TOKEN_PART1}"
    assert message.first("In-Reply-To") == CHALLENGE_ID
    assert message.content_type == "text/plain"
    assert message.first("Content-Transfer-Encoding") == "7bit"
    assert message.first("Auto-Submitted") is None
    assert message.parts[0].text == f"{BEGIN_MARKER}\r\n{DIGEST_STRING}\r\n{END_MARKER}\r\n"


def test_answering_without_reply_to_writes_to_the_challenge_from() -> None:
    """No Reply-To in the challenge: To is its From (RESP-TO-1)."""
    challenge = CHALLENGE.replace(b"Reply-To: acme-validator@example.org\r\n", b"")
    builder = ResponseEmail.answering(
        challenge, identifier=IDENTIFIER, thumbprint=THUMBPRINT, token_part2=TOKEN_PART2
    )
    assert builder.to == "acme-generator@example.org"
    expect = ResponseExpectation.for_challenge(
        challenge, identifier=IDENTIFIER, token_part2=TOKEN_PART2, thumbprint=THUMBPRINT
    )
    assert expect.challenge_reply_to is None
    assert expect.token_part1 == TOKEN_PART1


def test_answering_refuses_a_challenge_without_token() -> None:
    """A builder fails early when the challenge Subject carries no token-part1."""
    with pytest.raises(ValueError, match="token-part1"):
        ResponseEmail.answering(
            CHALLENGE.replace(b"Subject: =?UTF-8?Q?ACME:", b"Subject: =?UTF-8?Q?Hello:"),
            identifier=IDENTIFIER,
            thumbprint=THUMBPRINT,
            token_part2=TOKEN_PART2,
        )


@covers("RESP-DKIM-1", "RESP-DKIM-2", "RESP-DKIM-3", "RESP-DKIM-4", "RESP-DKIM-5", "SRV-VAL-1")
def test_the_conforming_reply_is_accepted_with_no_failure(resolver: Resolver) -> None:
    """A DKIM-signed reply built by ``answering`` passes every row and is acceptable."""
    report = judged(signed(reply()), resolver)
    assert_clean(report)
    assert report.authentic
    assert report.reading is Concatenation.STRING
    assert report.digests_found == (DIGEST_STRING,)
    assert report.token_part1_seen == TOKEN_PART1
    for requirement in ("RESP-FROM-1", "RESP-BODY-2", "RESP-DKIM-1", "RESP-DKIM-4", "KA-3"):
        assert verdicts(report, requirement) == {Verdict.PASS}, requirement


@covers("RESP-SUBJ-1", "RESP-BODY-2", "RESP-BODY-3", "KA-3")
def test_the_rfc_example_shape_is_accepted(resolver: Resolver) -> None:
    """catalog §5.1: ``RE:`` prefix, padded digest split over two lines
    (docs/decisions.md#decision-3)."""
    builder = reply().with_subject_prefix("RE: ").with_padded_digest()
    builder = builder.with_digest_wrapped(positions=[35])
    raw = signed(builder).build()
    assert (
        b"\r\n" + DIGEST_STRING[:35].encode() + b"\r\n" + DIGEST_STRING[35:].encode() + b"=\r\n"
        in raw
    )
    report = judged(signed(builder), resolver)
    assert_clean(report)
    assert Verdict.INFO in verdicts(report, "RESP-BODY-3")
    assert Verdict.INFO in verdicts(report, "KA-3")
    assert report.digests_found == (DIGEST_STRING + "=",)


@pytest.mark.parametrize(
    ("reading", "digest"),
    [
        (Concatenation.OCTETS, DIGEST_OCTETS),
        (Concatenation.STRING_UNPADDED, DIGEST_STRING_UNPADDED),
    ],
)
@covers("KA-4")
def test_other_readings_are_accepted_with_an_interop_warning(
    resolver: Resolver, reading: Concatenation, digest: str
) -> None:
    """The CA accepts every reading (docs/decisions.md#decision-2); the client gets WARN where they
    differ."""
    builder = ResponseEmail.answering(
        CHALLENGE,
        identifier=IDENTIFIER,
        thumbprint=THUMBPRINT,
        token_part2=TOKEN_PART2,
        reading=reading,
    )
    assert builder.digest == digest
    report = judged(signed(builder), resolver)
    assert_fails_only(report, "KA-4")
    assert report.reading is reading
    assert verdicts(report, "KA-4") == {Verdict.INFO, Verdict.WARN}


@covers("KA-4")
def test_readings_that_agree_give_no_warning(resolver: Resolver) -> None:
    """A token-part1 of 18 octets, unpadded: every reading gives one digest (AMB-1, V6)."""
    part1 = b64url_encode(bytes(range(18)))
    expect = ResponseExpectation(
        IDENTIFIER, "ca@example.org", None, part1, TOKEN_PART2, THUMBPRINT, None
    )
    digests = {reading: expect.digests[reading] for reading in Concatenation}
    assert len(set(digests.values())) == 1
    digest = b64url_encode(digests[Concatenation.OCTETS])
    builder = ResponseEmail(IDENTIFIER, "ca@example.org", part1, digest)
    report = judged(signed(builder), resolver, expect)
    assert_clean(report)
    assert report.reading is Concatenation.STRING


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: b.with_subject_prefix(""), id="no-prefix"),
        pytest.param(lambda b: b.with_subject_prefix("AW: "), id="AW"),
        pytest.param(lambda b: b.with_subject_prefix("Re: Re: "), id="Re-Re"),
        pytest.param(lambda b: b.with_subject_prefix("[EXT] Re: "), id="tagged"),
        pytest.param(lambda b: b.with_subject_prefix("Fwd: "), id="forward"),
    ],
)
@covers("RESP-SUBJ-3")
def test_any_prefix_before_the_label_is_ignored(
    resolver: Resolver, change: Callable[[ResponseEmail], ResponseEmail]
) -> None:
    """Whatever precedes ``ACME:`` is recorded (INFO) and ignored (§3.2 (1))."""
    report = judged(signed(change(reply())), resolver)
    assert_clean(report)
    assert verdicts(report, "RESP-SUBJ-3") <= {Verdict.INFO}


@pytest.mark.parametrize(
    ("charset", "encoding", "language"),
    [("utf-8", "Q", None), ("UTF-8", "B", None), ("us-ascii", "Q", "en"), ("utf-8", "B", "de")],
)
@covers("RESP-SUBJ-2")
def test_encoded_word_subjects_are_decoded(
    resolver: Resolver, charset: str, encoding: str, language: str | None
) -> None:
    """RFC 2047 (and RFC 2231 language) Subjects are decoded before matching
    (docs/decisions.md#decision-6)."""
    builder = reply().with_subject_encoded(charset, encoding, language, split_at=[7, 20])  # type: ignore[arg-type]
    assert builder.subject().startswith("=?")
    report = judged(signed(builder), resolver)
    assert_clean(report)
    assert verdicts(report, "RESP-SUBJ-2") == {Verdict.INFO}


@pytest.mark.parametrize("at", [0, 1, 22, 43])
@covers("RESP-SUBJ-4")
def test_folds_inside_the_subject_token_are_ignored(resolver: Resolver, at: int) -> None:
    """A Subject folded inside token-part1 still carries the token (§3.2 (1) with §3.1 (1))."""
    builder = reply().with_subject_folded(at)
    assert "\r\n " in builder.subject()
    report = judged(signed(builder), resolver)
    assert_clean(report)
    assert report.token_part1_seen == TOKEN_PART1


@covers("RESP-SUBJ-1", "RESP-SUBJ-4")
def test_token_padding_in_the_subject_is_compared_as_octets(resolver: Resolver) -> None:
    """A Subject token without the challenge's ``=`` still matches (docs/decisions.md#decision-3),
    with INFO."""
    report = judged(signed(reply().with_subject(f"Re: ACME: {TOKEN_PART1.rstrip('=')}")), resolver)
    assert_clean(report)
    assert Verdict.INFO in verdicts(report, "RESP-SUBJ-1")


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("Re: ACME: AAAAAAAAAAAAAAAAAAAAAA", id="other-token"),
        pytest.param(f"Re: {TOKEN_PART1}", id="no-label"),
        pytest.param(f"Re: acme: {TOKEN_PART1}", id="label-case"),
        pytest.param(f"Re: ACME: {TOKEN_PART1} extra", id="trailing-text"),
    ],
)
@covers("RESP-SUBJ-1")
def test_a_subject_without_this_token_is_rejected(resolver: Resolver, subject: str) -> None:
    """Another token, or none, in the Subject fails and is not validated (SRV-VAL-5)."""
    assert_fails_only(judged(signed(reply().with_subject(subject)), resolver), "RESP-SUBJ-1")


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(f"Re: ACME:{TOKEN_PART1}", id="no-space-after-label"),
        pytest.param(f"=?utf-8?B?0J7RgtCy0LXRgjo=?= ACME: {TOKEN_PART1}", id="non-ascii-prefix"),
    ],
)
@covers("RESP-SUBJ-1")
def test_a_malformed_subject_carrying_the_token_fails_but_is_accepted(
    resolver: Resolver, subject: str
) -> None:
    """The client broke the Subject syntax, yet the token is there, so a CA may accept."""
    report = judged(signed(reply().with_subject(subject)), resolver)
    assert report.failed_requirements == ("RESP-SUBJ-1",)
    assert report.acceptable


@pytest.mark.parametrize(
    "sender",
    [
        "mallory@mail.test",
        "Alexey@mail.test",
        "alexey@sub.mail.test",
        "alexey@mail.test, x@mail.test",
    ],
)
@covers("RESP-FROM-1")
def test_a_reply_from_another_address_is_rejected(resolver: Resolver, sender: str) -> None:
    """From must be the identifier; local parts compare exactly (I18N-5), domains as A-labels."""
    builder = signed(reply().with_from(sender), domain=DOMAIN if "," in sender else None)
    assert_fails_only(judged(builder, resolver), "RESP-FROM-1")


@covers("RESP-FROM-1")
def test_from_with_display_name_and_domain_case_matches(resolver: Resolver) -> None:
    """A display name and an upper-case domain still name the identifier (I18N-5)."""
    assert_clean(judged(signed(reply().with_from("Alexey M. <alexey@MAIL.test>")), resolver))


@pytest.mark.parametrize("to", ["acme-generator@example.org", "someone@example.org"])
@covers("RESP-TO-1")
def test_to_must_be_the_challenge_reply_to(resolver: Resolver, to: str) -> None:
    """With a Reply-To, writing to the challenge From (or elsewhere) breaks RESP-TO-1."""
    assert_fails_only(judged(signed(reply().with_to(to)), resolver), "RESP-TO-1")


@covers("RESP-CC-1")
def test_cc_is_recorded_and_ignored(resolver: Resolver) -> None:
    """A Cc field neither helps nor harms (§3.2 (4))."""
    report = judged(signed(reply().with_cc("other@example.net")), resolver)
    assert_clean(report)
    assert verdicts(report, "RESP-CC-1") == {Verdict.INFO}


@pytest.mark.parametrize(
    ("requirement", "change"),
    [
        ("RESP-IRT-1", lambda b: b.with_in_reply_to(None)),
        ("RESP-IRT-1", lambda b: b.with_in_reply_to("<other@example.org>")),
        ("RESP-IRT-1", lambda b: b.with_in_reply_to("A2299BB.FF7788@example.org")),
        ("RESP-IRT-2", lambda b: b.with_references(None)),
        ("RESP-IRT-2", lambda b: b.with_references("<older@example.org>")),
    ],
)
@covers("RESP-IRT-1", "RESP-IRT-2")
def test_threading_faults_warn_but_do_not_decide(
    resolver: Resolver, requirement: str, change: Callable[[ResponseEmail], ResponseEmail]
) -> None:
    """A missing or wrong In-Reply-To/References breaks a SHOULD; the CA still accepts (AMB-11)."""
    report = judged(signed(change(reply())), resolver)
    assert_fails_only(report, requirement)
    assert verdicts(report, requirement) == {Verdict.WARN}


@covers("RESP-IRT-1", "RESP-IRT-2")
def test_references_listing_ancestors_still_name_the_challenge(resolver: Resolver) -> None:
    """References may list several msg-ids, folded (RFC 5322 §3.6.4)."""
    builder = reply().with_references(f"<root@example.org>\r\n {CHALLENGE_ID}")
    assert_clean(judged(signed(builder), resolver))


@pytest.mark.parametrize("name", LIST_FIELDS)
@covers("RESP-LIST-1", "SEC-3")
def test_any_list_field_makes_the_reply_unacceptable(resolver: Resolver, name: str) -> None:
    """A correct, signed reply with a List-* field is still rejected (§3.2 (6))."""
    builder = reply().with_list_header(name, "<https://lists.example/acme>")
    assert_fails_only(judged(signed(builder), resolver), "RESP-LIST-1")


@covers("RESP-LIST-1")
def test_a_list_field_added_after_signing_is_still_rejected(resolver: Resolver) -> None:
    """List-Id added by an intermediary outside ``h=``: DKIM passes, the CA fails closed."""
    builder = signed(reply(), headers=RESPONSE_REQUIRED_HEADERS)
    report = judged(builder.with_list_header(after_signing=True), resolver)
    assert report.authentic
    assert "RESP-LIST-1" in report.rejection_reasons
    oversigned = judged(signed(reply()).with_list_header(after_signing=True), resolver)
    assert set(oversigned.rejection_reasons) == {"RESP-LIST-1", "RESP-DKIM-1"}


@covers("RESP-BODY-1")
def test_multipart_alternative_with_html_is_accepted(resolver: Resolver) -> None:
    """text/plain plus text/html as alternatives (§3.2 (7))."""
    builder = reply().as_alternative()
    assert parse_message(builder.build()).content_type == "multipart/alternative"
    assert_clean(judged(signed(builder), resolver))


@covers("RESP-BODY-1")
def test_multipart_mixed_is_rejected(resolver: Resolver) -> None:
    """multipart/mixed around the text/plain part is not one of the allowed forms (strict)."""
    assert_fails_only(judged(signed(reply().as_mixed()), resolver), "RESP-BODY-1")


@covers("RESP-BODY-1", "RESP-HTML-1")
def test_html_only_is_rejected(resolver: Resolver) -> None:
    """A text/html body holding the block breaks both the media type and the HTML rule."""
    report = judged(signed(reply().as_html_only()), resolver)
    assert set(report.failed_requirements) == {"RESP-BODY-1", "RESP-HTML-1"}
    assert set(report.rejection_reasons) == {"RESP-BODY-1", "RESP-HTML-1"}


@covers("RESP-HTML-1")
def test_the_block_only_in_the_html_alternative_is_rejected(resolver: Resolver) -> None:
    """The digest must be read from text/plain, never from text/html (§3.2 (7))."""
    builder = reply().with_text_around("See the HTML part.").with_block_only_in_html()
    assert_fails_only(judged(signed(builder), resolver), "RESP-HTML-1")


@pytest.mark.parametrize(
    ("begin", "end"),
    [
        ("-----BEGIN ACME RESPONSE----", END_MARKER),
        ("-----begin acme response-----", END_MARKER),
        (None, END_MARKER),
        (BEGIN_MARKER, None),
        (BEGIN_MARKER, "-----END ACME RESPONSE"),
    ],
)
@covers("RESP-BODY-2")
def test_misspelt_or_missing_markers_are_rejected(
    resolver: Resolver, begin: str | None, end: str | None
) -> None:
    """Marker lines must be exact: five dashes each side, upper case (§3.2 (7))."""
    report = judged(signed(reply().with_marker_lines(begin, end)), resolver)
    assert_fails_only(report, "RESP-BODY-2")


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param(b64url_encode(bytes(31)), id="31-octets"),
        pytest.param(b64url_encode(bytes(33)), id="33-octets"),
        pytest.param("", id="empty"),
        pytest.param("not*base64url*at*all", id="junk"),
        pytest.param(b64url_encode(bytes(32)), id="wrong-digest"),
    ],
)
@covers("RESP-BODY-2")
def test_a_block_without_the_right_32_octet_digest_is_rejected(
    resolver: Resolver, digest: str
) -> None:
    """The block must hold base64url of 32 octets matching the key authorization."""
    assert_fails_only(judged(signed(reply().with_digest(digest)), resolver), "RESP-BODY-2")


@covers("RESP-BODY-2")
def test_two_blocks_must_agree(resolver: Resolver) -> None:
    """Two blocks with different digests are rejected; a repeated block is accepted."""
    different = reply().with_second_block(b64url_encode(bytes(32)))
    assert_fails_only(judged(signed(different), resolver), "RESP-BODY-2")
    same = judged(signed(reply().with_second_block(DIGEST_STRING + "=")), resolver)
    assert_clean(same)


@pytest.mark.parametrize("width", [1, 2, 7, 42])
@covers("RESP-BODY-3")
def test_line_breaks_anywhere_in_the_digest_are_ignored(resolver: Resolver, width: int) -> None:
    """The digest split over 2 to 43 lines is read whole (§3.2 (7))."""
    report = judged(signed(reply().with_digest_wrapped(width)), resolver)
    assert_clean(report)
    assert verdicts(report, "RESP-BODY-3") == {Verdict.INFO}


@covers("RESP-BODY-3")
def test_bare_lf_inside_and_lf_only_mail_are_accepted(resolver: Resolver) -> None:
    """A bare LF in the digest, and a message with LF line ends, are accepted (robustness)."""
    inside = reply().with_digest_wrapped(positions=[10, 30], line_ending="\n")
    assert_clean(judged(signed(inside.with_transfer_encoding("quoted-printable")), resolver))
    lf_only = signed(reply().with_line_endings(b"\n"))
    raw = lf_only.build()
    assert b"\r" not in raw
    assert_clean(judged(lf_only, resolver))


@covers("RESP-BODY-4")
def test_text_around_the_block_is_ignored(resolver: Resolver) -> None:
    """A greeting, the quoted challenge and a signature around the block (§3.2 (7))."""
    builder = reply().with_text_around(
        "Hello,\n\nOn Sat, 5 Dec 2020 ACME wrote:\n> ACME: quoted text\n",
        "-- \nAlexey\n",
    )
    report = judged(signed(builder), resolver)
    assert_clean(report)
    assert verdicts(report, "RESP-BODY-4") == {Verdict.INFO}


@pytest.mark.parametrize("encoding", ["quoted-printable", "base64", "8bit"])
@covers("RESP-BODY-5")
def test_transfer_encodings_beyond_7bit_are_decoded(resolver: Resolver, encoding: str) -> None:
    """Not needed, but a CA decodes them; recorded as INFO (§3.2 (7))."""
    builder = reply().with_text_around("Grüße").with_transfer_encoding(encoding)  # type: ignore[arg-type]
    report = judged(signed(builder), resolver)
    assert_clean(report)
    assert verdicts(report, "RESP-BODY-5") == {Verdict.INFO}


@pytest.mark.parametrize("value", [None, "auto-replied", "auto-generated"])
@covers("RESP-AUTO-1")
def test_auto_submitted_is_recorded_never_judged(resolver: Resolver, value: str | None) -> None:
    """With or without Auto-Submitted the reply is accepted (AMB-9)."""
    report = judged(signed(reply().with_auto_submitted(value)), resolver)
    assert_clean(report)
    assert verdicts(report, "RESP-AUTO-1") == {Verdict.INFO}


@covers("RESP-DKIM-1")
def test_an_unsigned_reply_is_rejected(resolver: Resolver) -> None:
    """No DKIM signature: not authentic (§3.2 (8))."""
    report = judged(reply(), resolver)
    assert_fails_only(report, "RESP-DKIM-1")
    assert not report.authentic


@covers("RESP-DKIM-1")
def test_a_body_changed_after_signing_is_rejected(resolver: Resolver) -> None:
    """A broken body hash fails the signature."""
    builder = signed(reply()).with_appended_unsigned_text("P.S.")
    assert_fails_only(judged(builder, resolver), "RESP-DKIM-1")


@covers("RESP-DKIM-1")
def test_an_unpublished_key_is_rejected(resolver: Resolver) -> None:
    """The selector has no key in DNS: permerror, not authentic (RFC 6376 §6.1.2)."""
    builder = reply().signed_dkim(KEY, selector="missing")
    assert_fails_only(judged(builder, resolver), "RESP-DKIM-1")


@covers("RESP-DKIM-1")
def test_smime_alone_does_not_authenticate(resolver: Resolver) -> None:
    """An S/MIME-signed reply without DKIM is rejected; the signature is recorded (INFO)."""
    pki = TestPki.load()
    raw = reply().signed_smime(pki.smime_signer(IDENTIFIER)).build()
    assert parse_message(raw).content_type == "multipart/signed"
    auth = authenticate_response(
        raw,
        resolver=resolver,
        peer_ip=None,
        mail_from=None,
        helo=None,
        smime_trust_anchors=[pki.trust_anchor_path],
    )
    assert auth.smime is not None
    assert auth.smime.status == "pass"
    report = inspect_response(raw, EXPECT, auth)
    assert_fails_only(report, "RESP-DKIM-1")
    assert any("S/MIME" in f.observed for f in by_requirement(report.findings, "RESP-DKIM-1"))


@covers("RESP-DKIM-1", "RESP-BODY-1")
def test_smime_and_dkim_together_are_accepted(resolver: Resolver) -> None:
    """The multipart/signed wrapper is looked through when DKIM authenticates the reply."""
    pki = TestPki.load()
    builder = signed(reply().signed_smime(pki.smime_signer(IDENTIFIER)))
    report = judged(builder, resolver)
    assert_clean(report)
    assert Verdict.INFO in verdicts(report, "RESP-BODY-1")


@pytest.mark.parametrize("left_out", ["subject", "to", "content-type", "from"])
@covers("RESP-DKIM-2")
def test_a_signature_not_covering_a_present_required_field_is_rejected(
    resolver: Resolver, left_out: str
) -> None:
    """Unsigned Subject, To or Content-Type could be changed in transit (§3.2 (8))."""
    names = [name for name in DEFAULT_DKIM_HEADERS if name != left_out]
    report = judged(signed(reply(), headers=names), resolver)
    if left_out == "from":
        assert_fails_only(report, "RESP-DKIM-1")
    else:
        assert_fails_only(report, "RESP-DKIM-2")
        assert not report.authentic


@covers("RESP-DKIM-2")
def test_absent_required_fields_left_out_of_h_only_warn(resolver: Resolver) -> None:
    """h= without Sender, Cc (absent in the message) warns; the CA still accepts."""
    names = [name for name in DEFAULT_DKIM_HEADERS if name not in ("sender", "cc")]
    report = judged(signed(reply(), headers=names), resolver)
    assert report.failed_requirements == ("RESP-DKIM-2",)
    assert report.acceptable
    assert verdicts(report, "RESP-DKIM-2") == {Verdict.WARN}


@covers("RESP-DKIM-3")
def test_not_oversigning_list_fields_warns(resolver: Resolver) -> None:
    """Resent-* and List-* are a SHOULD for ``h=`` (§3.2 (8))."""
    report = judged(signed(reply(), headers=RESPONSE_REQUIRED_HEADERS), resolver)
    assert_fails_only(report, "RESP-DKIM-3")


@pytest.mark.parametrize("domain", ["esp.test", "test", "sub.mail.test"])
@covers("RESP-DKIM-4")
def test_a_misaligned_signature_is_rejected(resolver: Resolver, domain: str) -> None:
    """A third party, the parent or a subdomain as ``d=`` is not the From domain (§3.2 (8))."""
    report = judged(signed(reply(), domain=domain), resolver)
    assert_fails_only(report, "RESP-DKIM-4")


@covers("RESP-DKIM-4")
def test_one_aligned_signature_among_several_is_enough(resolver: Resolver) -> None:
    """An ESP signature plus an aligned RSA one: the aligned one authenticates."""
    builder = signed(reply(), domain="esp.test").signed_dkim(RSA_KEY, selector="rsa")
    report = judged(builder, resolver)
    assert_clean(report)


@covers("RESP-DKIM-5", "REF-6376-3")
def test_a_block_appended_outside_l_is_not_authentic(resolver: Resolver) -> None:
    """Signed body without a block, ``l=``, then an unsigned block appended: rejected."""
    builder = reply().with_marker_lines(None, None).with_digest("Please wait.")
    appended = f"{BEGIN_MARKER}\n{DIGEST_STRING}\n{END_MARKER}\n"
    builder = signed(builder, body_length=True).with_appended_unsigned_text(appended)
    report = judged(builder, resolver)
    assert "RESP-DKIM-5" in report.rejection_reasons
    assert not report.authentic
    assert report.digests_found == (DIGEST_STRING,)


@covers("RESP-DKIM-5")
def test_l_covering_the_whole_body_is_accepted(resolver: Resolver) -> None:
    """``l=`` equal to the body length leaves nothing unsigned."""
    assert_clean(judged(signed(reply(), body_length=True), resolver))
    tail = signed(reply(), body_length=True).with_appended_unsigned_text("tail")
    assert_fails_only(judged(tail, resolver), "RESP-DKIM-5")


@covers("KA-1")
def test_token_parts_in_the_wrong_order_are_named(resolver: Resolver) -> None:
    """token-part2 first gives a digest the inspector recognises (§3 step 6)."""
    swapped = key_authorization(TOKEN_PART2 + TOKEN_PART1, THUMBPRINT)
    builder = reply().with_digest(response_digest(swapped))
    assert_fails_only(judged(signed(builder), resolver), "KA-1")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (f"{TOKEN_PART2}.{THUMBPRINT}", "token-part2 alone"),
        (f"{TOKEN_PART1}.{THUMBPRINT}", "token-part1 alone"),
    ],
    ids=["no-token-part1", "no-token-part2"],
)
@covers("KA-1")
def test_a_token_missing_one_part_is_named(resolver: Resolver, text: str, named: str) -> None:
    """A key authorization built on one token part alone is named as such (§3 step 6)."""
    report = judged(signed(reply().with_digest(response_digest(text))), resolver)
    assert_fails_only(report, "KA-1")
    assert any(named in f.observed for f in by_requirement(report.findings, "KA-1"))


@covers("KA-1")
def test_an_earlier_token_part1_is_named_when_it_is_known(resolver: Resolver) -> None:
    """An earlier challenge's token-part1 with this token-part2 shows only with
    ``earlier_token_part1s``; otherwise it is a plain mismatch."""
    earlier = "E" * len(TOKEN_PART1)
    builder = signed(
        reply().with_digest(response_digest(key_authorization(earlier + TOKEN_PART2, THUMBPRINT)))
    )
    knowing = dataclasses.replace(EXPECT, earlier_token_part1s=(earlier,))
    report = judged(builder, resolver, knowing)
    assert_fails_only(report, "KA-1")
    assert any("earlier challenge" in f.observed for f in by_requirement(report.findings, "KA-1"))
    assert_fails_only(judged(builder, resolver), "RESP-BODY-2")


@pytest.mark.parametrize(
    "text",
    [
        TOKEN_PART1 + TOKEN_PART2 + THUMBPRINT,
        f"{TOKEN_PART1}{TOKEN_PART2}.{THUMBPRINT}=",
        TOKEN_PART1 + TOKEN_PART2,
    ],
)
@covers("KA-2")
def test_key_authorization_slips_are_named(resolver: Resolver, text: str) -> None:
    """No dot, a padded thumbprint, or no thumbprint at all (RFC 8555 §8.1)."""
    builder = reply().with_digest(response_digest(text))
    assert_fails_only(judged(signed(builder), resolver), "KA-2")


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param(f"{TOKEN_PART1}{TOKEN_PART2}.{THUMBPRINT}", id="raw-key-authorization"),
        pytest.param("0235d6d21f7fe1830fe92bfef6d290a54ada848d2eb3b6b2067d270863a452c9", id="hex"),
        pytest.param("AjXW0h9/4YMP6Sv+9tKQNUrapI0us7ayBn0nCGOkUsk=", id="standard-base64"),
    ],
)
@covers("KA-3")
def test_the_wrong_encoding_of_the_digest_is_rejected(resolver: Resolver, digest: str) -> None:
    """The block holds base64url(SHA-256(keyAuthorization)), nothing else (§3 step 6)."""
    report = judged(signed(reply().with_digest(digest)), resolver)
    assert_fails_only(report, "KA-3")


@covers("SEC-7")
def test_a_digest_for_another_account_is_named_when_the_account_is_known(
    resolver: Resolver,
) -> None:
    """SEC-7 shows only with ``other_thumbprints``; otherwise it is a plain mismatch."""
    other = key_authorization(TOKEN_PART1 + TOKEN_PART2, OTHER_THUMBPRINT)
    builder = signed(reply().with_digest(response_digest(other)))
    knowing = dataclasses.replace(EXPECT, other_thumbprints=(OTHER_THUMBPRINT,))
    assert_fails_only(judged(builder, resolver, knowing), "SEC-7")
    assert_fails_only(judged(builder, resolver), "RESP-BODY-2")


@covers("SEC-10")
def test_spf_pass_never_stands_in_for_dkim(resolver: Resolver) -> None:
    """Unsigned reply from an SPF-authorised host: SPF and DMARC pass, the CA still rejects."""
    report = judged(
        reply(), resolver, peer_ip="127.0.0.1", mail_from=IDENTIFIER, helo="mx.mail.test"
    )
    assert set(report.rejection_reasons) == {"RESP-DKIM-1", "SEC-10"}
    observed = [f.observed for f in by_requirement(report.findings, "SEC-10")]
    assert any(text.startswith("SPF pass") for text in observed)
    assert any(text.startswith("DMARC pass via spf") for text in observed)
    assert verdicts(report, "SEC-10") == {Verdict.INFO}


@covers("SEC-10")
def test_spf_and_dmarc_are_recorded_for_an_authentic_reply(resolver: Resolver) -> None:
    """docs/decisions.md#decision-5: SPF/DMARC results appear as INFO and never decide."""
    report = judged(signed(reply()), resolver, peer_ip="127.0.0.2", mail_from=IDENTIFIER, helo="mx")
    assert_clean(report)
    observed = [f.observed for f in by_requirement(report.findings, "SEC-10")]
    assert any(text.startswith("SPF fail") for text in observed)
    assert any(text.startswith("DMARC pass via dkim") for text in observed)


def synthetic_auth(domain: str, *, result: str = "pass") -> ResponseAuth:
    """A DKIM verdict as ``authenticate_response`` would give it, for the pure path."""
    signature = DkimSignatureResult(
        domain=domain,
        selector=SELECTOR,
        algorithm="ed25519-sha256",
        signed_headers=DEFAULT_DKIM_HEADERS,
        body_length=None,
        result=result,  # type: ignore[arg-type]
        reason="precomputed",
    )
    return ResponseAuth(dkim=DkimResult(signatures=(signature,)))


FACTORS: dict[str, tuple[str, Callable[[ResponseEmail], ResponseEmail]]] = {
    "from": ("RESP-FROM-1", lambda b: b.with_from("mallory@mail.test")),
    "subject": ("RESP-SUBJ-1", lambda b: b.with_subject("Re: ACME: AAAAAAAAAAAAAAAAAAAAAA")),
    "list": ("RESP-LIST-1", lambda b: b.with_list_header()),
    "layout": ("RESP-BODY-1", lambda b: b.as_mixed()),
    "digest": ("RESP-BODY-2", lambda b: b.with_digest(b64url_encode(bytes(32)))),
}


@pytest.mark.parametrize(
    ("aligned", "broken"),
    [
        (aligned, frozenset(combo))
        for aligned in (True, False)
        for size in range(len(FACTORS) + 1)
        for combo in itertools.combinations(FACTORS, size)
    ],
)
@covers("SRV-VAL-1", "RESP-DKIM-4", "RESP-FROM-1", "RESP-SUBJ-1", "RESP-LIST-1", "RESP-BODY-1")
def test_acceptable_truth_table(aligned: bool, broken: frozenset[str]) -> None:
    """acceptable = authentic AND From AND token AND no List-* AND layout AND digest."""
    builder = reply()
    for name in broken:
        builder = FACTORS[name][1](builder)
    auth = synthetic_auth(DOMAIN if aligned else "esp.test")
    report = inspect_response(builder.build(), EXPECT, auth)
    wanted = {FACTORS[name][0] for name in broken} | (set() if aligned else {"RESP-DKIM-4"})
    assert report.acceptable is (not wanted)
    assert set(report.rejection_reasons) == wanted
    assert report.authentic is aligned


@covers("RESP-DKIM-1")
def test_without_auth_nothing_is_authentic() -> None:
    """No ResponseAuth: the message may be perfect, but a CA cannot accept it."""
    report = inspect_response(reply().build(), EXPECT)
    assert not report.authentic
    assert report.rejection_reasons == ("RESP-DKIM-1",)
    assert verdicts(report, "RESP-DKIM-1") == {Verdict.INFO}
    assert report.failed_requirements == ()


@covers("RESP-DKIM-1")
def test_failing_signatures_are_not_authentic() -> None:
    """A DKIM fail for the right domain does not authenticate."""
    report = inspect_response(reply().build(), EXPECT, synthetic_auth(DOMAIN, result="fail"))
    assert_fails_only(report, "RESP-DKIM-1")


def test_builder_variations_are_immutable() -> None:
    """Each with_* returns a new builder and leaves the original alone (pyca style)."""
    base = reply()
    changed = base.with_subject_prefix("RE: ").with_cc("x@example.net").as_alternative()
    assert base.spec.subject_prefix == "Re: "
    assert base.spec.cc is None
    assert changed.spec.layout == "alternative"
    assert parse_acme_subject(changed.subject()).prefix == "RE: "


def test_builder_rejects_impossible_variations() -> None:
    """Invalid combinations raise early with a clear message."""
    with pytest.raises(ValueError, match="exactly one"):
        reply().with_digest_wrapped()
    with pytest.raises(ValueError, match=r"1\.\.42"):
        reply().with_digest_wrapped(positions=[43])
    with pytest.raises(ValueError, match="List-"):
        reply().with_list_header("X-List")
    with pytest.raises(ValueError, match="7bit"):
        reply().with_text_around("Grüße").build()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ResponseEmail("Al <a@mail.test>", "ca@example.org", "tok", "d"), "with_from"),
        (lambda: ResponseEmail(IDENTIFIER, "no address", "tok", "d"), "with_to"),
        (lambda: ResponseEmail(IDENTIFIER, "ca@example.org", "to k", "d"), "with_subject"),
        (lambda: reply().with_subject_encoded(encoding="X"), "encoding"),  # type: ignore[arg-type]
        (lambda: reply().with_transfer_encoding("binary"), "transfer"),  # type: ignore[arg-type]
        (lambda: reply().signed_dkim(KEY, selector=""), "selector"),
        (lambda: signed(reply(), headers=()), "h="),
        (lambda: reply().signed_smime(TestPki.load().smime_signer(IDENTIFIER), form="x"), "form"),  # type: ignore[arg-type]
    ],
)
def test_builder_keeps_the_shared_input_contract(make: Callable[[], object], message: str) -> None:
    """Bad essentials name the raw method to use; setters check their input at the call (the
    contract of messages.builder_checks, shared with the challenge builder)."""
    with pytest.raises(ValueError, match=message):
        make()


def test_wrong_key_types_raise_early() -> None:
    """DKIM needs RSA or Ed25519 (RFC 8463); S/MIME needs RSA or EC; both refuse at the call."""
    with pytest.raises(TypeError, match="DKIM"):
        reply().signed_dkim(cached_key("dkim-p256", "p256"), selector="p")  # type: ignore[arg-type]
    ed_signer = TestPki.load().smime_signer(IDENTIFIER, key_kind="ed25519")
    with pytest.raises(TypeError, match="S/MIME"):
        reply().signed_smime(ed_signer)


def test_raw_address_fields_leave_the_essentials_alone() -> None:
    """with_from/with_to write any form; the identifier and recipients stay as they were."""
    builder = reply().with_from(f"Alexey <{IDENTIFIER}>").with_to("a@x.test, b@x.test")
    message = parse_message(builder.build())
    assert message.first("From") == f"Alexey <{IDENTIFIER}>"
    assert message.first("To") == builder.to_field == "a@x.test, b@x.test"
    assert builder.from_addr == IDENTIFIER
    assert builder.from_domain == DOMAIN
