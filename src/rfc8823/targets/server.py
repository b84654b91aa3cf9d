"""What the server suite drives: an ACME CA behind one small protocol, and how it meets the world.

A CA under test is wired to the suite's world like a real CA on the Internet: it resolves the
users' domains (MX, DKIM, SPF, DMARC) through the world's DNS, sends its challenge emails to the
world's MX, and receives replies for its ``from`` domain on an SMTP listener of its own, to
which the world's providers relay them. A new CA is one class implementing
:class:`ServerUnderTest` (plus, usually, a TOML file read by :mod:`rfc8823.targets.remote_server`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rfc8823.smime_br import BrProfile, br_profile
from rfc8823.world.world import Route, World

__all__ = [
    "DkimRecord",
    "EabCredentials",
    "ServerCapabilities",
    "ServerEndpoints",
    "ServerUnderTest",
    "TargetUnavailable",
    "WiredEarly",
    "capability_table",
    "default_contact",
    "wire_from_domain",
]


def _capability(default: bool | int | str | None, meaning: str) -> Any:
    """A capability field whose meaning ``--help``, the docs and ``target check`` show."""
    return field(default=default, metadata={"meaning": meaning})


@dataclass(frozen=True)
class ServerCapabilities:
    """Optional features a CA declares; tests of an undeclared one report UNSUPPORTED.

    Each field carries its meaning as metadata (:func:`capability_table`), so the option help,
    ``rfc8823 target check`` and the docs list the same names, defaults and meanings.
    """

    smime_challenges: bool = _capability(
        False, "challenge emails are S/MIME-signed (CHAL-SMIME-1, CHAL-BODY-2, CHAL-BODY-3)"
    )
    dkim_challenges: bool = _capability(
        True, "challenge emails reach users DKIM-signed for the from domain (CHAL-DKIM-*)"
    )
    eai: bool = _capability(
        False, "internationalised (RFC 6531) email identifiers are accepted (I18N-*)"
    )
    eab: bool = _capability(False, "external account binding is supported (RFC 8555 §7.3.4)")
    revocation: bool = _capability(True, "revokeCert works (A-REV-1)")
    signing_only: bool = _capability(
        True, "signing-only certificates are issued for signing-only CSRs (CSR-KU-2)"
    )
    encryption_only: bool = _capability(
        True, "encryption-only certificates are issued for encryption-only CSRs (CSR-KU-3)"
    )
    pre_authorization: bool = _capability(
        False, "newAuthz works for email identifiers (A-PREAUTH-1)"
    )
    time_travel: bool = _capability(
        False,
        "the target can move the CA's clock, so expiry (SRV-VAL-4) is tested without waiting "
        "out an authorization lifetime",
    )
    serial_only: bool = _capability(
        False,
        "the CA is wired to one world, so xdist workers cannot share it (a CA described by a "
        "target file defaults to true)",
    )
    challenge_mail_limit: int | None = _capability(
        None,
        "challenge emails per address the CA sends before answering rateLimited (SEC-8); "
        "none: no limit declared",
    )
    smime_br_profile: BrProfile | None = _capability(  # noqa: RUF009 - a dataclasses.field
        None,
        "the S/MIME BR mailbox-validated profile the CA issues under (mailbox-strict, "
        "mailbox-multipurpose, mailbox-legacy): its certificates are linted against it too",
    )

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> ServerCapabilities:
        """Capabilities from a TOML table or parsed flags; unknown names raise ValueError."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown capabilities {unknown}; known: {sorted(known)}")
        values: dict[str, object] = {}
        for name, value in data.items():
            if name == "challenge_mail_limit":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError(f"capability {name} must be an integer, not {value!r}")
            elif name == "smime_br_profile":
                value = None if value is None else br_profile(str(value))
            elif not isinstance(value, bool):
                raise ValueError(f"capability {name} must be true or false, not {value!r}")
            values[name] = value
        return cls(**values)  # type: ignore[arg-type]

    def declared(self, name: str) -> bool:
        """Whether the boolean capability ``name`` is declared; ValueError for unknown names."""
        value = getattr(self, name, None)
        if not isinstance(value, bool):
            raise ValueError(f"{name!r} is not a boolean capability of {type(self).__name__}")
        return value


def capability_table() -> list[tuple[str, object, str]]:
    """Every capability as (name, default, meaning), in declaration order."""
    defaults = ServerCapabilities()
    return [
        (f.name, getattr(defaults, f.name), str(f.metadata["meaning"]))
        for f in fields(ServerCapabilities)
    ]


@dataclass(frozen=True)
class EabCredentials:
    """An external account binding key the CA issued to the suite (RFC 8555 §7.3.4)."""

    kid: str
    hmac_key: bytes


@dataclass(frozen=True)
class DkimRecord:
    """A DKIM public key record the CA signs with: ``<selector>._domainkey.<domain>`` TXT."""

    selector: str
    txt: str


@dataclass(frozen=True)
class ServerEndpoints:
    """Where a started CA is reached, and what the suite trusts about it.

    ``reply_smtp`` is where mail for the ``from`` domain is delivered (the CA's MX: its own
    listener, its MTA, or the suite's MX that files replies into the CA's IMAP mailbox);
    ``ca_bundle`` the PEM the HTTPS certificate chains to (None: the system's trust store);
    ``smime_trust_anchors`` the roots its S/MIME-signed challenges and its issued certificates
    chain to. ``contact``, ``agree_terms`` and ``eab`` go into every newAccount the suite sends
    (RFC 8555 §7.3).
    """

    directory_url: str
    challenge_from: str
    reply_smtp: tuple[str, int]
    ca_bundle: Path | None = None
    smime_trust_anchors: tuple[Path, ...] = ()
    eab: EabCredentials | None = None
    contact: tuple[str, ...] = ()
    agree_terms: bool = True

    @property
    def from_domain(self) -> str:
        """The domain of the challenge ``from`` address (lower case)."""
        return self.challenge_from.rpartition("@")[2].lower()


@runtime_checkable
class ServerUnderTest(Protocol):
    """An ACME CA the server suite can run against (docs/architecture.md: targets wrap
    implementations).

    ``start`` wires the CA to ``world`` (DNS, MX, its reply route, its DKIM keys) and returns
    its endpoints; ``stop`` undoes what ``start`` did. Both are called once per session (per
    xdist worker unless ``capabilities.serial_only``).
    """

    @property
    def name(self) -> str:
        """Implementation name, as reports show it."""
        ...

    @property
    def version(self) -> str:
        """Implementation version ("" when unknown)."""
        ...

    @property
    def capabilities(self) -> ServerCapabilities:
        """What the CA declares it implements."""
        ...

    def start(self, world: World) -> ServerEndpoints:
        """Start (or reach) the CA, wired to ``world``; raise if it cannot be reached."""
        ...

    def stop(self) -> None:
        """Stop what ``start`` started; safe to call twice."""
        ...

    def advance_clock(self, seconds: float) -> None:
        """Run the CA's clock ``seconds`` ahead of real time (0: back to real time).

        Only targets declaring ``time_travel`` implement it; others raise NotImplementedError.
        """
        ...

    def internal_errors(self) -> list[str]:
        """Failures of the CA's own that the target can see (the reference CA's 500 answers and
        engine crashes); [] where it cannot look inside. Each makes the test that saw it ERROR:
        a crash is not a verdict on anyone's mail."""
        ...


class TargetUnavailable(Exception):
    """The CA under test cannot run on this machine (e.g. it cannot be installed).

    Every test then reports UNSUPPORTED with this message, not ERROR: nothing was checked.
    """


@runtime_checkable
class WiredEarly(Protocol):
    """A target the operator configures from the run header: wired before the header prints.

    ``wire`` makes the routes and logins in ``world`` (``start`` later does the rest);
    ``header_lines`` says what the operator configures the CA with.
    """

    def wire(self, world: World) -> None:
        """Make the CA's mail routes and logins in ``world``."""
        ...

    def header_lines(self) -> list[str]:
        """Lines for the run header."""
        ...


def default_contact(world: World) -> tuple[str, ...]:
    """The account contact the suite sends unless told otherwise: a world mailbox (§7.3)."""
    return (f"mailto:{world.new_address(prefix='acme-admin')}",)


def wire_from_domain(
    world: World,
    challenge_from: str,
    reply_smtp: tuple[str, int],
    dkim_records: Sequence[DkimRecord] = (),
) -> None:
    """Make the world treat the CA's ``from`` domain as the CA's: route its mail to the CA.

    A world domain is routed with :meth:`World.route`; a domain the world does not know gets a
    zone of its own (MX to ``reply_smtp``'s host, SPF for loopback sources, DMARC
    ``p=reject``) and a relay route. ``dkim_records`` are published under the domain, replacing
    the world's own key records of the same selector.
    """
    domain = challenge_from.rpartition("@")[2].lower()
    host, port = reply_smtp
    if domain in world.domains:
        world.route(domain, host, port)
        for record in dkim_records:
            world.records.set(f"{record.selector}._domainkey.{domain}", "TXT", [record.txt])
    else:
        world.add_external_domain(
            domain,
            Route(host, port),
            dkim_records={record.selector: record.txt for record in dkim_records},
        )
