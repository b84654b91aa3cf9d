"""The ``command`` client target: any program, started once per enrollment from a template.

The template is split like a shell line (no shell runs it) and each word is filled in with
:data:`PLACEHOLDERS`, e.g. ``mymua enroll --directory={directory} --email={email}
--smtp-listen={smtp_host}:{smtp_port}`` (the ``--name=value`` form, since a generated password
may start with ``-``). The program must finish within the enrollment's
timeout (it is killed, with its process group, otherwise). It succeeded when it exits 0 and has
written its private key and certificate chain as PEM files anywhere under ``{workdir}``; the
suite finds them by content (a ``PRIVATE KEY`` block, a ``CERTIFICATE`` block; one file may
hold both).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rfc8823.targets.client import (
    ClientCapabilities,
    EnrollmentOutcome,
    EnrollmentRequest,
    MailboxKind,
)

PLACEHOLDERS: Mapping[str, str] = {
    "directory": "the ACME directory URL",
    "ca_bundle": "PEM file the CA's HTTPS and the submission server's TLS chain to",
    "email": "the address to enroll",
    "usage": "signing, encryption or both (RFC 8823 §3.3)",
    "key_type": "ec, rsa or ed25519",
    "workdir": "an empty folder for the key and certificate chain",
    "timeout": "seconds the enrollment may take",
    "smtp_host": "SMTP mailbox: the host to listen on (the address's MX)",
    "smtp_port": "SMTP mailbox: the port to listen on",
    "maildir": "Maildir mailbox: its path",
    "imap_host": "IMAP mailbox: the server",
    "imap_port": "IMAP mailbox: the port (plain IMAP)",
    "imap_user": "IMAP mailbox: the login",
    "imap_password": "IMAP mailbox: the password",
    "submission_host": "where to submit the response",
    "submission_port": "its port (STARTTLS)",
    "submission_user": "the submission login",
    "submission_password": "the submission password",
    "dns": "host:port of the DNS server with the DKIM keys",
    "dns_host": "that server's host",
    "dns_port": "that server's port",
    "smime_trust": "PEM file of the root S/MIME-signed challenges chain to",
    "dkim_key": "signs-dkim clients: PEM private key of the user's domain",
    "dkim_selector": "signs-dkim clients: its selector",
    "dkim_domain": "signs-dkim clients: the d= domain",
}
MAILBOX_PLACEHOLDERS: Mapping[MailboxKind, frozenset[str]] = {
    "smtp": frozenset({"smtp_host", "smtp_port"}),
    "maildir": frozenset({"maildir"}),
    "imap": frozenset({"imap_host", "imap_port", "imap_user", "imap_password"}),
}
DKIM_PLACEHOLDERS = frozenset({"dkim_key", "dkim_selector", "dkim_domain"})
_OUTPUT_LIMIT = 1 << 20
_KILL_TIMEOUT = 5.0


def template_fields(template: str) -> list[str]:
    """The placeholder names a template uses; ValueError for one that cannot be split or read."""
    names: list[str] = []
    for word in shlex.split(template):
        for _, name, spec, conversion in string.Formatter().parse(word):
            if name is None:
                continue
            if spec or conversion or not name.isidentifier():
                raise ValueError(f"placeholder {{{name}}} in {word!r} must be a bare name")
            names.append(name)
    return names


def check_template(
    template: str, capabilities: ClientCapabilities, mailbox: MailboxKind
) -> list[str]:
    """Problems that make the template unusable for this mailbox kind (empty when fine)."""
    try:
        used = set(template_fields(template))
    except ValueError as error:
        return [str(error)]
    if not template.strip():
        return ["the command template is empty"]
    problems = [f"unknown placeholder {{{name}}}" for name in sorted(used - set(PLACEHOLDERS))]
    for kind, names in MAILBOX_PLACEHOLDERS.items():
        if kind != mailbox and used & names:
            shown = ", ".join(f"{{{n}}}" for n in sorted(used & names))
            problems.append(f"{shown} belong to a {kind} mailbox, but this run uses {mailbox}")
    if not capabilities.signs_dkim and used & DKIM_PLACEHOLDERS:
        problems.append("{dkim_*} placeholders need the signs-dkim capability")
    return problems


def placeholder_values(request: EnrollmentRequest) -> dict[str, str]:
    """Every placeholder's value for one request ("" where the request has none)."""
    values = dict.fromkeys(PLACEHOLDERS, "")
    mailbox, submission = request.mailbox, request.submission
    values.update(
        directory=request.directory_url,
        ca_bundle=str(request.ca_bundle),
        email=request.email,
        usage=request.usage,
        key_type=request.key_type,
        workdir=str(request.workdir),
        timeout=f"{request.timeout:g}",
        submission_host=submission.host,
        submission_port=str(submission.port),
        submission_user=submission.user,
        submission_password=submission.password,
        dns=f"{request.dns[0]}:{request.dns[1]}",
        dns_host=request.dns[0],
        dns_port=str(request.dns[1]),
        smime_trust=str(request.smime_trust[0]) if request.smime_trust else "",
    )
    if mailbox.smtp is not None:
        values.update(smtp_host=mailbox.smtp[0], smtp_port=str(mailbox.smtp[1]))
    if mailbox.maildir is not None:
        values["maildir"] = str(mailbox.maildir)
    if mailbox.imap is not None:
        account = mailbox.imap
        values.update(
            imap_host=account.host,
            imap_port=str(account.port),
            imap_user=account.user,
            imap_password=account.password,
        )
    if request.dkim is not None:
        values.update(
            dkim_key=str(request.dkim.key_path),
            dkim_selector=request.dkim.selector,
            dkim_domain=request.dkim.domain,
        )
    return values


def find_credentials(workdir: Path) -> tuple[Path | None, Path | None]:
    """The private key file and the certificate chain file under ``workdir``, by content."""
    key_path = chain_path = None
    for path in sorted(p for p in workdir.rglob("*") if p.is_file()):
        try:
            data = path.read_bytes()[:_OUTPUT_LIMIT]
        except OSError:
            continue
        if key_path is None and b"PRIVATE KEY-----" in data:
            key_path = path
        if chain_path is None and b"-----BEGIN CERTIFICATE-----" in data:
            chain_path = path
    return key_path, chain_path


@dataclass(frozen=True)
class CommandClient:
    """A client run as ``template`` per enrollment; capabilities as declared by the user."""

    template: str
    declared: ClientCapabilities
    label: str = "command"
    release: str = ""

    @property
    def name(self) -> str:
        """The name given with ``--target-name`` (default ``command``)."""
        return self.label

    @property
    def version(self) -> str:
        """The version given with ``--target-version``."""
        return self.release

    @property
    def capabilities(self) -> ClientCapabilities:
        """What ``--client-capability`` declared."""
        return self.declared

    def argv(self, request: EnrollmentRequest) -> list[str]:
        """The command line for one request."""
        values = placeholder_values(request)
        return [word.format_map(values) for word in shlex.split(self.template)]

    async def enroll(self, request: EnrollmentRequest) -> EnrollmentOutcome:
        """Start the command in ``workdir``, wait for it (bounded), then look for its files.

        Cancelled (the test ended first), the command is killed and reaped before returning.
        """
        argv = self.argv(request)
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=request.workdir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as error:
            return EnrollmentOutcome(False, f"cannot start {argv[0]!r}: {error}")
        timed_out = False
        try:
            async with asyncio.timeout(request.timeout):
                out, err = await process.communicate()
        except TimeoutError:
            timed_out = True
            out, err = await _kill(process)
        except asyncio.CancelledError:
            await _kill(process)
            raise
        elapsed = time.monotonic() - started
        stdout = out.decode("utf-8", "replace")
        stderr = err.decode("utf-8", "replace")
        key_path, chain_path = find_credentials(request.workdir)
        issued = not timed_out and process.returncode == 0 and None not in (key_path, chain_path)
        if timed_out:
            detail = f"still running after {request.timeout:g} s; killed"
        elif process.returncode != 0:
            detail = f"exited with status {process.returncode}"
        elif not issued:
            detail = f"exited 0 without a PEM key and certificate chain in {request.workdir}"
        else:
            detail = ""
        return EnrollmentOutcome(
            issued=issued,
            detail=detail,
            exit_status=process.returncode,
            key_path=key_path,
            chain_path=chain_path,
            stdout=stdout,
            stderr=stderr,
            elapsed=elapsed,
        )


async def _kill(process: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """Kill the process group the command started in, then collect what it printed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        async with asyncio.timeout(_KILL_TIMEOUT):
            return await process.communicate()
    except TimeoutError:
        return b"", b""
