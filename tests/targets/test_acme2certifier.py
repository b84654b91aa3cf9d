"""The acme2certifier target's pure parts, its refusals, and what happens when it cannot be
installed (every test UNSUPPORTED). Running it for real is ``make interop``."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import pytest

from rfc8823.targets.acme2certifier import (
    PROFILE,
    Acme2certifierOptions,
    Acme2certifierTarget,
    MailAccount,
    config_sections,
    ini_text,
    install,
)
from rfc8823.targets.ca_mail import MailWiring
from rfc8823.targets.server import TargetUnavailable
from rfc8823.targets.target_file import TargetSettings
from rfc8823.world.keys import cache_dir

from .test_remote_run import run_flow_variants

ACCOUNT = MailAccount(
    address="acme@ca.test",
    login="acme@ca.test",
    password="p%w",
    smtp=("127.0.0.1", 2587),
    smtp_starttls=True,
    imap=("127.0.0.1", 2143),
)


def read_ini(text: str) -> configparser.ConfigParser:
    """An INI file as acme2certifier reads it: no interpolation, keys as written."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_options_from_the_kind_table() -> None:
    options = Acme2certifierOptions.from_table(
        {"validation_timeout": 20, "start_timeout": 5, "cfg": {"Account": {"x": True}}}
    )
    assert options.validation_timeout == 20
    assert options.start_timeout == 5
    assert options.cfg == {"Account": {"x": "True"}}
    assert options.version == "0.46.3"
    assert Acme2certifierOptions(package="acme2certifier>=0.46").version == ""


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"speed": 1}, "unknown keys"),
        ({"validation_timeout": "10"}, "must be like 10"),
        ({"validation_timeout": True}, "must be like 10"),
        ({"email_identifier_rewrite": 1}, "must be like False"),
        ({"cfg": {"Account": 1}}, "one table per acme_srv.cfg section"),
    ],
)
def test_options_refuse_what_they_do_not_know(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Acme2certifierOptions.from_table(table)


def test_configuration_turns_email_identifiers_on_and_wires_its_mail(tmp_path: Path) -> None:
    options = Acme2certifierOptions(
        terms_of_service="https://ca.test/terms", cfg={"Account": {"contact_check_disable": "True"}}
    )
    parsed = read_ini(ini_text(config_sections(options, ACCOUNT, tmp_path)))
    assert parsed["Order"]["email_identifier_support"] == "True"
    defaults = parsed.defaults()
    assert (defaults["email_address"], defaults["username"], defaults["password"]) == (
        "acme@ca.test",
        "acme@ca.test",
        "p%w",
    )
    assert (defaults["smtp_port"], defaults["smtp_use_tls"]) == ("2587", "True")
    assert (defaults["imap_port"], defaults["imap_use_ssl"]) == ("2143", "False")
    assert parsed["CAhandler"]["openssl_conf"] == str(tmp_path / "profile.cnf")
    assert parsed["DBhandler"]["dbfile"] == str(tmp_path / "acme_srv.db")
    assert parsed["Directory"]["tos_url"] == "https://ca.test/terms"
    assert parsed["Account"]["contact_check_disable"] == "True"
    profile = read_ini(ini_text(PROFILE))["extensions"]
    assert profile["extendedKeyUsage"] == "emailProtection"
    assert "keyUsage" not in profile
    with pytest.raises(ValueError, match="no line breaks"):
        ini_text({"DEFAULT": {"a=b": "c"}})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"directory": "https://127.0.0.1:1/directory"}, "made by its target"),
        ({"mail": MailWiring(replies="imap")}, 'sending = "smarthost"'),
        ({"mail": MailWiring(reply_smtp=("127.0.0.1", 1), sending="smarthost")}, "over IMAP"),
        ({"kind_options": {"nope": 1}}, "unknown keys"),
    ],
)
def test_the_target_refuses_settings_that_do_not_fit_it(
    changes: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {
        "kind": "acme2certifier",
        "mail": MailWiring(replies="imap", sending="smarthost"),
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        Acme2certifierTarget(TargetSettings(**values))  # type: ignore[arg-type]


def test_a_package_that_cannot_be_installed_is_unavailable(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-project")
    with pytest.raises(TargetUnavailable, match="cannot install"):
        install(missing, tmp_path / "target", timeout=120)
    assert not (tmp_path / "target" / "installed").exists()


def test_every_test_is_unsupported_when_it_cannot_be_installed(tmp_path: Path) -> None:
    """The reason is in the report; nothing is ERROR, nothing is skipped silently, and the
    mailbox wired before the run is gone after it (its folder was under TMPDIR)."""
    cache, scratch = tmp_path / "cache", tmp_path / "scratch"
    cache.mkdir()
    scratch.mkdir()
    for shared in ("keys", "pki"):
        (cache / shared).symlink_to(cache_dir() / shared)
    target = tmp_path / "a2c.toml"
    target.write_text(
        '[target]\nkind = "acme2certifier"\n'
        f'[acme2certifier]\npackage = "{tmp_path / "no-such-project"}"\n',
        encoding="utf-8",
    )
    run = run_flow_variants(
        target, tmp_path, {**os.environ, "RFC8823_CACHE": str(cache), "TMPDIR": str(scratch)}
    )
    output = run.stdout + run.stderr
    assert "0 ERROR, 0 FAIL" in output, output
    assert "cannot install" in (tmp_path / "acme2certifier.md").read_text(), output
    assert "2 skipped" in output, output
    assert "CA reply mailbox" in output, output
    assert not [p for p in scratch.iterdir() if p.name.startswith("rfc8823-")], output
