"""The composed test world: records published, mail routed as between real providers."""

from __future__ import annotations

import pytest

from rfc8823.auth import dkim
from rfc8823.auth.resolver import DnsNoRecord
from rfc8823.auth.spf_dmarc import check_dmarc, check_spf
from rfc8823.world.sendmail import SendError, send_message
from rfc8823.world.smtp import SmtpServer
from rfc8823.world.world import (
    DEFAULT_DOMAINS,
    MX_HOST,
    UNAUTHORISED_SOURCE,
    Route,
    World,
    WorldPorts,
    new_password,
)


def _message(sender: str, rcpt: str, subject: str = "hello") -> bytes:
    return (
        f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
        "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <w1@world.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nbody line\r\n"
    ).encode()


def test_every_domain_publishes_mx_spf_dmarc_and_dkim(world: World) -> None:
    resolver = world.resolver
    for name in DEFAULT_DOMAINS:
        domain = world.domain(name)
        assert resolver.mx(name) == [(10, f"mx.{name}")]
        assert resolver.a(f"mx.{name}") == [MX_HOST]
        assert resolver.txt(name) == [f"v=spf1 ip4:{domain.source_ip} -all"]
        assert resolver.txt(f"_dmarc.{name}") == ["v=DMARC1; p=reject"]
        assert resolver.txt(f"rsa._domainkey.{name}")[0].startswith("v=DKIM1; k=rsa; p=")
        assert resolver.txt(f"ed._domainkey.{name}")[0].startswith("v=DKIM1; k=ed25519; p=")


def test_idn_domain_is_reachable_by_u_label(world: World) -> None:
    assert world.domain("bücher.test").name == "xn--bcher-kva.test"


def test_new_addresses_are_unique(world: World) -> None:
    first, second = world.new_address(), world.new_address()
    assert first != second
    assert first.endswith("@example.test")


def test_ca_mail_to_the_mx_lands_in_the_mailbox_with_a_verifiable_signature(world: World) -> None:
    rcpt = world.new_address()
    signed = world.domain("ca.test").dkim_sign(
        _message("acme@ca.test", rcpt), dkim.CHALLENGE_REQUIRED_HEADERS, selector="ed"
    )
    send_message(
        MX_HOST,
        world.mx.port,
        mail_from="acme@ca.test",
        rcpt_tos=[rcpt],
        data=signed,
        tls="starttls",
        ssl_context=world.client_ssl_context(),
        source_address=world.domain("ca.test").source_ip,
    )
    received = world.store.wait_for(rcpt, timeout=5)
    assert received.tls
    assert received.peer[0] == world.domain("ca.test").source_ip
    result = dkim.verify(received.data, world.resolver)
    assert result.passing_for("ca.test") is not None


def test_mx_refuses_domains_outside_the_world(world: World) -> None:
    with pytest.raises(SendError) as refused:
        send_message(
            MX_HOST,
            world.mx.port,
            mail_from="acme@ca.test",
            rcpt_tos=["someone@elsewhere.example"],
            data=_message("acme@ca.test", "someone@elsewhere.example"),
        )
    assert refused.value.code == 550


def test_submission_requires_authentication(world: World) -> None:
    sender = world.new_address()
    with pytest.raises(SendError) as refused:
        send_message(
            MX_HOST,
            world.submission.port,
            mail_from=sender,
            rcpt_tos=[world.new_address("other.test")],
            data=_message(sender, "x@other.test"),
            tls="starttls",
            ssl_context=world.client_ssl_context(),
        )
    assert refused.value.code == 530


@pytest.mark.parametrize("port_name", ["submission", "submissions"])
def test_submitted_mail_is_signed_by_the_provider_and_relayed_with_spf_pass(
    world: World, port_name: str
) -> None:
    """A user's reply reaches a routed listener signed d=<user domain> from its SPF address."""
    with SmtpServer(name="ca-inbound") as ca_listener:
        world.route("ca.test", ca_listener.host, ca_listener.port)
        world.sign_outbound("example.test")
        try:
            sender = world.new_address()
            server = getattr(world, port_name)
            send_message(
                MX_HOST,
                server.port,
                mail_from=sender,
                rcpt_tos=["acme@ca.test"],
                data=_message(sender, "acme@ca.test"),
                tls="starttls" if port_name == "submission" else "implicit",
                ssl_context=world.client_ssl_context(),
                auth=world.submission_login(sender),
            )
            received = ca_listener.store.wait_for("acme@ca.test", timeout=5)
        finally:
            world.sign_outbound("example.test", enabled=False)
            world.unroute("ca.test")
    submitted = [m for m in world.outbox.messages() if m.mail_from == sender]
    assert [m.auth_user for m in submitted] == [sender]
    assert world.resolver.a("mx.ca.test") == [MX_HOST]
    assert received.peer[0] == world.domain("example.test").source_ip
    dkim_result = dkim.verify(received.data, world.resolver)
    assert dkim_result.passing_for("example.test") is not None
    spf = check_spf(received.peer[0], sender, received.helo, world.resolver)
    assert spf.result == "pass"
    dmarc = check_dmarc(received.data, spf=spf, dkim=dkim_result, resolver=world.resolver)
    assert dmarc.result == "pass"


def test_unsigned_relay_within_the_world_keeps_the_exact_bytes(world: World) -> None:
    sender, rcpt = world.new_address(), world.new_address("other.test")
    assert "example.test" not in world.provider_signs, "an earlier test left provider signing on"
    data = _message(sender, rcpt)
    send_message(
        MX_HOST,
        world.submission.port,
        mail_from=sender,
        rcpt_tos=[rcpt],
        data=data,
        tls="starttls",
        ssl_context=world.client_ssl_context(),
        auth=world.submission_login(sender),
    )
    received = world.store.wait_for(rcpt, timeout=5)
    assert received.data == data
    assert received.listener == "relay"
    assert dkim.verify(received.data, world.resolver).status == "none"


def test_spf_fails_from_an_unauthorised_source(world: World) -> None:
    result = check_spf(UNAUTHORISED_SOURCE, "user@example.test", "mx.example.test", world.resolver)
    assert result.result == "fail"


def test_live_record_edits_break_dkim(world: World) -> None:
    rcpt = world.new_address()
    signed = world.domain("other.test").dkim_sign(
        _message("x@other.test", rcpt), dkim.CHALLENGE_REQUIRED_HEADERS
    )
    world.records.remove("rsa._domainkey.other.test", "TXT")
    try:
        with pytest.raises(DnsNoRecord):
            world.resolver.txt("rsa._domainkey.other.test")
        assert dkim.verify(signed, world.resolver).status == "permerror"
    finally:
        world.publish()
    assert dkim.verify(signed, world.resolver).passing_for("other.test") is not None


async def test_world_runs_as_an_async_context_manager() -> None:
    async with World(["ca.test", "example.test"]) as running:
        rcpt = running.new_address()
        assert running.resolver.mx("example.test") == [(10, "mx.example.test")]
        await running.store.expect_none_for(rcpt, within=0.05)
        assert running.mx.port > 0


def test_ports_can_be_pinned_for_a_ca_configured_before_the_run() -> None:
    with World(["example.test"]) as first:
        ports = WorldPorts(dns=first.dns_endpoint.port, mx=first.mx.port)
    with World(["example.test"], ports=ports) as pinned:
        assert pinned.dns_endpoint.port == ports.dns
        assert pinned.mx.port == ports.mx
        assert pinned.resolver.mx("example.test") == [(10, "mx.example.test")]


def test_an_external_domain_is_served_and_relayed_to_its_owner(world: World) -> None:
    """A CA's own from domain: its DKIM record is published, mail for it goes to its listener."""
    with SmtpServer(name="ca-elsewhere") as listener:
        world.add_external_domain(
            "ca-elsewhere.test",
            Route(listener.host, listener.port),
            dkim_records={"s1": "v=DKIM1; k=ed25519; p=AAAA"},
        )
        sender = world.new_address()
        send_message(
            MX_HOST,
            world.submission.port,
            mail_from=sender,
            rcpt_tos=["acme@ca-elsewhere.test"],
            data=_message(sender, "acme@ca-elsewhere.test"),
            tls="starttls",
            ssl_context=world.client_ssl_context(),
            auth=world.submission_login(sender),
        )
        received = listener.store.wait_for("acme@ca-elsewhere.test", timeout=5)
    assert received.peer[0] == world.domain("example.test").source_ip
    assert world.resolver.txt("s1._domainkey.ca-elsewhere.test") == ["v=DKIM1; k=ed25519; p=AAAA"]
    assert world.resolver.mx("ca-elsewhere.test") == [(10, "mx.ca-elsewhere.test")]


def test_an_internationalized_user_gets_an_ascii_login(world: World) -> None:
    sender = "üser-login@example.test"
    login, password = world.submission_login(sender)
    assert login.isascii()
    rcpt = world.new_address("other.test")
    send_message(
        MX_HOST,
        world.submission.port,
        mail_from=sender,
        rcpt_tos=[rcpt],
        data=_message("user@example.test", rcpt),
        tls="starttls",
        ssl_context=world.client_ssl_context(),
        auth=(login, password),
        smtputf8=True,
    )
    assert world.store.wait_for(rcpt, timeout=5).mail_from == sender


def test_passwords_never_read_as_options() -> None:
    """Generated passwords are letters and digits: never a leading '-' on a command line."""
    passwords = {new_password() for _ in range(500)}
    assert len(passwords) == 500
    assert all(p.isalnum() and p.isascii() and len(p) >= 16 for p in passwords)
