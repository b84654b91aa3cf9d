"""Look up a response's DKIM, SPF, DMARC and S/MIME results: the inspection's only I/O.

RFC 8823 §3.2 (8), RFC 6376, RFC 7208, RFC 7489; SEC-10.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rfc8823.auth.dkim import DkimResult
from rfc8823.auth.dkim import verify as dkim_verify
from rfc8823.auth.resolver import Resolver
from rfc8823.auth.smime import SmimeResult
from rfc8823.auth.smime import verify as smime_verify
from rfc8823.auth.spf_dmarc import DmarcResult, SpfResult, check_dmarc, check_spf
from rfc8823.messages.mime import parse_message

_SIGNED_TYPES = ("multipart/signed", "application/pkcs7-mime", "application/x-pkcs7-mime")
_NO_SPF = SpfResult("none", "no SMTP session was given", "")


@dataclass(frozen=True)
class ResponseAuth:
    """Authentication results for one received response (RESP-DKIM-*, SEC-10, catalog §2.10)."""

    dkim: DkimResult | None
    spf: SpfResult | None = None
    dmarc: DmarcResult | None = None
    smime: SmimeResult | None = None


def authenticate_response(
    raw: bytes,
    *,
    resolver: Resolver,
    peer_ip: str | None,
    mail_from: str | None,
    helo: str | None,
    smime_trust_anchors: Sequence[Path] = (),
    now: int | None = None,
    require_from: bool = True,
) -> ResponseAuth:
    """Verify DKIM, and SPF/DMARC when the SMTP session is known, for one response.

    The suite's only networked step of response inspection: keys and policies come through
    ``resolver``. S/MIME is verified only when trust anchors are given; ``require_from`` as
    :func:`rfc8823.auth.dkim.verify` takes it. Never raises.
    RFC 8823 §3.2 (8), RFC 6376, RFC 7208, RFC 7489; SEC-10.
    """
    dkim_result = dkim_verify(raw, resolver, now=now, require_from=require_from)
    spf = check_spf(peer_ip, mail_from or "", helo or "", resolver) if peer_ip else None
    try:
        dmarc: DmarcResult | None = check_dmarc(
            raw, spf=spf or _NO_SPF, dkim=dkim_result, resolver=resolver
        )
    except (ValueError, LookupError, TypeError, UnicodeError):
        dmarc = None
    smime = None
    if smime_trust_anchors and parse_message(raw).content_type in _SIGNED_TYPES:
        smime = smime_verify(raw, smime_trust_anchors)
    return ResponseAuth(dkim=dkim_result, spf=spf, dmarc=dmarc, smime=smime)
