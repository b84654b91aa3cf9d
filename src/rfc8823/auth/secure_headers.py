"""RFC 7508 SecureHeaderFields: the signed attribute that protects header fields, and its checks.

A signer lists header fields (name, value, status) and a canonicalization in a CMS signed
attribute (RFC 7508 §4.1, module in Appendix A); a receiver compares them with the outer header
in that canonicalization (§4.3, §4.5.2; CHAL-BODY-3, REF-7508-1, AMB-8). Pure: DER in and
out, no I/O; malformed DER gives a :class:`Malformed`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast

from asn1crypto import core

OID = "1.2.840.113549.1.9.16.2.55"
"""id-aa-secureHeaderFieldsIdentifier, the attribute type (RFC 7508 §4.1)."""

Canonicalization = Literal["simple", "relaxed"]
FieldStatus = Literal["duplicated", "deleted", "modified"]

_ALGORITHMS: dict[int, Canonicalization] = {0: "simple", 1: "relaxed"}
_STATUSES: tuple[FieldStatus, ...] = ("duplicated", "deleted", "modified")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_WSP_RUN = re.compile(r"[ \t]+")
ASN1_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    UnicodeError,
    RecursionError,
)
"""What asn1crypto raises on malformed input (callers turn it into :class:`Malformed`)."""


class _Algorithm(core.Enumerated):  # type: ignore[misc]  # asn1crypto has no stubs
    _map: ClassVar[dict[int, str]] = {0: "canonAlgorithmSimple", 1: "canonAlgorithmRelaxed"}


class _HeaderFieldStatus(core.Integer):  # type: ignore[misc]
    """HeaderFieldStatus: an INTEGER with named values, not an ENUMERATED (RFC 7508 §4.1)."""

    _map: ClassVar[dict[int, str]] = {0: "duplicated", 1: "deleted", 2: "modified"}


class _HeaderField(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("field_name", core.VisibleString),
        ("field_value", core.UTF8String),
        ("field_status", _HeaderFieldStatus, {"default": "duplicated"}),
    ]


class _HeaderFields(core.SequenceOf):  # type: ignore[misc]
    """SEQUENCE SIZE (1..MAX) OF HeaderField: ordered, at least one (RFC 7508 §4.1)."""

    _child_spec = _HeaderField


class SecureHeaderFieldsAsn1(core.Set):  # type: ignore[misc]
    """SecureHeaderFields ::= SET { canonAlgorithm, secHeaderFields } (RFC 7508 §4.1).

    A SET: DER writes the ENUMERATED before the SEQUENCE (X.690 §10.3); either order is read.
    """

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("canon_algorithm", _Algorithm),
        ("sec_header_fields", _HeaderFields),
    ]


class SetOfSecureHeaderFields(core.SetOf):  # type: ignore[misc]
    """The attribute's values (RFC 5652 §5.3 attrValues): a SET OF SecureHeaderFields, of which
    a signer sends one."""

    _child_spec = SecureHeaderFieldsAsn1


@dataclass(frozen=True)
class SecureField:
    """One protected header field: its name, its value as written, and its status (§4.1, §4.4).

    The status defaults to duplicated, as the ASN.1 DEFAULT does.
    """

    name: str
    value: str
    status: FieldStatus = "duplicated"


@dataclass(frozen=True)
class SecureHeaders:
    """A decoded SecureHeaderFields attribute value (RFC 7508 §4.1)."""

    canonicalization: Canonicalization
    fields: tuple[SecureField, ...]

    def named(self, name: str) -> tuple[SecureField, ...]:
        """The protected fields called ``name`` (RFC 5322 names are case-insensitive)."""
        return tuple(field for field in self.fields if field.name.lower() == name.lower())


@dataclass(frozen=True)
class Malformed:
    """An attribute value that is not a valid SecureHeaderFields, and why."""

    reason: str


def encode(fields: Sequence[SecureField], canonicalization: Canonicalization) -> bytes:
    """The DER of one SecureHeaderFields value (RFC 7508 §4.1); ValueError for bad input.

    Field names are printable US-ASCII without a colon (RFC 5322 §2.2); at least one field.
    A duplicated status is left out, as DER requires for a DEFAULT value (X.690 §11.5).
    """
    if canonicalization not in ("simple", "relaxed"):
        raise ValueError(f"canonicalization is 'simple' or 'relaxed', not {canonicalization!r}")
    if not fields:
        raise ValueError("SecureHeaderFields needs at least one header field (RFC 7508 §4.1)")
    children = []
    for field in fields:
        if not _FIELD_NAME.fullmatch(field.name):
            raise ValueError(f"{field.name!r} is not a header field name (RFC 5322 §2.2)")
        if field.status not in _STATUSES:
            raise ValueError(f"status must be one of {_STATUSES}, not {field.status!r}")
        children.append(
            _HeaderField(
                {"field_name": field.name, "field_value": field.value, "field_status": field.status}
            )
        )
    algorithm = "canonAlgorithmSimple" if canonicalization == "simple" else "canonAlgorithmRelaxed"
    value = SecureHeaderFieldsAsn1(
        {"canon_algorithm": algorithm, "sec_header_fields": _HeaderFields(children)}
    )
    return cast(bytes, value.dump(force=True))


def decode(der: bytes) -> SecureHeaders | Malformed:
    """A SecureHeaderFields value read from DER; :class:`Malformed` for anything else, never raises.

    Checks the §4.1 constraints: a known canonicalization, at least one field, each field a
    name, a value, an optional INTEGER status and nothing more (asn1crypto would skip a member
    it cannot place), names of printable US-ASCII without a colon, statuses
    duplicated/deleted/modified. The ASN.1 would let a name hold a space; §4.1 says names are
    RFC 5322 field names, which cannot, so such a name is refused. Read leniently as a
    receiver: a duplicated status written out (DER leaves it out; a CA's real attribute
    carries it) and the SET's two members in either order.
    """
    try:
        parsed = SecureHeaderFieldsAsn1.load(der, strict=True)
        algorithm = int.from_bytes(parsed["canon_algorithm"].contents, "big", signed=True)
        entries = [
            (entry["field_name"].native, entry["field_value"].native, entry["field_status"].native)
            for entry in parsed["sec_header_fields"]
        ]
        extra = any(len(entry.children) > 3 for entry in parsed["sec_header_fields"])
    except ASN1_ERRORS as exc:
        return Malformed(f"not DER of SecureHeaderFields: {' '.join(str(exc).split())}")
    if extra:
        return Malformed("a HeaderField has members after field-Status (or in its place)")
    canonicalization = _ALGORITHMS.get(algorithm)
    if canonicalization is None:
        return Malformed(f"unknown canonAlgorithm {algorithm!r}")
    if not entries:
        return Malformed("secHeaderFields is empty")
    fields = []
    for name, value, status in entries:
        if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
            return Malformed(f"field-Name {name!r} is not a header field name")
        if status not in _STATUSES or not isinstance(value, str):
            return Malformed(f"field {name}: status {status!r} is not duplicated/deleted/modified")
        fields.append(SecureField(name, value, cast(FieldStatus, status)))
    return SecureHeaders(canonicalization, tuple(fields))


def canonical(name: str, value: str, canonicalization: Canonicalization) -> tuple[str, str]:
    """A field in the form the comparison uses (RFC 7508 §4.3, which takes DKIM's header
    canonicalizations: RFC 6376 §3.4.1 simple, §3.4.2 relaxed).

    simple changes nothing: the name exactly, the value as written (folds kept) after the
    colon and the white space that separates it. relaxed: the name in lower case; the value
    unfolded, each white space run as one space, none left at either end.
    """
    if canonicalization == "simple":
        return name, value
    unfolded = _FOLD.sub("", value)
    return name.strip().lower(), _WSP_RUN.sub(" ", unfolded).strip(" \t\r\n")


def mismatch(outer: Sequence[tuple[str, str]], secure: SecureHeaders, name: str) -> str | None:
    """Why the outer ``name`` fields do not show exactly the protected ones; None when they do.

    ``outer`` are the header's (name, value as written) pairs. Both sides compare in the
    signer's canonicalization (§4.3), as a multiset: each protected field must be repeated
    once in the outer header (§4.5.2). Every status counts the same. deleted and modified
    (§4.4) record what the sender's encryption step did to the outer header, and the
    receiver's decryption puts the protected values back before comparing (§4.6). A signed,
    unencrypted message (an RFC 8823 challenge) went through neither step, so its outer header
    must show those fields as signed too; a status is only named in the reason. An outer field
    of a name the attribute does not protect is unprotected; absent on both sides is no
    mismatch. CHAL-BODY-3, AMB-8.
    """
    protected = secure.named(name)
    written = [(n, v) for n, v in outer if n.lower() == name.lower()]
    shown = [v for _, v in written]
    if not protected:
        return f"{name} {shown} is not protected" if written else None
    algorithm = secure.canonicalization
    expected = sorted(canonical(f.name, f.value, algorithm) for f in protected)
    if sorted(canonical(n, v, algorithm) for n, v in written) == expected:
        return None
    values = [f.value for f in protected]
    if not written:
        reason = f"protected {name} {values} is missing from the outer header"
    else:
        reason = f"outer {name} {shown} differs from the protected {values} ({algorithm})"
    declared = sorted({f.status for f in protected if f.status != "duplicated"})
    if declared:
        reason += f"; declared {'/'.join(declared)}, a change only encryption makes (§4.4)"
    return reason


def mismatches(
    outer: Sequence[tuple[str, str]], secure: SecureHeaders, names: Sequence[str]
) -> list[str]:
    """The ``names`` (in order) whose outer fields differ from the protected ones (mismatch)."""
    return [name for name in names if mismatch(outer, secure, name) is not None]
