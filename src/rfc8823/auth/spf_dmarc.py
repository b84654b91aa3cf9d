"""SPF (RFC 7208, via pyspf) and DMARC (RFC 7489) over the world's DNS.

RFC 8823 needs neither: its rules are DKIM with ``d=`` equal to the From domain (RESP-DKIM-4),
and SPF alone must never validate a response (SEC-10). The suite still records SPF and DMARC
results (spec §2.10, INFO), so both are checked against the same Resolver as DKIM.

DMARC is implemented here rather than through authheaders: its ``dmarc_per_from`` cannot report a
DNS temperror, takes a single DKIM result, does not say which identifier aligned, and its
public-suffix lookup treats every ``.test`` domain as belonging to the organization ``test``.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypeVar

import spf
from publicsuffix2 import PublicSuffixList

from rfc8823.auth.dkim import DkimResult, TagListError, parse_tag_list, to_a_label
from rfc8823.auth.resolver import DnsError, DnsNoRecord, Resolver

__all__ = [
    "DmarcRecord",
    "DmarcResult",
    "SpfResult",
    "author_domain",
    "check_dmarc",
    "check_spf",
    "effective_policy",
    "is_aligned",
    "organizational_domain",
    "parse_dmarc_record",
]

log = logging.getLogger(__name__)

SpfVerdict = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]
DmarcVerdict = Literal["pass", "fail", "none", "temperror", "permerror"]
Policy = Literal["none", "quarantine", "reject"]
AlignmentMode = Literal["r", "s"]
Choice = TypeVar("Choice", bound=str)
SpfLookup: TypeAlias = Callable[..., list[tuple[tuple[str, str], Any]]]

_SPF_VERDICTS: tuple[SpfVerdict, ...] = (
    "pass",
    "fail",
    "softfail",
    "neutral",
    "none",
    "temperror",
    "permerror",
)
_POLICIES: tuple[Policy, ...] = ("none", "quarantine", "reject")
_MODES: tuple[AlignmentMode, ...] = ("r", "s")

_spf_hook_lock = threading.Lock()
"""pyspf resolves through the module global ``spf.DNSLookup``; one check at a time may swap it."""


@dataclass(frozen=True)
class SpfResult:
    """An SPF verdict for the checked domain: MAIL FROM's, or HELO's when MAIL FROM is null."""

    result: SpfVerdict
    explanation: str
    domain: str


def check_spf(ip: str, mail_from: str, helo: str, resolver: Resolver) -> SpfResult:
    """Evaluate SPF for a client address and envelope with pyspf, resolving through ``resolver``.

    RFC 7208 §2.6 results; DNS timeouts and server failures become temperror (§2.6.6). pyspf
    has no per-query resolver, only the module-level ``spf.DNSLookup`` hook, so the hook is
    swapped under a lock for the length of the check: without it, checks running in other
    threads (an SMTP handler, an executor) could resolve through each other's Resolver or leave
    the wrong hook installed. Checks are therefore serialized. PTR lookups (the deprecated
    ``ptr`` mechanism, §5.5) find nothing, as our Resolver does not serve them.
    """
    try:
        query = spf.query(i=ip, s=mail_from, h=helo)
    except (spf.PermError, ValueError) as exc:
        return SpfResult(
            "permerror", f"unusable SPF input: {exc}", _envelope_domain(mail_from, helo)
        )
    with _spf_hook_lock:
        saved = spf.DNSLookup
        spf.DNSLookup = _lookup_through(resolver)
        try:
            verdict, _code, explanation = query.check()
        except spf.TempError as exc:
            verdict, explanation = "temperror", f"SPF Temporary Error: {exc}"
        except (spf.PermError, spf.AmbiguityWarning, ValueError, TypeError) as exc:
            verdict, explanation = "permerror", f"SPF Permanent Error: {exc}"
        finally:
            spf.DNSLookup = saved
    domain = str(query.o).lower()
    if verdict not in _SPF_VERDICTS:
        return SpfResult("permerror", f"unexpected SPF result {verdict!r}", domain)
    return SpfResult(verdict, str(explanation), domain)


def _envelope_domain(mail_from: str, helo: str) -> str:
    """The domain SPF checks: MAIL FROM's, else HELO's (RFC 7208 §2.3, §2.4)."""
    return (mail_from.rpartition("@")[2] if mail_from else helo).lower()


def _lookup_through(resolver: Resolver) -> SpfLookup:
    """A pyspf ``DNSLookup`` answering from ``resolver``: no data is [], failures TempError."""

    def lookup(
        name: str, qtype: str, strict: object = True, timeout: float = 0
    ) -> list[tuple[tuple[str, str], Any]]:
        try:
            if qtype == "TXT":
                return [
                    ((name, qtype), [text.encode("utf-8", "surrogateescape")])
                    for text in resolver.txt(name)
                ]
            if qtype == "A":
                return [((name, qtype), address) for address in resolver.a(name)]
            if qtype == "AAAA":
                return [((name, qtype), address) for address in resolver.aaaa(name)]
            if qtype == "MX":
                return [((name, qtype), exchange) for exchange in resolver.mx(name)]
        except DnsNoRecord:
            return []
        except DnsError as exc:
            log.debug("SPF lookup %s %s failed: %s", qtype, name, exc)
            raise spf.TempError(f"DNS {exc}") from exc
        return []

    return lookup


@dataclass(frozen=True)
class DmarcRecord:
    """The policy tags of a DMARC record that decide a verdict (RFC 7489 §6.3); pct is ignored."""

    policy: Policy
    subdomain_policy: Policy | None = None
    adkim: AlignmentMode = "r"
    aspf: AlignmentMode = "r"


@dataclass(frozen=True)
class DmarcResult:
    """A DMARC verdict for the author domain (RFC 7489 §6.6).

    ``policy`` is the policy that applies to ``from_domain`` (``sp=`` when the record came from
    the organizational domain), ``record_domain`` where the record was found.
    """

    result: DmarcVerdict
    from_domain: str
    policy: Policy | None
    record_domain: str | None
    aligned_via: Literal["dkim", "spf"] | None
    reason: str


def parse_dmarc_record(text: str) -> DmarcRecord | None:
    """A DMARC record, or None when ``text`` is not a usable one (RFC 7489 §6.3, §6.6.3).

    ``v=DMARC1`` must come first. A missing or unknown ``p=``/``sp=`` reads as ``p=none`` when
    ``rua=`` is present, else the record is unusable; an unknown ``adkim=``/``aspf=`` is unusable.
    """
    try:
        tags = parse_tag_list(text)
    except TagListError:
        return None
    if next(iter(tags.items()), None) != ("v", "DMARC1"):
        return None
    adkim = _choice(tags.get("adkim", "r"), _MODES)
    aspf = _choice(tags.get("aspf", "r"), _MODES)
    if adkim is None or aspf is None:
        return None
    policy = _choice(tags.get("p", ""), _POLICIES)
    subdomain_policy = _choice(tags.get("sp", ""), _POLICIES)
    if policy is None or ("sp" in tags and subdomain_policy is None):
        if not tags.get("rua"):
            return None
        policy, subdomain_policy = "none", None
    return DmarcRecord(policy, subdomain_policy, adkim, aspf)


def _choice(value: str, allowed: tuple[Choice, ...]) -> Choice | None:
    """The allowed keyword ``value`` names, case-insensitively, or None."""
    for keyword in allowed:
        if value.lower() == keyword:
            return keyword
    return None


@functools.cache
def _public_suffixes() -> Any:
    """The Public Suffix List shipped with publicsuffix2, loaded once."""
    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """The public suffix plus one label (RFC 7489 §3.2), in A-labels.

    A top-level label the list does not know, such as ``test``, is itself the public suffix (the
    list's default rule), so ``mail.example.test`` belongs to ``example.test``.
    """
    name = to_a_label(domain)
    labels = name.split(".")
    suffix = _public_suffixes().get_tld(name) or labels[-1]
    keep = len(str(suffix).split(".")) + 1
    return name if len(labels) <= keep else ".".join(labels[-keep:])


def is_aligned(identifier: str, from_domain: str, mode: AlignmentMode) -> bool:
    """Whether an authenticated domain aligns with the author domain (RFC 7489 §3.1).

    Strict: the same domain. Relaxed: the same organizational domain.
    """
    if not identifier or not from_domain:
        return False
    if mode == "s":
        return to_a_label(identifier) == to_a_label(from_domain)
    return organizational_domain(identifier) == organizational_domain(from_domain)


def effective_policy(record: DmarcRecord, from_domain: str, record_domain: str) -> Policy:
    """``sp=`` for a subdomain covered by its organization's record, else ``p=`` (RFC 7489 §6.3)."""
    if to_a_label(from_domain) != to_a_label(record_domain) and record.subdomain_policy:
        return record.subdomain_policy
    return record.policy


def author_domain(message: bytes) -> str | None:
    """The domain of the single From address, in A-labels; None when there is not exactly one.

    RFC 7489 §6.6.1: the author domain comes from RFC5322.From; a message with several From
    fields or addresses gets no single answer here. UTF-8 header octets are read as UTF-8.
    """
    headers = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        message, headersonly=True
    )
    fields = [
        value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
        for name, value in headers.raw_items()
        if name.lower() == "from"
    ]
    if len(fields) != 1:
        return None
    addresses = [address for _name, address in email.utils.getaddresses(fields) if address]
    if len(addresses) != 1 or "@" not in addresses[0]:
        return None
    domain = addresses[0].rpartition("@")[2].strip()
    return to_a_label(domain) if domain else None


def check_dmarc(
    message: bytes, *, spf: SpfResult, dkim: DkimResult, resolver: Resolver
) -> DmarcResult:
    """DMARC for ``message`` from SPF and DKIM verdicts already computed (RFC 7489 §6.6).

    Policy discovery asks ``_dmarc.<author domain>``, then ``_dmarc.<organizational domain>``;
    a DNS failure there is temperror. Pass needs an aligned DKIM pass or an aligned SPF pass.
    With neither, an aligned DKIM temperror (or SPF temperror for an aligned domain) gives
    temperror rather than fail, so a transient DNS fault never reads as a forgery.
    """
    from_domain = author_domain(message)
    if from_domain is None:
        return DmarcResult("permerror", "", None, None, None, "no single From address domain")
    discovered = _discover_policy(from_domain, resolver)
    if isinstance(discovered, DmarcResult):
        return discovered
    record, record_domain = discovered
    policy = effective_policy(record, from_domain, record_domain)

    def verdict_for(
        result: DmarcVerdict, via: Literal["dkim", "spf"] | None, why: str
    ) -> DmarcResult:
        return DmarcResult(result, from_domain, policy, record_domain, via, why)

    for signature in dkim.signatures:
        if signature.result == "pass" and is_aligned(signature.domain, from_domain, record.adkim):
            return verdict_for("pass", "dkim", f"DKIM d={signature.domain} aligned")
    spf_aligned = is_aligned(spf.domain, from_domain, record.aspf)
    if spf.result == "pass" and spf_aligned:
        return verdict_for("pass", "spf", f"SPF domain {spf.domain} aligned")
    transient = (spf.result == "temperror" and spf_aligned) or any(
        signature.result == "temperror" and is_aligned(signature.domain, from_domain, record.adkim)
        for signature in dkim.signatures
    )
    if transient:
        return verdict_for("temperror", None, "aligned identifier had a temporary DNS error")
    return verdict_for("fail", None, "no aligned DKIM or SPF pass")


def _discover_policy(domain: str, resolver: Resolver) -> tuple[DmarcRecord, str] | DmarcResult:
    """The record and where it was found, or the none/temperror verdict (RFC 7489 §6.6.3)."""
    candidates = [domain]
    organization = organizational_domain(domain)
    if organization != domain:
        candidates.append(organization)
    for candidate in candidates:
        try:
            texts = resolver.txt(f"_dmarc.{candidate}")
        except DnsNoRecord:
            continue
        except DnsError as exc:
            reason = f"DMARC lookup for {candidate} failed: {exc}"
            return DmarcResult("temperror", domain, None, None, None, reason)
        records = [record for record in map(parse_dmarc_record, texts) if record is not None]
        if len(records) == 1:
            return records[0], candidate
        if len(records) > 1:
            reason = f"several DMARC records at _dmarc.{candidate}"
            return DmarcResult("none", domain, None, None, None, reason)
    return DmarcResult("none", domain, None, None, None, f"no DMARC record for {domain}")
