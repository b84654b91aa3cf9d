"""SPF (RFC 7208) and DMARC (RFC 7489) through the world's real DNS (spec §2.10, SEC-10)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import spf
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from rfc8823.auth.dkim import DkimResult, dkim_txt_record, sign, verify
from rfc8823.auth.resolver import Resolver
from rfc8823.auth.spf_dmarc import (
    DmarcRecord,
    SpfResult,
    author_domain,
    check_dmarc,
    check_spf,
    effective_policy,
    is_aligned,
    organizational_domain,
    parse_dmarc_record,
)
from rfc8823.world.dns import DnsServer
from rfc8823.world.keys import cached_key


def ed25519_key(name: str) -> ed25519.Ed25519PrivateKey:
    key = cached_key(name, "ed25519")
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


KEY = ed25519_key("auth-spf-dmarc-ed25519")


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    """The module's world: SPF, DMARC and DKIM records for a handful of .test domains."""
    with DnsServer(zones=["test"]) as server:
        add = server.records.add
        add("mail.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
        add("mail.test", "TXT", "unrelated=text")
        add("_dmarc.mail.test", "TXT", "v=DMARC1; p=reject; rua=mailto:dmarc@mail.test")
        add("mx.test", "TXT", "v=spf1 mx a:relay.mx.test ~all")
        add("mx.test", "MX", "10 smtp.mx.test")
        add("smtp.mx.test", "A", "127.0.0.3")
        add("relay.mx.test", "A", "127.0.0.4")
        add("esp.test", "TXT", "v=spf1 ip4:127.0.0.0/8 -all")
        add("relaxed.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
        add("_dmarc.relaxed.test", "TXT", "v=DMARC1; p=reject; sp=quarantine")
        add("strict.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
        add("_dmarc.strict.test", "TXT", "v=DMARC1; p=reject; adkim=s; aspf=s")
        add("slow.test", "TXT", "v=spf1 -all")
        server.records.fail("slow.test", "timeout")
        server.records.fail("_dmarc.slowdmarc.test", "timeout")
        for domain in ("mail.test", "esp.test", "relaxed.test", "strict.test", "nodmarc.test"):
            add(f"k._domainkey.{domain}", "TXT", dkim_txt_record(KEY.public_key()))
        yield server


@pytest.fixture(scope="module")
def resolver(dns_server: DnsServer) -> Resolver:
    return Resolver(dns_server.endpoint, timeout=2.0)


@pytest.fixture(scope="module")
def quick_resolver(dns_server: DnsServer) -> Resolver:
    """A resolver that gives up after 0.3 s, for the timeout cases."""
    return Resolver(dns_server.endpoint, timeout=0.3)


def message(author: str, *, dkim_domain: str | None = None) -> bytes:
    """A small message From ``author``, DKIM-signed for ``dkim_domain`` when given."""
    raw = (f"From: {author}\r\nTo: ca@acme.test\r\nSubject: Re: ACME: x\r\n\r\nbody\r\n").encode()
    if dkim_domain is None:
        return raw
    return sign(raw, domain=dkim_domain, selector="k", private_key=KEY, headers=["From", "Subject"])


SPF_FAIL = SpfResult("fail", "not authorized", "elsewhere.test")


def test_spf_pass_from_listed_address(resolver: Resolver) -> None:
    """ip4:127.0.0.1 authorizes 127.0.0.1 for the MAIL FROM domain (RFC 7208 §5.6)."""
    result = check_spf("127.0.0.1", "alice@mail.test", "client.test", resolver)
    assert (result.result, result.domain) == ("pass", "mail.test")


def test_spf_fail_from_other_address(resolver: Resolver) -> None:
    """-all rejects every address not listed (RFC 7208 §2.6.4)."""
    assert check_spf("127.0.0.2", "alice@mail.test", "client.test", resolver).result == "fail"


def test_spf_none_without_record(resolver: Resolver) -> None:
    """No SPF record at the domain: none (RFC 7208 §2.6.1)."""
    assert check_spf("127.0.0.1", "bob@nospf.test", "client.test", resolver).result == "none"


def test_spf_uses_helo_for_null_sender(resolver: Resolver) -> None:
    """With a null MAIL FROM, SPF checks the HELO identity (RFC 7208 §2.4)."""
    result = check_spf("127.0.0.1", "", "mail.test", resolver)
    assert (result.result, result.domain) == ("pass", "mail.test")


@pytest.mark.parametrize(
    ("ip", "verdict"), [("127.0.0.3", "pass"), ("127.0.0.4", "pass"), ("127.0.0.5", "softfail")]
)
def test_spf_mx_and_a_mechanisms_resolve_through_the_world(
    resolver: Resolver, ip: str, verdict: str
) -> None:
    """mx and a: mechanisms look up MX and A records on the world's DNS (RFC 7208 §5.3, §5.4)."""
    assert check_spf(ip, "x@mx.test", "client.test", resolver).result == verdict


def test_spf_timeout_is_temperror_and_hook_restored(quick_resolver: Resolver) -> None:
    """A DNS timeout gives temperror (RFC 7208 §2.6.6); pyspf's own lookup is put back after."""
    original = spf.DNSLookup
    result = check_spf("127.0.0.1", "x@slow.test", "client.test", quick_resolver)
    assert result.result == "temperror"
    assert spf.DNSLookup is original


def test_spf_bad_address_is_permerror(resolver: Resolver) -> None:
    """An unusable client address is a typed permerror, not an exception."""
    result = check_spf("not-an-ip", "alice@mail.test", "client.test", resolver)
    assert (result.result, result.domain) == ("permerror", "mail.test")


def test_dmarc_pass_via_aligned_dkim(resolver: Resolver) -> None:
    """A passing DKIM signature with d= = the From domain satisfies DMARC (RFC 7489 §3.1.1)."""
    mail = message("alice@mail.test", dkim_domain="mail.test")
    result = check_dmarc(mail, spf=SPF_FAIL, dkim=verify(mail, resolver), resolver=resolver)
    assert (result.result, result.aligned_via, result.policy) == ("pass", "dkim", "reject")
    assert (result.from_domain, result.record_domain) == ("mail.test", "mail.test")


def test_dmarc_pass_via_aligned_spf(resolver: Resolver) -> None:
    """An SPF pass for the From domain satisfies DMARC without DKIM (RFC 7489 §3.1.2).

    RFC 8823 does not accept this for a response (SEC-10): DMARC pass is not RESP-DKIM-4.
    """
    mail = message("alice@mail.test")
    spf_result = check_spf("127.0.0.1", "bounce@mail.test", "client.test", resolver)
    result = check_dmarc(mail, spf=spf_result, dkim=verify(mail, resolver), resolver=resolver)
    assert (result.result, result.aligned_via) == ("pass", "spf")


def test_dmarc_fails_when_only_a_misaligned_signature_passes(resolver: Resolver) -> None:
    """A valid third-party d= (an ESP) does not align: fail under p=reject (RFC 7489 §6.6.2)."""
    mail = message("alice@mail.test", dkim_domain="esp.test")
    dkim_result = verify(mail, resolver)
    assert dkim_result.status == "pass"
    esp_spf = check_spf("127.0.0.9", "bounce@esp.test", "client.test", resolver)
    assert esp_spf.result == "pass"
    result = check_dmarc(mail, spf=esp_spf, dkim=dkim_result, resolver=resolver)
    assert (result.result, result.policy, result.aligned_via) == ("fail", "reject", None)


def test_dmarc_relaxed_alignment_accepts_parent_domain_signature(resolver: Resolver) -> None:
    """From a subdomain, d= of the organizational domain aligns in relaxed mode; sp= applies."""
    mail = message("alice@news.relaxed.test", dkim_domain="relaxed.test")
    result = check_dmarc(mail, spf=SPF_FAIL, dkim=verify(mail, resolver), resolver=resolver)
    assert (result.result, result.aligned_via) == ("pass", "dkim")
    assert (result.record_domain, result.policy) == ("relaxed.test", "quarantine")


def test_dmarc_strict_alignment_rejects_parent_domain_signature(resolver: Resolver) -> None:
    """adkim=s/aspf=s need the exact From domain: the parent's d= and SPF domain do not align."""
    mail = message("alice@news.strict.test", dkim_domain="strict.test")
    spf_result = check_spf("127.0.0.1", "bounce@strict.test", "client.test", resolver)
    assert spf_result.result == "pass"
    result = check_dmarc(mail, spf=spf_result, dkim=verify(mail, resolver), resolver=resolver)
    assert (result.result, result.policy, result.record_domain) == ("fail", "reject", "strict.test")


def test_dmarc_none_without_record(resolver: Resolver) -> None:
    """No record at the From or organizational domain: none (RFC 7489 §6.6.3)."""
    mail = message("alice@nodmarc.test", dkim_domain="nodmarc.test")
    result = check_dmarc(mail, spf=SPF_FAIL, dkim=verify(mail, resolver), resolver=resolver)
    assert (result.result, result.policy, result.aligned_via) == ("none", None, None)


def test_dmarc_lookup_timeout_is_temperror(quick_resolver: Resolver) -> None:
    """A DMARC policy lookup that times out is temperror, never none or pass."""
    mail = message("alice@slowdmarc.test")
    result = check_dmarc(mail, spf=SPF_FAIL, dkim=DkimResult(()), resolver=quick_resolver)
    assert result.result == "temperror"


@pytest.mark.parametrize(
    "raw",
    [
        b"To: ca@acme.test\r\n\r\nno From\r\n",
        b"From: a@mail.test\r\nFrom: b@mail.test\r\n\r\n",
        b"From: a@mail.test, b@esp.test\r\n\r\n",
        b"From: undisclosed-recipients\r\n\r\n",
        b"\x00\xff\xfe garbage",
    ],
)
def test_dmarc_without_single_author_domain_is_permerror(resolver: Resolver, raw: bytes) -> None:
    """No single From domain (RFC 7489 §6.6.1): permerror, never an exception."""
    result = check_dmarc(raw, spf=SPF_FAIL, dkim=DkimResult(()), resolver=resolver)
    assert result.result == "permerror"


@given(header=st.binary(max_size=200))
def test_dmarc_never_raises_on_arbitrary_from(resolver: Resolver, header: bytes) -> None:
    """Whatever the From field holds, DMARC answers with a typed verdict."""
    raw = b"From: " + header.replace(b"\n", b" ") + b"\r\n\r\nbody\r\n"
    result = check_dmarc(raw, spf=SPF_FAIL, dkim=DkimResult(()), resolver=resolver)
    assert result.result in ("fail", "none", "temperror", "permerror")


@pytest.mark.parametrize(
    ("text", "record"),
    [
        ("v=DMARC1; p=reject", DmarcRecord("reject")),
        (
            "v=DMARC1;p=Quarantine;sp=none;adkim=s;aspf=S;pct=5",
            DmarcRecord("quarantine", "none", "s", "s"),
        ),
        ("v=DMARC1; p=bogus; rua=mailto:d@mail.test", DmarcRecord("none")),
        ("v=DMARC1; rua=mailto:d@mail.test", DmarcRecord("none")),
        ("v=DMARC1; p=bogus", None),
        ("v=DMARC1; p=none; adkim=x", None),
        ("p=reject; v=DMARC1", None),
        ("v=spf1 -all", None),
        ("v=DMARC1; p=reject; p=none", None),
        ("", None),
    ],
)
def test_parse_dmarc_record(text: str, record: DmarcRecord | None) -> None:
    """v=DMARC1 first, p= required unless rua= is there (RFC 7489 §6.3, §6.6.3 step 6)."""
    assert parse_dmarc_record(text) == record


@pytest.mark.parametrize(
    ("domain", "organization"),
    [
        ("mail.example.test", "example.test"),
        ("example.test", "example.test"),
        ("test", "test"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("News.Bücher.test", "xn--bcher-kva.test"),
    ],
)
def test_organizational_domain(domain: str, organization: str) -> None:
    """Public suffix plus one label; an unknown TLD (.test) is a public suffix (RFC 7489 §3.2)."""
    assert organizational_domain(domain) == organization


def test_alignment_modes() -> None:
    """Strict needs the same domain; relaxed the same organizational domain (RFC 7489 §3.1)."""
    assert is_aligned("Mail.Test", "mail.test", "s")
    assert not is_aligned("mail.test", "news.mail.test", "s")
    assert is_aligned("mail.test", "news.mail.test", "r")
    assert not is_aligned("other.test", "mail.test", "r")
    assert not is_aligned("", "mail.test", "r")


def test_effective_policy_uses_sp_for_subdomains() -> None:
    """sp= governs subdomains covered by the organizational record (RFC 7489 §6.3)."""
    record = DmarcRecord("reject", "none")
    assert effective_policy(record, "mail.test", "mail.test") == "reject"
    assert effective_policy(record, "news.mail.test", "mail.test") == "none"
    without_sp = DmarcRecord("quarantine")
    assert effective_policy(without_sp, "news.mail.test", "mail.test") == "quarantine"


def test_author_domain_reads_utf8_and_display_names() -> None:
    """The From address's domain, in A-labels; a quoted display name is not the address."""
    assert author_domain(b'From: "x@evil.test" <a@Mail.TEST>\r\n\r\n') == "mail.test"
    assert author_domain("From: Jürgen <j@bücher.test>\r\n\r\n".encode()) == "xn--bcher-kva.test"
    assert author_domain(b"From: a\r\n @mail.test\r\n\r\n") == "mail.test"
