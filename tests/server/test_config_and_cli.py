"""Configuration (TOML + flags), extra zone data, and ``rfc8823 serve --embedded-dns``."""

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from rfc8823.auth.resolver import DnsEndpoint, Resolver
from rfc8823.cli import build_parser
from rfc8823.endpoints import parse_host_port
from rfc8823.server.cli import config_from_args
from rfc8823.server.config import ServerConfig
from rfc8823.server.zonefile import parse_zone_data
from rfc8823.tokens import b64url_encode

TOML = """
[http]
host = "127.0.0.1"
port = 0
[store]
db_path = "ca.sqlite3"
[mail]
from = "acme@ca.test"
resolver = "127.0.0.1:5353"
smarthost = "127.0.0.1:2525"
dkim_selector = "ed"
reply_wait_after_post = 30
[tokens]
part1_octets = 30
[lifetimes]
authz_hours = 2
certificate_days = 10
[eab]
required = true
[eab.keys]
kid-1 = "{key}"
[limits]
challenge_mails_per_window = 3
"""


def test_config_from_toml(tmp_path: Path) -> None:
    """Every section maps to its field; paths are relative to the file; units are scaled."""
    path = tmp_path / "ca.toml"
    path.write_text(TOML.replace("{key}", b64url_encode(b"k" * 32)))
    config = ServerConfig.from_toml(path)
    assert config.db_path == tmp_path / "ca.sqlite3"
    assert config.challenge_from == "acme@ca.test"
    assert config.resolver == DnsEndpoint("127.0.0.1", 5353)
    assert config.smarthost == ("127.0.0.1", 2525)
    assert config.token_part1_octets == 30
    assert config.authz_lifetime == 7200
    assert config.certificate_lifetime == 10 * 86400
    assert config.eab_keys == {"kid-1": b"k" * 32}
    assert config.eab_required
    assert config.challenge_mails_per_window == 3
    assert config.reply_wait_after_post == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nonsense]\n", "unknown config sections"),
        ("[mail]\nfrm = 'x'\n", "unknown keys"),
        ("[tokens]\npart1_octets = 8\n", "128 bits"),
        ("[mail]\nfrom = 'nobody'\n", "not an address"),
        ("[eab]\nrequired = true\n", "EAB key"),
        ("[mail]\nsmime_header_protection = 'rfc9788'\n", "smime_header_protection"),
        ("[mail]\nsmarthost_tls = 'ssl'\n", "smarthost_tls and reply_imap_tls"),
        ("[mail]\nsmarthost_user = 'ca'\n", "both smarthost_user and smarthost_password"),
        (
            "[mail]\nsmarthost = '2525'\nsmarthost_user = 'ca'\nsmarthost_password = 'x'\n",
            "never plain",
        ),
        ("[mail]\nreply_imap = '2143'\n", "reply_imap_user and reply_imap_password"),
        ("[mail]\nreply_poll_interval = 0\n", "must be positive"),
    ],
)
def test_config_errors(tmp_path: Path, text: str, message: str) -> None:
    """Mistakes in the file are reported, not ignored."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        ServerConfig.from_toml(path)


def test_mail_architecture_from_file_and_flags(tmp_path: Path) -> None:
    """Smarthost TLS and AUTH, and an IMAP mailbox for replies: from the file or the flags."""
    path = tmp_path / "ca.toml"
    path.write_text(
        '[mail]\nsmarthost = "127.0.0.1:2587"\nsmarthost_tls = "starttls"\n'
        'smarthost_user = "ca"\nsmarthost_password = "s1"\nreply_imap = "127.0.0.1:2143"\n'
        'reply_imap_user = "ca"\nreply_imap_password = "s1"\nreply_poll_interval = 0.5\n'
    )
    config = ServerConfig.from_toml(path)
    assert (config.smarthost_tls, config.smarthost_user, config.smarthost_password) == (
        "starttls",
        "ca",
        "s1",
    )
    assert config.reply_imap == ("127.0.0.1", 2143)
    assert config.reply_poll_interval == 0.5
    args = build_parser().parse_args(
        [
            "serve",
            "--config",
            str(path),
            "--smarthost-tls",
            "implicit",
            "--reply-imap",
            "2993",
            "--reply-imap-tls",
            "implicit",
            "--reply-imap-password",
            "s2",
        ]
    )
    config = config_from_args(args)
    assert config.smarthost_tls == "implicit"
    assert config.reply_imap == ("127.0.0.1", 2993)
    assert (config.reply_imap_tls, config.reply_imap_password) == ("implicit", "s2")


def test_smime_header_protection_from_file_and_flag(tmp_path: Path) -> None:
    """The header-protection mechanism of signed challenges (CHAL-BODY-3, AMB-8): file or flag."""
    assert ServerConfig().smime_header_protection == "rfc8551"
    path = tmp_path / "ca.toml"
    path.write_text('[mail]\nsmime_sign = true\nsmime_header_protection = "rfc7508"\n')
    assert ServerConfig.from_toml(path).smime_header_protection == "rfc7508"
    args = build_parser().parse_args(
        ["serve", "--config", str(path), "--smime-header-protection", "rfc8551"]
    )
    assert config_from_args(args).smime_header_protection == "rfc8551"


def test_flags_override_the_file(tmp_path: Path) -> None:
    """Command-line flags win over the TOML file."""
    path = tmp_path / "ca.toml"
    path.write_text('[mail]\nfrom = "a@ca.test"\nmx_port = 2500\n')
    args = build_parser().parse_args(
        [
            "serve",
            "--config",
            str(path),
            "--from",
            "b@ca.test",
            "--http",
            ":8443",
            "--reply",
            "2526",
        ]
    )
    config = config_from_args(args)
    assert config.challenge_from == "b@ca.test"
    assert config.mx_port == 2500
    assert (config.http_host, config.http_port) == ("127.0.0.1", 8443)
    assert (config.reply_host, config.reply_port) == ("127.0.0.1", 2526)
    assert parse_host_port("[::1]:53") == ("::1", 53)
    with pytest.raises(ValueError, match="host:port"):
        parse_host_port("localhost:http")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2525", ("127.0.0.1", 2525)), (":0", ("127.0.0.1", 0)), ("[::1]:25", ("::1", 25))],
)
def test_host_port_with_a_default_host(text: str, expected: tuple[str, int]) -> None:
    """Command-line endpoints may leave out the host (loopback) and ask for port 0."""
    assert parse_host_port(text, "127.0.0.1") == expected


def test_zone_data_format() -> None:
    """$ZONE lines, records, comments and quoted TXT values; junk names its line."""
    data = parse_zone_data(
        "# outside client\n$ZONE example.org\nexample.org MX 10 mx.example.org\n"
        'sel._domainkey.example.org TXT "v=DKIM1; p=abc"\n'
    )
    assert data.zones == ("example.org",)
    assert data.records == (
        ("example.org", "MX", "10 mx.example.org"),
        ("sel._domainkey.example.org", "TXT", "v=DKIM1; p=abc"),
    )
    with pytest.raises(ValueError, match=":2:"):
        parse_zone_data("$ZONE a.org\nbogus line\n")


async def test_serve_with_embedded_dns_and_zone_file(tmp_path: Path) -> None:
    """``rfc8823 serve --embedded-dns --zone-file`` prints its endpoints, serves the extra
    records from its DNS, and stops cleanly on SIGTERM."""
    zone = tmp_path / "extra.zone"
    zone.write_text("$ZONE client.example\nsel._domainkey.client.example TXT v=DKIM1; p=xyz\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rfc8823.cli",
        "serve",
        "--embedded-dns",
        "--zone-file",
        str(zone),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    endpoints: dict[str, str] = {}
    try:
        async with asyncio.timeout(30):
            while "world-submission" not in endpoints:
                line = (await process.stdout.readline()).decode()
                assert line, "rfc8823 serve exited early"
                name, _, value = line.strip().partition(": ")
                endpoints[name] = value
        assert endpoints["directory"].startswith("https://localhost:")
        assert endpoints["challenge-from"] == "acme-challenge@ca.test"
        host, port = endpoints["dns"].rsplit(":", 1)
        resolver = Resolver(DnsEndpoint(host, int(port)))
        records = await asyncio.to_thread(resolver.txt, "sel._domainkey.client.example")
        assert records == ["v=DKIM1; p=xyz"]
        mx = await asyncio.to_thread(resolver.mx, "ca.test")
        assert mx
    finally:
        process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(process.wait(), 15)
    assert status == 0
