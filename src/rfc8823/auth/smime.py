"""S/MIME signing (cryptography, asn1crypto) and verification (openssl cms) of challenge emails.

RFC 8823 §3.1 (6)-(7): a signed challenge is multipart/signed or opaque signed-data, uses
header protection, and its signer certificate names the From address. Header protection is
either RFC 8551 §3.1 wrapping or an RFC 7508 SecureHeaderFields signed attribute (AMB-8).
RFC 8551 §3.1, §3.5; RFC 5652 §5.
"""

from __future__ import annotations

import base64
import email.errors
import email.policy
import re
import secrets
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value, parseaddr
from pathlib import Path
from typing import ClassVar, Literal

from asn1crypto import algos, core
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from rfc8823.auth import secure_headers
from rfc8823.auth.secure_headers import (
    ASN1_ERRORS,
    Canonicalization,
    Malformed,
    SecureField,
    SecureHeaders,
)
from rfc8823.values import PrivateKey

SmimeForm = Literal["multipart-signed", "opaque"]
SmimeStatus = Literal["pass", "fail", "none", "error"]
_DATA = "1.2.840.113549.1.7.1"
_SIGNED_DATA = "1.2.840.113549.1.7.2"
HeaderProtection = Literal["none", "rfc8551", "rfc7508"]
"""How a signature protects the header: not at all, RFC 8551 §3.1 wrapping, RFC 7508 attribute."""

PROTECTED_FIELDS = (
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
)
"""Header fields whose outer value must equal the protected one (CHAL-BODY-3, RFC 8551 §3.1)."""

_SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
_OPAQUE_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_PARSE_ERRORS = (email.errors.MessageError, ValueError, LookupError, TypeError, RecursionError)
_LINE_END = re.compile(rb"\r?\n")
_PARSER = BytesParser(policy=email.policy.default)


@dataclass(frozen=True)
class SmimeResult:
    """The verdict on a message's S/MIME signature; status "none" means it is not signed."""

    status: SmimeStatus
    reason: str
    form: SmimeForm | None = None
    signer_addresses: tuple[str, ...] = ()
    signer_cert: x509.Certificate | None = None
    inner: bytes | None = None
    protected_headers: tuple[tuple[str, str], ...] | None = None
    secure_headers: SecureHeaders | Malformed | None = None
    """The signer's RFC 7508 SecureHeaderFields attribute, read once the signature verified."""


def sign(
    message: bytes,
    identity_cert: x509.Certificate,
    key: PrivateKey,
    chain: Sequence[x509.Certificate],
    *,
    form: SmimeForm = "multipart-signed",
    header_protection: HeaderProtection = "rfc8551",
    canonicalization: Canonicalization = "relaxed",
    secure_fields: Sequence[SecureField] | None = None,
) -> bytes:
    """Sign a complete RFC 5322 message with SHA-256, returning the complete signed message.

    ``header_protection`` (CHAL-BODY-3, AMB-8): "rfc8551" signs a message/rfc822 part holding
    the whole original message (RFC 8551 §3.1); "rfc7508" signs the body entity and lists the
    message's :data:`PROTECTED_FIELDS` in a SecureHeaderFields signed attribute declared
    ``canonicalization`` (RFC 7508 §4.1, §4.5.1), or ``secure_fields`` instead when given
    (negative tests); "none" signs the body entity only. The outer header repeats the
    message's fields either way. Forms: RFC 8551 §3.5.3 and §3.5.2 (CHAL-BODY-2).
    """
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError(f"S/MIME signing needs an RSA or EC key, not {type(key).__name__}")
    protection = _protection(header_protection)
    if secure_fields is not None and protection != "rfc7508":
        raise ValueError("secure_fields only apply to header_protection='rfc7508'")
    if form not in ("multipart-signed", "opaque"):
        raise ValueError(f"form must be 'multipart-signed' or 'opaque', not {form!r}")
    canonical = _canonical(message)
    fields, body = _split(canonical)
    outer = [field for field in fields if not _is_content_field(field)]
    if protection == "rfc8551":
        content = b"Content-Type: message/rfc822; forwarded=no\r\n\r\n" + canonical
    else:
        content_fields = [
            field
            for field in fields
            if _is_content_field(field) and _field_name(field) != b"mime-version"
        ]
        if not any(_field_name(field) == b"content-type" for field in content_fields):
            content_fields.insert(0, b"Content-Type: text/plain; charset=us-ascii")
        content = b"\r\n".join(content_fields) + b"\r\n\r\n" + body
    detached = form == "multipart-signed"
    if protection == "rfc7508":
        listed = secure_fields if secure_fields is not None else _secure_fields(outer)
        attribute = secure_headers.encode(listed, canonicalization)
        signed = _signed_data(content, identity_cert, key, chain, attribute, detached=detached)
    else:
        signed = _pkcs7_signed_data(content, identity_cert, key, chain, detached=detached)
    if detached:
        boundary = _boundary(content)
        header = [
            *outer,
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
            b' micalg=sha-256; boundary="' + boundary + b'"',
        ]
        body = b"".join(
            [
                b"This is an S/MIME signed message.\r\n",
                b"--" + boundary + b"\r\n",
                content,
                b"\r\n--" + boundary + b"\r\n",
                b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n',
                b"Content-Transfer-Encoding: base64\r\n",
                b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n',
                _base64_lines(signed),
                b"--" + boundary + b"--\r\n",
            ]
        )
    else:
        header = [
            *outer,
            b"MIME-Version: 1.0",
            b'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
            b"Content-Transfer-Encoding: base64",
            b'Content-Disposition: attachment; filename="smime.p7m"',
        ]
        body = _base64_lines(signed)
    return b"\r\n".join(header) + b"\r\n\r\n" + body


def _protection(choice: HeaderProtection) -> HeaderProtection:
    if choice not in ("none", "rfc8551", "rfc7508"):
        raise ValueError(f"header_protection is 'none', 'rfc8551' or 'rfc7508', not {choice!r}")
    return choice


def _secure_fields(outer: Sequence[bytes]) -> list[SecureField]:
    """The outer fields of :data:`PROTECTED_FIELDS`, as written, all duplicated (RFC 7508 §4.4)."""
    wanted = {name.lower() for name in PROTECTED_FIELDS}
    return [
        SecureField(name, value) for name, value in _raw_fields(outer) if name.lower() in wanted
    ]


def _pkcs7_signed_data(
    content: bytes,
    cert: x509.Certificate,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    chain: Sequence[x509.Certificate],
    *,
    detached: bool,
) -> bytes:
    """DER SignedData from cryptography's PKCS#7 builder (its standard signed attributes)."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content)
    builder = builder.add_signer(cert, key, hashes.SHA256())
    for extra in chain:
        builder = builder.add_certificate(extra)
    options = [pkcs7.PKCS7Options.Binary]
    if detached:
        options.append(pkcs7.PKCS7Options.DetachedSignature)
    return builder.sign(Encoding.DER, options)


class _SignedAttribute(asn1_cms.CMSAttribute):  # type: ignore[misc]  # asn1crypto has no stubs
    """A CMS attribute that also knows the SecureHeaderFields type (RFC 7508 §4.1).

    A typed value, not an Any: asn1crypto re-encodes a value whose DER length ends in 0x80
    (it takes that for an indefinite length), which an untyped value cannot survive.
    """

    _oid_specs: ClassVar[dict[str, type]] = {
        **asn1_cms.CMSAttribute._oid_specs,
        secure_headers.OID: secure_headers.SetOfSecureHeaderFields,
    }


class _SignedAttributes(asn1_cms.CMSAttributes):  # type: ignore[misc]
    _child_spec = _SignedAttribute


def _signed_data(
    content: bytes,
    cert: x509.Certificate,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    chain: Sequence[x509.Certificate],
    secure_header_fields: bytes,
    *,
    detached: bool,
) -> bytes:
    """DER ContentInfo of a SignedData with a SecureHeaderFields signed attribute (RFC 5652 §5,
    RFC 7508 §4.1).

    Signed attributes: contentType, signingTime, messageDigest (SHA-256 of ``content``) and
    the attribute; their DER SET is signed with RSA PKCS#1 v1.5 or ECDSA, SHA-256 (§5.4). The
    signer certificate and ``chain`` travel in ``certificates``. asn1crypto writes each piece
    once, fresh; the SEQUENCEs around them are joined here, because asn1crypto 1.5 re-encodes a
    value read back whose length octets end in 0x80 (it takes them for an indefinite length)
    and fails on that.
    """
    digest = hashes.Hash(hashes.SHA256())
    digest.update(content)
    protected = secure_headers.SecureHeaderFieldsAsn1.load(secure_header_fields, strict=True)
    signed_attributes = _SignedAttributes(
        [
            _SignedAttribute({"type": "content_type", "values": ["data"]}),
            _SignedAttribute(
                {"type": "signing_time", "values": [asn1_cms.Time({"utc_time": datetime.now(UTC)})]}
            ),
            _SignedAttribute({"type": "message_digest", "values": [digest.finalize()]}),
            _SignedAttribute({"type": secure_headers.OID, "values": [protected.native]}),
        ]
    ).dump()
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signed_attributes, padding.PKCS1v15(), hashes.SHA256())
        algorithm = "rsassa_pkcs1v15"
    else:
        signature = key.sign(signed_attributes, ec.ECDSA(hashes.SHA256()))
        algorithm = "sha256_ecdsa"
    sha256 = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
    signer_info = _der(
        0x30,
        core.Integer(1).dump(),
        _der(0x30, cert.issuer.public_bytes(), core.Integer(cert.serial_number).dump()),
        sha256,
        b"\xa0" + signed_attributes[1:],
        algos.SignedDigestAlgorithm({"algorithm": algorithm}).dump(),
        core.OctetString(signature).dump(),
    )
    encapsulated = [core.ObjectIdentifier(_DATA).dump()]
    if not detached:
        encapsulated.append(_der(0xA0, core.OctetString(content).dump()))
    certificates = [c.public_bytes(Encoding.DER) for c in (cert, *chain)]
    signed_data = _der(
        0x30,
        core.Integer(1).dump(),
        _der(0x31, sha256),
        _der(0x30, *encapsulated),
        _der(0xA0, *certificates),
        _der(0x31, signer_info),
    )
    return _der(0x30, core.ObjectIdentifier(_SIGNED_DATA).dump(), _der(0xA0, signed_data))


def _der(tag: int, *parts: bytes) -> bytes:
    """One DER TLV of a low tag number: ``tag``, definite length, ``parts`` joined (X.690 §8.1)."""
    body = b"".join(parts)
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def secure_headers_in(signed_data: bytes) -> SecureHeaders | Malformed | None:
    """The RFC 7508 SecureHeaderFields of the first signer that carries one; pure, never raises.

    None when no signer has the attribute or the bytes are no readable SignedData (the
    signature check reports that); :class:`Malformed` when the attribute is not exactly one
    valid value (RFC 7508 §4.1, RFC 5652 §5.3).
    """
    try:
        info = asn1_cms.ContentInfo.load(signed_data)
        if info["content_type"].native != "signed_data":
            return None
        for signer in info["content"]["signer_infos"]:
            found = [
                attribute["values"]
                for attribute in signer["signed_attrs"]
                if attribute["type"].dotted == secure_headers.OID
            ]
            if not found:
                continue
            if len(found) != 1 or len(found[0]) != 1:
                return Malformed("SecureHeaderFields must be one attribute with one value")
            value = found[0][0].parse()
            identifier = value.class_ << 6 | value.method << 5 | value.tag
            if value.tag >= 31:
                return Malformed(f"the attribute value has tag {value.tag}, not SET")
            return secure_headers.decode(_der(identifier, value.contents))
    except ASN1_ERRORS:
        return None
    return None


def verify(
    message: bytes,
    trust_anchors: Sequence[Path],
    *,
    openssl: str = "openssl",
    timeout: float = 10.0,
) -> SmimeResult:
    """Verify the S/MIME signature and signer path with `openssl cms -verify`; never raises.

    The signer must be valid for S/MIME signing and chain to one of `trust_anchors` (PEM files)
    and nothing else (CHAL-SMIME-2, RFC 8550 §3, RFC 5280 §6).
    """
    canonical = _canonical(message)
    try:
        entity = _PARSER.parsebytes(canonical)
        content_type = entity.get_content_type()
        if content_type == "multipart/signed":
            return _verify_multipart(canonical, entity, trust_anchors, openssl, timeout)
        if content_type in _OPAQUE_TYPES:
            return _verify_opaque(entity, trust_anchors, openssl, timeout)
    except _PARSE_ERRORS as exc:
        return SmimeResult("error", f"cannot parse the message: {exc!r}")
    return SmimeResult("none", f"{content_type} is not an S/MIME signed type")


def signer_matches_from(result: SmimeResult, from_addr: str) -> bool:
    """Whether a signer SAN rfc822Name equals the From address (domain case-insensitive).

    CHAL-SMIME-1 (RFC 8823 §3.1 (6)), REF-8550-1; every rfc822Name counts, not just the first.
    """
    address = parseaddr(from_addr)[1] or from_addr
    return any(_same_address(name, address) for name in result.signer_addresses)


def header_protection_mismatches(
    outer_message: bytes, result: SmimeResult, fields: Sequence[str] = PROTECTED_FIELDS
) -> list[str]:
    """Names of `fields` whose outer values differ from the protected ones, in `fields` order.

    Each mechanism the signature uses is checked and a field differing under either is listed
    (so both must agree). RFC 8551 §3.1 wrapping: values compared decoded, unfolded and with
    white space runs collapsed. RFC 7508: in the attribute's canonicalization (§4.3), every
    listed field whatever its status, the message being signed and not encrypted (§4.5.2,
    :func:`secure_headers.mismatches`). Without header protection every field the outer
    header has is listed. CHAL-BODY-3, AMB-8.
    """
    canonical = _canonical(outer_message)
    secure = result.secure_headers if isinstance(result.secure_headers, SecureHeaders) else None
    differing: set[str] = set()
    if result.protected_headers is not None or secure is None:
        try:
            outer = _decoded_headers(_PARSER.parsebytes(canonical, headersonly=True))
        except _PARSE_ERRORS:
            outer = ()
        protected = result.protected_headers or ()
        differing.update(f for f in fields if _values(outer, f) != _values(protected, f))
    if secure is not None:
        raw = _raw_fields(_split(canonical)[0])
        differing.update(secure_headers.mismatches(raw, secure, fields))
    return [field for field in fields if field in differing]


def _verify_multipart(
    canonical: bytes,
    entity: Message,
    trust_anchors: Sequence[Path],
    openssl: str,
    timeout: float,
) -> SmimeResult:
    """multipart/signed: the first part's exact bytes against the detached signature."""
    protocol = _param(entity, "protocol").lower()
    if protocol not in _SIGNATURE_TYPES:
        return SmimeResult("none", f"multipart/signed with protocol {protocol!r} is not S/MIME")
    boundary = entity.get_boundary()
    parts = _signed_parts(canonical, boundary) if boundary else None
    if parts is None:
        return SmimeResult("fail", "no two parts delimited by the boundary", "multipart-signed")
    content, signature_part = parts
    signature_entity = _PARSER.parsebytes(signature_part)
    if signature_entity.get_content_type() not in _SIGNATURE_TYPES:
        found = signature_entity.get_content_type()
        return SmimeResult(
            "fail", f"second part is {found}, not a pkcs7 signature", "multipart-signed"
        )
    signature = signature_entity.get_payload(decode=True)
    if not isinstance(signature, bytes) or not signature:
        return SmimeResult("fail", "empty signature part", "multipart-signed")
    return _openssl_verify(signature, content, "multipart-signed", trust_anchors, openssl, timeout)


def _verify_opaque(
    entity: Message, trust_anchors: Sequence[Path], openssl: str, timeout: float
) -> SmimeResult:
    """application/pkcs7-mime: the signed content is inside the signed-data structure."""
    smime_type = _param(entity, "smime-type").lower() or "signed-data"
    if smime_type != "signed-data":
        return SmimeResult("none", f"application/pkcs7-mime with smime-type={smime_type}")
    signed_data = entity.get_payload(decode=True)
    if not isinstance(signed_data, bytes) or not signed_data:
        return SmimeResult("fail", "empty signed-data body", "opaque")
    return _openssl_verify(signed_data, None, "opaque", trust_anchors, openssl, timeout)


def _openssl_verify(
    cms: bytes,
    content: bytes | None,
    form: SmimeForm,
    trust_anchors: Sequence[Path],
    openssl: str,
    timeout: float,
) -> SmimeResult:
    """Run `openssl cms -verify` in a private folder and read the signer and content back."""
    with tempfile.TemporaryDirectory(prefix="rfc8823-smime-") as folder:
        work = Path(folder)
        command = [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "smimesign"]
        command += ["-in", str(work / "cms.der"), "-signer", str(work / "signer.pem")]
        command += ["-out", str(work / "content"), "-no-CApath", "-no-CAstore"]
        (work / "cms.der").write_bytes(cms)
        if content is not None:
            (work / "signed").write_bytes(content)
            command += ["-content", str(work / "signed")]
        try:
            anchors = b"\n".join(Path(anchor).read_bytes() for anchor in trust_anchors)
        except OSError as exc:
            return SmimeResult("error", f"cannot read a trust anchor: {exc}", form)
        if anchors:
            (work / "anchors.pem").write_bytes(anchors)
            command += ["-CAfile", str(work / "anchors.pem")]
        else:
            command.append("-no-CAfile")
        try:
            done = subprocess.run(  # noqa: S603 - fixed argument list, no shell
                command, capture_output=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return SmimeResult("error", f"cannot run {openssl} cms: {exc}", form)
        if done.returncode == 1:
            return SmimeResult(
                "error", f"{openssl} cms usage: {openssl_reason(done.stderr)}", form
            )
        if done.returncode != 0:
            return SmimeResult("fail", openssl_reason(done.stderr), form)
        try:
            signer = x509.load_pem_x509_certificates((work / "signer.pem").read_bytes())[0]
        except (OSError, ValueError) as exc:
            return SmimeResult("error", f"openssl wrote no signer certificate: {exc}", form)
        inner = (work / "content").read_bytes()
    return SmimeResult(
        "pass",
        "signature and signer certificate path verified",
        form,
        _rfc822_names(signer),
        signer,
        inner,
        _protected_headers(inner),
        secure_headers_in(cms),
    )


def openssl_reason(stderr: bytes) -> str:
    """The telling part of openssl's complaint, e.g. `Verify error: certificate has expired`."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    for line in lines:
        if "Verify error:" in line:
            return line[line.index("Verify error:") :]
    for line in lines:
        fields = line.split(":")
        if len(fields) > 5 and fields[1] == "error":
            return f"{fields[3]}: {fields[5]}"
    return next((line for line in lines if line), "openssl failed without a message")


def _signed_parts(canonical: bytes, boundary: str) -> tuple[bytes, bytes] | None:
    """The exact bytes of a multipart/signed body's two parts, cut at boundary delimiters.

    The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1), so the first
    part is returned exactly as it was signed (RFC 1847 §2.1, RFC 8551 §3.5.3).
    """
    text = b"\r\n" + _split(canonical)[1]
    token = boundary.encode("utf-8", "surrogateescape")
    delimiters = list(re.finditer(b"\r\n--" + re.escape(token) + rb"(--)?[ \t]*(?:\r\n|\Z)", text))
    if len(delimiters) < 2 or delimiters[0].group(1) or delimiters[1].group(1):
        return None
    end = delimiters[2].start() if len(delimiters) > 2 else len(text)
    return (
        text[delimiters[0].end() : delimiters[1].start()],
        text[delimiters[1].end() : end],
    )


def _protected_headers(inner: bytes) -> tuple[tuple[str, str], ...] | None:
    """Header fields of a message/rfc822 signed content (RFC 8551 §3.1); None for other content."""
    try:
        entity = _PARSER.parsebytes(inner)
        if entity.get_content_type() != "message/rfc822":
            return None
        wrapped = entity.get_payload()
    except _PARSE_ERRORS:
        return None
    if isinstance(wrapped, list) and wrapped and isinstance(wrapped[0], Message):
        return _decoded_headers(wrapped[0])
    return None


def _decoded_headers(message: Message) -> tuple[tuple[str, str], ...]:
    """(name, value) pairs, unfolded and RFC 2047-decoded; an undecodable value stays raw."""
    pairs = []
    for name, raw in message.raw_items():
        try:
            value = str(message.policy.header_fetch_parse(name, raw))
        except _PARSE_ERRORS:
            value = "".join(raw.splitlines())
        pairs.append((name, value))
    return tuple(pairs)


def _values(headers: Sequence[tuple[str, str]], field: str) -> list[str]:
    return [" ".join(value.split()) for name, value in headers if name.lower() == field.lower()]


def _rfc822_names(cert: x509.Certificate) -> tuple[str, ...]:
    """The certificate's SAN rfc822Name entries; none when it has no (readable) SAN."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    return tuple(san.get_values_for_type(x509.RFC822Name))


def _same_address(left: str, right: str) -> bool:
    """Equal addr-specs: local parts exactly, domains case-insensitively."""
    left_local, left_at, left_domain = left.rpartition("@")
    right_local, right_at, right_domain = right.rpartition("@")
    return (
        bool(left_at and right_at)
        and left_local == right_local
        and left_domain.lower() == right_domain.lower()
    )


def _param(entity: Message, name: str) -> str:
    value = entity.get_param(name, "")
    return collapse_rfc2231_value(value) if value else ""


def _canonical(message: bytes) -> bytes:
    """The message with every line ending as CRLF (RFC 8551 §3.1.1 canonical form)."""
    return _LINE_END.sub(b"\r\n", message)


def _split(canonical: bytes) -> tuple[list[bytes], bytes]:
    """The raw header fields (folding kept) and the body of a canonical message."""
    if canonical.startswith(b"\r\n"):
        return [], canonical[2:]
    head, _, body = canonical.partition(b"\r\n\r\n")
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields, body


def _raw_fields(fields: Sequence[bytes]) -> tuple[tuple[str, str], ...]:
    """(name, value) of raw header fields: the value after the colon and its white space, as
    written (folds kept), the way RFC 7508 simple canonicalization compares it (§4.3, by
    RFC 6376 §3.4.1)."""
    pairs = []
    for field in fields:
        name, colon, value = field.partition(b":")
        if colon:
            pairs.append(
                (
                    name.strip().decode("ascii", "replace"),
                    value.lstrip(b" \t").decode("utf-8", "replace"),
                )
            )
    return tuple(pairs)


def _field_name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def _is_content_field(field: bytes) -> bool:
    name = _field_name(field)
    return name.startswith(b"content-") or name == b"mime-version"


def _boundary(content: bytes) -> bytes:
    """A random multipart boundary that does not occur in `content`."""
    while True:
        boundary = b"=_rfc8823_" + secrets.token_hex(16).encode()
        if boundary not in content:
            return boundary


def _base64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")
