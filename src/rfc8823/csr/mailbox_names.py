"""How an address is written as a GeneralName: rfc822Name or SmtpUTF8Mailbox.

RFC 9598 §3, RFC 5280 §4.2.1.6; I18N-3, REF-8398-1.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from rfc8823.messages.headers import inspect_address

SMTP_UTF8_MAILBOX = ObjectIdentifier("1.3.6.1.5.5.7.8.9")
_UTF8_STRING_TAG = 0x0C


def encode_utf8_string(text: str) -> bytes:
    """DER UTF8String, the value of an SmtpUTF8Mailbox otherName (RFC 9598 §3)."""
    data = text.encode("utf-8")
    size = len(data)
    if size < 0x80:
        length = bytes([size])
    else:
        octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([_UTF8_STRING_TAG]) + length + data


def decode_utf8_string(der: bytes) -> str:
    """The text of a DER UTF8String; ValueError for any other encoding (RFC 9598 §3)."""
    if len(der) < 2 or der[0] != _UTF8_STRING_TAG:
        raise ValueError("not a DER UTF8String (tag 12)")
    offset, size = 2, der[1]
    if size & 0x80:
        count = size & 0x7F
        octets = der[2 : 2 + count]
        if not 0 < count <= 4 or len(octets) != count or octets[0] == 0:
            raise ValueError("UTF8String with a malformed DER length")
        offset, size = 2 + count, int.from_bytes(octets, "big")
        if size < 0x80:
            raise ValueError("UTF8String with a non-minimal DER length")
    if len(der) != offset + size:
        raise ValueError(f"UTF8String length {size} does not match the {len(der) - offset} octets")
    return der[offset:].decode("utf-8")


def mailbox_general_name(address: str) -> x509.GeneralName:
    """The SAN entry for an address: rfc822Name, or SmtpUTF8Mailbox for a non-ASCII local part.

    The domain is written as A-labels in both forms (I18N-3, REF-8398-1; RFC 9598 §3 replaced
    RFC 8398's U-labels with A-labels). Raises ValueError for an address that is not one.
    """
    normal = inspect_address(address)
    if not normal.domain or normal.problems:
        raise ValueError(f"{address!r} is not a usable address: {'; '.join(normal.problems)}")
    if normal.local_part.isascii():
        return x509.RFC822Name(normal.value)
    return x509.OtherName(SMTP_UTF8_MAILBOX, encode_utf8_string(normal.value))


def mailbox_hint(address: str) -> str:
    """How an address is written in a SAN, e.g. ``SmtpUTF8Mailbox 'ü@xn--bcher-kva.example'``."""
    try:
        name = mailbox_general_name(address)
    except ValueError:
        return f"{address!r} is not a usable address"
    return describe_general_name(name)


def describe_general_name(name: x509.GeneralName) -> str:
    """A GeneralName as text, for details: ``rfc822Name 'a@b.example'``, ``dNSName 'x'``."""
    if isinstance(name, x509.OtherName):
        if name.type_id == SMTP_UTF8_MAILBOX:
            try:
                return f"SmtpUTF8Mailbox {decode_utf8_string(name.value)!r}"
            except ValueError:
                return f"SmtpUTF8Mailbox {name.value!r}"
        return f"otherName {name.type_id.dotted_string}"
    kinds = {
        x509.RFC822Name: "rfc822Name",
        x509.DNSName: "dNSName",
        x509.UniformResourceIdentifier: "uniformResourceIdentifier",
        x509.IPAddress: "iPAddress",
        x509.DirectoryName: "directoryName",
        x509.RegisteredID: "registeredID",
    }
    return f"{kinds.get(type(name), type(name).__name__)} {str(name.value)!r}"
