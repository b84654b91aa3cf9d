"""The packaged requirement catalog: complete against its markdown source; verdict mapping."""

import re
from pathlib import Path

import pytest

from rfc8823.requirements import Bind, Level, Requirement, Source, load_catalog

SPEC = Path(__file__).parents[2] / "docs" / "catalog" / "requirements.md"
"""The catalog's markdown source, in the repository (docs/catalog.md says how the two relate)."""
TABLE_ROW = re.compile(r"^\| ([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+) \|", re.MULTILINE)


def spec_ids() -> list[str]:
    """IDs of the table rows in sections 2 and 3 of the markdown catalog, in order."""
    text = SPEC.read_text(encoding="utf-8")
    start = text.index("\n## 2.")
    end = text.index("\n## 4.")
    return TABLE_ROW.findall(text, start, end)


def test_packaged_catalog_loads_every_row() -> None:
    catalog = load_catalog()
    assert len(catalog) > 140
    assert next(iter(catalog)).id == "ID-EMAIL-1"
    assert catalog.ids[-1] == "A-ACCTKEY-1"


def test_default_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog()


def test_toml_lists_every_spec_row_in_order() -> None:
    expected = spec_ids()
    assert len(expected) > 140
    assert list(load_catalog().ids) == expected


@pytest.mark.parametrize(
    ("requirement_id", "level", "source", "verdict"),
    [
        ("CHAL-AUTO-1", Level.MUST, Source.MEMORY_HIGH, "FAIL"),
        ("CHAL-AUTO-2", Level.SHOULD, Source.MEMORY_HIGH, "WARN"),
        ("TOK-1", Level.DESC, Source.QUOTED, "WARN"),
        ("RESP-DKIM-2", Level.MUST, Source.MEMORY_MEDIUM, "WARN"),
        ("A-JWS-1", Level.MUST, Source.RFC, "FAIL"),
        ("FLOW-6", Level.MUST_NOT, Source.QUOTED, "FAIL"),
        ("SRV-VAL-1", Level.DERIVED, Source.DERIVED, "WARN"),
    ],
)
def test_spot_checks(requirement_id: str, level: Level, source: Source, verdict: str) -> None:
    requirement = load_catalog()[requirement_id]
    assert (requirement.level, requirement.source) == (level, source)
    assert requirement.verdict_on_break == verdict


@pytest.mark.parametrize(
    ("requirement_id", "reference"),
    [
        ("CHAL-AUTH-1", "RFC 8823 §3.1 (6)"),
        ("TOK-2", "RFC 8823 §3 step 4"),
        ("A-CHAL-2", "RFC 8555 §7.5.1"),
        ("REF-7508-1", "RFC 7508"),
    ],
)
def test_reference_names_rfc_section_and_item(requirement_id: str, reference: str) -> None:
    assert load_catalog()[requirement_id].reference == reference


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("source", list(Source))
def test_verdict_on_break_follows_decision_1(level: Level, source: Source) -> None:
    requirement = Requirement(
        id="X-1",
        rfc=8823,
        section="3",
        item=None,
        level=level,
        binds=(),
        source=source,
        summary="s",
    )
    hard = level in {Level.MUST, Level.MUST_NOT} and source in {
        Source.QUOTED,
        Source.INDIRECT,
        Source.MEMORY_HIGH,
        Source.RFC,
    }
    assert requirement.verdict_on_break == ("FAIL" if hard else "WARN")


def test_by_bind_selects_rows_in_file_order() -> None:
    catalog = load_catalog()
    client = catalog.by_bind("client")
    assert client == catalog.by_bind(Bind.CLIENT)
    assert all(Bind.CLIENT in r.binds for r in client)
    assert "FLOW-6" in {r.id for r in client}
    assert [r.id for r in client] == [r.id for r in catalog if r in client]
    with pytest.raises(ValueError, match="mta"):
        catalog.by_bind("mta")


def test_untestable_rows_say_why() -> None:
    untestable = {r.id: r.untestable_reason for r in load_catalog() if not r.testable}
    assert {"SEC-1", "SEC-2", "TOK-5", "IANA-1", "IANA-2"} <= set(untestable)
    assert all(untestable.values())


def test_lookup_and_membership() -> None:
    catalog = load_catalog()
    assert "RESP-DKIM-4" in catalog
    assert "RESP-DKIM-9" not in catalog
    assert 42 not in catalog
    with pytest.raises(KeyError):
        catalog["RESP-DKIM-9"]
