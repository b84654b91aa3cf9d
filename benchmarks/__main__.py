"""``python -m benchmarks`` (``make bench``): every benchmark in one run, side by side.

Writes ``reports/bench.json`` (schema ``rfc8823-bench/1``) and ``reports/bench.md``:

- full enrollments at concurrency 1, 8 and 32 against the reference CA (``rfc8823 serve``, a
  process of its own), acme2certifier and pebble, through the same client code;
- the reference CA's unavoidable per-enrollment costs, each alone, against its flow time;
- ``pytest suites/`` serial and with ``-n 2``;
- the inspectors' throughput on the pure path;
- each performance goal (docs/performance.md) with its measured value and whether it was met.

``--quick`` (or ``RFC8823_BENCH_QUICK=1``) is a smoke run of a few seconds per part that
leaves out the suite runs. Benchmarks never fail: the exit status is 0 whatever the figures,
2 for a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import bench_challenge, bench_enrollment, bench_response, bench_stages, bench_suites
from benchmarks.goals import evaluate
from benchmarks.measure import machine
from benchmarks.report import markdown
from rfc8823.world.world import World

PARTS = ("enrollment", "stages", "suites", "inspectors")
QUICK_ENV = "RFC8823_BENCH_QUICK"
SCHEMA = "rfc8823-bench/1"
_AIOSMTPD_LOG = "mail.log"
"""aiosmtpd's logger: it warns on every AUTH that a field it sets itself is deprecated."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get(QUICK_ENV, "") not in ("", "0"),
        help=f"a short smoke run (also {QUICK_ENV}=1): few enrollments, no suite runs",
    )
    parser.add_argument(
        "--servers",
        default=",".join(bench_enrollment.SERVERS),
        help="servers to enroll against, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="run only this part (repeatable; default: every part)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("reports"), help="folder for bench.json and bench.md"
    )
    return parser


def _flow_vs_costs(document: dict[str, Any]) -> dict[str, Any] | None:
    """The reference CA's median flow at concurrency 1 beside the sum of its unavoidable costs."""
    reference = document.get("enrollment", {}).get("reference", {})
    level = next((lv for lv in reference.get("levels", ()) if lv["concurrency"] == 1), None)
    costs = document.get("stages")
    if level is None or costs is None or level["median_ms"] is None:
        return None
    posts = level["jws_posts_per_enrollment"]
    parts = bench_stages.flow_sum(costs, posts)
    return {
        "posts": posts,
        "parts": parts,
        "flow_median_ms": level["median_ms"],
        "ratio": round(level["median_ms"] / parts["sum"], 2),
        "server_cpu_ms_per_enrollment": level["server_cpu_ms_per_completed"],
    }


def run(parts: Sequence[str], servers: Sequence[str], quick: bool, work: Path) -> dict[str, Any]:
    """Run the chosen parts and return the document (goals judged, nothing written)."""
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "quick": quick,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    if "enrollment" in parts:
        plan = bench_enrollment.QUICK if quick else bench_enrollment.FULL
        document["enrollment"] = asyncio.run(bench_enrollment.measure(servers, plan, work))
    if "stages" in parts:
        with World() as world:
            document["stages"] = bench_stages.measure(world, 10 if quick else 100)
        print(f"stages: {document['stages']['median_ms']}", flush=True)
    if "suites" in parts:
        skipped = {"skipped": "a quick run leaves out the suite runs"}
        document["suites"] = skipped if quick else bench_suites.measure()
        print(f"suites: {document['suites']}", flush=True)
    if "inspectors" in parts:
        messages = 200 if quick else 2000
        document["inspectors"] = {
            "challenge": bench_challenge.measure(messages),
            "response": bench_response.measure(messages),
        }
        print(f"inspectors: {document['inspectors']}", flush=True)
    versus = _flow_vs_costs(document)
    if versus is not None:
        document["flow_vs_costs"] = versus
    document["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    document["goals"] = evaluate(document)
    return document


def main(argv: Sequence[str] | None = None) -> int:
    """Run, write ``bench.json`` and ``bench.md`` into ``--out``, print the Markdown."""
    args = _parser().parse_args(argv)
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = sorted(set(servers) - set(bench_enrollment.SERVERS))
    if unknown:
        print(f"unknown servers {unknown}; known: {bench_enrollment.SERVERS}", file=sys.stderr)
        return 2
    logging.getLogger(_AIOSMTPD_LOG).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="rfc8823-bench-") as work:
        document = run(args.only or PARTS, servers, args.quick, Path(work))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    text = markdown(document)
    (args.out / "bench.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
