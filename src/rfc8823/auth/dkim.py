"""DKIM signing and verification (RFC 6376, RFC 8463 Ed25519) over the world's DNS, via dkimpy.

RFC 8823 §3.1 (6) and §3.2 (8) rest on DKIM: the challenge and the response carry a signature
whose ``h=`` covers a fixed list of header fields (CHAL-DKIM-1/2, RESP-DKIM-2/3) and whose ``d=``
equals the From domain (CHAL-DKIM-3, RESP-DKIM-4). This module signs (with every knob a negative
test needs) and verifies every signature of a message, one typed result per signature.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from rfc8823.auth.resolver import DnsError, DnsNoRecord, Resolver
from rfc8823.domains import to_a_label

__all__ = [
    "CHALLENGE_RECOMMENDED_HEADERS",
    "CHALLENGE_REQUIRED_HEADERS",
    "RESPONSE_RECOMMENDED_HEADERS",
    "RESPONSE_REQUIRED_HEADERS",
    "DkimPrivateKey",
    "DkimPublicKey",
    "DkimResult",
    "DkimSignatureResult",
    "TagListError",
    "dkim_txt_record",
    "missing_signed_headers",
    "parse_tag_list",
    "revoked_txt_record",
    "sign",
    "to_a_label",
    "verify",
]

log = logging.getLogger(__name__)

DkimPrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
DkimPublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
Verdict = Literal["pass", "fail", "temperror", "permerror"]

CHALLENGE_REQUIRED_HEADERS: tuple[str, ...] = (
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "subject",
    "date",
    "in-reply-to",
    "references",
    "message-id",
    "auto-submitted",
    "content-type",
    "content-transfer-encoding",
)
"""Fields the challenge's ``h=`` must list (CHAL-DKIM-1, RFC 8823 §3.1 (6))."""

CHALLENGE_RECOMMENDED_HEADERS: tuple[str, ...] = (
    "resent-date",
    "resent-from",
    "resent-to",
    "resent-cc",
    "list-id",
    "list-help",
    "list-unsubscribe",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
    "list-unsubscribe-post",
)
"""Fields the challenge's ``h=`` should also list (CHAL-DKIM-2, RFC 8823 §3.1 (6))."""

RESPONSE_REQUIRED_HEADERS: tuple[str, ...] = tuple(
    name for name in CHALLENGE_REQUIRED_HEADERS if name != "auto-submitted"
)
"""Fields the response's ``h=`` must list; Auto-Submitted is not among them (RESP-DKIM-2, §3.2)."""

RESPONSE_RECOMMENDED_HEADERS: tuple[str, ...] = CHALLENGE_RECOMMENDED_HEADERS
"""Fields the response's ``h=`` should also list (RESP-DKIM-3, RFC 8823 §3.2 (8))."""

FUTURE_TIMESTAMP_SLOP = 300
"""Seconds a signer's clock may run ahead before ``t=`` counts as in the future (RFC 6376 §3.5)."""

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_FORBIDDEN_IN_VALUE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DECIMAL = re.compile(r"[0-9]{1,76}\Z")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+\Z")
_SIGNATURE_FIELD = b"dkim-signature"
_REQUIRED_TAGS = ("v", "a", "b", "bh", "d", "h", "s")


class TagListError(ValueError):
    """A DKIM-style tag=value list that does not follow RFC 6376 §3.2."""


def parse_tag_list(text: str) -> dict[str, str]:
    """Parse a tag=value list into an ordered dict; values keep their inner whitespace.

    RFC 6376 §3.2 (also used by DMARC records, RFC 7489 §6.3): tag names are case-sensitive, a
    duplicate tag invalidates the whole list, a trailing ``;`` is allowed. Raises TagListError.
    """
    body = text.strip(" \t\r\n")
    if not body:
        return {}
    specs = body.split(";")
    if not specs[-1].strip(" \t\r\n"):
        specs.pop()
    tags: dict[str, str] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip(" \t\r\n")
        if not sep or not _TAG_NAME.match(name):
            raise TagListError(f"invalid tag-spec {spec.strip()!r}")
        if name in tags:
            raise TagListError(f"duplicate tag {name!r}")
        if _FORBIDDEN_IN_VALUE.search(value):
            raise TagListError(f"control character in value of tag {name!r}")
        tags[name] = value.strip(" \t\r\n")
    return tags


def dkim_txt_record(public_key: DkimPublicKey) -> str:
    """The TXT value publishing ``public_key`` at ``<selector>._domainkey.<domain>``.

    RSA keys as base64 DER SubjectPublicKeyInfo (RFC 6376 §3.6.1); Ed25519 keys as the raw 32-byte
    key (RFC 8463 §4.2).
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        der = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode('ascii')}"
    raise TypeError(f"DKIM keys are RSA or Ed25519, not {type(public_key).__name__}")


def revoked_txt_record(kind: Literal["rsa", "ed25519"]) -> str:
    """A key record with an empty ``p=``: the key is revoked (RFC 6376 §3.6.1)."""
    return f"v=DKIM1; k={kind}; p="


def sign(
    message: bytes,
    *,
    domain: str,
    selector: str,
    private_key: DkimPrivateKey,
    headers: Sequence[str],
    body_length: bool = False,
    timestamp: int | None = None,
    expiration: int | None = None,
    canonicalization: tuple[str, str] | None = ("relaxed", "relaxed"),
) -> bytes:
    """Return ``message`` with a DKIM-Signature field prepended (RFC 6376 §5).

    ``headers`` become ``h=`` in order and case as given (colons spaced so dkimpy can fold
    between names), absent fields included (oversigning, §5.4). ``d=`` need not
    match From, so tests can build misaligned signatures. ``timestamp`` defaults to now;
    ``expiration`` adds ``x=``; ``body_length`` adds ``l=`` (§3.5). Raises ValueError or TypeError
    on parameters no signature can carry. ``canonicalization`` None leaves ``c=`` out, which
    means simple/simple (§3.5).
    """
    names = list(headers)
    if not names or not all(_FIELD_NAME.match(name) for name in names):
        raise ValueError(f"h= needs one or more header field names, got {names!r}")
    c_value = "/".join(canonicalization or ("simple", "simple"))
    try:
        policy = dkim.CanonicalizationPolicy.from_c_value(c_value.encode("ascii"))
    except (dkim.InvalidCanonicalizationPolicyError, UnicodeError) as exc:
        raise ValueError(f"unknown canonicalization {c_value!r}") from exc
    algorithm = _signing_algorithm(private_key)
    try:
        signer = dkim.DKIM(
            message,
            logger=log,
            signature_algorithm=algorithm,
            linesep=dkim.util.get_linesep(message),
        )
    except (dkim.DKIMException, IndexError) as exc:
        raise ValueError(f"message cannot be parsed for signing: {exc}") from exc
    signer.hasher = dkim.HASH_ALGORITHMS[algorithm]
    body = policy.canonicalize_body(signer.body)
    signed_at = int(time.time()) if timestamp is None else timestamp
    fields: list[tuple[bytes, bytes]] = [
        (b"v", b"1"),
        (b"a", algorithm),
        *([(b"c", c_value.encode("ascii"))] if canonicalization is not None else []),
        (b"d", to_a_label(domain).encode("ascii")),
        (b"s", selector.encode("ascii")),
        (b"t", str(signed_at).encode("ascii")),
    ]
    if expiration is not None:
        fields.append((b"x", str(expiration).encode("ascii")))
    if body_length:
        fields.append((b"l", str(len(body)).encode("ascii")))
    fields += [
        (b"h", " : ".join(names).encode("ascii")),
        (b"bh", base64.b64encode(signer.hasher(body).digest())),
        (b"b", b"0" * 60),
    ]
    include = tuple(name.lower().encode("ascii") for name in names)
    value = _signature_value(signer, fields, include, policy, private_key)
    return b"DKIM-Signature: " + value + message


def _signature_value(
    signer: dkim.DKIM,
    fields: list[tuple[bytes, bytes]],
    include: tuple[bytes, ...],
    policy: Any,
    private_key: DkimPrivateKey,
) -> bytes:
    """The DKIM-Signature field's value with ``b=`` filled in (RFC 6376 §3.7, §5.5).

    The same bytes as dkimpy's own signer (its folding and header hashing), but the signature
    comes from OpenSSL: dkimpy's RSA is pure Python, about 25 times slower, and a flow signs
    twice (the CA's challenge, the client's reply).
    """
    name = b"DKIM-Signature"
    unsigned = dkim.fold(b"; ".join(b"=".join(field) for field in fields), namelen=len(name))
    unsigned = dkim.RE_BTAG.sub(b"\\1", unsigned)
    hasher = signer.hasher()
    headers = policy.canonicalize_headers(signer.headers)
    dkim.hash_headers(hasher, policy, headers, include, (name, b" " + unsigned), dict(fields))
    digest = hasher.digest()
    if isinstance(private_key, rsa.RSAPrivateKey):
        signature = private_key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    else:
        signature = private_key.sign(digest)
    signed = [(tag, base64.b64encode(signature) if tag == b"b" else value) for tag, value in fields]
    return bytes(
        dkim.fold(
            b"; ".join(b"=".join(field) for field in signed) + signer.linesep,
            namelen=len(name),
            linesep=signer.linesep,
        )
    )


def _signing_algorithm(private_key: DkimPrivateKey) -> bytes:
    """The ``a=`` value for a key (RFC 6376 §3.3, RFC 8463 §3 for Ed25519)."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return b"rsa-sha256"
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return b"ed25519-sha256"
    raise TypeError(f"DKIM keys are RSA or Ed25519, not {type(private_key).__name__}")


@dataclass(frozen=True)
class DkimSignatureResult:
    """The verdict on one DKIM-Signature field, with the tags inspectors need (RFC 6376 §6.1)."""

    domain: str
    selector: str
    algorithm: str
    signed_headers: tuple[str, ...]
    body_length: int | None
    result: Verdict
    reason: str


@dataclass(frozen=True)
class DkimResult:
    """Verdicts on every DKIM-Signature of a message, topmost first (RFC 6376 §6.1)."""

    signatures: tuple[DkimSignatureResult, ...]
    error: str | None = None

    @property
    def status(self) -> Literal["none", "pass", "fail", "temperror", "permerror"]:
        """Overall result: pass if any signature passes, then temperror, fail, permerror."""
        if self.error is not None:
            return "permerror"
        verdicts = {signature.result for signature in self.signatures}
        if not verdicts:
            return "none"
        if "pass" in verdicts:
            return "pass"
        if "temperror" in verdicts:
            return "temperror"
        return "fail" if "fail" in verdicts else "permerror"

    def passing_for(self, domain: str) -> DkimSignatureResult | None:
        """A passing signature whose ``d=`` is exactly ``domain`` (CHAL-DKIM-3, RESP-DKIM-4).

        Case-insensitive, IDNs compared as A-labels (I18N-5); no organizational-domain match.
        """
        wanted = to_a_label(domain)
        for signature in self.signatures:
            if signature.result == "pass" and to_a_label(signature.domain) == wanted:
                return signature
        return None


def missing_signed_headers(
    signature: DkimSignatureResult, required: Iterable[str]
) -> tuple[str, ...]:
    """Names from ``required`` absent from the signature's ``h=``, lower-case, in order.

    Feeds CHAL-DKIM-1/2 and RESP-DKIM-2/3 (RFC 8823 §3.1 (6), §3.2 (8)).
    """
    signed = set(signature.signed_headers)
    missing: list[str] = []
    for name in required:
        lowered = name.lower()
        if lowered not in signed and lowered not in missing:
            missing.append(lowered)
    return tuple(missing)


def verify(
    message: bytes, resolver: Resolver, *, now: int | None = None, require_from: bool = True
) -> DkimResult:
    """Verify every DKIM-Signature of ``message``, fetching keys through ``resolver``.

    RFC 6376 §6.1: a key that does not exist is a permerror, a DNS failure a temperror (never a
    pass or a plain fail). ``now`` fixes the clock for ``t=``/``x=``. ``require_from`` False
    skips RFC 6376 §5.4's From check, as a lax verifier does (self-validation only). Never
    raises on bad input.
    """
    try:
        verifier = dkim.DKIM(message, logger=log, minkey=1024)
    except (dkim.DKIMException, IndexError, ValueError) as exc:
        log.debug("message not parseable for DKIM: %s", exc)
        return DkimResult(signatures=(), error=f"message not parseable: {exc}")
    clock = int(time.time()) if now is None else now
    fields = [(name, value) for name, value in verifier.headers if name.lower() == _SIGNATURE_FIELD]
    return DkimResult(
        signatures=tuple(
            _verify_one(verifier, field, resolver, clock, require_from) for field in fields
        )
    )


def _verify_one(
    verifier: Any, field: tuple[bytes, bytes], resolver: Resolver, now: int, require_from: bool
) -> DkimSignatureResult:
    """Verify one signature field: our own tag checks, our key lookup, then dkimpy's crypto."""
    raw_value = field[1].decode("utf-8", errors="surrogateescape")
    try:
        tags = parse_tag_list(raw_value)
    except TagListError as exc:
        return _result({}, "permerror", f"malformed DKIM-Signature: {exc}")
    problem = _tag_problem(tags, now, require_from)
    if problem is not None:
        return _result(tags, "permerror", problem)
    key_name = f"{tags['s']}._domainkey.{tags['d']}"
    looked_up = _fetch_key(key_name, resolver)
    if isinstance(looked_up, tuple):
        return _result(tags, *looked_up)
    sig = {
        name.encode("utf-8", errors="surrogateescape"): value.encode(
            "utf-8", errors="surrogateescape"
        )
        for name, value in tags.items()
    }
    include = [name.encode("ascii") for name in _signed_headers(tags)]
    try:
        dkim.validate_signature_fields({k: v for k, v in sig.items() if k not in (b"t", b"x")})
    except (dkim.DKIMException, ValueError, IndexError) as exc:
        log.debug("DKIM signature d=%s malformed: %s", tags.get("d"), exc)
        return _result(tags, "permerror", str(exc))
    try:
        passed = verifier.verify_sig(sig, include, field, _serve_key(looked_up))
    except dkim.ValidationError as exc:
        log.debug("DKIM signature d=%s failed: %s", tags.get("d"), exc)
        return _result(tags, "fail", str(exc))
    except (dkim.DKIMException, ValueError, TypeError, KeyError, IndexError) as exc:
        log.debug("DKIM signature d=%s unverifiable: %s", tags.get("d"), exc)
        return _result(tags, "permerror", f"{type(exc).__name__}: {exc}")
    if passed:
        return _result(tags, "pass", "signature verified")
    return _result(tags, "fail", "signature did not verify")


def _tag_problem(tags: dict[str, str], now: int, require_from: bool = True) -> str | None:
    """Why a signature's tags make it unusable, or None (RFC 6376 §3.5, §6.1.1; RFC 8301 §3.1)."""
    missing = [name for name in _REQUIRED_TAGS if name not in tags]
    if missing:
        return f"missing required tag(s): {', '.join(missing)}"
    if tags["v"] != "1":
        return f"unsupported version v={tags['v']}"
    if tags["a"].lower() == "rsa-sha1":
        return "rsa-sha1 is not acceptable (RFC 8301 §3.1)"
    names = _signed_headers(tags)
    if not all(_FIELD_NAME.match(name) for name in names):
        return f"invalid header field name in h={tags['h']}"
    if require_from and "from" not in names:
        return "h= does not cover From"
    for name in ("l", "t", "x"):
        if name in tags and not _DECIMAL.match(tags[name]):
            return f"{name}= is not a decimal number: {tags[name]}"
    signed_at = int(tags["t"]) if "t" in tags else None
    expires = int(tags["x"]) if "x" in tags else None
    if signed_at is not None and signed_at > now + FUTURE_TIMESTAMP_SLOP:
        return f"t={signed_at} is in the future (now {now})"
    if expires is not None and signed_at is not None and expires <= signed_at:
        return f"x={expires} is not after t={signed_at}"
    if expires is not None and now > expires:
        return f"signature expired (x={expires}, now {now})"
    return None


def _signed_headers(tags: dict[str, str]) -> tuple[str, ...]:
    """The ``h=`` names, lower-case, in order, duplicates kept (RFC 6376 §3.5)."""
    return tuple(name.strip(" \t\r\n").lower() for name in tags.get("h", "").split(":"))


def _fetch_key(name: str, resolver: Resolver) -> str | tuple[Verdict, str]:
    """The key record at ``name``, or the verdict its absence means (RFC 6376 §6.1.2).

    Several records at one name are undefined (§3.6.2.2); the first is used.
    """
    try:
        records = resolver.txt(name)
    except DnsNoRecord as exc:
        return "permerror", f"no key at {name} ({exc.kind})"
    except DnsError as exc:
        return "temperror", f"key lookup for {name} failed: {exc}"
    if not records:
        return "permerror", f"no key at {name}"
    record = records[0]
    try:
        key_tags = parse_tag_list(record)
    except TagListError as exc:
        return "permerror", f"malformed key record at {name}: {exc}"
    if "p" not in key_tags:
        return "permerror", f"key record at {name} has no p="
    if not re.sub(r"\s", "", key_tags["p"]):
        return "permerror", f"key revoked (empty p=) at {name}"
    return record


def _serve_key(record: str) -> Callable[..., bytes]:
    """A dkimpy ``dnsfunc`` answering with the record we already fetched through our Resolver."""

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
        return record.encode("utf-8", errors="surrogateescape")

    return dnsfunc


def _result(tags: dict[str, str], verdict: Verdict, reason: str) -> DkimSignatureResult:
    """Build a per-signature result from whatever tags could be read."""
    length = tags.get("l", "")
    return DkimSignatureResult(
        domain=tags.get("d", "").lower(),
        selector=tags.get("s", ""),
        algorithm=tags.get("a", ""),
        signed_headers=_signed_headers(tags) if "h" in tags else (),
        body_length=int(length) if _DECIMAL.match(length) else None,
        result=verdict,
        reason=reason,
    )
