"""RFC 7508 SecureHeaderFields: DER round trip, canonicalization and the receiver's comparison."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfc8823.auth.secure_headers import (
    Canonicalization,
    FieldStatus,
    Malformed,
    SecureField,
    SecureHeaders,
    canonical,
    decode,
    encode,
    mismatch,
    mismatches,
)

FIELDS = (
    SecureField("From", "ACME CA <acme-challenge@ca.test>"),
    SecureField("To", "alice@mail.test"),
    SecureField("Subject", "ACME: LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME"),
)
OUTER = tuple((field.name, field.value) for field in FIELDS)
NAMES = ("From", "To", "Subject")
VALID = encode(FIELDS, "relaxed")


def secure(canonicalization: Canonicalization = "relaxed", *fields: SecureField) -> SecureHeaders:
    return SecureHeaders(canonicalization, fields or FIELDS)


@pytest.mark.parametrize("canonicalization", ["simple", "relaxed"])
def test_round_trip(canonicalization: Canonicalization) -> None:
    """What encode() writes, decode() reads back unchanged, every status included (§4.1)."""
    fields = (
        *FIELDS,
        SecureField("Cc", "x@y.test", "deleted"),
        SecureField("Date", "d", "modified"),
    )
    assert decode(encode(fields, canonicalization)) == SecureHeaders(canonicalization, fields)


def test_der_shape() -> None:
    """A SET of the ENUMERATED algorithm and a SEQUENCE OF fields; the default status omitted."""
    der = encode([SecureField("To", "a@b.test")], "simple")
    assert der == bytes.fromhex("31150a01003010300e1a02546f0c086140622e74657374")
    flagged = encode([SecureField("To", "a@b.test", "modified")], "relaxed")
    assert flagged.startswith(bytes.fromhex("31180a0101"))
    assert flagged.endswith(bytes.fromhex("020102"))


@pytest.mark.parametrize(
    ("fields", "canonicalization", "message"),
    [
        ([], "relaxed", "at least one"),
        ([SecureField("Sub:ject", "x")], "relaxed", "header field name"),
        ([SecureField("", "x")], "relaxed", "header field name"),
        ([SecureField("Subject", "x", "gone")], "relaxed", "status"),  # type: ignore[arg-type]
        (list(FIELDS), "loose", "canonicalization"),
    ],
)
def test_encode_refuses_what_the_syntax_forbids(
    fields: list[SecureField], canonicalization: Canonicalization, message: str
) -> None:
    """The sender side raises early on input RFC 7508 §4.1 cannot express."""
    with pytest.raises(ValueError, match=message):
        encode(fields, canonicalization)


@pytest.mark.parametrize(
    ("der", "reason"),
    [
        (b"", "not DER"),
        (b"garbage", "not DER"),
        (VALID[:-3], "not DER"),
        (bytes.fromhex("31050a01023000"), "unknown canonAlgorithm"),
        (bytes.fromhex("31050a01003000"), "empty"),
        (bytes.fromhex("310f0a0100300a30081a013a0c00020109"), "field-Name"),
        (bytes.fromhex("310f0a0100300a30081a01410c00020109"), "status"),
        (bytes.fromhex("300d0a0100300830061a01410c0100"), "not DER"),
    ],
)
def test_malformed_values_are_reported(der: bytes, reason: str) -> None:
    """Bad bytes give a Malformed saying why, never an exception."""
    result = decode(der)
    assert isinstance(result, Malformed)
    assert reason in result.reason


def test_receiver_reads_what_der_would_write_otherwise() -> None:
    """A duplicated status written out (as a real CA's attribute does; DER omits a DEFAULT)
    and the SET's members in the other order are both read (§4.1)."""
    expected = SecureHeaders("relaxed", (SecureField("To", "x"),))
    assert decode(bytes.fromhex("31110a0101300c300a1a02546f0c0178020100")) == expected
    assert decode(bytes.fromhex("3111300c300a1a02546f0c01780201000a0101")) == expected


@pytest.mark.parametrize(
    "der",
    [
        bytes.fromhex("3111020101300c300a1a02546f0c0178020100"),
        bytes.fromhex("31110a0101300c300a1a02546f0c01780a0101"),
        bytes.fromhex("31110a0101310c300a1a02546f0c0178020100"),
        bytes.fromhex("31110a0101300c300a1302546f0c0178020100"),
        bytes.fromhex("31110a0101300c300a1a02546f040178020100"),
        bytes.fromhex("31140a0101300f300d1a02546f0c0178020101020100"),
    ],
    ids=[
        "algorithm-as-INTEGER",
        "status-as-ENUMERATED",
        "fields-as-SET",
        "name-as-PrintableString",
        "value-as-OCTET-STRING",
        "member-after-status",
    ],
)
def test_wrong_tags_are_malformed(der: bytes) -> None:
    """Each member keeps its §4.1 type: ENUMERATED algorithm, SEQUENCE OF fields, VisibleString
    name, UTF8String value, INTEGER status."""
    assert isinstance(decode(der), Malformed)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(der: bytes) -> None:
    """Any bytes decode to a value or a Malformed."""
    assert isinstance(decode(der), SecureHeaders | Malformed)


@given(st.data())
def test_damaged_values_never_raise(data: st.DataObject) -> None:
    """Random damage to a valid value decodes to a value or a Malformed."""
    damaged = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    assert isinstance(decode(bytes(damaged)), SecureHeaders | Malformed)


def test_canonicalizations() -> None:
    """simple changes nothing; relaxed lowers the name, unfolds and squeezes white space (§4.3)."""
    folded = "ACME:\r\n \t LgYem  \t"
    assert canonical("SUBJECT", folded, "simple") == ("SUBJECT", folded)
    assert canonical("SUBJECT", folded, "relaxed") == ("subject", "ACME: LgYem")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Subject \t", "x", ("subject", "x")),
        ("To", " \t a@b.test", ("to", "a@b.test")),
        ("To", "a@b.test \t ", ("to", "a@b.test")),
        ("To", "a\t\t@  b", ("to", "a @ b")),
        ("To", "a\r\n\tb", ("to", "a b")),
        ("To", "a\r\n b\r\n  c", ("to", "a b c")),
        ("Subject", "ACME: MiXeD", ("subject", "ACME: MiXeD")),
    ],
)
def test_relaxed_follows_dkim_header_rules(
    name: str, value: str, expected: tuple[str, str]
) -> None:
    """RFC 6376 §3.4.2: name in lower case; value unfolded, WSP runs one space, none around
    the colon or at the end; letter case in the value kept."""
    assert canonical(name, value, "relaxed") == expected


@pytest.mark.parametrize("value", ["a\r\n\tb", " a", "a ", "a  b", "A"])
def test_simple_keeps_every_octet(value: str) -> None:
    """RFC 6376 §3.4.1: simple does not change a header field at all."""
    assert canonical("sUbJeCt", value, "simple") == ("sUbJeCt", value)


def test_conforming_outer_header_has_no_mismatch() -> None:
    """Outer fields equal to the duplicated ones, whatever else the header holds."""
    outer = (*OUTER, ("Date", "today"), ("Auto-Submitted", "auto-generated"))
    assert mismatches(outer, secure(), NAMES) == []


@pytest.mark.parametrize("field", NAMES)
def test_changed_outer_field_is_named(field: str) -> None:
    """A field whose outer value differs from the protected one is named, and says how."""
    outer = [(n, "changed@evil.test" if n == field else v) for n, v in OUTER]
    assert mismatches(outer, secure(), NAMES) == [field]
    reason = mismatch(outer, secure(), field)
    assert reason is not None
    assert "differs from the protected" in reason


def test_missing_and_repeated_outer_fields_are_mismatches() -> None:
    """Gone from the outer header, or there twice: the outer header no longer shows it."""
    without_to = [(n, v) for n, v in OUTER if n != "To"]
    assert mismatches(without_to, secure(), NAMES) == ["To"]
    assert "missing" in (mismatch(without_to, secure(), "To") or "")
    doubled = [*OUTER, ("Subject", "ACME: other")]
    assert mismatches(doubled, secure(), NAMES) == ["Subject"]


def test_unprotected_outer_field_is_a_mismatch() -> None:
    """A field the attribute leaves out counts when the outer header has it; absent on both
    sides does not."""
    partial = secure("relaxed", *FIELDS[:2])
    assert mismatches(OUTER, partial, [*NAMES, "Cc"]) == ["Subject"]
    assert mismatch(OUTER, partial, "Subject") == f"Subject [{FIELDS[2].value!r}] is not protected"


@pytest.mark.parametrize(
    ("outer_subject", "canonicalization", "differs"),
    [
        ("ACME:\r\n  LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME  ", "relaxed", False),
        ("ACME:\r\n  LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME  ", "simple", True),
        ("ACME:  LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME", "simple", True),
        ("ACME: LgYemJLy3F1LDkiJrdIGbEzyFJyOyf6vBdyZ1TG3sME", "simple", False),
        ("acme: lgyemjly3f1ldkijrdigbezyfjyoyf6vbdyz1tg3sme", "relaxed", True),
    ],
)
def test_relaxed_tolerates_white_space_simple_nothing(
    outer_subject: str, canonicalization: Canonicalization, differs: bool
) -> None:
    """relaxed forgives folding and white space runs, never letter case in values (§4.3)."""
    outer = [(n, outer_subject if n == "Subject" else v) for n, v in OUTER]
    assert (mismatches(outer, secure(canonicalization), NAMES) == ["Subject"]) is differs


@pytest.mark.parametrize(("canonicalization", "differs"), [("relaxed", False), ("simple", True)])
def test_field_name_case_counts_only_in_simple(
    canonicalization: Canonicalization, differs: bool
) -> None:
    """simple compares names exactly too; relaxed in lower case."""
    outer = [("SUBJECT" if n == "Subject" else n, v) for n, v in OUTER]
    assert (mismatches(outer, secure(canonicalization), NAMES) == ["Subject"]) is differs


@pytest.mark.parametrize("status", ["duplicated", "deleted", "modified"])
@pytest.mark.parametrize(
    ("outer_value", "wording"),
    [
        (FIELDS[2].value, None),
        ("ACME: other", "differs from the protected"),
        (None, "missing from the outer header"),
    ],
)
def test_status_does_not_relax_the_comparison(
    status: FieldStatus, outer_value: str | None, wording: str | None
) -> None:
    """Every status is compared alike (§4.5.2): deleted and modified name what encryption did
    to the outer header (§4.4), and a signed, unencrypted message had no such step."""
    declared = secure("relaxed", *FIELDS[:2], SecureField("Subject", FIELDS[2].value, status))
    outer = [(n, v) for n, v in OUTER if n != "Subject"]
    if outer_value is not None:
        outer.append(("Subject", outer_value))
    reason = mismatch(outer, declared, "Subject")
    if wording is None:
        assert reason is None
        assert mismatches(outer, declared, NAMES) == []
        return
    assert mismatches(outer, declared, NAMES) == ["Subject"]
    assert reason is not None
    assert wording in reason
    assert (f"declared {status}" in reason) is (status != "duplicated")


def test_repeated_fields_compare_as_a_multiset() -> None:
    """Each protected field is shown once outside, in any order; one too few or many counts."""
    twice = secure("relaxed", SecureField("Cc", "a@x.test"), SecureField("Cc", "b@x.test"))
    assert mismatch([("Cc", "b@x.test"), ("Cc", "a@x.test")], twice, "Cc") is None
    assert mismatch([("Cc", "a@x.test")], twice, "Cc") is not None
    assert mismatch([("Cc", "a@x.test")] * 2 + [("Cc", "b@x.test")], twice, "Cc") is not None


def test_named_is_case_insensitive() -> None:
    """Protected fields are looked up by name without regard to case (RFC 5322 §1.2.2)."""
    assert secure().named("SUBJECT") == (FIELDS[2],)
    assert secure().named("Cc") == ()
