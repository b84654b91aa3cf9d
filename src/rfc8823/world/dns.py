"""Authoritative DNS for the world's zones (MX, A, DKIM/SPF/DMARC TXT), editable live (RFC 8823 §6).

Mail delivery and DKIM verification depend on DNS, so the world serves real UDP and TCP DNS on
one loopback port; tests edit records and inject faults while the server runs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal, Self, cast, get_args

import dns.exception
import dns.name
from dnslib import (
    AAAA,
    CLASS,
    CNAME,
    EDNS0,
    MX,
    NS,
    PTR,
    QTYPE,
    RCODE,
    RR,
    SOA,
    TXT,
    A,
    DNSHeader,
    DNSLabel,
    DNSRecord,
)

from rfc8823.auth.resolver import DnsEndpoint
from rfc8823.world.service import Service

logger = logging.getLogger(__name__)

FaultMode = Literal["servfail", "timeout", "refused"]
Transport = Literal["udp", "tcp"]
RecordValue = str | Sequence[str]
Key = tuple[bytes, ...]

RECORD_TYPES = ("A", "AAAA", "MX", "TXT", "CNAME", "NS", "PTR")

_CLASS_ANY = 255
_EDNS_PAYLOAD = 1232
_MAX_CNAME_CHAIN = 8
_SOA_TIMERS = (3600, 600, 86400, 0)  # refresh, retry, expire, minimum: no negative caching
_BIND_ATTEMPTS = 8
_START_TIMEOUT = 5.0
_STOP_TIMEOUT = 2.0


@dataclass(frozen=True)
class Record:
    """One published record: lower-case absolute owner name, type, value as given, TTL."""

    name: str
    rtype: str
    value: str | tuple[str, ...]
    ttl: int


@dataclass(frozen=True)
class _Answer:
    rcode: int
    authoritative: bool
    answer: tuple[tuple[Key, str, int, Any], ...] = ()
    authority: tuple[tuple[Key, str, int, Any], ...] = ()


def name_key(name: str) -> Key:
    """Lower-case wire labels of `name` (relative names are taken as absolute; IDNs as A-labels)."""
    text = name.strip()
    if text in ("", ".", "@"):
        return ()
    try:
        parsed = dns.name.from_text(text, origin=dns.name.root)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise ValueError(f"invalid DNS name {name!r}: {exc}") from exc
    return tuple(label.lower() for label in parsed.labels[:-1])


def key_text(key: Key) -> str:
    """Absolute text form (trailing dot) of a name key."""
    return dns.name.Name((*key, b"")).to_text()


def _rtype(rtype: str) -> str:
    upper = rtype.strip().upper()
    if upper not in RECORD_TYPES:
        raise ValueError(f"unsupported record type {rtype!r}; expected one of {RECORD_TYPES}")
    return upper


def _txt_strings(value: RecordValue) -> list[bytes]:
    if isinstance(value, str):
        octets = value.encode("utf-8")
        return [octets[i : i + 255] for i in range(0, len(octets), 255)] or [b""]
    strings = [part.encode("utf-8") for part in value]
    if not strings or any(len(part) > 255 for part in strings):
        raise ValueError("a TXT record given as a list needs 1+ strings of at most 255 octets each")
    return strings


def _rdata(rtype: str, value: RecordValue) -> Any:
    """The dnslib rdata for a record value; raises ValueError on a malformed value."""
    if rtype == "TXT":
        return TXT(_txt_strings(value))
    if not isinstance(value, str):
        raise ValueError(f"{rtype} value must be a string, got {value!r}")
    if rtype == "A":
        return A(str(ipaddress.IPv4Address(value.strip())))
    if rtype == "AAAA":
        return AAAA(str(ipaddress.IPv6Address(value.strip())))
    if rtype == "MX":
        parts = value.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) > 0xFFFF:
            raise ValueError(f"MX value must be '<preference> <exchange>', got {value!r}")
        return MX(DNSLabel(list(name_key(parts[1]))), int(parts[0]))
    target = DNSLabel(list(name_key(value)))
    return {"CNAME": CNAME, "NS": NS, "PTR": PTR}[rtype](target)


class RecordStore:
    """Thread-safe, live-editable records of a set of zones, with per-name fault injection."""

    def __init__(self, zones: Iterable[str] = ()) -> None:
        self._lock = threading.RLock()
        self._zones: set[Key] = set()
        self._records: dict[Key, dict[str, list[tuple[Record, Any]]]] = {}
        self._faults: dict[tuple[Key, str | None], FaultMode] = {}
        self._serial = 1
        for zone in zones:
            self.add_zone(zone)

    @property
    def zones(self) -> tuple[str, ...]:
        """The zone apexes served, as absolute names."""
        with self._lock:
            return tuple(sorted(key_text(zone) for zone in self._zones))

    def add_zone(self, apex: str) -> None:
        """Serve `apex` authoritatively (an SOA is generated for it)."""
        with self._lock:
            self._zones.add(name_key(apex))
            self._serial += 1

    def add(self, name: str, rtype: str, value: RecordValue, ttl: int = 60) -> Record:
        """Add one record to the name's RRset (an identical value only has its TTL updated).

        A TXT value that is a str is split into 255-octet strings; a list publishes its strings.
        """
        key, upper = name_key(name), _rtype(rtype)
        record, rdata = self._make(key, upper, value, ttl)
        with self._lock:
            self._check_in_zone(key)
            self._check_cname_exclusive(key, upper, self._records.get(key, {}))
            rrsets = self._records.setdefault(key, {})
            rrset = [entry for entry in rrsets.get(upper, []) if entry[0].value != record.value]
            rrsets[upper] = [*rrset, (record, rdata)]
            self._serial += 1
        return record

    def set(
        self, name: str, rtype: str, values: Iterable[RecordValue], ttl: int = 60
    ) -> list[Record]:
        """Replace all records of `rtype` at `name` (a bare str counts as one value)."""
        key, upper = name_key(name), _rtype(rtype)
        items = [values] if isinstance(values, str) else list(values)
        entries = [self._make(key, upper, value, ttl) for value in items]
        with self._lock:
            self._check_in_zone(key)
            if entries:
                self._check_cname_exclusive(key, upper, self._records.get(key, {}))
                self._records.setdefault(key, {})[upper] = entries
            else:
                self._records.get(key, {}).pop(upper, None)
                self._drop_if_empty(key)
            self._serial += 1
        return [record for record, _ in entries]

    def remove(self, name: str, rtype: str | None = None) -> None:
        """Remove the name's records of `rtype`, or all of its records."""
        key = name_key(name)
        with self._lock:
            if rtype is None:
                self._records.pop(key, None)
            else:
                self._records.get(key, {}).pop(_rtype(rtype), None)
                self._drop_if_empty(key)
            self._serial += 1

    def get(self, name: str, rtype: str) -> list[Record]:
        """The records of `rtype` at `name` (SOA: the generated one at a zone apex)."""
        key, upper = name_key(name), rtype.strip().upper()
        with self._lock:
            if upper == "SOA":
                return [self._soa_record(key)] if key in self._zones else []
            return [record for record, _ in self._records.get(key, {}).get(_rtype(upper), [])]

    def fail(self, name: str, mode: FaultMode, rtype: str | None = None) -> None:
        """Make queries for `name` (optionally only of `rtype`) fail: "servfail", "refused",
        or "timeout" (the query is dropped without any answer).
        """
        if mode not in get_args(FaultMode):
            raise ValueError(f"unknown fault mode {mode!r}; expected one of {get_args(FaultMode)}")
        upper = None if rtype is None else rtype.strip().upper()
        with self._lock:
            self._faults[(name_key(name), upper)] = mode

    def heal(self, name: str, rtype: str | None = None) -> None:
        """Remove the faults set on `name` (only those of `rtype` when given)."""
        key = name_key(name)
        upper = None if rtype is None else rtype.strip().upper()
        with self._lock:
            for fault in [f for f in self._faults if f[0] == key]:
                if upper is None or fault[1] == upper:
                    del self._faults[fault]

    def _make(self, key: Key, rtype: str, value: RecordValue, ttl: int) -> tuple[Record, Any]:
        if not 0 <= ttl <= 0x7FFFFFFF:
            raise ValueError(f"TTL out of range: {ttl}")
        stored = value if isinstance(value, str) else tuple(value)
        return Record(key_text(key), rtype, stored, ttl), _rdata(rtype, value)

    def _check_in_zone(self, key: Key) -> None:
        if self._zone_of(key) is None:
            raise ValueError(
                f"{key_text(key)} is in none of the zones {self.zones}; add_zone first"
            )

    def _check_cname_exclusive(self, key: Key, rtype: str, rrsets: dict[str, Any]) -> None:
        others = {t for t, rrset in rrsets.items() if rrset and t != rtype}
        if others and "CNAME" in {rtype, *others}:
            raise ValueError(f"{key_text(key)}: a CNAME cannot share its name with other data")

    def _drop_if_empty(self, key: Key) -> None:
        if not any(self._records.get(key, {}).values()):
            self._records.pop(key, None)

    def _zone_of(self, key: Key) -> Key | None:
        for cut in range(len(key) + 1):
            if key[cut:] in self._zones:
                return key[cut:]
        return None

    def _exists(self, key: Key) -> bool:
        if key in self._zones or key in self._records:
            return True
        return bool(key) and any(
            len(other) > len(key) and other[-len(key) :] == key for other in self._records
        )

    def _soa_record(self, apex: Key) -> Record:
        value = "{} {} {} {} {} {} {}".format(
            key_text((b"ns", *apex)), key_text((b"hostmaster", *apex)), self._serial, *_SOA_TIMERS
        )
        return Record(key_text(apex), "SOA", value, _SOA_TIMERS[-1])

    def _soa(self, apex: Key) -> tuple[Key, str, int, Any]:
        rdata = SOA(
            DNSLabel([b"ns", *apex]), DNSLabel([b"hostmaster", *apex]), (self._serial, *_SOA_TIMERS)
        )
        return apex, "SOA", _SOA_TIMERS[-1], rdata

    def _rrsets(self, key: Key, zone: Key) -> dict[str, list[tuple[Key, str, int, Any]]]:
        found = {
            rtype: [(key, rtype, record.ttl, rdata) for record, rdata in rrset]
            for rtype, rrset in self._records.get(key, {}).items()
        }
        if key == zone:
            found["SOA"] = [self._soa(zone)]
        return found

    def _answer(self, key: Key, qtype: str) -> _Answer | None:
        """The authoritative answer to one question, or None to drop it (a "timeout" fault)."""
        with self._lock:
            fault = self._faults.get((key, qtype)) or self._faults.get((key, None))
            if fault == "timeout":
                return None
            if fault is not None:
                rcode = RCODE.SERVFAIL if fault == "servfail" else RCODE.REFUSED
                return _Answer(rcode, authoritative=False)
            return self._chase(key, qtype)

    def _chase(self, key: Key, qtype: str) -> _Answer:
        zone = self._zone_of(key)
        if zone is None:
            return _Answer(RCODE.REFUSED, authoritative=False)
        answer: list[tuple[Key, str, int, Any]] = []
        for _ in range(_MAX_CNAME_CHAIN):
            rrsets = self._rrsets(key, zone)
            if qtype == "ANY" and rrsets:
                return _Answer(RCODE.NOERROR, True, (*answer, *chain(*rrsets.values())))
            if qtype in rrsets:
                return _Answer(RCODE.NOERROR, True, (*answer, *rrsets[qtype]))
            if "CNAME" not in rrsets:
                rcode = RCODE.NOERROR if self._exists(key) else RCODE.NXDOMAIN
                return _Answer(rcode, True, tuple(answer), (self._soa(zone),))
            answer.extend(rrsets["CNAME"])
            key = tuple(rrsets["CNAME"][0][3].label.label)
            next_zone = self._zone_of(key)
            if next_zone is None:
                return _Answer(RCODE.NOERROR, True, tuple(answer))
            zone = next_zone
        return _Answer(RCODE.SERVFAIL, authoritative=False)


def _error_reply(data: bytes, rcode: int) -> bytes | None:
    """A bare reply (id, opcode and RD copied) for a query too broken to parse; None for a
    packet that is not a query at all.
    """
    if len(data) < 12 or data[2] & 0x80:
        return None
    return data[:2] + bytes([0x80 | (data[2] & 0x79), rcode]) + bytes(8)


def respond(store: RecordStore, data: bytes, transport: Transport) -> tuple[Key, str, bytes | None]:
    """Answer one DNS message from `store`: (question name key, question type, reply wire bytes
    or None when nothing is sent). Malformed input yields FORMERR, never an exception.
    """
    try:
        request = DNSRecord.parse(data)
    except Exception:  # noqa: BLE001 - dnslib fails many ways on junk; a server answers FORMERR
        logger.debug("dns: unparsable %s packet of %d octets", transport, len(data))
        return (), "", _error_reply(data, RCODE.FORMERR)
    header = request.header
    if header.qr:
        return (), "", None
    if header.opcode != 0 or len(request.questions) != 1:
        rcode = RCODE.NOTIMP if header.opcode != 0 else RCODE.FORMERR
        return (), "", _error_reply(data, rcode)
    question = request.questions[0]
    key: Key = tuple(label.lower() for label in question.qname.label)
    qtype = str(QTYPE[question.qtype])
    if question.qclass not in (CLASS.IN, _CLASS_ANY):
        result: _Answer | None = _Answer(RCODE.REFUSED, authoritative=False)
    else:
        result = store._answer(key, qtype)
    if result is None:
        return key, qtype, None
    reply = DNSRecord(
        DNSHeader(
            id=header.id,
            qr=1,
            opcode=header.opcode,
            aa=int(result.authoritative),
            rd=header.rd,
            ra=0,
            rcode=result.rcode,
        ),
        q=question,
    )

    def rr(owner: Key, rtype: str, ttl: int, rdata: Any) -> Any:
        rname = question.qname if owner == key else DNSLabel(list(owner))
        return RR(rname, getattr(QTYPE, rtype), CLASS.IN, ttl, rdata)

    reply.add_answer(*(rr(*item) for item in result.answer))
    reply.add_auth(*(rr(*item) for item in result.authority))
    opt = next((extra for extra in request.ar if extra.rtype == QTYPE.OPT), None)
    if opt is not None:
        reply.add_ar(EDNS0(udp_len=_EDNS_PAYLOAD))
    limit = 0xFFFF if transport == "tcp" else 512
    if transport == "udp" and opt is not None:
        limit = max(512, min(int(opt.rclass), _EDNS_PAYLOAD))
    wire: bytes = reply.pack()
    if len(wire) > limit:
        reply.rr, reply.auth = [], []
        reply.header.tc = 1
        wire = reply.pack()
    return key, qtype, wire


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, handle: Callable[[bytes, Transport], bytes | None]) -> None:
        self._handle = handle
        self._transport: asyncio.DatagramTransport | None = None
        self.closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self._handle(data, "udp")
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        logger.debug("dns: udp error %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


class _TcpConnections:
    """The open TCP transports, so shutdown can abort them, those accepted meanwhile too."""

    def __init__(self) -> None:
        self._open: set[asyncio.Transport] = set()
        self._closing = False
        self._empty = asyncio.Event()
        self._empty.set()

    def opened(self, transport: asyncio.Transport) -> None:
        self._open.add(transport)
        self._empty.clear()
        if self._closing:
            transport.abort()

    def closed(self, transport: asyncio.Transport) -> None:
        self._open.discard(transport)
        if not self._open:
            self._empty.set()

    async def shut(self, server: asyncio.Server) -> None:
        """Abort every connection, close the listener once no accept is half done (closing it
        earlier breaks those accepts), and wait until all connections are closed.
        """
        self._closing = True
        for transport in list(self._open):
            transport.abort()
        while pending := asyncio.all_tasks() - {asyncio.current_task()}:
            await asyncio.wait(pending)
        server.close()
        await self._empty.wait()


class _TcpProtocol(asyncio.Protocol):
    """DNS over TCP: 2-octet length-prefixed messages, several per connection (RFC 7766)."""

    def __init__(
        self,
        handle: Callable[[bytes, Transport], bytes | None],
        connections: _TcpConnections,
    ) -> None:
        self._handle = handle
        self._connections = connections
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._connections.opened(self._transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._connections.closed(self._transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 2:
            size = int.from_bytes(self._buffer[:2], "big")
            if len(self._buffer) < 2 + size:
                return
            message = bytes(self._buffer[2 : 2 + size])
            del self._buffer[: 2 + size]
            reply = self._handle(message, "tcp")
            if reply is not None and self._transport is not None:
                self._transport.write(len(reply).to_bytes(2, "big") + reply)


def _bind_pair(host: str, port: int = 0) -> tuple[socket.socket, socket.socket]:
    """A UDP socket and a listening TCP socket on the same port (ephemeral when ``port`` is 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(_BIND_ATTEMPTS if port == 0 else 1):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.bind((host, port))
        except OSError:
            udp.close()
            raise
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((host, udp.getsockname()[1]))
            tcp.listen(64)
        except OSError:
            udp.close()
            tcp.close()
            continue
        return udp, tcp
    raise OSError(f"no port on {host} free for both UDP and TCP (asked for {port or 'any'})")


class DnsServer(Service):
    """Authoritative DNS over UDP and TCP on one loopback port, served from its own thread.

    Use `with DnsServer(zones=[...]) as dns:` or `async with ...`, or start()/stop().
    """

    def __init__(
        self,
        zones: Iterable[str] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        records: RecordStore | None = None,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._records = records if records is not None else RecordStore()
        for zone in zones:
            self._records.add_zone(zone)
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._counts: Counter[tuple[Key, str, Transport]] = Counter()
        self._counts_lock = threading.Lock()

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("DnsServer is not running")
        return self._port

    @property
    def endpoint(self) -> DnsEndpoint:
        return DnsEndpoint(self._host, self.port)

    @property
    def records(self) -> RecordStore:
        return self._records

    def add_zone(self, apex: str) -> None:
        """Serve one more zone."""
        self._records.add_zone(apex)

    def query_count(
        self, name: str, rtype: str | None = None, transport: Transport | None = None
    ) -> int:
        """How many queries for `name` arrived (of `rtype`, over `transport`, when given),
        whatever their outcome, dropped ones included.
        """
        key = name_key(name)
        upper = None if rtype is None else rtype.strip().upper()
        with self._counts_lock:
            return sum(
                count
                for (k, t, via), count in self._counts.items()
                if k == key and upper in (None, t) and transport in (None, via)
            )

    def start(self) -> Self:
        """Bind UDP and TCP on one ephemeral port and serve until stop()."""
        if self._thread is not None:
            raise RuntimeError("DnsServer already started")
        udp, tcp = _bind_pair(self._host, self._requested_port)
        self._port = udp.getsockname()[1]
        self._error = None
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(udp, tcp, ready), name=f"dns-{self._port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT) or self._error is not None:
            error = self._error
            self.stop()
            raise RuntimeError("DnsServer failed to start") from error
        logger.info("dns: serving %s on %s:%d", self._records.zones, self._host, self._port)
        return self

    def stop(self) -> None:
        """Stop serving, close every socket and join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:
                logger.debug("dns: loop already closed")
        thread.join(_STOP_TIMEOUT)
        if thread.is_alive():
            logger.warning("dns: server thread did not stop within %.1fs", _STOP_TIMEOUT)
        self._thread = self._loop = self._stopping = None
        self._port = None

    def _handle(self, data: bytes, transport: Transport) -> bytes | None:
        try:
            key, qtype, reply = respond(self._records, data, transport)
        except Exception:
            logger.exception("dns: failed to answer a %s query", transport)
            return _error_reply(data, RCODE.SERVFAIL)
        if qtype:
            with self._counts_lock:
                self._counts[(key, qtype, transport)] += 1
            logger.debug(
                "dns: %s %s %s -> %s",
                transport,
                key_text(key),
                qtype,
                "dropped" if reply is None else f"{len(reply)} octets",
            )
        return reply

    def _run(self, udp: socket.socket, tcp: socket.socket, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        try:
            loop.run_until_complete(self._serve(udp, tcp, ready))
        except Exception as exc:
            if ready.is_set():
                logger.exception("dns: server loop failed")
            self._error = exc
            ready.set()
        finally:
            udp.close()
            tcp.close()
            loop.close()

    async def _serve(self, udp: socket.socket, tcp: socket.socket, ready: threading.Event) -> None:
        loop = asyncio.get_running_loop()
        stopping = self._stopping
        assert stopping is not None
        connections = _TcpConnections()
        udp_transport, udp_protocol = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self._handle), sock=udp
        )
        server = await loop.create_server(lambda: _TcpProtocol(self._handle, connections), sock=tcp)
        ready.set()
        try:
            await stopping.wait()
        finally:
            udp_transport.close()
            try:
                async with asyncio.timeout(_STOP_TIMEOUT / 2):
                    await connections.shut(server)
                    await udp_protocol.closed.wait()
            except TimeoutError:
                logger.warning("dns: connections still open at shutdown")
                server.close()
