"""``python -m benchmarks --quick`` against the reference CA alone: the machinery runs end to end
(a CA process, real enrollments, the per-stage costs, the inspectors) and writes a JSON document
and a Markdown table whose figures add up; the suite runs and acme2certifier are left out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 300


def _quick_run(out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--servers", "reference", f"--out={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    document: dict[str, Any] = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    return document


def test_quick_bench_on_the_reference_ca(tmp_path: Path) -> None:
    document = _quick_run(tmp_path)
    assert document["schema"] == "rfc8823-bench/1"
    assert document["quick"] is True
    reference = document["enrollment"]["reference"]
    assert [level["concurrency"] for level in reference["levels"]] == [1, 8]
    for level in reference["levels"]:
        assert level["completed"] == level["attempted"], level["lost_reasons"]
        assert level["lost"] == level["stuck"] == 0
        assert 0 < level["median_ms"] <= level["p95_ms"]
        assert level["memory"]["peak_rss_mib"] > 0
        assert len(level["load"]["before"]) == len(level["load"]["after"]) == 3
    assert set(document["stages"]["median_ms"]) == set(document["stages"]["per_flow"])
    versus = document["flow_vs_costs"]
    assert versus["parts"]["sum"] == round(
        sum(value for name, value in versus["parts"].items() if name != "sum"), 3
    )
    assert document["suites"] == {"skipped": "a quick run leaves out the suite runs"}
    assert document["inspectors"]["challenge"]["messages_per_s"] > 0
    goals = {goal["id"]: goal for goal in document["goals"]}
    assert goals["throughput-ratio-c1"]["met"] is None  # acme2certifier was not run
    assert goals["reference-median-c1"]["met"] is not None
    table = (tmp_path / "bench.md").read_text(encoding="utf-8")
    assert "| rfc8823-reference-ca" in table
    assert "## Goals" in table
