"""The reference client's command line as a ``--client-config`` target, under each variant of
the suite's CA a target file can declare and with paced mail.

- every variant a conforming client can live with (``dns-address-identifiers``, ``mail-at =
  "post"``) and paced deliveries: the subset passes;
- ``dns-address-identifiers`` for a client that orders a ``dns`` identifier (the reference
  client with ``client-orders-dns-identifier``, as certbot-based clients do): the happy path
  goes on, and the deviation is reported on FLOW-1 and ID-EMAIL-1 only;
- ``unsigned-challenges`` for a client that cannot verify (the reference client with
  ``client-answers-unsigned-challenge``): the happy path goes on, and answering unsigned mail
  is reported on CHAL-AUTH-1 and SEC-6 only.

A client that verifies refuses an unsigned CA's challenges, as CHAL-AUTH-1 asks: that variant
is for clients that cannot. The three runs go in parallel and need Dovecot (IMAP mailbox).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rfc8823.targets.dovecot import dovecot_binary

from .test_client_command import rfc8823_program
from .test_remote_run import ROOT

RUN_TIMEOUT = 240.0
AUTH = "suites/client/test_challenge_authentication.py::test_challenge_is_not_answered"
SUBSET = [
    "suites/client/test_happy_path.py",
    "suites/client/test_acme_behaviour.py::test_new_order_names_the_email_identifier",
    f"{AUTH}[unsigned]",
    f"{AUTH}[wrong-from]",
    "suites/client/test_mailbox_timing.py",
    "suites/client/test_response_email.py::test_response_header_fields",
]
TEMPLATE = (
    "{program} enroll --directory={{directory}} --ca-bundle={{ca_bundle}} --email={{email}} "
    "--usage={{usage}} --key-type={{key_type}} --out-dir={{workdir}} --dns={{dns}} "
    "--smime-trust={{smime_trust}} --smtp-host={{submission_host}} "
    "--smtp-port={{submission_port}} --smtp-user={{submission_user}} "
    "--smtp-password={{submission_password}} --email-grace=0.5 --timeout={{timeout}} "
    "--imap={{imap_host}}:{{imap_port}} --imap-user={{imap_user}} "
    "--imap-password={{imap_password}}"
)
CONFIG = """
[target]
name = "{name}"

[command]
template = "{template}"
timeout = 30

[command.environment]
RFC8823_FAULTS = "{faults}"

[capabilities]
mailbox = ["imap"]
usage = ["both"]
key-type = ["ec"]

[peer-ca]
{peer}

[mailbox]
{mailbox}
"""
RUNS: dict[str, tuple[str, str, str]] = {
    "compatible": (
        "",
        'dns-address-identifiers = true\nmail-at = "post"',
        "delay = 0.3\nspacing = 0.3",
    ),
    "dns-order": ("client-orders-dns-identifier", "dns-address-identifiers = true", ""),
    "cannot-verify": ("client-answers-unsigned-challenge", "unsigned-challenges = true", ""),
}
"""Per run: the reference client's faults, its [peer-ca] and [mailbox] sections."""
EXPECTED_BROKEN = {
    "compatible": set(),
    "dns-order": {"FLOW-1", "ID-EMAIL-1"},
    "cannot-verify": {"CHAL-AUTH-1", "SEC-6"},
}


def start(name: str, folder: Path) -> subprocess.Popen[str]:
    """The subset against the reference command line described by run ``name``'s target file."""
    faults, peer, mailbox = RUNS[name]
    template = TEMPLATE.format(program=rfc8823_program())
    config = folder / f"{name}.toml"
    config.write_text(
        CONFIG.format(name=name, template=template, faults=faults, peer=peer, mailbox=mailbox)
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            *SUBSET,
            f"--client-config={config}",
            f"--report-dir={folder / name}",
            f"--client-log-dir={folder / name / 'logs'}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_reference_client_under_each_variant(tmp_path: Path) -> None:
    """Each run: the happy path passes, the variants in force are noted, and exactly the rows
    its faults break are broken (nothing ERROR, nothing BLOCKED)."""
    if dovecot_binary() is None:
        pytest.skip("the runs read their mail over IMAP: apt-get install dovecot-imapd")
    runs = {name: start(name, tmp_path) for name in RUNS}
    for name, process in runs.items():
        out, _ = process.communicate(timeout=RUN_TIMEOUT)
        report = json.loads((tmp_path / name / f"{name}.json").read_text())
        verdicts = {row["id"]: row["verdict"] for row in report["requirements"]}
        broken = {rid for rid, verdict in verdicts.items() if verdict in ("FAIL", "WARN")}
        assert report["sanity"]["status"] == "passed", f"{name}:\n{out}"
        assert broken == EXPECTED_BROKEN[name], f"{name}: {verdicts}\n{out}"
        assert not {v for v in verdicts.values()} & {"ERROR", "BLOCKED"}, f"{name}: {verdicts}"
        assert verdicts.get("FLOW-8") == "PASS", f"{name}: {verdicts}"
        assert process.returncode == (1 if broken else 0), f"{name}:\n{out}"
        assert "judged under variant" in json.dumps(report), f"{name}: no variant noted"
