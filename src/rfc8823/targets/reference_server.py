"""The ``reference`` target: the project's own CA, started in-process and wired to the world.

The only module of the suites' machinery that imports :mod:`rfc8823.server` (docs/architecture.md:
suites see the CA only through :class:`~rfc8823.targets.server.ServerUnderTest`).
"""

from __future__ import annotations

import dataclasses
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rfc8823 import __version__
from rfc8823.server.config import DEFAULT_CHALLENGE_FROM, ServerConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.smime_br import br_profile
from rfc8823.targets.server import (
    EabCredentials,
    ServerCapabilities,
    ServerEndpoints,
    default_contact,
    wire_from_domain,
)
from rfc8823.world.world import World

REFERENCE_CAPABILITIES = ServerCapabilities(
    smime_challenges=False,
    eai=True,
    eab=False,
    revocation=True,
    signing_only=True,
    encryption_only=True,
    pre_authorization=False,
    time_travel=True,
    challenge_mail_limit=ServerConfig().challenge_mails_per_window,
)

_WIRED = frozenset({"resolver", "mx_port"})


def parse_overrides(texts: Sequence[str]) -> dict[str, Any]:
    """``field=value`` pairs of :class:`ServerConfig` fields, each value a TOML literal.

    E.g. ``smime_sign=true``, ``token_part1_octets=32``, ``challenge_from="ca@other.test"``
    (a bare word is taken as a string). ValueError for unknown or world-wired fields.
    """
    names = {f.name for f in dataclasses.fields(ServerConfig)}
    overrides: dict[str, Any] = {}
    for text in texts:
        name, equals, value = text.partition("=")
        name = name.strip()
        if not equals or name not in names or name in _WIRED:
            allowed = sorted(names - _WIRED)
            raise ValueError(f"{text!r} is not <ServerConfig field>=<value>; fields: {allowed}")
        try:
            overrides[name] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            overrides[name] = value.strip()
    return overrides


@dataclass
class ReferenceTarget:
    """The reference CA: DNS and MX of the world, ``from`` = ``acme-challenge@ca.test``.

    It signs challenges with the world's DKIM key of ``ca.test`` (selector ``rsa``), sends from
    the SPF-authorised source address of ``ca.test``, and receives replies on its own SMTP
    listener, to which the world routes ``ca.test``. ``overrides`` are
    :class:`~rfc8823.server.config.ServerConfig` fields (e.g. ``smime_sign=True``).
    """

    overrides: dict[str, Any] = field(default_factory=dict)
    _server: ReferenceServer | None = field(default=None, init=False, repr=False)
    _world: World | None = field(default=None, init=False, repr=False)
    _clock_offset: float = field(default=0.0, init=False, repr=False)

    @property
    def name(self) -> str:
        """``rfc8823-reference-ca``."""
        return "rfc8823-reference-ca"

    @property
    def version(self) -> str:
        """The package version."""
        return __version__

    @property
    def capabilities(self) -> ServerCapabilities:
        """The reference CA's features; S/MIME signing and EAB only when configured; the S/MIME
        BR profile it issues under (``br_profile``, strict by default)."""
        return replace(
            REFERENCE_CAPABILITIES,
            smime_br_profile=br_profile(str(self.overrides.get("br_profile", "strict"))),
            smime_challenges=bool(self.overrides.get("smime_sign", False)),
            eab=bool(self.overrides.get("eab_keys")),
            challenge_mail_limit=self.overrides.get(
                "challenge_mails_per_window", REFERENCE_CAPABILITIES.challenge_mail_limit
            ),
        )

    def config_for(self, world: World) -> ServerConfig:
        """The CA configuration wired to ``world``, with ``overrides`` applied."""
        challenge_from = str(self.overrides.get("challenge_from", DEFAULT_CHALLENGE_FROM))
        domain = challenge_from.rpartition("@")[2].lower()
        base: dict[str, Any] = {
            "resolver": world.dns_endpoint,
            "mx_port": world.mx.port,
            "challenge_from": challenge_from,
        }
        if domain in world.domains:
            base["source_address"] = world.domain(domain).source_ip
        return ServerConfig(**{**base, **self.overrides})

    def start(self, world: World) -> ServerEndpoints:
        """Start the CA on ephemeral loopback ports and route its ``from`` domain to it."""
        if self._server is not None:
            raise RuntimeError("the reference target is already started")
        config = self.config_for(world)
        server = ReferenceServer(config, pki=world.pki, clock=self._clock).start()
        self._server, self._world = server, world
        wire_from_domain(world, config.challenge_from, server.reply_endpoint)
        return ServerEndpoints(
            directory_url=server.directory_url,
            challenge_from=config.challenge_from,
            reply_smtp=server.reply_endpoint,
            ca_bundle=server.ca_bundle,
            smime_trust_anchors=(world.pki.trust_anchor_path,),
            eab=next((EabCredentials(kid, key) for kid, key in config.eab_keys.items()), None),
            contact=default_contact(world),
        )

    def _clock(self) -> float:
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Run the CA's clock ``seconds`` ahead of real time (0: back to real time)."""
        if seconds < 0:
            raise ValueError("the CA's clock only moves forward from real time")
        self._clock_offset = seconds

    def internal_errors(self) -> list[str]:
        """The reference CA's crashes so far (500 answers, engine failures)."""
        return self._server.internal_errors() if self._server is not None else []

    def stop(self) -> None:
        """Stop the CA and give its ``from`` domain back to the world's mailboxes."""
        server, world = self._server, self._world
        self._server = self._world = None
        if server is not None:
            server.stop()
        if world is not None:
            domain = server.config.challenge_domain if server is not None else ""
            if domain in world.domains:
                world.unroute(domain)
