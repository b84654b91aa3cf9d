"""Stub resolver that queries the world's DNS over the network, never the system's (RFC 8823 §6).

Every mail-authentication check (DKIM keys, SPF, DMARC, MX) asks through this module, so the
suite sees real UDP/TCP DNS traffic and a lookup failure surfaces as a typed error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import dns.exception
import dns.name
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.TXT import TXT

NoRecordKind = Literal["nxdomain", "nodata", "invalid"]


@dataclass(frozen=True)
class DnsEndpoint:
    """Where an authoritative DNS server listens (one host, UDP and TCP on the same port)."""

    host: str
    port: int


class DnsError(Exception):
    """A DNS lookup did not produce records; `name` and `rtype` say which lookup."""

    def __init__(self, name: str, rtype: str, detail: str) -> None:
        super().__init__(f"{rtype} {name}: {detail}")
        self.name = name
        self.rtype = rtype
        self.detail = detail


class DnsNoRecord(DnsError):
    """A permanent answer of no data: `kind` is "nxdomain" (name absent), "nodata" (name exists,
    no record of the type) or "invalid" (the name cannot exist in DNS, so nothing was sent).
    """

    def __init__(self, name: str, rtype: str, kind: NoRecordKind, detail: str = "") -> None:
        super().__init__(name, rtype, detail or kind)
        self.kind: NoRecordKind = kind


class DnsTempError(DnsError):
    """A transient failure: timeout, SERVFAIL, REFUSED or a network error."""


class Resolver:
    """Blocking stub resolver bound to one DNS endpoint; no cache, no search list.

    UDP first with EDNS (1232-octet payload); a truncated answer is retried over TCP. A lookup
    gives up after about `timeout` seconds (dnspython may add 0.1 s of retry backoff).
    """

    def __init__(self, endpoint: DnsEndpoint, timeout: float = 2.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = [endpoint.host]
        self._resolver.port = endpoint.port
        self._resolver.timeout = timeout
        self._resolver.lifetime = timeout
        self._resolver.use_edns(0, 0, 1232)

    def txt(self, name: str) -> list[str]:
        """TXT records of `name`, each record's strings joined; UTF-8 with surrogateescape,
        so `value.encode("utf-8", "surrogateescape")` gives back the exact octets.
        """
        return [
            b"".join(rdata.strings).decode("utf-8", "surrogateescape")
            for rdata in self._query(name, "TXT")
            if isinstance(rdata, TXT)
        ]

    def mx(self, domain: str) -> list[tuple[int, str]]:
        """MX records as (preference, exchange) sorted by preference; exchange without the
        trailing dot, "." for a null MX (RFC 7505).
        """
        found = [
            (rdata.preference, _host_text(rdata.exchange))
            for rdata in self._query(domain, "MX")
            if isinstance(rdata, MX)
        ]
        return sorted(found)

    def a(self, name: str) -> list[str]:
        """IPv4 addresses of `name`."""
        return [rdata.to_text() for rdata in self._query(name, "A")]

    def aaaa(self, name: str) -> list[str]:
        """IPv6 addresses of `name`."""
        return [rdata.to_text() for rdata in self._query(name, "AAAA")]

    def _query(self, name: str, rtype: str) -> list[dns.rdata.Rdata]:
        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
            raise DnsNoRecord(name, rtype, "invalid", f"invalid name: {exc}") from exc
        try:
            answer = self._resolver.resolve(
                qname, dns.rdatatype.from_text(rtype), tcp=False, search=False
            )
        except dns.resolver.NXDOMAIN as exc:
            raise DnsNoRecord(name, rtype, "nxdomain") from exc
        except dns.resolver.NoAnswer as exc:
            raise DnsNoRecord(name, rtype, "nodata") from exc
        except dns.exception.Timeout as exc:
            raise DnsTempError(name, rtype, f"timeout after {self.timeout}s") from exc
        except dns.resolver.NoNameservers as exc:
            raise DnsTempError(name, rtype, f"server failure: {exc}") from exc
        except (dns.exception.DNSException, OSError) as exc:
            raise DnsTempError(name, rtype, f"{type(exc).__name__}: {exc}") from exc
        return list(answer)


def _host_text(host: dns.name.Name) -> str:
    return "." if host == dns.name.root else host.to_text(omit_final_dot=True)
