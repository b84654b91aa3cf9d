"""Build the PKCS#10 request for an RFC 8823 S/MIME certificate (RFC 8823 §3.3, RFC 2986)."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rfc8823.csr.key_usage import Usage, key_usage_for
from rfc8823.csr.keys import signature_hash
from rfc8823.csr.mailbox_names import mailbox_general_name


def build_csr(
    key: CertificateIssuerPrivateKeyTypes,
    addresses: Sequence[str],
    usage: Usage | None,
    *,
    subject_cn: str | None = None,
    include_eku: bool = True,
    non_repudiation: bool = False,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> x509.CertificateSigningRequest:
    """A PKCS#10 request for an S/MIME certificate for ``addresses`` (RFC 8823 §3.3).

    SAN per address (``mailbox_general_name``); a critical keyUsage from ``key_usage_for``, or
    none for ``usage=None`` (dual use by absence, CSR-KU-4); EKU emailProtection unless
    ``include_eku`` is false. No addresses means no SAN, so a test can supply its own through
    ``extra_extensions`` (pairs of extension and criticality). Signed with SHA-256 (EdDSA: none).
    """
    subject = (
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
        if subject_cn is not None
        else x509.Name([])
    )
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if addresses:
        names = [mailbox_general_name(address) for address in addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if usage is not None:
        key_usage = key_usage_for(usage, key, non_repudiation=non_repudiation)
        builder = builder.add_extension(key_usage, critical=True)
    if include_eku:
        eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION])
        builder = builder.add_extension(eku, critical=False)
    for extension, critical in extra_extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, signature_hash(key))
