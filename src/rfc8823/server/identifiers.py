"""Which newOrder identifiers the reference CA accepts: single, plain ``email`` mailboxes.

Pure rules. A value that is not one addr-spec is ``malformed``; a well-formed value the CA
refuses by policy is ``rejectedIdentifier``; a type other than ``email`` is
``unsupportedIdentifier``. Every detail names the requirement it enforces (ID-EMAIL-2,
ID-EMAIL-3, ID-EMAIL-5, AMB-4, A-ORD-3; RFC 8555 §7.4, §6.7).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from rfc8823.acme.identifier import IDENTIFIER_DNS, IDENTIFIER_EMAIL, Identifier
from rfc8823.acme.problems import Problem, ProblemType
from rfc8823.domains import a_label_form
from rfc8823.faults import NO_FAULTS, FaultSet
from rfc8823.messages.headers import normalize_address

MAX_LOCAL_OCTETS = 64
MAX_ADDRESS_OCTETS = 254
MAX_IDENTIFIERS = 20

_INJECTION = re.compile(r"[\x00-\x20\x7f,;<>()\[\]\\\"]")
_ASCII_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _problem(kind: ProblemType, identifier: Identifier, detail: str) -> Problem:
    return Problem.of(kind, detail, identifier=identifier)


def _local_part_problem(local: str) -> str | None:
    """Why a local part is not a dot-atom of RFC 5322 atext or RFC 6531 UTF-8, if it is not."""
    if not local:
        return "the local part is empty"
    if len(local.encode("utf-8")) > MAX_LOCAL_OCTETS:
        return f"the local part exceeds {MAX_LOCAL_OCTETS} octets (RFC 5321 §4.5.3.1.1)"
    for atom in local.split("."):
        if not atom:
            return "the local part has an empty dot-atom element (leading, trailing or '..')"
        for char in atom:
            if char.isascii():
                if not _ASCII_ATEXT.fullmatch(char):
                    return f"{char!r} is not atext (RFC 5322 §3.2.3)"
            elif unicodedata.category(char)[0] in "CZ":
                return f"U+{ord(char):04X} is not a UTF-8 atext character (RFC 6531 §3.3)"
    return None


def _domain_problem(domain: str) -> str | None:
    """Why a domain is not a host name in U-labels or A-labels (RFC 5321, RFC 5890)."""
    if not domain:
        return "the domain is empty"
    if domain.endswith("."):
        return "the domain has a trailing dot"
    a_label, error = a_label_form(domain)
    if error is not None:
        return f"the domain has no A-label form: {error} (RFC 5890)"
    labels = a_label.split(".")
    if not all(_LDH_LABEL.fullmatch(label) for label in labels):
        return f"the domain {a_label!r} is not a host name (RFC 5321 §4.1.2)"
    if len(labels) < 2:
        return f"the domain {a_label!r} is a single label"
    return None


def check_email_identifier(
    identifier: Identifier, faults: FaultSet = NO_FAULTS, *, dns_addresses: bool = False
) -> Problem | None:
    """None if ``identifier`` is an ``email`` identifier the CA will mail, else the problem.

    Order of checks: type (A-ORD-3, AMB-4), injection-bearing characters (ID-EMAIL-5, SEC-9),
    ``*`` (ID-EMAIL-3), then addr-spec syntax (ID-EMAIL-2). ``faults`` may switch checks off.
    ``dns_addresses`` is the compatibility mode of CAs serving certbot-based clients (AMB-4): a
    ``dns`` identifier holding an address is judged as the ``email`` identifier it means.
    """
    value = identifier.value
    lenient = dns_addresses or faults.on("accept-dns-identifier-with-at")
    if identifier.type == IDENTIFIER_DNS and "@" in value and lenient:
        return check_email_identifier(Identifier.email(value), faults)
    if identifier.type != IDENTIFIER_EMAIL:
        if identifier.type == IDENTIFIER_DNS and "@" in value:
            return _problem(
                ProblemType.REJECTED_IDENTIFIER,
                identifier,
                f"a dns identifier cannot hold the email address {value!r}; "
                "order it as type 'email' (AMB-4, A-ORD-3, RFC 8823 §3)",
            )
        return _problem(
            ProblemType.UNSUPPORTED_IDENTIFIER,
            identifier,
            f"identifier type {identifier.type!r} is not supported; only 'email' (A-ORD-3)",
        )
    if faults.on("accept-any-address-text") and "@" in value:
        return None
    bad = sorted(set(_INJECTION.findall(value)))
    if bad:
        return _problem(
            ProblemType.MALFORMED,
            identifier,
            f"the value holds {', '.join(repr(c) for c in bad)}: an identifier is one bare "
            "addr-spec, without display name, brackets, separators or white space "
            "(ID-EMAIL-5, ID-EMAIL-2)",
        )
    if "*" in value and not faults.on("accept-wildcard-identifier"):
        return _problem(
            ProblemType.REJECTED_IDENTIFIER,
            identifier,
            "an email identifier must not contain '*' anywhere (ID-EMAIL-3, RFC 8823 §3)",
        )
    local, at, domain = value.rpartition("@")
    reason = (
        "there is no '@'"
        if not at
        else "there is more than one '@'"
        if "@" in local
        else _local_part_problem(local) or _domain_problem(domain)
    )
    if reason is None and len(normalize_address(value).encode("utf-8")) > MAX_ADDRESS_OCTETS:
        reason = f"the address exceeds {MAX_ADDRESS_OCTETS} octets (RFC 5321 §4.5.3.1.3)"
    if reason is not None:
        return _problem(
            ProblemType.MALFORMED,
            identifier,
            f"{value!r} is not an addr-spec: {reason} (ID-EMAIL-2, RFC 5321/6531)",
        )
    return None


def _parse_identifiers(raw: object) -> list[Identifier] | Problem:
    if not isinstance(raw, list) or not raw:
        return Problem.of(ProblemType.MALFORMED, "'identifiers' must be a non-empty array")
    if len(raw) > MAX_IDENTIFIERS:
        return Problem.of(
            ProblemType.REJECTED_IDENTIFIER,
            f"at most {MAX_IDENTIFIERS} identifiers per order, got {len(raw)}",
        )
    parsed: list[Identifier] = []
    for item in raw:
        try:
            parsed.append(Identifier.from_json(item))
        except ValueError as error:
            return Problem.of(ProblemType.MALFORMED, f"bad identifier object: {error}")
    return parsed


def check_order_identifiers(
    raw: object, faults: FaultSet = NO_FAULTS, *, dns_addresses: bool = False
) -> tuple[Identifier, ...] | Problem:
    """The ordered identifiers if every one is acceptable, else one problem with subproblems.

    Each rejected identifier gets a subproblem naming it (A-ERR-2, RFC 8555 §6.7.1); the top
    type is the subproblems' common type, or ``compound`` when they differ. Two identifiers
    naming the same mailbox are ``malformed``. ``dns_addresses``: see check_email_identifier.
    """
    parsed = _parse_identifiers(raw)
    if isinstance(parsed, Problem):
        return parsed
    found = (
        check_email_identifier(identifier, faults, dns_addresses=dns_addresses)
        for identifier in parsed
    )
    subproblems = [problem for problem in found if problem is not None]
    if not subproblems:
        seen: set[str] = set()
        for identifier in parsed:
            key = normalize_address(identifier.value)
            if key in seen:
                subproblems.append(
                    _problem(
                        ProblemType.MALFORMED,
                        identifier,
                        f"{identifier.value!r} is ordered twice (RFC 8555 §7.4)",
                    )
                )
            seen.add(key)
    if not subproblems:
        return tuple(parsed)
    return _combined(subproblems)


def _combined(subproblems: Sequence[Problem]) -> Problem:
    kinds = {p.type for p in subproblems}
    kind = ProblemType(next(iter(kinds))) if len(kinds) == 1 else ProblemType.COMPOUND
    if len(subproblems) == 1:
        detail = subproblems[0].detail
    else:
        detail = f"{len(subproblems)} identifiers refused; see subproblems"
    return Problem.of(kind, detail, subproblems=subproblems)
