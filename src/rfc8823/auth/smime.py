"""S/MIME signing (cryptography) and verification (openssl cms) of challenge emails.

RFC 8823 §3.1 (6)-(7): a signed challenge is multipart/signed or opaque signed-data, uses
header protection, and its signer certificate names the From address. RFC 8551 §3.1, §3.5.
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
from email.message import Message
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value, parseaddr
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from rfc8823.world.keys import PrivateKey

SmimeForm = Literal["multipart-signed", "opaque"]
SmimeStatus = Literal["pass", "fail", "none", "error"]

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


def sign(
    message: bytes,
    identity_cert: x509.Certificate,
    key: PrivateKey,
    chain: Sequence[x509.Certificate],
    *,
    form: SmimeForm = "multipart-signed",
    header_protection: bool = True,
) -> bytes:
    """Sign a complete RFC 5322 message with SHA-256, returning the complete signed message.

    With `header_protection` the signed content is a message/rfc822 part holding the whole
    original message, and the outer header repeats its fields (RFC 8551 §3.1, CHAL-BODY-3);
    without it only the body entity is signed. Forms: RFC 8551 §3.5.3 and §3.5.2 (CHAL-BODY-2).
    """
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise TypeError(f"S/MIME signing needs an RSA or EC key, not {type(key).__name__}")
    canonical = _canonical(message)
    fields, body = _split(canonical)
    outer = [field for field in fields if not _is_content_field(field)]
    if header_protection:
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
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content)
    builder = builder.add_signer(identity_cert, key, hashes.SHA256())
    for cert in chain:
        builder = builder.add_certificate(cert)
    if form == "multipart-signed":
        signature = builder.sign(
            Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.DetachedSignature]
        )
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
                _base64_lines(signature),
                b"--" + boundary + b"--\r\n",
            ]
        )
    elif form == "opaque":
        signed_data = builder.sign(Encoding.DER, [pkcs7.PKCS7Options.Binary])
        header = [
            *outer,
            b"MIME-Version: 1.0",
            b'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"',
            b"Content-Transfer-Encoding: base64",
            b'Content-Disposition: attachment; filename="smime.p7m"',
        ]
        body = _base64_lines(signed_data)
    else:
        raise ValueError(f"form must be 'multipart-signed' or 'opaque', not {form!r}")
    return b"\r\n".join(header) + b"\r\n\r\n" + body


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

    Values are compared decoded, unfolded and with whitespace runs collapsed. Without header
    protection every field the outer header has is listed. CHAL-BODY-3, RFC 8551 §3.1.
    """
    try:
        outer = _decoded_headers(_PARSER.parsebytes(_canonical(outer_message), headersonly=True))
    except _PARSE_ERRORS:
        outer = ()
    protected = result.protected_headers or ()
    return [field for field in fields if _values(outer, field) != _values(protected, field)]


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
                "error", f"{openssl} cms usage: {_openssl_reason(done.stderr)}", form
            )
        if done.returncode != 0:
            return SmimeResult("fail", _openssl_reason(done.stderr), form)
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
    )


def _openssl_reason(stderr: bytes) -> str:
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
