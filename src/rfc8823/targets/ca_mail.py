"""How a CA's mail meets the world: where replies reach it, and how its challenges leave it.

Real CAs handle mail in a few ways, and the suite wires each one to its world:

- replies (mail for the CA's ``from`` domain) go by SMTP to a host:port — the CA's own
  listener, or an MTA of the CA's that forwards them — or (``imap``) into a mailbox the CA
  reads: the suite runs Dovecot with the CA's login, and its own MX for the ``from`` domain
  files every reply there with the trace fields an MTA writes (RFC 5321 §4.4);
- challenge emails reach the world by MX lookup (the world's DNS names the world's MX), or
  through a smarthost: the world's submission ports, STARTTLS (RFC 3207) or implicit TLS
  (RFC 8314), AUTH required (RFC 4954) with a login the suite makes and prints.

One login (``login`` / ``password``) serves both the IMAP mailbox and the smarthost, as a
mail account at a provider does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Self, get_args

from rfc8823.targets.client import ImapAccount
from rfc8823.targets.dovecot import Dovecot, dovecot_binary
from rfc8823.targets.server import DkimRecord, wire_from_domain
from rfc8823.world.mailstore import MailStore, ReceivedMessage
from rfc8823.world.service import Service
from rfc8823.world.smtp import SmtpServer
from rfc8823.world.trace import Trace, trace_fields
from rfc8823.world.world import MX_HOST, World, new_password

__all__ = [
    "REPLY_ROUTES",
    "SENDING_ROUTES",
    "CaMail",
    "CaMailbox",
    "MailWiring",
    "ReplyRoute",
    "SendingRoute",
    "SmarthostTls",
]

ReplyRoute = Literal["smtp", "imap"]
SendingRoute = Literal["mx", "smarthost"]
SmarthostTls = Literal["starttls", "implicit"]
REPLY_ROUTES: tuple[ReplyRoute, ...] = get_args(ReplyRoute)
SENDING_ROUTES: tuple[SendingRoute, ...] = get_args(SendingRoute)
SMARTHOST_TLS: tuple[SmarthostTls, ...] = get_args(SmarthostTls)


@dataclass(frozen=True)
class MailWiring:
    """The CA's mail architecture, as its target file describes it.

    ``replies``: ``smtp`` delivers to ``reply_smtp`` (the CA's listener or MTA), ``imap`` files
    into a mailbox the suite runs (``imap_port`` pins its port; 0: chosen at start).
    ``sending``: ``mx`` (MX lookups in the world's DNS) or ``smarthost`` (the world's
    submission port for ``smarthost_tls``). ``login`` defaults to the ``from`` address,
    ``password`` to one generated per run; both are printed in the run header.
    """

    replies: ReplyRoute = "smtp"
    reply_smtp: tuple[str, int] | None = None
    imap_port: int = 0
    sending: SendingRoute = "mx"
    smarthost_tls: SmarthostTls = "starttls"
    login: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        if self.replies not in REPLY_ROUTES:
            raise ValueError(f"replies must be one of {REPLY_ROUTES}, not {self.replies!r}")
        if self.sending not in SENDING_ROUTES:
            raise ValueError(f"sending must be one of {SENDING_ROUTES}, not {self.sending!r}")
        if self.smarthost_tls not in SMARTHOST_TLS:
            raise ValueError(
                f"smarthost_tls must be one of {SMARTHOST_TLS}, not {self.smarthost_tls!r}"
            )
        if self.replies == "smtp" and self.reply_smtp is None:
            raise ValueError("replies by smtp need reply_smtp (host:port)")
        if self.replies == "imap" and self.reply_smtp is not None:
            raise ValueError("replies by imap go to the suite's mailbox: drop reply_smtp")
        if not 0 <= self.imap_port <= 65535:
            raise ValueError(f"imap_port {self.imap_port} is not a port")
        for value in (self.login, self.password):
            if value is not None and (not value or any(c in value for c in ":/\r\n")):
                raise ValueError("login and password must be non-empty, without ':', '/' or breaks")

    @property
    def needs_login(self) -> bool:
        """Whether the CA is given a mail login (IMAP mailbox or smarthost AUTH)."""
        return self.replies == "imap" or self.sending == "smarthost"


class CaMailbox(Service):
    """The CA's IMAP mailbox, fed by an MX of the suite's for the ``from`` domain.

    Dovecot holds the mailbox (login ``account``); an SMTP listener on loopback (``address``)
    accepts mail for the ``from`` domain and files each message into the INBOX with a
    ``Return-Path`` and ``Received`` field, so the CA can still tell who sent it from where.
    """

    def __init__(
        self, domain: str, *, login: str, password: str, imap_port: int = 0, timeout: float = 10.0
    ) -> None:
        self.domain = domain.lower()
        self.dovecot = Dovecot(port=imap_port, start_timeout=timeout)
        self.listener = SmtpServer(
            name="ca-mailbox-mx",
            host=MX_HOST,
            accept_domains=[self.domain],
            store=MailStore(),
            on_message=self._file,
            hostname=f"mx.{self.domain}",
        )
        self._login, self._password = login, password
        self._account: ImapAccount | None = None

    @property
    def account(self) -> ImapAccount:
        """The CA's IMAP login."""
        if self._account is None:
            raise RuntimeError("the CA mailbox is not running")
        return self._account

    @property
    def address(self) -> tuple[str, int]:
        """Where mail for the ``from`` domain is delivered (route the world here)."""
        return self.listener.address

    def start(self) -> Self:
        """Start Dovecot with the CA's login, then the MX that files into it."""
        self.dovecot.start()
        try:
            self._account = self.dovecot.add_user(self._login, self._password)
            self.listener.start()
        except BaseException:
            self.dovecot.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the MX and Dovecot; safe to call twice."""
        try:
            self.listener.stop()
        finally:
            self.dovecot.stop()
            self._account = None

    async def _file(self, message: ReceivedMessage) -> None:
        """File one accepted message, trace fields first (a failure answers the sender 451)."""
        trace = Trace(message.mail_from, message.helo, message.peer[0])
        data = trace_fields(trace, by=f"mx.{self.domain}", tls=message.tls) + message.data
        await asyncio.to_thread(self.dovecot.append, self.account, data)


@dataclass
class CaMail:
    """A CA's mail wiring, running in one world: the mailbox if replies go by IMAP, the
    smarthost login, the ``from`` domain routed to where replies go and its DKIM records.

    ``start`` makes what ``wiring`` asks for in ``world``; ``stop`` undoes it (and the object
    can be started again).
    """

    wiring: MailWiring
    challenge_from: str
    dkim_records: Sequence[DkimRecord] = ()
    timeout: float = 10.0
    login: str = field(init=False, default="")
    password: str = field(init=False, default="")
    mailbox: CaMailbox | None = field(init=False, default=None)
    world: World | None = field(init=False, default=None, repr=False)
    reply_route: tuple[str, int] = field(init=False, default=("", 0))

    def start(self, world: World) -> Self:
        """Start the mailbox, add the smarthost login as needed, route the ``from`` domain;
        nothing when already wired to ``world``.

        RuntimeError when replies go by IMAP and Dovecot is not installed, or when wired to
        another world.
        """
        if self.world is world:
            return self
        if self.world is not None:
            raise RuntimeError("this CA's mail is wired to another world; stop it first")
        wiring = self.wiring
        self.login = wiring.login or self.challenge_from
        self.password = wiring.password or new_password()
        if wiring.replies == "imap" and dovecot_binary() is None:
            raise RuntimeError(
                "replies by IMAP need Dovecot on this machine (apt-get install dovecot-imapd)"
            )
        if wiring.sending == "smarthost":
            world.allow_login(self.login, self.password)
        if wiring.replies == "smtp":
            assert wiring.reply_smtp is not None
            self.reply_route = wiring.reply_smtp
        else:
            self.mailbox = CaMailbox(
                self.challenge_from.rpartition("@")[2],
                login=self.login,
                password=self.password,
                imap_port=wiring.imap_port,
                timeout=self.timeout,
            ).start()
            self.reply_route = self.mailbox.address
        self.world = world
        wire_from_domain(world, self.challenge_from, self.reply_route, self.dkim_records)
        return self

    def stop(self) -> None:
        """Stop the mailbox and give a routed world domain back; safe to call twice."""
        mailbox, self.mailbox = self.mailbox, None
        if mailbox is not None:
            mailbox.stop()
        world, self.world = self.world, None
        domain = self.challenge_from.rpartition("@")[2].lower()
        if world is not None and domain in world.domains:
            world.unroute(domain)

    @property
    def smarthost(self) -> tuple[str, int] | None:
        """The world's submission endpoint the CA sends through, when it uses a smarthost."""
        world = self.world
        if world is None or self.wiring.sending != "smarthost":
            return None
        server = world.submission if self.wiring.smarthost_tls == "starttls" else world.submissions
        return server.address

    def header_lines(self) -> list[str]:
        """What the operator configures the CA with, for the run header."""
        lines: list[str] = []
        smarthost = self.smarthost
        if smarthost is not None:
            tls = "STARTTLS" if self.wiring.smarthost_tls == "starttls" else "implicit TLS"
            lines.append(
                f"CA smarthost ({tls}, AUTH required): {smarthost[0]}:{smarthost[1]} "
                f"login {self.login} password {self.password}"
            )
        if self.mailbox is not None:
            account = self.mailbox.account
            lines.append(
                f"CA reply mailbox (IMAP, no TLS, INBOX): {account.host}:{account.port} "
                f"login {account.user} password {account.password}"
            )
        return lines
