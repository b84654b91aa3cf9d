"""The stub resolver against the world's DNS server, over real UDP and TCP."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rfc8823.auth.resolver import DnsEndpoint, DnsNoRecord, DnsTempError, Resolver
from rfc8823.world.dns import DnsServer

ZONE = "example.test"


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer(zones=[ZONE]) as running:
        yield running


@pytest.fixture
def resolver(server: DnsServer) -> Resolver:
    return Resolver(server.endpoint, timeout=1.0)


def test_a_aaaa_and_mx_sorted_by_preference(server: DnsServer, resolver: Resolver) -> None:
    """Addresses come back as text; MX as (preference, host) in preference order."""
    server.records.add("mx1.example.test", "A", "127.0.0.2")
    server.records.add("mx1.example.test", "AAAA", "::1")
    server.records.set(ZONE, "MX", ["20 mx2.example.test", "10 mx1.example.test"])
    assert resolver.a("mx1.example.test") == ["127.0.0.2"]
    assert resolver.aaaa("mx1.example.test") == ["::1"]
    assert resolver.mx(ZONE) == [(10, "mx1.example.test"), (20, "mx2.example.test")]


def test_null_mx(server: DnsServer, resolver: Resolver) -> None:
    """A null MX (RFC 7505) reads as (0, ".")."""
    server.records.add(ZONE, "MX", "0 .")
    assert resolver.mx(ZONE) == [(0, ".")]


def test_dkim_2048_key_round_trips(server: DnsServer, resolver: Resolver) -> None:
    """A 2048-bit DKIM key record, published as several strings, reads back joined."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    server.records.add("s2048._domainkey.example.test", "TXT", record)
    assert resolver.txt("s2048._domainkey.example.test") == [record]


def test_oversized_txt_falls_back_to_tcp(server: DnsServer, resolver: Resolver) -> None:
    """An answer larger than the EDNS payload is truncated over UDP and fetched over TCP."""
    record = "v=DKIM1; p=" + "B" * 2000
    server.records.add("big._domainkey.example.test", "TXT", record)
    assert resolver.txt("big._domainkey.example.test") == [record]
    assert server.query_count("big._domainkey.example.test", "TXT", "udp") == 1
    assert server.query_count("big._domainkey.example.test", "TXT", "tcp") == 1


def test_txt_records_stay_separate_and_utf8_decodes(server: DnsServer, resolver: Resolver) -> None:
    """Each TXT record is one string (its parts joined); text is UTF-8."""
    server.records.add(ZONE, "TXT", ["v=spf1 ", "-all"])
    server.records.add(ZONE, "TXT", "note=café")
    assert sorted(resolver.txt(ZONE)) == ["note=café", "v=spf1 -all"]


def test_nxdomain_nodata_and_invalid_names(server: DnsServer, resolver: Resolver) -> None:
    """Missing data is DnsNoRecord saying which kind; an impossible name sends nothing."""
    server.records.add("h.example.test", "A", "127.0.0.1")
    with pytest.raises(DnsNoRecord) as absent:
        resolver.txt("nope.example.test")
    with pytest.raises(DnsNoRecord) as nodata:
        resolver.txt("h.example.test")
    with pytest.raises(DnsNoRecord) as invalid:
        resolver.a("x" * 64 + ".example.test")
    assert (absent.value.kind, nodata.value.kind, invalid.value.kind) == (
        "nxdomain",
        "nodata",
        "invalid",
    )
    assert server.query_count("x" * 63 + ".example.test") == 0


def test_refused_and_servfail_are_temporary(server: DnsServer, resolver: Resolver) -> None:
    """REFUSED (outside the zones) and an injected SERVFAIL raise DnsTempError; heal fixes it."""
    server.records.add("h.example.test", "A", "127.0.0.1")
    with pytest.raises(DnsTempError):
        resolver.a("example.org")
    server.records.fail("h.example.test", "servfail")
    with pytest.raises(DnsTempError, match="SERVFAIL"):
        resolver.a("h.example.test")
    server.records.heal("h.example.test")
    assert resolver.a("h.example.test") == ["127.0.0.1"]


def test_timeout_is_temporary_and_does_not_block_others(server: DnsServer) -> None:
    """A dropped query ends in DnsTempError within the timeout; other names answer meanwhile."""
    resolver = Resolver(server.endpoint, timeout=0.3)
    server.records.add("slow.example.test", "A", "127.0.0.1")
    server.records.add("fast.example.test", "A", "127.0.0.2")
    server.records.fail("slow.example.test", "timeout")
    outcome: list[tuple[DnsTempError, float]] = []

    def slow_lookup() -> None:
        started = time.monotonic()
        with pytest.raises(DnsTempError) as failure:
            resolver.a("slow.example.test")
        outcome.append((failure.value, time.monotonic() - started))

    worker = threading.Thread(target=slow_lookup)
    worker.start()
    assert resolver.a("fast.example.test") == ["127.0.0.2"]
    worker.join(2.0)
    ((error, elapsed),) = outcome
    assert "timeout" in str(error)
    assert elapsed < 0.8
    assert server.query_count("slow.example.test") >= 1


def test_unreachable_server_is_temporary() -> None:
    """Nothing listening at the endpoint is a DnsTempError, not a crash or a hang."""
    server = DnsServer(zones=[ZONE])
    server.start()
    endpoint = server.endpoint
    server.stop()
    with pytest.raises(DnsTempError):
        Resolver(endpoint, timeout=0.1).a(ZONE)


async def test_resolver_from_async_code() -> None:
    """Async code runs the blocking resolver in a thread against an `async with` server."""
    async with DnsServer(zones=[ZONE]) as server:
        server.records.add(ZONE, "TXT", "v=DMARC1; p=reject")
        resolver = Resolver(DnsEndpoint(server.host, server.port), timeout=1.0)
        assert await asyncio.to_thread(resolver.txt, ZONE) == ["v=DMARC1; p=reject"]
