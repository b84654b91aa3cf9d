"""Test payloads survive the trip to the reporting process; anything else is ignored."""

import pytest

from rfc8823.findings import Finding, Verdict
from rfc8823.report.records import Payload, Target


def test_payload_round_trip() -> None:
    payload = Payload(
        covers=("TOK-2", "TOK-3"),
        target=Target("ref", "1.0"),
        findings=(Finding("TOK-2", Verdict.INFO, "o", "e", "d"),),
        unsupported="eai",
    )
    assert Payload.from_builtin(payload.to_builtin()) == payload


@pytest.mark.parametrize(
    "data",
    [
        None,
        "payload",
        {},
        {"covers": "TOK-2", "target": ["a", ""], "findings": [], "unsupported": ""},
        {"covers": [], "target": ["a"], "findings": [], "unsupported": ""},
        {
            "covers": [],
            "target": ["a", ""],
            "findings": [["TOK-2", "maybe", "", "", ""]],
            "unsupported": "",
        },
        {"covers": [], "target": ["a", ""], "findings": [["TOK-2"]], "unsupported": ""},
        {"covers": [], "target": ["a", ""], "findings": [], "unsupported": None},
    ],
)
def test_malformed_payload_is_none(data: object) -> None:
    assert Payload.from_builtin(data) is None


def test_target_label() -> None:
    assert Target("ref", "1.0").label == "ref 1.0"
    assert Target().label == "unknown"
