"""The world's authoritative DNS server, queried over real UDP and TCP with dnspython."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfc8823.world.dns import DnsServer, RecordStore, respond

ZONE = "example.test"


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer(zones=[ZONE]) as running:
        yield running


def ask(
    server: DnsServer, name: str, rtype: str, *, tcp: bool = False, edns: bool = False
) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, use_edns=0 if edns else None)
    if tcp:
        return dns.query.tcp(query, server.host, port=server.port, timeout=1.0)
    return dns.query.udp(query, server.host, port=server.port, timeout=1.0)


def texts(response: dns.message.Message) -> list[str]:
    return [rdata.to_text() for rrset in response.answer for rdata in rrset]


def test_answers_a_mx_txt_authoritatively(server: DnsServer) -> None:
    """A, MX and TXT come back with the AA flag and the published values."""
    server.records.add("mx.example.test", "A", "127.0.0.2")
    server.records.add(ZONE, "MX", "10 mx.example.test")
    server.records.add(ZONE, "TXT", "v=spf1 -all")
    a, mx, txt = (
        ask(server, n, t) for n, t in [("MX.Example.Test", "A"), (ZONE, "MX"), (ZONE, "TXT")]
    )
    assert all(r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA for r in (a, mx, txt))
    assert texts(a) == ["127.0.0.2"]
    assert texts(mx) == ["10 mx.example.test."]
    assert texts(txt) == ['"v=spf1 -all"']


def test_nxdomain_and_nodata_carry_the_soa(server: DnsServer) -> None:
    """An absent name is NXDOMAIN, an existing one (or an empty non-terminal) without the type
    is NOERROR with no answer; both carry the zone's SOA in the authority section."""
    server.records.add("sel._domainkey.example.test", "TXT", "v=DKIM1; p=")
    absent = ask(server, "nope.example.test", "TXT")
    nodata = ask(server, "sel._domainkey.example.test", "A")
    empty_non_terminal = ask(server, "_domainkey.example.test", "TXT")
    assert absent.rcode() == dns.rcode.NXDOMAIN
    for response in (absent, nodata, empty_non_terminal):
        assert response.flags & dns.flags.AA
        assert not response.answer
        assert [rrset.rdtype for rrset in response.authority] == [dns.rdatatype.SOA]
    assert nodata.rcode() == empty_non_terminal.rcode() == dns.rcode.NOERROR


def test_names_outside_the_zones_are_refused(server: DnsServer) -> None:
    """The server is authoritative only: other names get REFUSED without AA."""
    response = ask(server, "example.org", "A")
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.AA


def test_long_txt_is_split_and_truncated_over_plain_udp(server: DnsServer) -> None:
    """A TXT longer than 255 octets becomes several strings; over UDP without EDNS the
    answer is truncated (TC), over TCP it comes whole."""
    value = "v=DKIM1; k=rsa; p=" + "A" * 700
    server.records.add("big.example.test", "TXT", value)
    udp = ask(server, "big.example.test", "TXT")
    tcp = ask(server, "big.example.test", "TXT", tcp=True)
    assert udp.flags & dns.flags.TC
    assert not udp.answer
    (rdata,) = tcp.answer[0]
    assert [len(s) for s in rdata.strings] == [255, 255, 208]
    assert b"".join(rdata.strings).decode() == value
    assert server.query_count("big.example.test", "TXT", "udp") == 1
    assert server.query_count("big.example.test", "TXT", "tcp") == 1


def test_edns_lets_udp_carry_a_larger_answer(server: DnsServer) -> None:
    """With EDNS (payload 1232) an 800-octet answer fits in one datagram."""
    server.records.add("big.example.test", "TXT", "x" * 800)
    response = ask(server, "big.example.test", "TXT", edns=True)
    assert not response.flags & dns.flags.TC
    assert response.edns == 0


def test_txt_list_publishes_several_strings_in_one_record(server: DnsServer) -> None:
    """A list value is one TXT record with one string per item."""
    server.records.add(ZONE, "TXT", ["v=spf1 ", "ip4:127.0.0.0/8 -all"])
    assert texts(ask(server, ZONE, "TXT")) == ['"v=spf1 " "ip4:127.0.0.0/8 -all"']


def test_cname_is_chased_within_the_zone(server: DnsServer) -> None:
    """A query through a CNAME gets the alias and the target's records."""
    server.records.add("www.example.test", "CNAME", "host.example.test")
    server.records.add("host.example.test", "A", "127.0.0.3")
    response = ask(server, "www.example.test", "A")
    assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert texts(response) == ["host.example.test.", "127.0.0.3"]


def test_records_change_while_running(server: DnsServer) -> None:
    """add, set and remove take effect on the next query."""
    store = server.records
    store.add("h.example.test", "A", "127.0.0.4")
    store.add("h.example.test", "A", "127.0.0.5")
    assert sorted(texts(ask(server, "h.example.test", "A"))) == ["127.0.0.4", "127.0.0.5"]
    store.set("h.example.test", "A", ["127.0.0.6"])
    assert texts(ask(server, "h.example.test", "A")) == ["127.0.0.6"]
    store.remove("h.example.test")
    assert ask(server, "h.example.test", "A").rcode() == dns.rcode.NXDOMAIN
    server.add_zone("other.test")
    store.add("other.test", "A", "127.0.0.7")
    assert texts(ask(server, "other.test", "A")) == ["127.0.0.7"]


def test_store_reads_back_records_and_the_generated_soa() -> None:
    """get returns what was published, normalised names included, and the apex SOA."""
    store = RecordStore(zones=["Example.Test."])
    store.add("mail.EXAMPLE.test", "mx", "10 mx.example.test", ttl=30)
    (record,) = store.get("mail.example.test.", "MX")
    assert (record.name, record.rtype, record.value, record.ttl) == (
        "mail.example.test.",
        "MX",
        "10 mx.example.test",
        30,
    )
    (soa,) = store.get(ZONE, "SOA")
    assert isinstance(soa.value, str)
    assert soa.value.startswith("ns.example.test. hostmaster.example.test. ")
    assert store.zones == ("example.test.",)


@pytest.mark.parametrize(
    ("name", "rtype", "value"),
    [
        ("h.example.test", "A", "not-an-address"),
        ("h.example.test", "AAAA", "127.0.0.1"),
        ("h.example.test", "MX", "mx.example.test"),
        ("h.example.test", "TXT", ["x" * 256]),
        ("h.example.test", "SOA", "ns. host. 1 2 3 4 5"),
        ("h.example.org", "A", "127.0.0.1"),
    ],
)
def test_malformed_records_are_rejected_early(name: str, rtype: str, value: str) -> None:
    """A value the wire cannot carry, or a name in no zone, raises ValueError at add."""
    with pytest.raises(ValueError, match=r"."):
        RecordStore(zones=[ZONE]).add(name, rtype, value)


def test_cname_cannot_share_its_name() -> None:
    """A CNAME next to other data at one name is refused."""
    store = RecordStore(zones=[ZONE])
    store.add("h.example.test", "A", "127.0.0.1")
    with pytest.raises(ValueError, match="CNAME"):
        store.add("h.example.test", "CNAME", "x.example.test")


def test_faults_servfail_refused_timeout_and_heal(server: DnsServer) -> None:
    """Injected faults apply per name (and type); heal restores normal answers."""
    store = server.records
    store.add("f.example.test", "A", "127.0.0.8")
    store.add("ok.example.test", "A", "127.0.0.9")
    store.fail("f.example.test", "servfail")
    assert ask(server, "f.example.test", "A").rcode() == dns.rcode.SERVFAIL
    store.fail("f.example.test", "refused")
    assert ask(server, "f.example.test", "A").rcode() == dns.rcode.REFUSED
    store.fail("f.example.test", "timeout")
    query = dns.message.make_query("f.example.test", "A")
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(query, server.host, port=server.port, timeout=0.2)
    with pytest.raises(dns.exception.Timeout):
        dns.query.tcp(query, server.host, port=server.port, timeout=0.2)
    assert texts(ask(server, "ok.example.test", "A")) == ["127.0.0.9"]
    store.heal("f.example.test")
    store.fail("f.example.test", "servfail", rtype="TXT")
    assert texts(ask(server, "f.example.test", "A")) == ["127.0.0.8"]
    assert ask(server, "f.example.test", "TXT").rcode() == dns.rcode.SERVFAIL
    assert server.query_count("f.example.test") == 6


def test_garbage_gets_formerr_and_the_server_keeps_answering(server: DnsServer) -> None:
    """An unparsable query is answered FORMERR; the server stays up."""
    garbage = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        sock.sendto(garbage, (server.host, server.port))
        reply = sock.recv(512)
    assert reply[:2] == b"\x12\x34"
    assert reply[3] & 0x0F == dns.rcode.FORMERR
    assert ask(server, ZONE, "SOA").rcode() == dns.rcode.NOERROR


@given(st.binary(max_size=300))
def test_respond_never_raises(data: bytes) -> None:
    """Any bytes yield a reply or silence, never an exception."""
    _, _, reply = respond(RecordStore(zones=[ZONE]), data, "udp")
    assert reply is None or len(reply) >= 12


async def test_async_usage_and_two_servers_at_once() -> None:
    """Two servers run side by side on their own ports under `async with`."""
    async with DnsServer(zones=["a.test"]) as first, DnsServer(zones=["b.test"]) as second:
        first.records.add("a.test", "A", "127.0.1.1")
        second.records.add("b.test", "A", "127.0.2.1")
        assert first.port != second.port
        assert texts(ask(first, "a.test", "A")) == ["127.0.1.1"]
        assert ask(second, "a.test", "A").rcode() == dns.rcode.REFUSED
        assert texts(ask(second, "b.test", "A", tcp=True)) == ["127.0.2.1"]


def test_stop_is_quick_and_leaks_no_thread() -> None:
    """stop() closes the sockets, ends the thread (open TCP connections too) promptly."""
    before = threading.active_count()
    server = DnsServer(zones=[ZONE])
    server.start()
    endpoint = server.endpoint
    idle = socket.create_connection((endpoint.host, endpoint.port), timeout=1.0)
    dns.query.send_tcp(idle, dns.message.make_query(ZONE, "SOA"))
    dns.query.receive_tcp(idle, expiration=time.time() + 1.0)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 0.5
    assert threading.active_count() == before
    assert idle.recv(1) == b""
    idle.close()
    with pytest.raises(RuntimeError):
        _ = server.port
    server.stop()
