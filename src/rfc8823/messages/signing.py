"""The signatures both email builders add: one DKIM and one S/MIME signing type for both.

A signing is checked when it is made (key type, selector, ``h=``, S/MIME choices), so a
builder call fails where the mistake is; ``SignedBuilder`` gives the challenge and the
response builder the same ``signed_dkim``, ``signed_smime`` and ``unsigned``. S/MIME signs the
assembled message, DKIM signs the result, each signature on top of the previous one.
RFC 6376 (DKIM), RFC 8551 and RFC 7508 (S/MIME); RFC 8823 §3.1 (6), §3.2 (8).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self, get_args

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rfc8823.auth import dkim, smime
from rfc8823.auth.dkim import DkimPrivateKey
from rfc8823.auth.secure_headers import Canonicalization, SecureField
from rfc8823.auth.smime import HeaderProtection, SmimeForm
from rfc8823.messages.builder_checks import require_choice
from rfc8823.values import SmimeIdentity


@dataclass(frozen=True, kw_only=True)
class DkimSigning:
    """One DKIM signature; ``domain`` (``d=``) None signs as the From domain (RFC 6376 §3.5)."""

    private_key: DkimPrivateKey
    selector: str
    headers: tuple[str, ...]
    domain: str | None = None
    body_length: bool = False
    canonicalization: tuple[str, str] | None = ("relaxed", "relaxed")
    """``c=``; None leaves the tag out (simple/simple, RFC 6376 §3.5)."""

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise TypeError(
                f"DKIM signs with RSA or Ed25519 (RFC 8463), not {type(self.private_key).__name__}"
            )
        if not self.selector:
            raise ValueError("a DKIM signature needs a selector")
        if not self.headers:
            raise ValueError("h= needs at least one header field name")

    def sign(self, message: bytes, from_domain: str) -> bytes:
        """``message`` with this signature on top, ``d=`` the From domain unless given."""
        return dkim.sign(
            message,
            domain=self.domain or from_domain,
            selector=self.selector,
            private_key=self.private_key,
            headers=self.headers,
            body_length=self.body_length,
            canonicalization=self.canonicalization,
        )


@dataclass(frozen=True, kw_only=True)
class SmimeSigning:
    """An S/MIME signature and how it protects the header (RFC 8551; AMB-8).

    ``header_protection``: "rfc8551" wraps the message as message/rfc822 (RFC 8551 §3.1);
    "rfc7508" lists the header fields in a SecureHeaderFields attribute declared
    ``canonicalization`` (RFC 7508 §4.1, §4.3), exactly ``secure_fields`` when given (negative
    tests); "none" signs the body only. ``legacy_media_types`` writes the pre-RFC 5751
    ``application/x-pkcs7-*`` names (RFC 8551 §3.2.1).
    """

    identity: SmimeIdentity
    form: SmimeForm = "multipart-signed"
    header_protection: HeaderProtection = "rfc8551"
    canonicalization: Canonicalization = "relaxed"
    secure_fields: tuple[SecureField, ...] | None = None
    legacy_media_types: bool = False

    def __post_init__(self) -> None:
        key = self.identity.key
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise TypeError(f"S/MIME signs with RSA or EC, not {type(key).__name__}")
        require_choice("form", self.form, get_args(SmimeForm))
        require_choice("header_protection", self.header_protection, get_args(HeaderProtection))
        require_choice("canonicalization", self.canonicalization, get_args(Canonicalization))
        if self.secure_fields is not None and self.header_protection != "rfc7508":
            raise ValueError("secure_fields only apply to header_protection='rfc7508'")

    def sign(self, message: bytes) -> bytes:
        """The signed message (RFC 8551 §3.5.2 opaque, §3.5.3 multipart/signed)."""
        identity = self.identity
        signed = smime.sign(
            message,
            identity.cert,
            identity.key,
            identity.chain,
            form=self.form,
            header_protection=self.header_protection,
            canonicalization=self.canonicalization,
            secure_fields=self.secure_fields,
        )
        return _legacy_media_types(signed) if self.legacy_media_types else signed


def _legacy_media_types(raw: bytes) -> bytes:
    """Rename the top-level S/MIME media types to their ``x-`` forms (RFC 8551 §3.2.1)."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    for name in (b"pkcs7-signature", b"pkcs7-mime"):
        head = head.replace(b"application/" + name, b"application/x-" + name)
    return head + separator + body


class SignedBuilder:
    """``signed_dkim``, ``signed_smime`` and ``unsigned`` for a frozen dataclass builder.

    The builder holds ``dkim_signings`` and ``smime_signing`` as fields and names its defaults:
    ``DKIM_HEADERS`` (the ``h=`` list) and ``SMIME_HEADER_PROTECTION``.
    """

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    DKIM_HEADERS: ClassVar[tuple[str, ...]]
    SMIME_HEADER_PROTECTION: ClassVar[HeaderProtection]
    dkim_signings: tuple[DkimSigning, ...]
    smime_signing: SmimeSigning | None

    def signed_dkim(
        self,
        private_key: DkimPrivateKey,
        *,
        selector: str,
        domain: str | None = None,
        headers: Sequence[str] | None = None,
        body_length: bool = False,
        canonicalization: tuple[str, str] | None = ("relaxed", "relaxed"),
    ) -> Self:
        """Add a DKIM signature; each call adds one more, the last on top (RFC 6376).

        ``domain`` (``d=``) defaults to the From domain; ``headers`` (``h=``) to the builder's
        required and recommended names, absent ones oversigned; ``body_length`` adds ``l=``;
        ``canonicalization`` is ``c=`` (None: no tag, simple/simple). With ``signed_smime`` as
        well, DKIM signs the finished S/MIME message.
        """
        signing = DkimSigning(
            private_key=private_key,
            selector=selector,
            headers=self.DKIM_HEADERS if headers is None else tuple(headers),
            domain=domain,
            body_length=body_length,
            canonicalization=canonicalization,
        )
        return dataclasses.replace(self, dkim_signings=(*self.dkim_signings, signing))

    def signed_smime(
        self,
        identity: SmimeIdentity,
        *,
        form: SmimeForm = "multipart-signed",
        header_protection: HeaderProtection | None = None,
        canonicalization: Canonicalization = "relaxed",
        secure_fields: Sequence[SecureField] | None = None,
        legacy_media_types: bool = False,
    ) -> Self:
        """S/MIME-sign the message (RFC 8551; see :class:`SmimeSigning` for the choices).

        ``header_protection`` defaults to the builder's ``SMIME_HEADER_PROTECTION``.
        """
        signing = SmimeSigning(
            identity=identity,
            form=form,
            header_protection=(
                self.SMIME_HEADER_PROTECTION if header_protection is None else header_protection
            ),
            canonicalization=canonicalization,
            secure_fields=None if secure_fields is None else tuple(secure_fields),
            legacy_media_types=legacy_media_types,
        )
        return dataclasses.replace(self, smime_signing=signing)

    def unsigned(self) -> Self:
        """Drop every DKIM and S/MIME signature."""
        return dataclasses.replace(self, dkim_signings=(), smime_signing=None)

    def _signed_smime_message(self, message: bytes) -> bytes:
        return message if self.smime_signing is None else self.smime_signing.sign(message)

    def _signed_dkim_message(self, message: bytes, from_domain: str) -> bytes:
        for signing in self.dkim_signings:
            message = signing.sign(message, from_domain)
        return message
