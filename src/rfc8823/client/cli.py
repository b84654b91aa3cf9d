"""``rfc8823 enroll``: get an S/MIME certificate for one address through ACME and RFC 8823."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from rfc8823.auth.resolver import DnsEndpoint
from rfc8823.client.acme_client import ExternalAccountBinding
from rfc8823.client.enroll import (
    EnrollConfig,
    ImapSpec,
    MailboxSpec,
    MaildirSpec,
    SmtpListen,
    Timeouts,
    enroll,
)
from rfc8823.client.errors import EnrollmentError, ExitCode, UsageError
from rfc8823.client.reply import DkimConfig, SubmissionConfig
from rfc8823.endpoints import parse_host_port
from rfc8823.faults import FAULTS_ENV, FaultSet, UnknownFaultError
from rfc8823.tokens import b64url_decode

PROG = "rfc8823 enroll"
EXIT_CODES = f"""exit status:
  {ExitCode.ISSUED:d}  the certificate was issued and written
  {ExitCode.PROTOCOL:d}  the ACME server answered with an error, or spoke malformed ACME
  {ExitCode.USAGE:d}  bad command line or configuration
  {ExitCode.CHALLENGE:d}  the challenge email was refused (unauthenticated, unexpected) or
     never arrived
  {ExitCode.TIMEOUT:d}  the order or authorization did not finish in time

Passwords may be given in the environment instead of on the command line:
RFC8823_SMTP_PASSWORD, RFC8823_IMAP_PASSWORD, RFC8823_PKCS12_PASSWORD.
{FAULTS_ENV} (comma-separated fault names) makes the client break rules on purpose,
for the suite's self-validation only (`rfc8823 selfcheck`)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``enroll`` subcommand."""
    parser = subparsers.add_parser(
        "enroll",
        help="obtain an S/MIME certificate by ACME email-reply-00 (reference client)",
        description=(
            "Order an S/MIME certificate for one email address from an ACME server, answer "
            "the RFC 8823 challenge email, and write the key and certificate chain."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    acme = parser.add_argument_group("ACME")
    acme.add_argument("--directory", required=True, help="the ACME directory URL")
    acme.add_argument("--email", required=True, help="the address to certify")
    acme.add_argument("--ca-bundle", type=Path, help="CA certificates for HTTPS, SMTP and IMAP")
    acme.add_argument("--account-key", type=Path, help="account key PEM (created if missing)")
    acme.add_argument("--account-key-type", choices=("es256", "rs256", "eddsa"), default="es256")
    acme.add_argument("--contact", action="append", default=[], help="account contact URL")
    acme.add_argument("--eab-kid", help="external account binding key identifier")
    acme.add_argument("--eab-hmac-key", help="external account binding MAC key (base64url)")
    cert = parser.add_argument_group("certificate")
    cert.add_argument("--usage", choices=("signing", "encryption", "both"), default="both")
    cert.add_argument(
        "--key-type", choices=("ec", "rsa", "ed25519"), default="ec", help="ed25519: signing only"
    )
    cert.add_argument("--out-dir", type=Path, default=Path("."), help="where to write the files")
    cert.add_argument("--pkcs12", action="store_true", help="also write a PKCS#12 file")
    mail = parser.add_argument_group("challenge mailbox (choose one)")
    source = mail.add_mutually_exclusive_group(required=True)
    source.add_argument("--smtp-listen", metavar="HOST:PORT", help="be the address's MX")
    source.add_argument("--maildir", type=Path, help="read the challenge from a Maildir")
    source.add_argument("--imap", metavar="HOST:PORT", help="read it from an IMAP mailbox")
    mail.add_argument("--imap-user")
    mail.add_argument("--imap-password")
    mail.add_argument("--imap-tls", choices=("none", "starttls", "implicit"), default="none")
    mail.add_argument("--imap-folder", default="INBOX")
    mail.add_argument("--state-file", type=Path, help="ledger of answered challenges (JSON)")
    mail.add_argument("--dns", metavar="HOST:PORT", help="DNS server for DKIM keys")
    mail.add_argument(
        "--smime-trust", type=Path, action="append", default=[], help="S/MIME trust anchor PEM"
    )
    send = parser.add_argument_group("response submission")
    send.add_argument("--smtp-host", required=True)
    send.add_argument("--smtp-port", type=int, default=587)
    send.add_argument("--smtp-tls", choices=("none", "starttls", "implicit"), default="starttls")
    send.add_argument("--smtp-user")
    send.add_argument("--smtp-password")
    send.add_argument("--dkim-key", type=Path, help="sign the response with this DKIM key")
    send.add_argument("--dkim-selector", default="default")
    send.add_argument("--dkim-domain", help="DKIM d= (default: the address's domain)")
    wait = parser.add_argument_group("timeouts (seconds)")
    wait.add_argument("--email-grace", type=float, default=2.0, help="wait before POSTing first")
    wait.add_argument("--email-timeout", type=float, default=60.0, help="wait for the email")
    wait.add_argument("--acme-timeout", type=float, default=60.0, help="validation, issuance")
    wait.add_argument("--timeout", type=float, default=300.0, help="the whole enrollment")
    parser.set_defaults(handler=run)


def _endpoint(text: str, option: str) -> tuple[str, int]:
    try:
        return parse_host_port(text, "127.0.0.1")
    except ValueError as error:
        raise UsageError(option, str(error)) from None


def _dkim(args: argparse.Namespace) -> DkimConfig | None:
    if args.dkim_key is None:
        return None
    try:
        key = serialization.load_pem_private_key(args.dkim_key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise UsageError("--dkim-key", f"cannot read {args.dkim_key}: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise UsageError("--dkim-key", "a DKIM key is RSA or Ed25519 (RFC 6376, RFC 8463)")
    return DkimConfig(key, args.dkim_selector, args.dkim_domain)


def _mailbox(args: argparse.Namespace) -> MailboxSpec:
    if args.smtp_listen is not None:
        return SmtpListen(*_endpoint(args.smtp_listen, "--smtp-listen"))
    if args.maildir is not None:
        return MaildirSpec(args.maildir)
    password = args.imap_password or os.environ.get("RFC8823_IMAP_PASSWORD")
    if args.imap_user is None or password is None:
        raise UsageError("--imap", "IMAP needs --imap-user and --imap-password")
    host, port = _endpoint(args.imap, "--imap")
    return ImapSpec(host, port, args.imap_user, password, args.imap_tls, args.imap_folder)


def _eab(args: argparse.Namespace) -> ExternalAccountBinding | None:
    if (args.eab_kid is None) != (args.eab_hmac_key is None):
        raise UsageError("--eab-kid", "give both --eab-kid and --eab-hmac-key, or neither")
    if args.eab_kid is None:
        return None
    try:
        return ExternalAccountBinding(args.eab_kid, b64url_decode(args.eab_hmac_key))
    except ValueError as error:
        raise UsageError("--eab-hmac-key", str(error)) from None


def _faults() -> FaultSet:
    """Faults named in the environment (self-validation runs only)."""
    try:
        faults = FaultSet.from_env()
    except UnknownFaultError as error:
        raise UsageError(FAULTS_ENV, str(error.args[0])) from None
    if faults:
        print(f"{PROG}: faults switched on: {', '.join(faults)}", file=sys.stderr, flush=True)
    return faults


def config_from_args(args: argparse.Namespace) -> EnrollConfig:
    """The enrollment the command line describes; UsageError for contradictions."""
    password = os.environ.get("RFC8823_PKCS12_PASSWORD")
    dns = _endpoint(args.dns, "--dns") if args.dns else None
    return EnrollConfig(
        directory_url=args.directory,
        email=args.email,
        mailbox=_mailbox(args),
        submission=SubmissionConfig(
            host=args.smtp_host,
            port=args.smtp_port,
            tls=args.smtp_tls,
            user=args.smtp_user,
            password=args.smtp_password or os.environ.get("RFC8823_SMTP_PASSWORD"),
        ),
        out_dir=args.out_dir,
        usage=args.usage,
        key_type=args.key_type,
        account_key=args.account_key,
        account_key_type=args.account_key_type,
        contact=tuple(args.contact),
        eab=_eab(args),
        ca_bundle=args.ca_bundle,
        state_file=args.state_file,
        dkim=_dkim(args),
        dns=DnsEndpoint(*dns) if dns else None,
        smime_trust=tuple(args.smime_trust),
        pkcs12=args.pkcs12,
        pkcs12_password=password.encode("utf-8") if password else None,
        timeouts=Timeouts(
            email_grace=args.email_grace,
            email=args.email_timeout,
            validation=args.acme_timeout,
            issuance=args.acme_timeout,
            total=args.timeout,
        ),
        progress=lambda line: print(f"{PROG}: {line}", file=sys.stderr, flush=True),
        faults=_faults(),
    )


def run(args: argparse.Namespace) -> int:
    """Run the enrollment; print the files on stdout, errors and progress on stderr."""
    try:
        result = asyncio.run(enroll(config_from_args(args)))
    except EnrollmentError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return int(error.exit_code)
    files = result.credentials
    print(f"certificate={files.chain_path}")
    print(f"key={files.key_path}")
    if files.pkcs12_path is not None:
        print(f"pkcs12={files.pkcs12_path}")
    print(f"order={result.order_url}")
    return int(ExitCode.ISSUED)
