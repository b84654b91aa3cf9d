"""Catalog validation errors name the bad row, and covers() refuses unknown IDs."""

from pathlib import Path

import pytest

from rfc8823.requirements import (
    CatalogError,
    UnknownRequirementError,
    covers,
    load_catalog,
    parse_catalog,
)

ROW = """
[[requirement]]
id = "TOK-2"
rfc = 8823
section = "3"
item = "step 4"
level = "MUST"
binds = ["server"]
source = "M-H"
summary = "A new token-part1 per authorization."
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_loads(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, ROW))
    assert catalog.ids == ("TOK-2",)
    assert catalog["TOK-2"].reference == "RFC 8823 §3 step 4"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param(ROW + ROW, ["duplicate requirement ID 'TOK-2'"], id="duplicate-id"),
        pytest.param(
            ROW.replace('level = "MUST"', 'level = "MUSTNT"'),
            ["(TOK-2)", "unknown level 'MUSTNT'", "MUST NOT"],
            id="unknown-level",
        ),
        pytest.param(
            ROW.replace('["server"]', '["server", "mta"]'),
            ["(TOK-2)", "unknown bind 'mta'"],
            id="unknown-bind",
        ),
        pytest.param(
            ROW.replace('"M-H"', '"hearsay"'), ["(TOK-2)", "unknown source"], id="unknown-source"
        ),
        pytest.param(ROW.replace('"TOK-2"', '"tok-2"'), ["#1", "malformed id 'tok-2'"], id="lower"),
        pytest.param(ROW.replace('"TOK-2"', '"TOK2"'), ["malformed id 'TOK2'"], id="no-dash"),
        pytest.param(ROW.replace('"TOK-2"', '"TOK-2-"'), ["malformed id"], id="trailing-dash"),
        pytest.param(
            ROW.replace('"A new token-part1 per authorization."', '"  "'),
            ["(TOK-2)", "summary"],
            id="blank-summary",
        ),
        pytest.param(
            ROW.replace('summary = "A new token-part1 per authorization."\n', ""),
            ["(TOK-2)", "summary is missing"],
            id="missing-summary",
        ),
        pytest.param(ROW + 'levle = "MUST"\n', ["unknown fields ['levle']"], id="typo-field"),
        pytest.param(ROW.replace("8823", '"8823"'), ["rfc must be"], id="rfc-string"),
        pytest.param(ROW.replace('section = "3"', 'section = "§3"'), ["section"], id="section"),
        pytest.param(ROW + "testable = false\n", ["untestable_reason"], id="no-reason"),
        pytest.param(
            ROW + 'untestable_reason = "static"\n', ["untestable_reason"], id="reason-testable"
        ),
        pytest.param(
            ROW.replace('["server"]', '["server", "server"]'), ["twice"], id="repeated-bind"
        ),
        pytest.param("[[requirement]\n", ["not valid TOML"], id="bad-toml"),
        pytest.param('title = "x"\n', ["unexpected top-level keys"], id="no-rows"),
    ],
)
def test_malformed_catalog_is_rejected(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_empty_catalog_is_rejected() -> None:
    with pytest.raises(CatalogError, match="no \\[\\[requirement\\]\\] tables"):
        parse_catalog("")


def test_covers_returns_the_marker() -> None:
    mark = covers("RESP-DKIM-1", "RESP-DKIM-4")
    assert mark.name == "covers"
    assert mark.args == ("RESP-DKIM-1", "RESP-DKIM-4")


def test_covers_names_unknown_ids_with_a_suggestion() -> None:
    with pytest.raises(UnknownRequirementError) as caught:
        covers("RESP-DKIM-1", "RESP-DKIM-9", "NOTHING-LIKE-IT-77")
    assert isinstance(caught.value, ValueError)
    assert caught.value.unknown == ("RESP-DKIM-9", "NOTHING-LIKE-IT-77")
    message = str(caught.value)
    assert "'RESP-DKIM-9' (did you mean 'RESP-DKIM-" in message
    assert "'RESP-DKIM-1'" not in message


def test_covers_suggests_across_case() -> None:
    with pytest.raises(UnknownRequirementError, match="did you mean 'CHAL-AUTO-1'"):
        covers("chal-auto-1")


def test_covers_needs_an_id() -> None:
    with pytest.raises(ValueError, match="at least one"):
        covers()
