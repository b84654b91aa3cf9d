"""The ``remote`` target: a CA already running elsewhere, described by a target file and options.

The operator points the CA at the suite's world (its DNS for MX/DKIM/SPF lookups, its MX or its
smarthost for challenge emails, its IMAP mailbox when the CA reads replies there; the suite
prints all of them when it starts) and tells the suite where the CA listens. The description
is a :class:`~rfc8823.targets.target_file.TargetSettings` (see that module for the TOML file).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from rfc8823.targets.ca_mail import CaMail
from rfc8823.targets.server import (
    ServerCapabilities,
    ServerEndpoints,
    default_contact,
)
from rfc8823.targets.target_file import TargetSettings, ca_mail
from rfc8823.world.world import World

_POLL_INTERVAL = 0.25


def wait_for_directory(
    url: str,
    trust: ssl.SSLContext,
    seconds: float,
    *,
    still_running: Callable[[], None] = lambda: None,
) -> None:
    """GET the ACME directory ``url`` until it answers 200, for at most ``seconds``.

    Polling is the only signal an outside process gives that it is up; ``still_running``
    raises when the process is known to be gone, so the wait ends early. ConnectionError
    with the last answer seen when the time runs out.
    """
    deadline = time.monotonic() + seconds
    last = "no attempt"
    with httpx.Client(verify=trust, timeout=5.0) as http:
        while True:
            still_running()
            try:
                response = http.get(url)
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            if time.monotonic() >= deadline:
                raise ConnectionError(
                    f"the ACME directory {url} did not answer within {seconds:g} s ({last})"
                )
            time.sleep(_POLL_INTERVAL)


@dataclass
class RemoteTarget:
    """A CA reached over the network: ``wire`` makes its mail route, ``start`` waits for it.

    ``wire`` runs before the run header is printed (the header shows the mailbox and the
    smarthost login the operator configures the CA with); ``start`` wires if that has not
    happened yet, then waits for the directory.
    """

    settings: TargetSettings
    _mail: CaMail = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.settings.directory is None or self.settings.challenge_from is None:
            raise ValueError("a running CA needs its directory URL and its challenge from")
        self._mail = ca_mail(self.settings, self.settings.challenge_from)

    @property
    def directory(self) -> str:
        """The CA's directory URL."""
        assert self.settings.directory is not None
        return self.settings.directory

    @property
    def challenge_from(self) -> str:
        """The challenge ``from`` address."""
        assert self.settings.challenge_from is not None
        return self.settings.challenge_from

    @property
    def name(self) -> str:
        """The configured name (default ``remote``)."""
        return self.settings.display_name

    @property
    def version(self) -> str:
        """The configured version."""
        return self.settings.version

    @property
    def capabilities(self) -> ServerCapabilities:
        """The declared capabilities (``serial_only`` unless the description says otherwise)."""
        return self.settings.capabilities

    def ssl_context(self) -> ssl.SSLContext:
        """TLS trust for the CA: its CA bundle, else the system's store."""
        bundle = self.settings.ca_bundle
        return ssl.create_default_context(cafile=str(bundle) if bundle is not None else None)

    def wait_for_directory(self) -> None:
        """GET the directory until it answers 200, for at most ``wait_seconds``."""
        wait_for_directory(self.directory, self.ssl_context(), self.settings.wait_seconds)

    def wire(self, world: World) -> None:
        """Start the CA's mail wiring (mailbox, smarthost login, routes, DKIM records) in
        ``world``; once per world."""
        self._mail.start(world)

    def header_lines(self) -> list[str]:
        """The CA's mailbox and smarthost login, once wired."""
        return self._mail.header_lines()

    def start(self, world: World) -> ServerEndpoints:
        """Wire the world for the CA (if not yet), then wait for its directory; a CA that does
        not answer leaves the world as it was."""
        self.wire(world)
        try:
            self.wait_for_directory()
        except BaseException:
            self.stop()
            raise
        settings = self.settings
        return ServerEndpoints(
            directory_url=self.directory,
            challenge_from=self.challenge_from,
            reply_smtp=self._mail.reply_route,
            ca_bundle=settings.ca_bundle,
            smime_trust_anchors=settings.smime_trust_anchors or (world.pki.trust_anchor_path,),
            eab=settings.eab,
            contact=default_contact(world) if settings.contact is None else settings.contact,
            agree_terms=settings.agree_terms,
        )

    def stop(self) -> None:
        """Undo the mail wiring (the CA keeps running)."""
        self._mail.stop()

    def advance_clock(self, seconds: float) -> None:
        """A running CA's clock is its own: it does not declare ``time_travel``."""
        raise NotImplementedError(f"{self.name} keeps its own clock (no time_travel capability)")

    def internal_errors(self) -> list[str]:
        """A running CA's inside is not visible: none known."""
        return []
