"""DKIM sign/verify through the world's real DNS (RFC 6376, RFC 8463; RFC 8823 §3.1, §3.2)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from rfc8823.auth.dkim import (
    CHALLENGE_RECOMMENDED_HEADERS,
    CHALLENGE_REQUIRED_HEADERS,
    RESPONSE_RECOMMENDED_HEADERS,
    RESPONSE_REQUIRED_HEADERS,
    DkimResult,
    DkimSignatureResult,
    TagListError,
    dkim_txt_record,
    missing_signed_headers,
    parse_tag_list,
    revoked_txt_record,
    sign,
    verify,
)
from rfc8823.auth.resolver import Resolver
from rfc8823.world.dns import DnsServer
from rfc8823.world.keys import cached_key

DOMAIN = "mail.test"
OTHER = "esp.test"
IDN_A_LABEL = "xn--bcher-kva.test"
HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "Sender")


def rsa_key(name: str) -> rsa.RSAPrivateKey:
    key = cached_key(name, "rsa2048")
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def ed25519_key(name: str) -> ed25519.Ed25519PrivateKey:
    key = cached_key(name, "ed25519")
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


RSA_KEY = rsa_key("auth-dkim-rsa")
ED_KEY = ed25519_key("auth-dkim-ed25519")
OTHER_KEY = rsa_key("auth-dkim-other-rsa")
FORGED_BLOCK = b"-----BEGIN ACME RESPONSE-----\r\nforged\r\n-----END ACME RESPONSE-----\r\n"

MESSAGE = (
    b"From: Alice <alice@mail.test>\r\n"
    b"To: ca@acme.test\r\n"
    b"Subject: Re: ACME: abcdef\r\n"
    b"Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
    b"Message-ID: <1@mail.test>\r\n"
    b"\r\n"
    b"-----BEGIN ACME RESPONSE-----\r\n"
    b"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0\r\n"
    b"-----END ACME RESPONSE-----\r\n"
)


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    """One authoritative server for the module, publishing the test keys."""
    with DnsServer(zones=["test"]) as server:
        records = server.records
        records.add(f"rsa._domainkey.{DOMAIN}", "TXT", dkim_txt_record(RSA_KEY.public_key()))
        records.add(f"ed._domainkey.{DOMAIN}", "TXT", dkim_txt_record(ED_KEY.public_key()))
        records.add(f"other._domainkey.{DOMAIN}", "TXT", dkim_txt_record(OTHER_KEY.public_key()))
        records.add(f"esp._domainkey.{OTHER}", "TXT", dkim_txt_record(OTHER_KEY.public_key()))
        records.add(f"idn._domainkey.{IDN_A_LABEL}", "TXT", dkim_txt_record(RSA_KEY.public_key()))
        records.add(f"revoked._domainkey.{DOMAIN}", "TXT", revoked_txt_record("rsa"))
        records.add(f"slow._domainkey.{DOMAIN}", "TXT", dkim_txt_record(RSA_KEY.public_key()))
        records.fail(f"slow._domainkey.{DOMAIN}", "timeout")
        yield server


@pytest.fixture(scope="module")
def resolver(dns_server: DnsServer) -> Resolver:
    return Resolver(dns_server.endpoint, timeout=2.0)


def signed(message: bytes = MESSAGE, **options: object) -> bytes:
    """``message`` signed for mail.test with the RSA key, unless ``options`` say otherwise."""
    params: dict[str, object] = {
        "domain": DOMAIN,
        "selector": "rsa",
        "private_key": RSA_KEY,
        "headers": HEADERS,
    }
    params.update(options)
    return sign(message, **params)  # type: ignore[arg-type]


def only(result: DkimResult) -> DkimSignatureResult:
    assert len(result.signatures) == 1, result
    return result.signatures[0]


def test_rsa_round_trip_passes_and_reports_tags(resolver: Resolver) -> None:
    """An RSA-2048 rsa-sha256 signature verifies; d=, s=, a=, h= are reported as signed."""
    message = signed()
    result = verify(message, resolver)
    signature = only(result)
    assert (result.status, signature.result) == ("pass", "pass")
    assert signature.domain == DOMAIN
    assert signature.selector == "rsa"
    assert signature.algorithm == "rsa-sha256"
    assert signature.signed_headers == tuple(name.lower() for name in HEADERS)
    assert signature.body_length is None
    assert message.endswith(MESSAGE)
    assert message.startswith(b"DKIM-Signature: ")


def test_ed25519_round_trip_passes(resolver: Resolver) -> None:
    """An Ed25519 signature (RFC 8463) verifies against a k=ed25519 raw-key record."""
    signature = only(verify(signed(selector="ed", private_key=ED_KEY), resolver))
    assert (signature.result, signature.algorithm) == ("pass", "ed25519-sha256")


def test_lf_only_message_round_trip(resolver: Resolver) -> None:
    """A message with bare LF line ends signs and verifies (dkimpy canonicalizes to CRLF)."""
    message = MESSAGE.replace(b"\r\n", b"\n")
    assert verify(signed(message), resolver).status == "pass"


def test_h_names_kept_as_given_and_lowered_in_result(resolver: Resolver) -> None:
    """h= carries the names verbatim, duplicates included; the result lists them lower-case."""
    message = signed(headers=["FROM", "subject", "From"])
    assert b"h=FROM : subject : From;" in message
    assert only(verify(message, resolver)).signed_headers == ("from", "subject", "from")


def test_tampered_body_fails(resolver: Resolver) -> None:
    """A body changed after signing breaks bh= (RESP-DKIM-1)."""
    message = signed().replace(b"LoqXcYV8", b"LoqXcYV9")
    signature = only(verify(message, resolver))
    assert signature.result == "fail"
    assert "body hash" in signature.reason


def test_tampered_signed_subject_fails(resolver: Resolver) -> None:
    """A signed header changed after signing breaks b=."""
    message = signed().replace(b"Subject: Re: ACME: abcdef", b"Subject: Re: ACME: abcdeg")
    assert only(verify(message, resolver)).result == "fail"


def test_added_unsigned_header_still_passes(resolver: Resolver) -> None:
    """A header not named in h= may be added in transit without breaking the signature."""
    message = signed().replace(b"\r\nTo:", b"\r\nList-Id: <x.mail.test>\r\nTo:", 1)
    assert verify(message, resolver).status == "pass"


def test_oversigned_absent_header_then_added_fails(resolver: Resolver) -> None:
    """An absent header listed in h= (oversigning, RFC 6376 §5.4) cannot be added later."""
    message = signed(headers=(*HEADERS, "List-Id"))
    assert verify(message, resolver).status == "pass"
    added = message.replace(b"\r\nTo:", b"\r\nList-Id: <x.mail.test>\r\nTo:", 1)
    assert only(verify(added, resolver)).result == "fail"


def test_missing_key_record_is_permerror(resolver: Resolver) -> None:
    """No TXT record at the selector: permerror "no key" (RFC 6376 §6.1.2)."""
    signature = only(verify(signed(selector="absent"), resolver))
    assert signature.result == "permerror"
    assert "no key" in signature.reason


def test_revoked_key_is_permerror(resolver: Resolver) -> None:
    """An empty p= means the key is revoked (RFC 6376 §3.6.1)."""
    signature = only(verify(signed(selector="revoked"), resolver))
    assert signature.result == "permerror"
    assert "revoked" in signature.reason


def test_dns_timeout_is_temperror_not_pass(dns_server: DnsServer) -> None:
    """A key lookup that times out is a temperror: never pass, never a plain fail."""
    quick = Resolver(dns_server.endpoint, timeout=0.3)
    result = verify(signed(selector="slow"), quick)
    assert (result.status, only(result).result) == ("temperror", "temperror")


def test_wrong_key_fails(resolver: Resolver) -> None:
    """A signature made with a key other than the published one does not verify."""
    message = signed(selector="other")
    assert only(verify(message, resolver)).result == "fail"


def test_passing_for_needs_exact_d_equal_to_domain(resolver: Resolver) -> None:
    """Misaligned valid + aligned broken: overall pass, yet nothing passes for the From domain.

    RESP-DKIM-4 / CHAL-DKIM-3: only a passing signature with d= == the From domain counts.
    """
    esp_signed = signed(domain=OTHER, selector="esp", private_key=OTHER_KEY)
    both = signed(esp_signed, selector="other")
    result = verify(both, resolver)
    assert [s.result for s in result.signatures] == ["fail", "pass"]
    assert result.status == "pass"
    assert result.passing_for(DOMAIN) is None
    passing = result.passing_for(OTHER.upper())
    assert passing is not None
    assert passing.domain == OTHER


def test_passing_for_finds_the_aligned_valid_one_among_several(resolver: Resolver) -> None:
    """Several signatures, one aligned and valid: passing_for returns that one (RESP-DKIM-4)."""
    message = signed(signed(domain=OTHER, selector="esp", private_key=OTHER_KEY))
    passing = verify(message, resolver).passing_for("Mail.Test")
    assert passing is not None
    assert (passing.domain, passing.selector) == (DOMAIN, "rsa")


def test_passing_for_compares_idn_as_a_labels(resolver: Resolver) -> None:
    """A d= given as a U-label is signed as its A-label and matched from either form (I18N-5)."""
    message = signed(domain="bücher.test", selector="idn")
    result = verify(message, resolver)
    assert only(result).domain == IDN_A_LABEL
    assert result.passing_for("BÜCHER.test") is not None
    assert result.passing_for(IDN_A_LABEL) is not None


def test_body_length_limit_lets_appended_text_pass(resolver: Resolver) -> None:
    """With l=, text appended after signing still verifies (RESP-DKIM-5: inspectors flag l=)."""
    message = signed(body_length=True)
    signature = only(verify(message, resolver))
    assert signature.body_length == len(MESSAGE.split(b"\r\n\r\n", 1)[1])
    assert only(verify(message + FORGED_BLOCK, resolver)).result == "pass"


def test_expiry_and_timestamp_follow_now(resolver: Resolver) -> None:
    """x= in the past and t= in the future make the signature unusable (RFC 6376 §3.5)."""
    message = signed(timestamp=1_000_000, expiration=1_000_600)
    assert verify(message, resolver, now=1_000_300).status == "pass"
    late = only(verify(message, resolver, now=1_000_601))
    assert (late.result, "expired" in late.reason) == ("permerror", True)
    early = only(verify(message, resolver, now=999_000))
    assert (early.result, "future" in early.reason) == ("permerror", True)


def test_status_none_without_signature(resolver: Resolver) -> None:
    assert verify(MESSAGE, resolver) == DkimResult(signatures=())
    assert verify(MESSAGE, resolver).status == "none"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("v=1; a=rsa-sha256; d=mail.test; d=x.test", "duplicate"),
        ("v=1; a=rsa-sha256;; d=mail.test", "invalid tag-spec"),
        ("v=1; a=rsa-sha256; d=mail.test; s=rsa; h=from; bh=AAAA", "missing required tag"),
        ("v=2; a=rsa-sha256; d=mail.test; s=rsa; h=from; bh=AAAA; b=AAAA", "version"),
        ("v=1; a=rsa-sha256; d=mail.test; s=rsa; h=to:subject; bh=AAAA; b=AAAA", "From"),
        ("v=1; a=rsa-sha1; d=mail.test; s=rsa; h=from; bh=AAAA; b=AAAA", "rsa-sha1"),
        ("v=1; a=rsa-sha256; d=mail.test; s=rsa; h=from::to; bh=AAAA; b=AAAA", "invalid header"),
        ("v=1; a=rsa-sha256; d=mail.test; s=rsa; h=from; l=x; bh=AAAA; b=AAAA", "l="),
        ("v=1; a=foo-bar; d=mail.test; s=rsa; h=from; bh=AAAA; b=AAAA", "algorithm"),
        ("v=1; a=rsa-sha256; d=mail.test; s=rsa; h=from; bh=AAAA; b=!!!", "base64"),
        ("v=1; a=rsa-sha256; d=mail.test; s=rsa; h=from; q=http; bh=AAAA; b=AAAA", "q="),
        ("v=1; a=rsa-sha256; d=mail.test; s=rsa; h=from:sub\r\n ject; bh=AAAA; b=AAAA", "h="),
        ("v=1; a=rsa-sha256; d=mail.test; s=rsa; h=from; i=@x.test; bh=AAAA; b=AAAA", "i="),
        ("v=1; a=rsa-sha256; d=mail.test; s=rsa; h=from; t=9; x=5; bh=AAAA; b=AAAA", "x="),
    ],
)
def test_malformed_signature_is_permerror(resolver: Resolver, value: str, reason: str) -> None:
    """A malformed DKIM-Signature yields permerror with a reason, never an exception."""
    message = b"DKIM-Signature: " + value.encode() + b"\r\n" + MESSAGE
    signature = only(verify(message, resolver))
    assert signature.result == "permerror"
    assert reason in signature.reason


@pytest.mark.parametrize(
    "message",
    [b"", b"\x00\xff\xfe", b" leading fold\r\n\r\n", b"no colon here\r\n\r\nbody", b"\r\n\r\n"],
)
def test_garbage_never_raises(resolver: Resolver, message: bytes) -> None:
    """Arbitrary bytes give a typed result (none or permerror), not an exception."""
    assert verify(message, resolver).status in ("none", "permerror")


@given(value=st.binary(max_size=300))
def test_fuzzed_signature_field_never_raises(resolver: Resolver, value: bytes) -> None:
    """Any DKIM-Signature value yields one typed verdict (RFC 6376 §6.1: errors are results)."""
    field = b"DKIM-Signature: v=1; a=rsa-sha256; " + value.replace(b"\n", b" ")
    message = field + b"\r\n" + MESSAGE
    result = verify(message, resolver)
    assert result.status in ("pass", "fail", "temperror", "permerror")


def test_missing_signed_headers_against_rfc8823_lists(resolver: Resolver) -> None:
    """What h= lacks, lower-case and in order (CHAL-DKIM-1, RESP-DKIM-2); long h= lists fold."""
    signature = only(verify(signed(headers=("FROM", "to", "Subject")), resolver))
    missing = missing_signed_headers(signature, ["From", "Subject", "Auto-Submitted", "CC", "cc"])
    assert missing == ("auto-submitted", "cc")
    everything = signed(headers=(*CHALLENGE_REQUIRED_HEADERS, *CHALLENGE_RECOMMENDED_HEADERS))
    full = only(verify(everything, resolver))
    assert full.result == "pass"
    assert missing_signed_headers(full, CHALLENGE_REQUIRED_HEADERS) == ()
    assert missing_signed_headers(full, CHALLENGE_RECOMMENDED_HEADERS) == ()


def test_required_header_lists_match_the_catalog() -> None:
    """The CHAL-DKIM-1/2 and RESP-DKIM-2/3 lists; the response does not need Auto-Submitted."""
    assert len(CHALLENGE_REQUIRED_HEADERS) == 13
    assert len(CHALLENGE_RECOMMENDED_HEADERS) == 12
    assert set(CHALLENGE_REQUIRED_HEADERS) - set(RESPONSE_REQUIRED_HEADERS) == {"auto-submitted"}
    assert RESPONSE_RECOMMENDED_HEADERS == CHALLENGE_RECOMMENDED_HEADERS
    for names in (CHALLENGE_REQUIRED_HEADERS, CHALLENGE_RECOMMENDED_HEADERS):
        assert all(name == name.lower() for name in names)


def test_txt_records_follow_rfc6376_and_rfc8463() -> None:
    """RSA keys publish DER SubjectPublicKeyInfo; Ed25519 keys publish the raw 32-byte key."""
    rsa_tags = parse_tag_list(dkim_txt_record(RSA_KEY.public_key()))
    assert (rsa_tags["v"], rsa_tags["k"]) == ("DKIM1", "rsa")
    loaded = serialization.load_der_public_key(base64.b64decode(rsa_tags["p"]))
    assert loaded == RSA_KEY.public_key()
    ed_tags = parse_tag_list(dkim_txt_record(ED_KEY.public_key()))
    assert ed_tags["k"] == "ed25519"
    assert len(base64.b64decode(ed_tags["p"])) == 32
    assert parse_tag_list(revoked_txt_record("ed25519"))["p"] == ""


def test_sign_rejects_keys_and_names_dkim_cannot_carry() -> None:
    """ECDSA keys have no DKIM algorithm; an empty or ill-formed h= list is refused up front."""
    with pytest.raises(TypeError):
        signed(private_key=cached_key("auth-dkim-p256", "p256"))
    with pytest.raises(ValueError, match="h="):
        signed(headers=[])
    with pytest.raises(ValueError, match="h="):
        signed(headers=["From", "Bad Name"])


def test_parse_tag_list_follows_rfc6376_3_2() -> None:
    """Whitespace and folds around tags are ignored, a trailing ';' is fine, names keep case."""
    parsed = parse_tag_list(" v=1;\r\n\th = from : to ;S=x;")
    assert parsed == {"v": "1", "h": "from : to", "S": "x"}
    assert parse_tag_list("") == {}
    assert parse_tag_list("p=") == {"p": ""}
    for bad in ("v=1; v=1", "=x", "1a=x", "v", "v=1;;", "a=\x01"):
        with pytest.raises(TagListError):
            parse_tag_list(bad)


@pytest.mark.parametrize(
    ("verdicts", "status"),
    [
        ((), "none"),
        (("fail", "pass"), "pass"),
        (("fail", "temperror", "permerror"), "temperror"),
        (("permerror", "fail"), "fail"),
        (("permerror",), "permerror"),
    ],
)
def test_status_orders_verdicts(verdicts: tuple[str, ...], status: str) -> None:
    """Any pass wins, then temperror, then fail, then permerror."""
    signatures = tuple(
        DkimSignatureResult(DOMAIN, "s", "rsa-sha256", ("from",), None, verdict, "")  # type: ignore[arg-type]
        for verdict in verdicts
    )
    assert DkimResult(signatures).status == status


def test_a_signature_not_covering_from_fails_unless_told_otherwise(resolver: Resolver) -> None:
    """RFC 6376 §5.4: From must be signed; ``require_from=False`` is the lax verifier a
    self-validation fault plays, and then the signature's cryptography still has to hold."""
    names = tuple(name for name in HEADERS if name.lower() != "from")
    message = signed(headers=names)
    strict = only(verify(message, resolver))
    assert (strict.result, strict.reason) == ("permerror", "h= does not cover From")
    assert only(verify(message, resolver, require_from=False)).result == "pass"
    tampered = message.replace(b"Date: Thu", b"Date: Fri")
    assert only(verify(tampered, resolver, require_from=False)).result == "fail"
