"""The ``command`` client target, proven on the reference client's command line.

``pytest suites/client --client-command "rfc8823 enroll ..."`` runs part of the client suite
against ``rfc8823 enroll`` started once per enrollment: once with the challenge delivered to
the SMTP listener the command opens, once with it filed into an IMAP mailbox (Dovecot).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rfc8823.targets.dovecot import dovecot_binary

from .test_remote_run import ROOT

RUN_TIMEOUT = 180.0
SUBSET = [
    "suites/client/test_response_email.py::test_response_header_fields",
    "suites/client/test_key_authorization.py::test_digest_matches_a_concatenation_reading"
    "[16-octets-padded]",
    "suites/client/test_challenge_authentication.py::test_challenge_is_not_answered[unsigned]",
    "suites/client/test_challenge_variations.py::test_variation_is_answered[subject-q-utf8]",
    "suites/client/test_csr.py::test_csr_names_the_address_and_the_usage[encryption-rsa]",
]
ENROLL = (
    "{program} enroll --directory={{directory}} --ca-bundle={{ca_bundle}} --email={{email}} "
    "--usage={{usage}} --key-type={{key_type}} --out-dir={{workdir}} --dns={{dns}} "
    "--smime-trust={{smime_trust}} --smtp-host={{submission_host}} "
    "--smtp-port={{submission_port}} --smtp-user={{submission_user}} "
    "--smtp-password={{submission_password}} --dkim-key={{dkim_key}} "
    "--dkim-selector={{dkim_selector}} --email-grace=0.5 --timeout={{timeout}} {mailbox}"
)
"""``--option=value`` throughout, so that no value can be read as an option."""
MAILBOXES = {
    "smtp": "--smtp-listen={smtp_host}:{smtp_port}",
    "imap": "--imap={imap_host}:{imap_port} --imap-user={imap_user} "
    "--imap-password={imap_password}",
}
CAPABILITIES = [
    "signs-dkim",
    "smime",
    "eai",
    "mailbox=smtp,maildir,imap",
    "usage=signing,encryption,both",
    "key-type=ec,rsa,ed25519",
]


def rfc8823_program() -> str:
    """The ``rfc8823`` script of this environment."""
    beside = Path(sys.executable).with_name("rfc8823")
    found = str(beside) if beside.exists() else shutil.which("rfc8823")
    assert found is not None, "the rfc8823 command is not installed (pip install -e .)"
    return found


def suite_run(mailbox: str, report_dir: Path) -> subprocess.Popen[str]:
    """Start the client suite's subset against ``rfc8823 enroll`` reading ``mailbox``."""
    template = ENROLL.format(program=rfc8823_program(), mailbox=MAILBOXES[mailbox])
    options = [f"--client-capability={item}" for item in CAPABILITIES]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            *SUBSET,
            f"--client-command={template}",
            f"--client-mailbox={mailbox}",
            "--target-name=rfc8823-enroll",
            f"--report-dir={report_dir}",
            *options,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_reference_cli_passes_part_of_the_client_suite(tmp_path: Path) -> None:
    """Every selected test passes with each mailbox, and the report names the command target.

    The two runs go in parallel; without Dovecot only the SMTP run is made, and the test is
    then reported skipped once that run has passed.
    """
    kinds = ["smtp", "imap"] if dovecot_binary() is not None else ["smtp"]
    runs = {kind: suite_run(kind, tmp_path / kind) for kind in kinds}
    for kind, process in runs.items():
        out, _ = process.communicate(timeout=RUN_TIMEOUT)
        assert process.returncode == 0, f"{kind} run:\n{out}"
        assert f"{len(SUBSET)} passed" in out, f"{kind} run:\n{out}"
        assert (tmp_path / kind / "rfc8823-enroll.json").exists(), f"{kind} run:\n{out}"
    if "imap" not in runs:
        pytest.skip("the IMAP run needs Dovecot (apt-get install dovecot-imapd)")
