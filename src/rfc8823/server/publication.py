"""What the reference CA publishes over plain HTTP: its CRL and its certificate.

RFC 5280 §4.2.1.13 and §5 (a CRL at the distribution point each certificate names, listing the
revoked ones, REF-5280-12), §4.2.2.1 (caIssuers: the issuing CA's certificate, DER), RFC 2585
§4 (the media types). The CRL is built at each request from the store, so a revocation shows
in the next fetch. Served on loopback beside the HTTPS ACME listener.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rfc8823.csr import signature_hash
from rfc8823.faults import FaultSet
from rfc8823.server.issuer import Issuer, Publication
from rfc8823.server.records import CertificateRecord
from rfc8823.server.store import Store

CRL_PATH = "/crl/acme-issuing.crl"
CA_ISSUERS_PATH = "/ca/acme-issuing.cer"
CRL_TYPE = "application/pkix-crl"
CERT_TYPE = "application/pkix-cert"
_NEXT_UPDATE = timedelta(hours=24)
_REASONS = {
    1: x509.ReasonFlags.key_compromise,
    2: x509.ReasonFlags.ca_compromise,
    3: x509.ReasonFlags.affiliation_changed,
    4: x509.ReasonFlags.superseded,
    5: x509.ReasonFlags.cessation_of_operation,
    6: x509.ReasonFlags.certificate_hold,
    8: x509.ReasonFlags.remove_from_crl,
    9: x509.ReasonFlags.privilege_withdrawn,
    10: x509.ReasonFlags.aa_compromise,
}
"""RFC 5280 §5.3.1 CRLReason codes; 0 (unspecified) is left out of the entry, as §5.3.1 asks."""


def publication_at(base_url: str) -> Publication:
    """The CRL and caIssuers URLs under ``base_url`` (``http://127.0.0.1:<port>``)."""
    base = base_url.rstrip("/")
    return Publication(crl_url=base + CRL_PATH, ca_issuers_url=base + CA_ISSUERS_PATH)


def build_crl(
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    revoked: Sequence[CertificateRecord],
    now: datetime,
) -> bytes:
    """A DER CRL v2 of ``revoked``: CRL number, authority key identifier, reason codes (§5)."""
    moment = now.astimezone(UTC).replace(microsecond=0)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(moment)
        .next_update(moment + _NEXT_UPDATE)
        .add_extension(x509.CRLNumber(int(moment.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    for record in revoked:
        if record.revoked_at is None:
            continue
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(int(record.serial, 16))
            .revocation_date(datetime.fromtimestamp(int(record.revoked_at), UTC))
        )
        reason = _REASONS.get(record.revocation_reason or 0)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(ca_key, signature_hash(ca_key))
    return crl.public_bytes(serialization.Encoding.DER)


def publication_app(
    issuer: Issuer, store: Store, clock: Callable[[], float], faults: FaultSet
) -> Starlette:
    """GET the CRL (built from the store at each request) and the issuing CA's certificate."""

    async def crl(_request: Request) -> Response:
        now = clock()
        revoked = [] if faults.on("crl-omits-revoked") else store.revoked_certificates(now)
        body = build_crl(issuer.ca_cert, issuer.ca_key, revoked, datetime.fromtimestamp(now, UTC))
        return Response(body, media_type=CRL_TYPE)

    async def ca_issuers(_request: Request) -> Response:
        return Response(
            issuer.ca_cert.public_bytes(serialization.Encoding.DER), media_type=CERT_TYPE
        )

    return Starlette(
        routes=[
            Route(CRL_PATH, crl, methods=["GET"]),
            Route(CA_ISSUERS_PATH, ca_issuers, methods=["GET"]),
        ]
    )
