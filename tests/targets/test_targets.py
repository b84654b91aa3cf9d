"""The server targets against the world: wiring a ``from`` domain, the reference target, waits."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from rfc8823.targets import DkimRecord, ServerEndpoints, ServerUnderTest, wire_from_domain
from rfc8823.targets.ca_mail import MailWiring
from rfc8823.targets.reference_server import ReferenceTarget, parse_overrides
from rfc8823.targets.remote_server import RemoteTarget
from rfc8823.targets.target_file import TargetSettings
from rfc8823.world.ports import unused_port
from rfc8823.world.world import Route, World


@pytest.fixture
def reference(world: World) -> Iterator[tuple[ReferenceTarget, ServerEndpoints]]:
    """A started reference target and its endpoints, stopped after the test."""
    target = ReferenceTarget()
    endpoints = target.start(world)
    yield target, endpoints
    target.stop()


def test_external_from_domain_gets_a_zone_and_route(world: World) -> None:
    """A CA domain the world does not know: MX, SPF, DMARC, DKIM records and a relay route."""
    wire_from_domain(
        world, "acme@ca-external.example", ("127.0.0.1", 2525), [DkimRecord("s1", "v=DKIM1; p=")]
    )
    resolver = world.resolver
    assert [host for _, host in resolver.mx("ca-external.example")] == ["mx.ca-external.example"]
    assert resolver.a("mx.ca-external.example") == ["127.0.0.1"]
    assert resolver.txt("s1._domainkey.ca-external.example") == ["v=DKIM1; p="]
    assert resolver.txt("_dmarc.ca-external.example") == ["v=DMARC1; p=reject"]
    assert world.routes["ca-external.example"].port == 2525


def test_world_from_domain_is_routed_and_keys_replaced(world: World) -> None:
    """A world domain keeps its zone; its mail is routed to the CA; given DKIM records win."""
    wire_from_domain(world, "ca@other.test", ("127.0.0.1", 2526), [DkimRecord("rsa", "v=DKIM1")])
    try:
        assert world.routes["other.test"].port == 2526
        assert world.resolver.txt("rsa._domainkey.other.test") == ["v=DKIM1"]
    finally:
        world.unroute("other.test")
        world.publish()


def test_parse_overrides() -> None:
    """``field=value`` with TOML values; unknown and world-wired fields refused."""
    assert parse_overrides(["smime_sign=true", "token_part1_octets=32", "website=x"]) == {
        "smime_sign": True,
        "token_part1_octets": 32,
        "website": "x",
    }
    for bad in ("nonsense=1", "mx_port=25", "smime_sign"):
        with pytest.raises(ValueError, match="ServerConfig field"):
            parse_overrides([bad])


def test_reference_capabilities_follow_its_configuration() -> None:
    """S/MIME signing and EAB are declared exactly when configured."""
    plain = ReferenceTarget()
    assert isinstance(plain, ServerUnderTest)
    assert plain.capabilities.eai
    assert not plain.capabilities.smime_challenges
    assert not plain.capabilities.eab
    assert not plain.capabilities.serial_only
    configured = ReferenceTarget({"smime_sign": True, "eab_keys": {"k": b"0" * 32}})
    assert configured.capabilities.smime_challenges
    assert configured.capabilities.eab


def test_reference_target_start_and_stop(
    world: World, reference: tuple[ReferenceTarget, ServerEndpoints]
) -> None:
    """Started: its directory answers over HTTPS, ca.test is routed to its reply listener."""
    target, endpoints = reference
    assert endpoints.challenge_from == "acme-challenge@ca.test"
    assert world.routes["ca.test"] == Route(*endpoints.reply_smtp)
    assert endpoints.smime_trust_anchors == (world.pki.trust_anchor_path,)
    with httpx.Client(verify=ssl.create_default_context(cafile=endpoints.ca_bundle)) as http:
        assert http.get(endpoints.directory_url).json()["newOrder"].startswith("https://")
    with pytest.raises(RuntimeError, match="already started"):
        target.start(world)
    target.stop()
    assert "ca.test" not in world.routes
    target.stop()


def test_remote_target_waits_for_its_directory(
    world: World, reference: tuple[ReferenceTarget, ServerEndpoints]
) -> None:
    """A running CA is reached; the remote target routes its from domain like the reference."""
    _, endpoints = reference
    remote = RemoteTarget(
        TargetSettings(
            directory=endpoints.directory_url,
            challenge_from=endpoints.challenge_from,
            mail=MailWiring(reply_smtp=endpoints.reply_smtp),
            ca_bundle=endpoints.ca_bundle,
        )
    )
    assert remote.capabilities.serial_only
    found = remote.start(world)
    assert found.directory_url == endpoints.directory_url
    assert world.routes["ca.test"] == Route(*endpoints.reply_smtp)
    remote.stop()
    assert "ca.test" not in world.routes


def test_remote_target_gives_up_after_its_wait(world: World) -> None:
    """Nothing listening: a ConnectionError naming the directory, after ``wait_seconds``."""
    url = f"https://127.0.0.1:{unused_port()}/directory"
    remote = RemoteTarget(
        TargetSettings(
            directory=url,
            challenge_from="ca@ca.test",
            mail=MailWiring(reply_smtp=("127.0.0.1", 1)),
            wait_seconds=0.3,
        )
    )
    with pytest.raises(ConnectionError, match=r"did not answer within 0\.3 s"):
        remote.start(world)
