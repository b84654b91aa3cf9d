"""The client targets: capabilities, the command template and its outcome, the reference mapping,
the suite's CA, and the client suite's options."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from rfc8823.client.enroll import ImapSpec, MaildirSpec, SmtpListen
from rfc8823.targets.client import (
    ClientCapabilities,
    ClientUnderTest,
    DkimSigner,
    EnrollmentRequest,
    ImapAccount,
    MailboxAccess,
    Submission,
)
from rfc8823.targets.command_client import (
    CommandClient,
    check_template,
    find_credentials,
    placeholder_values,
    template_fields,
)
from rfc8823.targets.dovecot import Dovecot
from rfc8823.targets.peer_ca import PeerBehaviour, PeerCa
from rfc8823.targets.reference_client import ReferenceClient
from rfc8823.world.world import World

from .test_remote_run import ROOT

USAGE_ERROR = 4
CERT = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


def request(tmp_path: Path, mailbox: MailboxAccess, timeout: float = 10.0) -> EnrollmentRequest:
    """A request whose endpoints are never contacted."""
    workdir = tmp_path / "client"
    workdir.mkdir(parents=True, exist_ok=True)
    return EnrollmentRequest(
        directory_url="https://localhost:1/directory",
        ca_bundle=tmp_path / "ca.pem",
        email="user@example.test",
        usage="signing",
        key_type="ec",
        mailbox=mailbox,
        submission=Submission("127.0.0.1", 2, "user@example.test", "secret"),
        dns=("127.0.0.1", 3),
        smime_trust=(tmp_path / "root.pem",),
        dkim=None,
        workdir=workdir,
        timeout=timeout,
    )


def test_capabilities_from_declarations() -> None:
    """Flags and lists are read; the defaults stay where nothing is said."""
    declared = ClientCapabilities.from_declarations(
        ["signs-dkim", "smime", "mailbox=imap,smtp", "usage=signing", "key-type=rsa"]
    )
    assert declared.signs_dkim
    assert declared.smime
    assert not declared.eai
    assert declared.mailboxes == ("imap", "smtp")
    assert declared.usages == ("signing",)
    assert declared.key_types == ("rsa",)
    assert declared.declared("signs-dkim")
    assert "mailboxes=imap,smtp" in declared.summary()
    assert ClientCapabilities.from_declarations([]) == ClientCapabilities()


@pytest.mark.parametrize(
    "text", ["teleport", "mailbox=pigeon", "usage=", "smime=yes", "signs-dkim=1", "key-type=dsa"]
)
def test_unknown_capabilities_are_refused(text: str) -> None:
    """Anything not a known flag or list value raises ValueError naming what is known."""
    with pytest.raises(ValueError, match=r"capability|choose"):
        ClientCapabilities.from_declarations([text])


def test_a_mailbox_sets_exactly_its_own_endpoint(tmp_path: Path) -> None:
    """The kind's endpoint is required and the others are refused."""
    with pytest.raises(ValueError, match="exactly"):
        MailboxAccess("smtp")
    with pytest.raises(ValueError, match="exactly"):
        MailboxAccess("smtp", smtp=("127.0.0.1", 25), maildir=tmp_path)


def test_template_placeholders_are_checked() -> None:
    """Unknown names, another mailbox's names and DKIM without signs-dkim are problems."""
    plain = ClientCapabilities()
    assert template_fields("mua --to {email} --at={smtp_host}:{smtp_port}") == [
        "email",
        "smtp_host",
        "smtp_port",
    ]
    assert check_template("mua {directory} {smtp_port}", plain, "smtp") == []
    assert "unknown placeholder {nope}" in check_template("mua {nope}", plain, "smtp")
    assert any("imap mailbox" in p for p in check_template("mua {imap_user}", plain, "smtp"))
    assert any("signs-dkim" in p for p in check_template("mua {dkim_key}", plain, "smtp"))
    assert check_template("mua {email:>9}", plain, "smtp")
    assert check_template("   ", plain, "smtp") == ["the command template is empty"]


def test_placeholders_are_filled_per_request(tmp_path: Path) -> None:
    """Each word of the template is filled in; values with spaces stay one argument."""
    account = ImapAccount("127.0.0.1", 1430, "mbox user", "pw")
    req = request(tmp_path, MailboxAccess("imap", imap=account))
    values = placeholder_values(req)
    assert values["smtp_port"] == ""
    assert values["dns"] == "127.0.0.1:3"
    client = CommandClient("mua --login={imap_user} --dir {workdir}", ClientCapabilities())
    assert client.argv(req) == ["mua", "--login=mbox user", "--dir", str(req.workdir)]
    assert isinstance(client, ClientUnderTest)


def test_credentials_are_found_by_content(tmp_path: Path) -> None:
    """The key and the chain are found wherever they are, whatever their names."""
    (tmp_path / "out").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "out" / "a.crt").write_bytes(CERT)
    (tmp_path / "secret").write_bytes(KEY)
    assert find_credentials(tmp_path) == (tmp_path / "secret", tmp_path / "out" / "a.crt")
    assert find_credentials(tmp_path / "out") == (None, tmp_path / "out" / "a.crt")


def python_command(code: str) -> str:
    """A template running ``code`` with this Python (the code sees the workdir as cwd)."""
    return f'{sys.executable} -c "{code}"'


async def test_command_outcomes(tmp_path: Path) -> None:
    """Exit 0 with files issues; exit 0 without files, or non-zero, does not."""
    smtp = MailboxAccess("smtp", smtp=("127.0.0.1", 2525))
    write = "import pathlib; pathlib.Path('k.pem').write_bytes(b'PRIVATE KEY-----'); "
    write += "pathlib.Path('c.pem').write_bytes(b'-----BEGIN CERTIFICATE-----'); print('done')"
    good = await CommandClient(python_command(write), ClientCapabilities()).enroll(
        request(tmp_path / "good", smtp)
    )
    assert good.issued, good.describe()
    assert good.stdout.strip() == "done"
    assert good.key_path is not None
    assert good.key_path.name == "k.pem"
    empty = await CommandClient(python_command("pass"), ClientCapabilities()).enroll(
        request(tmp_path / "empty", smtp)
    )
    assert not empty.issued
    assert "without a PEM key" in empty.detail
    failed = await CommandClient(
        python_command("import sys; sys.exit('refused')"), ClientCapabilities()
    ).enroll(request(tmp_path / "failed", smtp))
    assert not failed.issued
    assert failed.exit_status == 1
    assert "refused" in failed.describe()


async def test_command_is_killed_at_its_timeout(tmp_path: Path) -> None:
    """A command still running at the timeout is killed with its process group."""
    smtp = MailboxAccess("smtp", smtp=("127.0.0.1", 2525))
    started = time.monotonic()
    outcome = await CommandClient(
        python_command("import time; time.sleep(30)"), ClientCapabilities()
    ).enroll(request(tmp_path, smtp, timeout=0.5))
    assert time.monotonic() - started < 10
    assert not outcome.issued
    assert "killed" in outcome.detail


async def test_missing_program_is_an_outcome(tmp_path: Path) -> None:
    """A program that cannot start gives an outcome saying so, not an exception."""
    smtp = MailboxAccess("smtp", smtp=("127.0.0.1", 2525))
    outcome = await CommandClient("/nonexistent/mua", ClientCapabilities()).enroll(
        request(tmp_path, smtp)
    )
    assert not outcome.issued
    assert "cannot start" in outcome.detail


def test_reference_client_maps_each_mailbox_and_the_dkim_key(tmp_path: Path, world: World) -> None:
    """SMTP listener, Maildir and IMAP specs; the DKIM key file is loaded."""
    client = ReferenceClient()
    assert client.capabilities.signs_dkim
    account = ImapAccount("127.0.0.1", 1430, "mbox", "pw")
    smtp = client.config_for(request(tmp_path, MailboxAccess("smtp", smtp=("127.0.0.1", 2525))))
    maildir = client.config_for(request(tmp_path, MailboxAccess("maildir", maildir=tmp_path)))
    imap = client.config_for(request(tmp_path, MailboxAccess("imap", imap=account)))
    assert smtp.mailbox == SmtpListen("127.0.0.1", 2525)
    assert isinstance(maildir.mailbox, MaildirSpec)
    assert isinstance(imap.mailbox, ImapSpec)
    assert imap.mailbox.user == "mbox"
    key = world.domain("example.test").dkim_key("rsa")
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    base = request(tmp_path, MailboxAccess("smtp", smtp=("127.0.0.1", 2525)))
    signed = client.config_for(
        EnrollmentRequest(**{**vars(base), "dkim": DkimSigner(path, "rsa", "example.test")})
    )
    assert signed.dkim is not None
    assert signed.dkim.selector == "rsa"


def test_dovecot_user_names_are_checked() -> None:
    """A user name that would escape the password folder is refused; users need a server."""
    server = Dovecot(binary="/bin/false")
    with pytest.raises(ValueError, match="may not contain"):
        server.add_user("../etc", "pw")
    with pytest.raises(RuntimeError, match="not running"):
        server.add_user("mbox", "pw")


async def test_peer_ca_knows_its_challenges(world: World) -> None:
    """The suite's CA logs requests and finds its challenge from an email's Subject."""
    with PeerCa(
        world,
        challenge_from=world.new_address("ca.test", prefix="acme"),
        smarthost=("127.0.0.1", 1),
        behaviour=PeerBehaviour(reject_nonces=1),
    ) as peer:
        assert peer.requests() == ()
        assert peer.challenge_of(b"Subject: ACME: AAAAAAAAAAAAAAAAAAAAAA\r\n\r\n") is None
        assert peer.challenge_of(b"From: x@y\r\n\r\n") is None
        assert peer.directory_url.endswith("/directory")


def test_client_suite_usage_errors() -> None:
    """Inconsistent client options stop the run with pytest's usage-error status."""
    cases = [
        (["--client-command=mua {nonsense}"], "unknown placeholder"),
        (["--client-command=mua {smtp_port}", "--client-mailbox=imap"], "declares only"),
        (["--client-capability=smime"], "reference client takes no"),
        (["--client-target=command"], "needs --client-command"),
        (["--client-command=mua", "--client-capability=teleport"], "unknown capability"),
    ]
    runs = [
        (
            subprocess.Popen(
                [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "suites/client", *opts],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            message,
        )
        for opts, message in cases
    ]
    for process, message in runs:
        out, err = process.communicate(timeout=60)
        assert process.returncode == USAGE_ERROR, out + err
        assert message in err, err
