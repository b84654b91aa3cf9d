"""A CA's description: target file, command-line values, capabilities, what check prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from rfc8823.cli import main
from rfc8823.endpoints import parse_host_port
from rfc8823.targets import DkimRecord, EabCredentials, ServerCapabilities, capability_table
from rfc8823.targets.ca_mail import MailWiring
from rfc8823.targets.target_file import (
    TargetSettings,
    WaitBounds,
    describe,
    load_target_file,
    parse_capability,
    settings_from_options,
)
from rfc8823.world.world import WorldPorts

from .test_remote_run import ROOT

FULL = """
[target]
name = "my-ca"
version = "1.4.2"

[acme]
directory = "https://127.0.0.1:14000/directory"
ca_bundle = "ca.pem"
from = "acme-challenge@ca.example"
wait_seconds = 30
smime_trust_anchors = ["roots/smime.pem"]

[account]
contact = "mailto:admin@example.test"
agree_terms = false
eab_kid = "kid-1"
eab_hmac_key = "c2VjcmV0"

[mail]
replies = "smtp"
reply_smtp = "127.0.0.1:2525"
sending = "smarthost"
smarthost_tls = "implicit"
login = "ca-login"
password = "ca-secret"

[dkim]
sel1 = "v=DKIM1; k=ed25519; p=AAAA"

[world]
dns_port = 15353
mx_port = 12525
submission_port = 12587
submissions_port = 12465

[timeouts]
mail = 20
state = 30
http = 40

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
    assert settings == TargetSettings(
        directory="https://127.0.0.1:14000/directory",
        challenge_from="acme-challenge@ca.example",
        mail=MailWiring(
            replies="smtp",
            reply_smtp=("127.0.0.1", 2525),
            sending="smarthost",
            smarthost_tls="implicit",
            login="ca-login",
            password="ca-secret",
        ),
        name="my-ca",
        version="1.4.2",
        ca_bundle=tmp_path / "ca.pem",
        wait_seconds=30.0,
        dkim_records=(DkimRecord("sel1", "v=DKIM1; k=ed25519; p=AAAA"),),
        smime_trust_anchors=(tmp_path / "roots" / "smime.pem",),
        contact=("mailto:admin@example.test",),
        agree_terms=False,
        eab=EabCredentials("kid-1", b"secret"),
        world_ports=WorldPorts(dns=15353, mx=12525, submission=12587, submissions=12465),
        timeouts=WaitBounds(mail=20, state=30, http=40),
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
    assert settings.mail.reply_smtp == ("127.0.0.2", 25)
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
    assert settings.display_name == "remote"
    assert settings.wait_seconds == 0
    assert settings.mail == MailWiring(replies="smtp", reply_smtp=("127.0.0.1", 2))
    assert settings.contact is None
    assert settings.agree_terms
    assert settings.timeouts == WaitBounds()


def test_missing_values_are_named() -> None:
    with pytest.raises(ValueError, match=r"--acme-from.*--acme-reply-smtp"):
        settings_from_options(directory="https://127.0.0.1:1/directory")


def test_imap_replies_need_no_reply_endpoint(tmp_path: Path) -> None:
    text = (
        '[acme]\ndirectory = "https://127.0.0.1:1/d"\nfrom = "ca@ca.test"\n'
        '[mail]\nreplies = "imap"\n[world]\nimap_port = 12143\n'
    )
    settings = settings_from_options(config_file=write(tmp_path, text))
    assert settings.mail == MailWiring(replies="imap", imap_port=12143)
    assert settings.mail.needs_login


def test_a_timeout_option_bounds_every_wait(tmp_path: Path) -> None:
    settings = settings_from_options(config_file=write(tmp_path, FULL), timeout=3)
    assert settings.timeouts == WaitBounds(3, 3, 3)


def test_acme2certifier_kind_defaults_to_its_mail_architecture(tmp_path: Path) -> None:
    text = '[target]\nkind = "acme2certifier"\n[acme2certifier]\nvalidation_timeout = 20\n'
    settings = settings_from_options(config_file=write(tmp_path, text))
    assert settings.kind == "acme2certifier"
    assert settings.mail == MailWiring(replies="imap", sending="smarthost")
    assert settings.kind_options == {"validation_timeout": 20}
    with pytest.raises(ValueError, match="not remote"):
        settings_from_options(config_file=write(tmp_path, text), kind="remote")


def test_describe_names_every_setting_and_capability(tmp_path: Path) -> None:
    lines = describe(settings_from_options(config_file=write(tmp_path, FULL)))
    text = "\n".join(lines)
    for expected in (
        "my-ca 1.4.2 (kind remote)",
        "replies: SMTP to 127.0.0.1:2525",
        "the world's smarthost, implicit, AUTH",
        "mail login: ca-login, password given in the file",
        "account contact: mailto:admin@example.test",
        "terms of service agreed: no",
        "external account binding: kid-1",
        "dns 15353",
        "timeouts: mail 20 s, state 30 s, http 40 s",
        "eai = true [false]",
        "challenge_mail_limit = 5 [none]",
    ):
        assert expected in text
    assert all(f"  {name} = " in text for name, _, _ in capability_table())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[acmee]\n", "unknown sections"),
        ("[acme]\nport = 1\n", "unknown keys"),
        ('[account]\neab_kid = "k"\n', "both eab_kid and eab_hmac_key"),
        ("[account]\ncontact = 3\n", "mailto: URL or a list"),
        ('[account]\nagree_terms = "yes"\n', "true or false"),
        ('[acme]\nsmime_trust_anchors = "one.pem"\n', "list of paths"),
        ("acme = 1\n", "must be a table"),
        ("[capabilities]\nwarp = true\n", "unknown capabilities"),
        ('[world]\ndns_port = "x"\n', "must be a port number"),
        ("[timeouts]\nmail = 0\n", "must be positive"),
        ('[target]\nkind = "other"\n', "kind must be one of"),
        ("[acme2certifier]\n", "unknown sections"),
        ("[acme\n", "not TOML"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_target_file(write(tmp_path, text))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"replies": "pigeon"}, "replies must be one of"),
        ({"sending": "fax"}, "sending must be one of"),
        ({"smarthost_tls": "none"}, "smarthost_tls must be one of"),
        ({"replies": "smtp"}, "need reply_smtp"),
        ({"reply_smtp": ("127.0.0.1", 25)}, "drop reply_smtp"),
        ({"login": "a:b"}, "without ':'"),
    ],
)
def test_mail_wiring_validation(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MailWiring(**{"replies": "imap", **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"directory": "ftp://x/dir"}, "not an http"),
        ({"challenge_from": "ca.test"}, "not an address"),
        ({"wait_seconds": -1.0}, "negative"),
        ({"contact": ("admin@example.test",)}, "mailto: URL"),
        ({"kind": "nobody"}, "kind must be one of"),
    ],
)
def test_settings_validation(changes: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "directory": "https://127.0.0.1:1/directory",
        "challenge_from": "ca@ca.test",
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        TargetSettings(**values)  # type: ignore[arg-type]


def test_target_check_prints_what_it_understood(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``rfc8823 target check``: 0 and every setting for a valid file; 2 and the reason else."""
    assert main(["target", "check", str(write(tmp_path, FULL))]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path / 'ca.toml'}: valid\n")
    assert "  replies: SMTP to 127.0.0.1:2525" in out
    assert main(["target", "check", str(write(tmp_path, "[mail]\nreplies = 'pigeon'\n"))]) == 2
    assert "the remote target needs --acme-directory" in capsys.readouterr().err
    a2c = ROOT / "fixtures" / "targets" / "acme2certifier.toml"
    assert main(["target", "check", str(a2c)]) == 0
    assert "acme2certifier package: acme2certifier==0.46.3" in capsys.readouterr().out
