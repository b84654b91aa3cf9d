"""Helpers shared by the client tests: names of the test world's parties, a ready config."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from rfc8823.client.enroll import EnrollConfig, MailboxSpec, Timeouts
from rfc8823.client.mailbox import MailSource
from rfc8823.client.reply import DkimConfig, SubmissionConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.world.world import World

USER_DOMAIN = "example.test"
CA_DOMAIN = "ca.test"
FAST = Timeouts(email_grace=2.0, email=10.0, validation=10.0, issuance=10.0, http=5.0, total=30.0)


def enroll_config(
    world: World,
    ca: ReferenceServer,
    mailbox: MailboxSpec | MailSource,
    out_dir: Path,
    **changes: Any,
) -> EnrollConfig:
    """An enrollment of a fresh address against ``ca``: the client DKIM-signs its response and
    submits it straight to the CA's reply listener."""
    config = EnrollConfig(
        directory_url=ca.directory_url,
        email=world.new_address(USER_DOMAIN),
        mailbox=mailbox,
        submission=SubmissionConfig(*ca.reply_endpoint),
        out_dir=out_dir,
        ca_bundle=ca.ca_bundle,
        dns=world.dns_endpoint,
        dkim=DkimConfig(world.domain(USER_DOMAIN).dkim_key("rsa"), "rsa"),
        timeouts=FAST,
    )
    return replace(config, **changes)


def file_names(folder: Path) -> list[str]:
    """The names of the files in ``folder``, sorted (none if it does not exist)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@contextmanager
def provider_route(
    world: World, signing_domain: str, route_domain: str, endpoint: tuple[str, int]
) -> Iterator[None]:
    """Have ``signing_domain``'s provider DKIM-sign and relay ``route_domain`` mail to
    ``endpoint``; the world's previous route and signing are put back afterwards (the world is
    shared with other tests of the session)."""
    previous = world.routes.get(route_domain)
    signing = signing_domain in world.provider_signs
    world.sign_outbound(signing_domain)
    world.route(route_domain, *endpoint)
    try:
        yield
    finally:
        if previous is None:
            world.unroute(route_domain)
        else:
            world.route(route_domain, previous.host, previous.port)
        world.sign_outbound(signing_domain, enabled=signing)
