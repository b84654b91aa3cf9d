"""What a challenge's S/MIME layer shows: its form, its signed content, its RFC 7508 attribute.

Read from the bytes as sent, or from a passing verification's output where the content is
opaque. RFC 8551 §3.1, §3.5.2, §3.5.3; RFC 7508 §3.
"""

from __future__ import annotations

from dataclasses import dataclass

from rfc8823.auth import smime
from rfc8823.auth.secure_headers import Malformed, SecureHeaders
from rfc8823.auth.smime import SmimeForm, SmimeResult
from rfc8823.messages.mime import MimePart, ParsedMessage, media_type, parse_message

SIGNATURE_PROTOCOLS = ("application/pkcs7-signature", "application/x-pkcs7-signature")
"""multipart/signed ``protocol`` values of S/MIME, the standard one first (RFC 8551 §3.5.3)."""
OPAQUE_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
"""Media types of opaque signed-data, the standard one first (RFC 8551 §3.5.2)."""


@dataclass(frozen=True)
class SmimeShape:
    """The S/MIME shape of a message read from its top-level Content-Type (RFC 8551 §3.5)."""

    form: SmimeForm
    media_type: str
    standard: bool


@dataclass(frozen=True)
class SignedContent:
    """What the S/MIME layer shows: whether its content could be read, and the wrapped message."""

    visible: bool
    parts: tuple[MimePart, ...]
    protected: ParsedMessage | None


def smime_shape(parsed: ParsedMessage) -> SmimeShape | None:
    """Whether the message is S/MIME-signed at the top level, and in which form (§3.5.2, §3.5.3)."""
    found, params = media_type(parsed.first("Content-Type"))
    if found == "multipart/signed":
        protocol = params.get("protocol", "").strip().lower()
        if protocol in SIGNATURE_PROTOCOLS:
            standard = protocol == SIGNATURE_PROTOCOLS[0]
            return SmimeShape("multipart-signed", f"{found}; protocol={protocol}", standard)
        return None
    if found in OPAQUE_TYPES:
        smime_type = params.get("smime-type", "").strip().lower()
        if smime_type in ("", "signed-data"):
            standard = found == OPAQUE_TYPES[0] and smime_type == "signed-data"
            shown = f"{found}; smime-type={smime_type or '(none)'}"
            return SmimeShape("opaque", shown, standard)
    return None


def signed_content(
    parsed: ParsedMessage, shape: SmimeShape, result: SmimeResult | None
) -> SignedContent:
    """The signed content's parts and any message/rfc822 wrapped in it (RFC 8551 §3.1).

    Opaque signed-data is visible only through a passing verification's output.
    """
    if result is not None and result.status == "pass" and result.inner is not None:
        content = parse_message(result.inner).parts
    elif shape.form == "multipart-signed":
        content = tuple(part for part in parsed.parts if part.path.split(".")[0] == "1")
    else:
        return SignedContent(visible=False, parts=(), protected=None)
    if len(content) == 1 and content[0].content_type == "message/rfc822":
        return SignedContent(True, content, parse_message(content[0].payload))
    return SignedContent(True, content, None)


def secure_headers_of(
    parsed: ParsedMessage, shape: SmimeShape, result: SmimeResult | None
) -> SecureHeaders | Malformed | None:
    """The RFC 7508 attribute: from a passing verification, else read from the CMS as sent."""
    if result is not None and result.status == "pass":
        return result.secure_headers
    multipart = shape.form == "multipart-signed"
    path, types = ("2", SIGNATURE_PROTOCOLS) if multipart else ("1", OPAQUE_TYPES)
    for part in parsed.parts:
        if part.path == path and part.content_type in types:
            return smime.secure_headers_in(part.payload)
    return None
