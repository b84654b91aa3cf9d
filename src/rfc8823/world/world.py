"""The test world: domains with DKIM/SPF/DMARC in a real DNS server, an MX, and submission ports.

Every domain gets an MX pointing at the world's inbound listener, DKIM keys (RSA-2048 under
selector ``rsa``, Ed25519 under ``ed``; RFC 6376, RFC 8463), an SPF record authorising one
loopback source address of its own (RFC 7208), and a DMARC ``p=reject`` record (RFC 7489).

Mail flows the way it does between real providers:

- ``mx`` accepts mail for the world's domains (what a CA sends challenges to) into ``store``;
- ``submission`` (STARTTLS + AUTH) and ``submissions`` (implicit TLS + AUTH, RFC 8314) accept
  mail from a user's client (or from a CA that uses them as its smarthost), record it in
  ``outbox``, DKIM-sign it when the sender's domain is
  set to be signed by its provider, and relay it: into ``store`` for the world's domains, or
  over SMTP to a route (e.g. a CA's own listener) from the sender domain's SPF-authorised
  source address.

DNS cannot carry ports, so a domain whose mail goes to a listener outside the world is given an
explicit route (host, port); its MX and A records point at that host.
"""

from __future__ import annotations

import itertools
import secrets
import ssl
import string
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from typing import Self

from rfc8823.auth import dkim
from rfc8823.auth.resolver import DnsEndpoint, Resolver
from rfc8823.values import KeyKind, PrivateKey
from rfc8823.world.dns import DnsServer, RecordStore
from rfc8823.world.keys import cached_key
from rfc8823.world.mailstore import MailStore, ReceivedMessage
from rfc8823.world.pki import TestPki
from rfc8823.world.relations import RELATION_DOMAINS
from rfc8823.world.sendmail import send_message_async
from rfc8823.world.service import AsyncService, Service
from rfc8823.world.smtp import SmtpServer, TlsMode

DEFAULT_DOMAINS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            "ca.test",
            "example.test",
            "sub.example.test",
            "other.test",
            "xn--bcher-kva.test",
            *RELATION_DOMAINS,
        )
    )
)
"""The CA's domain, users' domains, a stranger, an IDN (bücher), and the domains of the DKIM
alignment cases (:mod:`rfc8823.world.relations`); each keeps its source address across runs."""

DKIM_SELECTORS: Mapping[str, KeyKind] = {"rsa": "rsa2048", "ed": "ed25519"}
UNAUTHORISED_SOURCE = "127.0.0.250"
"""A loopback source address that no domain's SPF record authorises."""

MX_HOST = "127.0.0.1"
_FIRST_SOURCE_OCTET = 10
_RELAY_TIMEOUT = 10.0
_PASSWORD_ALPHABET = string.ascii_letters + string.digits
_PASSWORD_LENGTH = 20


def new_password() -> str:
    """A random password of letters and digits (about 119 bits).

    Never starts with ``-``: a client given it as a command-line word must not read it as an
    option.
    """
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(_PASSWORD_LENGTH))


@dataclass(frozen=True)
class Route:
    """Where mail for a domain outside the world's mailboxes goes: an SMTP host and port."""

    host: str
    port: int


@dataclass(frozen=True)
class WorldPorts:
    """Listening ports of the world's servers; 0 lets the system choose (the default)."""

    dns: int = 0
    mx: int = 0
    submission: int = 0
    submissions: int = 0


@dataclass(frozen=True)
class WorldDomain:
    """One mail domain: its DKIM keys and the source address its provider sends from."""

    name: str
    source_ip: str
    dkim_keys: Mapping[str, PrivateKey]

    def dkim_key(self, selector: str = "rsa") -> dkim.DkimPrivateKey:
        """The private key published under ``<selector>._domainkey.<name>``."""
        key = self.dkim_keys[selector]
        if isinstance(key, dkim.DkimPrivateKey):
            return key
        raise TypeError(f"selector {selector!r} of {self.name} holds no DKIM signing key")

    def dkim_sign(
        self,
        message: bytes,
        headers: Sequence[str],
        *,
        selector: str = "rsa",
        body_length: bool = False,
    ) -> bytes:
        """Sign as this domain's provider would: ``d=`` is this domain (RFC 6376 §3.5)."""
        return dkim.sign(
            message,
            domain=self.name,
            selector=selector,
            private_key=self.dkim_key(selector),
            headers=headers,
            body_length=body_length,
        )


class World(AsyncService, Service):
    """DNS, domains, PKI and SMTP listeners on loopback; ``with``, ``async with`` or start/stop.

    The synchronous form runs every server on a thread of its own (plain pytest fixtures); the
    asynchronous form runs the SMTP listeners in the caller's loop. DNS always has its own
    thread, so blocking lookups made from an SMTP handler cannot stall it.
    """

    def __init__(
        self,
        domains: Iterable[str] = DEFAULT_DOMAINS,
        *,
        pki: TestPki | None = None,
        ports: WorldPorts | None = None,
    ):
        """``ports`` pins listening ports (0 = ephemeral), for a CA configured before the run."""
        pinned = ports or WorldPorts()
        names = tuple(dict.fromkeys(d.lower().rstrip(".") for d in domains))
        if not names:
            raise ValueError("a world needs at least one domain")
        self.pki = pki or TestPki.load()
        self.domains: dict[str, WorldDomain] = {
            name: WorldDomain(
                name=name,
                source_ip=f"127.0.0.{_FIRST_SOURCE_OCTET + index}",
                dkim_keys={
                    selector: cached_key(f"dkim-{name}-{selector}", kind)
                    for selector, kind in DKIM_SELECTORS.items()
                },
            )
            for index, name in enumerate(names)
        }
        self.dns = DnsServer(zones=names, port=pinned.dns)
        self.store = MailStore()
        self.outbox = MailStore()
        self.routes: dict[str, Route] = {}
        self.provider_signs: set[str] = set()
        self.tls_context = self.pki.server_ssl_context(
            ["localhost", MX_HOST, *(f"mx.{name}" for name in names)]
        )
        self.mx = SmtpServer(
            name="mx",
            host=MX_HOST,
            port=pinned.mx,
            tls="starttls",
            ssl_context=self.tls_context,
            accept_domains=names,
            store=self.store,
        )
        self.submission = self._submission_server("submission", "starttls", pinned.submission)
        self.submissions = self._submission_server("submissions", "implicit", pinned.submissions)
        self._counter = itertools.count(1)
        self._tag = secrets.token_hex(3)
        self._resolver: Resolver | None = None
        self._stack: ExitStack | AsyncExitStack | None = None

    def _submission_server(self, name: str, tls: TlsMode, port: int) -> SmtpServer:
        return SmtpServer(
            name=name,
            host=MX_HOST,
            port=port,
            tls=tls,
            ssl_context=self.tls_context,
            require_starttls=tls == "starttls",
            auth={},
            auth_required=True,
            store=self.outbox,
            on_message=self._relay,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start DNS and every SMTP listener on threads of their own."""
        stack = ExitStack()
        try:
            stack.enter_context(self.dns)
            for server in self._smtp_servers:
                stack.enter_context(server)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        self.publish()
        return self

    def stop(self) -> None:
        """Stop everything started by :meth:`start`."""
        stack, self._stack = self._stack, None
        if isinstance(stack, ExitStack):
            stack.close()

    async def start_async(self) -> None:
        """Start everything on this event loop: the SMTP listeners natively, DNS on its thread."""
        stack = AsyncExitStack()
        try:
            stack.enter_context(self.dns)
            for server in self._smtp_servers:
                await stack.enter_async_context(server)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self.publish()

    async def stop_async(self) -> None:
        """Stop everything started by :meth:`start_async`."""
        stack, self._stack = self._stack, None
        if isinstance(stack, AsyncExitStack):
            await stack.aclose()

    @property
    def _smtp_servers(self) -> tuple[SmtpServer, ...]:
        return (self.mx, self.submission, self.submissions)

    # -- DNS -------------------------------------------------------------------------------

    @property
    def records(self) -> RecordStore:
        """The live DNS records; edit them to break keys, drop records or inject faults."""
        return self.dns.records

    @property
    def dns_endpoint(self) -> DnsEndpoint:
        """Where the world's authoritative DNS answers (UDP and TCP)."""
        return self.dns.endpoint

    @property
    def resolver(self) -> Resolver:
        """A stub resolver that asks only the world's DNS."""
        if self._resolver is None:
            self._resolver = Resolver(self.dns.endpoint)
        return self._resolver

    def publish(self) -> None:
        """(Re)publish every domain's MX, SPF, DMARC and DKIM records, undoing test edits."""
        for domain in self.domains.values():
            self._publish_domain(domain)

    def _publish_domain(self, domain: WorldDomain) -> None:
        records = self.records
        name = domain.name
        route = self.routes.get(name)
        records.set(name, "MX", [f"10 mx.{name}"])
        records.set(f"mx.{name}", "A", [route.host if route else MX_HOST])
        records.set(name, "TXT", [f"v=spf1 ip4:{domain.source_ip} -all"])
        records.set(f"_dmarc.{name}", "TXT", ["v=DMARC1; p=reject"])
        for selector in domain.dkim_keys:
            public = domain.dkim_key(selector).public_key()
            records.set(f"{selector}._domainkey.{name}", "TXT", [dkim.dkim_txt_record(public)])

    # -- mail ------------------------------------------------------------------------------

    def domain(self, name: str) -> WorldDomain:
        """The world domain called ``name`` (A-label or U-label)."""
        key = dkim.to_a_label(name)
        try:
            return self.domains[key]
        except KeyError:
            known = sorted(self.domains)
            raise KeyError(f"{name!r} is not a domain of this world ({known})") from None

    def new_address(self, domain: str = "example.test", prefix: str = "user") -> str:
        """A mailbox address nobody has used yet in this world (tests isolate by address)."""
        return f"{prefix}-{self._tag}-{next(self._counter)}@{self.domain(domain).name}"

    def submission_login(self, address: str) -> tuple[str, str]:
        """Create (or reset) AUTH credentials for ``address`` on both submission ports.

        The login is the address itself when it is ASCII; an internationalized address gets an
        ASCII login of its own, since AUTH PLAIN user names are not SMTPUTF8 (RFC 4954 §4). The
        password is :func:`new_password`'s, safe as a command-line word.
        """
        login = address if address.isascii() else f"eai-{secrets.token_hex(6)}"
        password = new_password()
        self.allow_login(login, password)
        return login, password

    def allow_login(self, login: str, password: str) -> None:
        """Let ``login`` AUTH with ``password`` on both submission ports (RFC 4954).

        A CA that sends through a smarthost is given such a login: the world's submission
        ports then relay its challenge emails like any provider's (RFC 6409, RFC 8314).
        """
        for server in (self.submission, self.submissions):
            server.set_password(login, password)

    def route(self, domain: str, host: str, port: int) -> None:
        """Relay mail for ``domain`` to an SMTP listener outside the world's mailboxes."""
        name = self.domain(domain).name
        self.routes[name] = Route(host, port)
        if self._stack is not None:
            self._publish_domain(self.domains[name])

    def add_external_domain(
        self,
        name: str,
        route: Route,
        *,
        dkim_records: Mapping[str, str] | None = None,
        spf: str = "v=spf1 ip4:127.0.0.0/8 -all",
    ) -> None:
        """Serve a domain whose mail lives outside the world (a CA under test's ``from`` domain).

        The world answers for it in DNS (MX and A towards ``route``, SPF, DMARC ``p=reject``, and
        the DKIM key records the operator supplies as selector -> TXT) and relays mail for it
        to ``route``. Its signing keys stay with its owner, so it is not in :attr:`domains`.
        """
        apex = dkim.to_a_label(name)
        if apex in self.domains:
            raise ValueError(f"{apex} is already a world domain; use route() for it")
        self.dns.add_zone(apex)
        self.routes[apex] = route
        records = self.records
        records.set(apex, "MX", [f"10 mx.{apex}"])
        records.set(f"mx.{apex}", "A", [route.host if route.host != "localhost" else MX_HOST])
        records.set(apex, "TXT", [spf])
        records.set(f"_dmarc.{apex}", "TXT", ["v=DMARC1; p=reject"])
        for selector, txt in (dkim_records or {}).items():
            records.set(f"{selector}._domainkey.{apex}", "TXT", [txt])

    def unroute(self, domain: str) -> None:
        """Undo :meth:`route`: mail for ``domain`` lands in the world's mailboxes again."""
        name = self.domain(domain).name
        self.routes.pop(name, None)
        if self._stack is not None:
            self._publish_domain(self.domains[name])

    def sign_outbound(self, domain: str, enabled: bool = True) -> None:
        """Have the provider of ``domain`` DKIM-sign mail its users submit (RFC 8823 §3.2 (8))."""
        name = self.domain(domain).name
        if enabled:
            self.provider_signs.add(name)
        else:
            self.provider_signs.discard(name)

    def client_ssl_context(self) -> ssl.SSLContext:
        """A TLS client context trusting the world's CA (for STARTTLS and HTTPS)."""
        return self.pki.client_ssl_context()

    async def _relay(self, message: ReceivedMessage) -> None:
        """Deliver a submitted message as its sender's provider would (sign, then route)."""
        sender = self.domains.get(dkim.to_a_label(message.mail_from.rpartition("@")[2]))
        data = message.data
        if sender is not None and sender.name in self.provider_signs:
            data = sender.dkim_sign(data, dkim.RESPONSE_REQUIRED_HEADERS)
        local: list[str] = []
        remote: dict[Route, list[str]] = {}
        for rcpt in message.rcpt_tos:
            route = self.routes.get(dkim.to_a_label(rcpt.rpartition("@")[2]))
            if route is None:
                local.append(rcpt)
            else:
                remote.setdefault(route, []).append(rcpt)
        if sender is None:
            source, helo = UNAUTHORISED_SOURCE, "relay.invalid"
        else:
            source, helo = sender.source_ip, f"mx.{sender.name}"
        for route, rcpts in remote.items():
            await send_message_async(
                route.host,
                route.port,
                mail_from=message.mail_from,
                rcpt_tos=rcpts,
                data=data,
                source_address=source,
                helo=helo,
                smtputf8=message.smtputf8,
                timeout=_RELAY_TIMEOUT,
            )
        if local:
            self.store.deliver(
                ReceivedMessage(
                    mail_from=message.mail_from,
                    rcpt_tos=tuple(local),
                    data=data,
                    peer=(source, 0),
                    helo=helo,
                    tls=True,
                    auth_user=None,
                    smtputf8=message.smtputf8,
                    listener="relay",
                    received_at=time.time(),
                )
            )
