"""The remote server target's description: TOML file, command-line values, capabilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from rfc8823.endpoints import parse_host_port
from rfc8823.targets import DkimRecord, EabCredentials, ServerCapabilities
from rfc8823.targets.remote_server import (
    RemoteSettings,
    load_toml,
    parse_capability,
    settings_from_options,
)

FULL = """
[target]
name = "my-ca"
version = "1.4.2"

[acme]
directory = "https://127.0.0.1:14000/directory"
ca_bundle = "ca.pem"
from = "acme-challenge@ca.example"
reply_smtp = "127.0.0.1:2525"
wait_seconds = 30
smime_trust_anchors = ["roots/smime.pem"]
eab_kid = "kid-1"
eab_hmac_key = "c2VjcmV0"

[dkim]
sel1 = "v=DKIM1; k=ed25519; p=AAAA"

[capabilities]
eai = true
challenge_mail_limit = 5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ca.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:25", ("127.0.0.1", 25)), ("[::1]:2525", ("::1", 2525)), ("mx:1", ("mx", 1))],
)
def test_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", ":25", "host:port", "h:0", "h:70000"])
def test_host_port_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_host_port(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eai", ("eai", True)),
        ("smime-challenges", ("smime_challenges", True)),
        ("no-revocation", ("revocation", False)),
        ("eab=false", ("eab", False)),
        ("serial_only=yes", ("serial_only", True)),
        ("challenge-mail-limit=10", ("challenge_mail_limit", 10)),
    ],
)
def test_capability_flags(text: str, expected: tuple[str, bool | int]) -> None:
    assert parse_capability(text) == expected


def test_capability_flag_refuses_other_values() -> None:
    with pytest.raises(ValueError, match="neither a boolean nor an integer"):
        parse_capability("eai=maybe")


def test_capabilities_from_mapping_checks_names_and_types() -> None:
    caps = ServerCapabilities.from_mapping({"eai": True, "challenge_mail_limit": 3})
    assert caps.eai
    assert caps.challenge_mail_limit == 3
    assert caps.declared("eai")
    assert not caps.declared("smime_challenges")
    with pytest.raises(ValueError, match="unknown capabilities"):
        ServerCapabilities.from_mapping({"teleport": True})
    with pytest.raises(ValueError, match="true or false"):
        ServerCapabilities.from_mapping({"eai": "yes"})
    with pytest.raises(ValueError, match="integer"):
        ServerCapabilities.from_mapping({"challenge_mail_limit": True})
    with pytest.raises(ValueError, match="boolean capability"):
        caps.declared("challenge_mail_limit")


def test_full_toml_file(tmp_path: Path) -> None:
    settings = settings_from_options(config_file=write(tmp_path, FULL))
    assert settings == RemoteSettings(
        directory="https://127.0.0.1:14000/directory",
        challenge_from="acme-challenge@ca.example",
        reply_smtp=("127.0.0.1", 2525),
        name="my-ca",
        version="1.4.2",
        ca_bundle=tmp_path / "ca.pem",
        wait_seconds=30.0,
        dkim_records=(DkimRecord("sel1", "v=DKIM1; k=ed25519; p=AAAA"),),
        smime_trust_anchors=(tmp_path / "roots" / "smime.pem",),
        eab=EabCredentials("kid-1", b"secret"),
        capabilities=ServerCapabilities(eai=True, challenge_mail_limit=5, serial_only=True),
    )


def test_options_override_and_extend_the_file(tmp_path: Path) -> None:
    settings = settings_from_options(
        config_file=write(tmp_path, FULL),
        directory="https://ca.test:443/dir",
        reply_smtp="127.0.0.2:25",
        dkim_records=["sel2=v=DKIM1; p=BBBB"],
        capabilities=["no-eai", "smime-challenges"],
        eab="kid-2=b3RoZXI",
        name="renamed",
    )
    assert settings.directory == "https://ca.test:443/dir"
    assert settings.reply_smtp == ("127.0.0.2", 25)
    assert settings.name == "renamed"
    assert settings.version == "1.4.2"
    assert [r.selector for r in settings.dkim_records] == ["sel1", "sel2"]
    assert settings.dkim_records[1].txt == "v=DKIM1; p=BBBB"
    assert settings.eab == EabCredentials("kid-2", b"other")
    assert not settings.capabilities.eai
    assert settings.capabilities.smime_challenges
    assert settings.capabilities.challenge_mail_limit == 5


def test_options_alone() -> None:
    settings = settings_from_options(
        directory="https://127.0.0.1:1/directory",
        challenge_from="ca@ca.test",
        reply_smtp="127.0.0.1:2",
    )
    assert settings.capabilities == ServerCapabilities(serial_only=True)
    assert settings.name == "remote"
    assert settings.wait_seconds == 0


def test_missing_values_are_named() -> None:
    with pytest.raises(ValueError, match=r"--acme-from.*--acme-reply-smtp"):
        settings_from_options(directory="https://127.0.0.1:1/directory")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[acmee]\n", "unknown sections"),
        ("[acme]\nport = 1\n", "unknown keys"),
        ('[acme]\neab_kid = "k"\n', "both eab_kid and eab_hmac_key"),
        ('[acme]\nsmime_trust_anchors = "one.pem"\n', "list of paths"),
        ("acme = 1\n", "must be a table"),
        ("[capabilities]\nwarp = true\n", "unknown capabilities"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_toml(write(tmp_path, text))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"directory": "ftp://x/dir"}, "not an http"),
        ({"challenge_from": "ca.test"}, "not an address"),
        ({"wait_seconds": -1.0}, "negative"),
    ],
)
def test_settings_validation(changes: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "directory": "https://127.0.0.1:1/directory",
        "challenge_from": "ca@ca.test",
        "reply_smtp": ("127.0.0.1", 2),
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        RemoteSettings(**values)  # type: ignore[arg-type]
