"""The reference client against the reference CA, end to end: every usage and key type."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from rfc8823.certificates import inspect_certificate
from rfc8823.client.acme_client import AcmeClient, ExternalAccountBinding
from rfc8823.client.enroll import enroll
from rfc8823.client.errors import EnrollmentError, ExitCode, UsageError
from rfc8823.client.keys import AccountKeyType, CertKeyType, load_private_key, new_account_key
from rfc8823.client.mailbox import SmtpMailSource
from rfc8823.client.reply import SubmissionConfig
from rfc8823.csr import Usage
from rfc8823.findings import failures
from rfc8823.messages.response import ResponseExpectation, authenticate_response, inspect_response
from rfc8823.server.config import ServerConfig
from rfc8823.server.runner import ReferenceServer
from rfc8823.tokens import Concatenation, jwk_thumbprint
from rfc8823.world.world import World

from .support import CA_DOMAIN, USER_DOMAIN, enroll_config, file_names, provider_route

CASES: list[tuple[Usage, CertKeyType]] = [
    ("signing", "ec"),
    ("encryption", "ec"),
    ("both", "ec"),
    ("signing", "rsa"),
    ("encryption", "rsa"),
    ("both", "rsa"),
    ("signing", "ed25519"),
]


@pytest.mark.parametrize(("usage", "key_type"), CASES, ids=[f"{u}-{k}" for u, k in CASES])
async def test_issues_a_certificate_for_each_usage_and_key_type(
    world: World,
    reference_ca: ReferenceServer,
    client_mx: SmtpMailSource,
    tmp_path: Path,
    usage: Usage,
    key_type: CertKeyType,
) -> None:
    """CSR-KU-2..4, FLOW-1/2/5, A-CHAL-2: the order completes and the files are right."""
    config = enroll_config(world, reference_ca, client_mx, tmp_path, usage=usage, key_type=key_type)
    result = await enroll(config)

    files = result.credentials
    assert stat.S_IMODE(files.key_path.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(files.key_path.read_bytes(), password=None)
    chain = x509.load_pem_x509_certificates(files.chain_path.read_bytes())
    assert len(chain) >= 2
    findings = inspect_certificate(
        chain[0], [config.email], requested=usage, csr_key=key.public_key()
    )
    assert failures(findings) == []
    assert file_names(tmp_path) == sorted([files.key_path.name, files.chain_path.name])
    assert result.answered is not None
    assert not result.posted_first
    assert result.refused == ()


async def test_response_is_a_conforming_rfc8823_reply(
    world: World, reference_ca: ReferenceServer, client_mx: SmtpMailSource, tmp_path: Path
) -> None:
    """RESP-*: the response the client sent passes the response inspector, string reading."""
    account_key = tmp_path / "account.pem"
    config = enroll_config(
        world, reference_ca, client_mx, tmp_path / "out", account_key=account_key
    )
    result = await enroll(config)
    answered = result.answered
    assert answered is not None
    [challenge] = client_mx.store.messages()
    expect = ResponseExpectation.for_challenge(
        challenge.data,
        identifier=config.email,
        token_part2=answered.pending.token_part2,
        thumbprint=jwk_thumbprint(load_private_key(account_key)),
    )
    auth = authenticate_response(
        answered.response, resolver=world.resolver, peer_ip=None, mail_from=None, helo=None
    )
    report = inspect_response(answered.response, expect, auth)
    assert report.acceptable, report.rejection_reasons
    assert report.reading is Concatenation.STRING
    assert failures(report.findings) == []
    assert answered.recipients == (reference_ca.config.challenge_from,)


async def test_posts_first_when_no_email_comes_within_the_grace_period(
    world: World, reference_ca: ReferenceServer, client_mx: SmtpMailSource, tmp_path: Path
) -> None:
    """docs/decisions.md#decision-4 / AMB-3: with no grace the client POSTs first, then answers the
    email."""
    base = enroll_config(world, reference_ca, client_mx, tmp_path)
    config = replace(base, timeouts=replace(base.timeouts, email_grace=0.0))
    result = await enroll(config)
    assert result.posted_first
    assert result.answered is not None


async def test_reuses_the_account_of_a_saved_key(
    world: World, reference_ca: ReferenceServer, client_mx: SmtpMailSource, tmp_path: Path
) -> None:
    """A-ACCT-1: onlyReturnExisting finds the account made by the first enrollment."""
    key_path = tmp_path / "account.pem"
    first = await enroll(
        enroll_config(world, reference_ca, client_mx, tmp_path / "one", account_key=key_path)
    )
    second = await enroll(
        enroll_config(world, reference_ca, client_mx, tmp_path / "two", account_key=key_path)
    )
    assert first.account_created
    assert not second.account_created
    assert second.account_url == first.account_url
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


async def test_signing_left_to_the_provider_and_pkcs12_output(
    world: World, reference_ca: ReferenceServer, client_mx: SmtpMailSource, tmp_path: Path
) -> None:
    """RESP-DKIM-1 by the submission server: STARTTLS + AUTH, provider DKIM; PKCS#12 written."""
    base = enroll_config(world, reference_ca, client_mx, tmp_path)
    user, password = world.submission_login(base.email)
    config = replace(
        base,
        dkim=None,
        submission=SubmissionConfig(
            *world.submission.address, tls="starttls", user=user, password=password
        ),
        pkcs12=True,
        pkcs12_password=b"secret",
    )
    with provider_route(world, USER_DOMAIN, CA_DOMAIN, reference_ca.reply_endpoint):
        result = await enroll(config)
    p12 = result.credentials.pkcs12_path
    assert p12 is not None
    assert stat.S_IMODE(p12.stat().st_mode) == 0o600
    bundle = pkcs12.load_pkcs12(p12.read_bytes(), b"secret")
    assert bundle.cert is not None
    assert bundle.cert.certificate.public_bytes(serialization.Encoding.PEM) in (
        result.credentials.chain_path.read_bytes()
    )
    submitted = world.outbox.messages(reference_ca.config.challenge_from)
    assert len(submitted) == 1
    assert submitted[0].auth_user == base.email


async def test_ed25519_cannot_ask_for_encryption(
    world: World, reference_ca: ReferenceServer, client_mx: SmtpMailSource, tmp_path: Path
) -> None:
    """CSR-KU-3: an Ed25519 key cannot encrypt; refused before any request is made."""
    config = enroll_config(
        world, reference_ca, client_mx, tmp_path, usage="encryption", key_type="ed25519"
    )
    with pytest.raises(UsageError, match="cannot encrypt") as caught:
        await enroll(config)
    assert caught.value.exit_code is ExitCode.USAGE
    assert file_names(tmp_path) == []


@pytest.mark.parametrize("kind", ["es256", "rs256", "eddsa"])
async def test_account_keys_of_every_kind_with_external_account_binding(
    world: World, kind: AccountKeyType
) -> None:
    """A-JWS-3, A-ACCT-1, RFC 8555 §7.3.4: ES256, RS256 and EdDSA accounts, bound by EAB."""
    secret = b"0123456789abcdef0123456789abcdef"
    config = ServerConfig(
        resolver=world.dns_endpoint, eab_keys={"kid-1": secret}, eab_required=True
    )
    async with ReferenceServer(config, pki=world.pki) as server:
        key = new_account_key(kind)
        context = world.client_ssl_context()
        async with AcmeClient(server.directory_url, key, verify=context) as client:
            with pytest.raises(EnrollmentError) as refused:
                await client.account()
            bound = await client.account(eab=ExternalAccountBinding("kid-1", secret))
    assert refused.value.problem is not None
    assert refused.value.problem.type.endswith(":externalAccountRequired")
    assert bound.created
