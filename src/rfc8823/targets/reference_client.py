"""The ``reference`` client target: the project's own client, run in-process with ``enroll()``.

The only module of the client suite's machinery that imports :mod:`rfc8823.client`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from rfc8823 import __version__
from rfc8823.auth.resolver import DnsEndpoint
from rfc8823.client import EnrollConfig, EnrollmentError, enroll
from rfc8823.client.enroll import ImapSpec, MailboxSpec, MaildirSpec, SmtpListen, Timeouts
from rfc8823.client.reply import DkimConfig, SubmissionConfig
from rfc8823.faults import NO_FAULTS, FaultSet
from rfc8823.targets.client import (
    ClientCapabilities,
    DkimSigner,
    EnrollmentOutcome,
    EnrollmentRequest,
    MailboxAccess,
)

REFERENCE_CLIENT_CAPABILITIES = ClientCapabilities(
    mailboxes=("smtp", "maildir", "imap"),
    usages=("signing", "encryption", "both"),
    key_types=("ec", "rsa", "ed25519"),
    signs_dkim=True,
    smime=True,
    eai=True,
    restart=True,
)
STATE_FILE = Path("state") / "answered.json"
"""Where in the workdir the reference client keeps its answered-challenge ledger (FLOW-6)."""


@dataclass(frozen=True)
class ReferenceClient:
    """``rfc8823.client.enroll`` with the suite's endpoints.

    ``email_grace`` is how long it waits for the challenge email before POSTing first
    (docs/decisions.md#decision-4); ``poll_interval`` how often it looks into a Maildir or IMAP
    folder; its answered-challenge ledger lives in the workdir (``STATE_FILE``), its own state
    folder; ``faults`` are switched on only by ``--inject-fault`` (self-validation).
    """

    email_grace: float = 0.5
    poll_interval: float = 0.02
    faults: FaultSet = NO_FAULTS

    @property
    def name(self) -> str:
        """``rfc8823-reference-client``."""
        return "rfc8823-reference-client"

    @property
    def version(self) -> str:
        """The package version."""
        return __version__

    @property
    def capabilities(self) -> ClientCapabilities:
        """Every mailbox kind, usage and key type; it signs its response, checks S/MIME and
        keeps its answered challenges across restarts."""
        return REFERENCE_CLIENT_CAPABILITIES

    def config_for(self, request: EnrollmentRequest) -> EnrollConfig:
        """The enrollment configuration for one request."""
        limit = request.timeout
        submission = request.submission
        return EnrollConfig(
            directory_url=request.directory_url,
            email=request.email,
            mailbox=self._mailbox(request.mailbox),
            submission=SubmissionConfig(
                submission.host,
                submission.port,
                tls=submission.tls,
                user=submission.user,
                password=submission.password,
            ),
            out_dir=request.workdir,
            state_file=request.workdir / STATE_FILE,
            usage=request.usage,
            key_type=request.key_type,
            ca_bundle=request.ca_bundle,
            dkim=_dkim(request.dkim),
            dns=DnsEndpoint(*request.dns),
            smime_trust=request.smime_trust,
            timeouts=Timeouts(
                email_grace=self.email_grace,
                email=limit,
                validation=limit,
                issuance=limit,
                http=min(limit, 10.0),
                total=limit,
            ),
            faults=self.faults,
        )

    async def restart(self, request: EnrollmentRequest) -> EnrollmentOutcome:
        """``enroll()`` again: the workdir still holds the ledger of the last run."""
        return await self.enroll(request)

    def _mailbox(self, access: MailboxAccess) -> MailboxSpec:
        if access.smtp is not None:
            return SmtpListen(*access.smtp)
        if access.maildir is not None:
            return MaildirSpec(access.maildir, interval=self.poll_interval)
        if access.imap is None:
            raise ValueError(f"no endpoint for a {access.kind} mailbox")
        account = access.imap
        return ImapSpec(
            account.host,
            account.port,
            account.user,
            account.password,
            interval=self.poll_interval,
        )

    async def enroll(self, request: EnrollmentRequest) -> EnrollmentOutcome:
        """Run ``enroll()``; an :class:`EnrollmentError` becomes an outcome with its exit code."""
        started = time.monotonic()
        try:
            result = await enroll(self.config_for(request))
        except EnrollmentError as error:
            return EnrollmentOutcome(
                issued=False,
                detail=str(error),
                exit_status=int(error.exit_code),
                elapsed=time.monotonic() - started,
            )
        files = result.credentials
        return EnrollmentOutcome(
            issued=True,
            exit_status=0,
            key_path=files.key_path,
            chain_path=files.chain_path,
            elapsed=time.monotonic() - started,
        )


def _dkim(signer: DkimSigner | None) -> DkimConfig | None:
    if signer is None:
        return None
    key = serialization.load_pem_private_key(signer.key_path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(f"{signer.key_path} holds no DKIM key (RSA or Ed25519)")
    return DkimConfig(key, signer.selector, signer.domain)
