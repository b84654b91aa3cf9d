"""What a command client target can say beyond its template: environment variables,
value maps, inputs from the environment, kept logs, restart, a declared timeout, the suite CA's
variants and mailbox pacing, all from a TOML file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from rfc8823.targets.client import ClientCapabilities, EnrollmentRequest, MailboxAccess
from rfc8823.targets.client_config import ClientTargetConfig
from rfc8823.targets.client_plugin import load_without_shrinking
from rfc8823.targets.command_client import CommandClient, check_template, fill_template
from rfc8823.targets.peer_ca import PeerVariants

from .test_client_targets import USAGE_ERROR, request
from .test_remote_run import ROOT

SMTP = MailboxAccess("smtp", smtp=("127.0.0.1", 2525))
USAGE_WORDS = {
    "signing": ("--usage=digitalSignature",),
    "encryption": ("--usage=keyEncipherment",),
    "both": ("--usage=digitalSignature", "--usage=keyEncipherment"),
}
CONFIG = """
[target]
name = "mua"
version = "2.0"

[inputs]
MUA_HOME = "where the mua is installed"

[command]
template = "{MUA_HOME}/bin/mua --email={email} {usage} --key={key_type}"
timeout = 90

[command.environment]
SSL_CERT_FILE = "{ca_bundle}"

[command.values.usage]
signing = "--usage=digitalSignature"
encryption = ["--usage=keyEncipherment"]
both = ["--usage=digitalSignature", "--usage=keyEncipherment"]

[command.values.key_type]
rsa = "RSA2048"

[capabilities]
mailbox = ["imap"]
usage = ["signing", "encryption", "both"]
key-type = ["rsa"]
restart = true

[peer-ca]
dns-address-identifiers = true
mail-at = "post"

[mailbox]
delay = 2.5
spacing = 1
when-watching = true
"""


def python(code: str) -> str:
    """A template running ``code`` with this Python."""
    return f'{sys.executable} -c "{code}"'


def test_value_maps_give_the_clients_own_words() -> None:
    """A mapped placeholder alone in its word becomes as many arguments as its map gives."""
    values = {"usage": "both", "email": "u@example.test"}
    template = "mua {usage} --who={email}"
    assert fill_template(template, values, {"usage": USAGE_WORDS}) == [
        "mua",
        "--usage=digitalSignature",
        "--usage=keyEncipherment",
        "--who=u@example.test",
    ]
    assert fill_template("mua --u={usage}", {"usage": "signing"}, {"usage": USAGE_WORDS}) == [
        "mua",
        "--u=--usage=digitalSignature",
    ]
    assert fill_template("mua {usage}", {"usage": "both"}, {"usage": {"both": ()}}) == ["mua"]
    with pytest.raises(KeyError, match="no entry for 'both'"):
        fill_template("mua {usage}", {"usage": "both"}, {"usage": {"signing": ("-s",)}})


def test_value_maps_are_checked() -> None:
    """A map must name a known placeholder, cover every declared value, and a multi-word
    value must be a word of its own."""
    declared = ClientCapabilities(usages=("signing", "both"))
    maps = {"usage": {"signing": ("-s",)}, "colour": {"red": ("-r",)}}
    problems = check_template("mua {usage}", declared, "smtp", values=maps)
    assert "a value map for unknown placeholder {colour}" in problems
    assert "the value map of {usage} lacks both" in problems
    inside = check_template("mua --u={usage}", declared, "smtp", values={"usage": USAGE_WORDS})
    assert any("must be a word of its own" in p for p in inside)
    assert check_template("mua {usage}", declared, "smtp", values={"usage": USAGE_WORDS}) == []
    assert check_template("{HOME_DIR}/mua", declared, "smtp", inputs=frozenset({"HOME_DIR"})) == []
    assert check_template("{HOME_DIR}/mua", declared, "smtp") == ["unknown placeholder {HOME_DIR}"]


async def test_environment_and_inputs_reach_the_command(tmp_path: Path) -> None:
    """The target's variables are set (filled in per request) and inputs are placeholders."""
    code = "import os, sys; print(os.environ['MUA_EMAIL'], sys.argv[1])"
    client = CommandClient(
        python(code) + " {WHERE}",
        ClientCapabilities(),
        environment={"MUA_EMAIL": "<{email}>"},
        inputs={"WHERE": "/opt/mua"},
    )
    assert client.problems("smtp") == []
    outcome = await client.enroll(request(tmp_path, SMTP))
    assert outcome.stdout.split() == ["<user@example.test>", "/opt/mua"]
    wrong = CommandClient("mua", ClientCapabilities(), environment={"X": "{nope}"})
    assert wrong.problems("smtp") == ["environment X: unknown placeholder {nope}"]


async def test_logs_of_a_killed_run_are_kept(tmp_path: Path) -> None:
    """With a log folder, the command line and output are written as the command runs, so a
    run killed at its timeout leaves what it printed."""
    code = "import sys, time; print('waiting for mail', flush=True); time.sleep(30)"
    req = request(tmp_path, SMTP, timeout=1.0)
    logs = tmp_path / "log"
    req = EnrollmentRequest(**{**vars(req), "log_dir": logs})
    started = time.monotonic()
    outcome = await CommandClient(python(code), ClientCapabilities()).enroll(req)
    assert time.monotonic() - started < 10
    assert "killed" in outcome.detail
    assert str(logs) in outcome.detail
    assert (logs / "stdout.log").read_text() == "waiting for mail\n"
    assert outcome.stdout == "waiting for mail\n"
    assert (logs / "command.txt").read_text().startswith(sys.executable)


async def test_restart_runs_again_on_the_same_workdir(tmp_path: Path) -> None:
    """restart() is the same command on the same workdir, its output in restart-N."""
    code = (
        "import pathlib; p = pathlib.Path('runs'); "
        "n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n)); print(n)"
    )
    req = request(tmp_path, SMTP)
    req = EnrollmentRequest(**{**vars(req), "log_dir": tmp_path / "log"})
    client = CommandClient(python(code), ClientCapabilities(restart=True))
    first = await client.enroll(req)
    again = await client.restart(req)
    third = await client.restart(req)
    assert [first.stdout, again.stdout, third.stdout] == ["1\n", "2\n", "3\n"]
    assert (tmp_path / "log" / "restart-2" / "stdout.log").read_text() == "3\n"


def test_a_target_described_in_toml(tmp_path: Path) -> None:
    """Every section of the file is read into the target and the run's settings."""
    path = tmp_path / "mua.toml"
    path.write_text(CONFIG)
    config = ClientTargetConfig.load(path)
    assert (config.name, config.version, config.timeout) == ("mua", "2.0", 90.0)
    assert config.capabilities.mailboxes == ("imap",)
    assert config.capabilities.restart
    assert config.variants == PeerVariants(dns_address_identifiers=True, mail_at="post")
    assert [n.requirement for n in config.variants.notes()] == ["FLOW-1", "CSR-ID-1", "FLOW-7"]
    assert (config.pacing.delay, config.pacing.spacing, config.pacing.when_watching) == (
        2.5,
        1,
        True,
    )
    assert config.missing_inputs({}) == {"MUA_HOME": "where the mua is installed"}
    unset = config.client(environ={})
    assert "set MUA_HOME (where the mua is installed; see mua.toml)" in unset.unavailable
    client = config.client(name="renamed", environ={"MUA_HOME": "/opt/mua"})
    assert (client.name, client.version, client.unavailable) == ("renamed", "2.0", "")
    assert client.problems("imap") == []
    req = request(tmp_path, SMTP)
    req = EnrollmentRequest(**{**vars(req), "usage": "both", "key_type": "rsa"})
    assert client.argv(req) == [
        "/opt/mua/bin/mua",
        "--email=user@example.test",
        "--usage=digitalSignature",
        "--usage=keyEncipherment",
        "--key=RSA2048",
    ]
    assert client.added_environment(req) == {"SSL_CERT_FILE": str(req.ca_bundle)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[command]\ntemplate = 'mua'\n[colour]\n", "unknown keys ['colour']"),
        ("[command]\ntemplate = 'mua'\nwait = 3\n", "unknown keys ['wait'] in [command]"),
        ("[target]\nname = 'x'\n", "template is missing"),
        ("[command]\ntemplate = 'mua'\ntimeout = -1\n", "positive number"),
        ("[command]\ntemplate = 'mua'\n[capabilities]\nteleport = true\n", "unknown capability"),
        ("[command]\ntemplate = 'mua'\n[peer-ca]\nmail-at = 'order'\n", "mail_at"),
        ("[command]\ntemplate = 'mua'\n[peer-ca]\nsigned = true\n", "unknown keys"),
        ("[command]\ntemplate = 'mua'\n[mailbox]\ndelay = 'soon'\n", "seconds"),
        ("[command]\ntemplate = 'mua'\n[command.values.usage]\nboth = 3\n", "list of strings"),
        ("[command]\ntemplate = 'mua'\n[command.environment]\nX = 1\n", "must be a string"),
        ("[command\n", "mua.toml"),
    ],
)
def test_mistakes_in_the_file_are_named(tmp_path: Path, text: str, message: str) -> None:
    """An unknown or wrongly typed key is an error naming the file, never ignored."""
    path = tmp_path / "mua.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        ClientTargetConfig.load(path)
    assert str(path) in str(caught.value)


def run_suite(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``pytest`` on the project checkout with ``args``."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_client_config_in_a_suite_run(tmp_path: Path) -> None:
    """Unset inputs make every test UNSUPPORTED with the reason; the declared timeout, the
    variants and the pacing show in the header, --client-timeout and --client-log-dir override
    the file's and the default; inconsistent options are usage errors."""
    path = tmp_path / "mua.toml"
    path.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if k != "MUA_HOME"}
    unsupported = run_suite(
        [
            "suites/client/test_csr.py",
            "-k",
            "encryption-rsa",
            f"--client-config={path}",
            f"--report-dir={tmp_path / 'reports'}",
        ],
        env,
    )
    header = run_suite(["suites/client", "--co", f"--client-config={path}"], env)
    chosen = run_suite(
        [
            "suites/client",
            "--co",
            f"--client-config={path}",
            "--client-timeout=7",
            f"--client-log-dir={tmp_path / 'kept'}",
        ],
        env,
    )
    refused = [
        (run_suite(["suites/client", f"--client-config={path}", *extra], env), message)
        for extra, message in [(["--client-command=mua"], "give no --client-command")]
    ]
    resolver = tmp_path / "resolver.toml"
    resolver.write_text("[command]\ntemplate = 'mua {resolv_conf}'\n")
    refused.append((run_suite(["suites/client", f"--client-config={resolver}"]), "needs --client"))
    refused.append((run_suite(["suites/server", "--client-timeout=5"]), "no client-suite test"))
    out, err = unsupported.communicate(timeout=120)
    assert unsupported.returncode == 0, out + err
    report = json.loads((tmp_path / "reports" / "mua.json").read_text())
    verdicts = {row["id"]: row["verdict"] for row in report["requirements"]}
    assert verdicts["CSR-KU-3"] == "UNSUPPORTED", verdicts
    assert "set MUA_HOME" in json.dumps(report)
    out, err = header.communicate(timeout=120)
    assert "enrollment timeout 90 s" in out, out + err
    assert "suite CA variants: dns-address-identifier" in out
    assert "every test UNSUPPORTED" in out
    assert "challenge mail pacing: MailboxPacing(delay=2.5, spacing=1" in out
    assert f"client logs: {ROOT / 'reports' / 'logs' / 'mua'}" in out, "the default folder"
    out, err = chosen.communicate(timeout=120)
    assert "enrollment timeout 7 s" in out, out + err
    assert f"client logs: {tmp_path / 'kept'}" in out, out + err
    for process, message in refused:
        out, err = process.communicate(timeout=120)
        assert process.returncode == USAGE_ERROR, out + err
        assert message in err, err


def test_slow_targets_get_a_profile_without_shrinking() -> None:
    """The derived profile keeps everything but the shrink phase (one shrink of certbot-castle
    took 108 enrollments); the original profile is left as it was."""
    current = settings.get_current_profile_name()
    try:
        name = load_without_shrinking(current)
        assert name == current + "-no-shrink"
        assert Phase.shrink not in settings().phases
        assert Phase.generate in settings().phases
        assert settings().max_examples == settings.get_profile(current).max_examples
    finally:
        settings.load_profile(current)
    assert Phase.shrink in settings().phases
