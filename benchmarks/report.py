"""The benchmark document as Markdown: ``reports/bench.md`` (docs/performance.md quotes it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["markdown"]


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


def _load(load: Mapping[str, Sequence[float]] | None) -> str:
    """The 1-minute load average before and after, ``7.5→8.1``."""
    if not load:
        return "–"
    before, after = load.get("before") or [], load.get("after") or []
    if not before:
        return "–"
    return f"{before[0]:.1f}→{after[0]:.1f}" if after else f"{before[0]:.1f}"


def _enrollment(enrollment: Mapping[str, Any]) -> list[str]:
    lines = [
        "## Full enrollments",
        "",
        "Same client code for every server; the reference CA and acme2certifier with email "
        "identifiers and real mail (SMTP both ways, DKIM-signed replies, the world's DNS), "
        "pebble with dns identifiers and no mail (RFC 8555 alone). Durations per enrollment; "
        "throughput = completed / wall time; server CPU = the server process's CPU time over "
        "the level / completed enrollments (load-independent); peak RSS = the server process's "
        "high-water mark so far.",
        "",
    ]
    rows = []
    for server in enrollment.values():
        if "unavailable" in server:
            rows.append([server["name"], "–", "–", "unavailable: " + server["unavailable"]])
            continue
        for level in server["levels"]:
            memory = level.get("memory") or {}
            rows.append(
                [
                    f"{server['name']} {server['version']}".strip(),
                    server["identifier"],
                    level["concurrency"],
                    f"{level['completed']}/{level['attempted']}",
                    level["lost"],
                    level["stuck"],
                    level["median_ms"],
                    level["p95_ms"],
                    level["throughput_per_s"],
                    level.get("server_cpu_ms_per_completed"),
                    memory.get("peak_rss_mib"),
                    _load(level["load"]),
                ]
            )
    lines += _table(
        [
            "server",
            "identifier",
            "concurrency",
            "done",
            "lost",
            "stuck",
            "median ms",
            "p95 ms",
            "per s",
            "server CPU ms each",
            "peak RSS MiB",
            "load 1 min",
        ],
        rows,
    )
    for server in enrollment.values():
        reasons = [
            (level["concurrency"], kind, reason, count)
            for level in server.get("levels", ())
            for kind in ("lost", "stuck")
            for reason, count in level[f"{kind}_reasons"].items()
        ]
        if server.get("notes") or reasons:
            lines.append(f"**{server['name']}**:")
            lines += [f"- {note}" for note in server.get("notes", ())]
            lines += [f"- concurrency {c}: {n} {kind} — {why}" for c, kind, why, n in reasons]
            lines.append("")
    return lines


def _stages(document: Mapping[str, Any]) -> list[str]:
    first: dict[str, Mapping[str, float]] = {}
    for name, server in document.get("enrollment", {}).items():
        level = next((lv for lv in server.get("levels", ()) if lv["concurrency"] == 1), None)
        if level is not None:
            first[name] = level["stage_median_ms"]
    lines: list[str] = []
    if first:
        stages = list(dict.fromkeys(stage for medians in first.values() for stage in medians))
        lines += [
            "## Where a flow's time goes (concurrency 1, client side, median ms)",
            "",
            *_table(
                ["stage", *first],
                ([stage, *(medians.get(stage) for medians in first.values())] for stage in stages),
            ),
        ]
    costs = document.get("stages")
    versus = document.get("flow_vs_costs")
    if costs:
        lines += [
            "## The reference CA's unavoidable costs, each alone (median ms)",
            "",
            *_table(
                ["cost", "median ms", "per flow", "ms per flow"],
                (
                    [
                        name,
                        costs["median_ms"][name],
                        times,
                        (versus or {}).get("parts", {}).get(name),
                    ]
                    for name, times in costs["per_flow"].items()
                ),
            ),
        ]
    if versus:
        lines += [
            f"Sum of the unavoidable costs of one flow ({versus['posts']} signed requests): "
            f"**{versus['parts']['sum']:.1f} ms**; the reference CA's median flow at concurrency "
            f"1: **{versus['flow_median_ms']:.1f} ms** ({versus['ratio']:.1f}x the sum), of "
            f"which the CA process spent {_cell(versus['server_cpu_ms_per_enrollment'])} ms "
            f"of CPU time. Load {_load(costs['load'] if costs else None)}.",
            "",
        ]
    return lines


def _suites(suites: Mapping[str, Any]) -> list[str]:
    if not suites:
        return []
    if "skipped" in suites:
        return ["## pytest suites/", "", f"Not run: {suites['skipped']}.", ""]
    rows = [
        [
            run["command"],
            run["wall_s"],
            run.get("cpu_s"),
            run["exit_status"],
            run["summary"],
            _load(run["load"]),
        ]
        for run in (suites["serial"], suites["parallel_2"])
    ]
    return [
        "## pytest suites/ (both roles, reference targets)",
        "",
        *_table(["command", "wall s", "CPU s", "exit", "pytest summary", "load 1 min"], rows),
        f"-n 2 is {_cell(suites['speedup'])}x the serial speed.",
        "",
    ]


def _inspectors(inspectors: Mapping[str, Any]) -> list[str]:
    if not inspectors:
        return []
    rows = [
        [
            f"inspect_{name}",
            f["messages"],
            f["messages_per_s"],
            f.get("messages_per_cpu_s"),
            _load(f["load"]),
        ]
        for name, f in inspectors.items()
    ]
    header = ["inspector", "messages", "messages/s", "per CPU-second", "load 1 min"]
    return [
        "## Inspectors (pure path, authentication precomputed)",
        "",
        *_table(header, rows),
    ]


def _goals(goals: Sequence[Mapping[str, Any]]) -> list[str]:
    verdict = {True: "met", False: "**not met**", None: "not measured"}
    rows = [
        [
            g["goal"],
            f"{_cell(g['measured'])} {g['unit']}",
            verdict[g["met"]],
            g.get("note"),
            _load(g["load"]),
        ]
        for g in goals
    ]
    return ["## Goals", "", *_table(["goal", "measured", "", "beside it", "load 1 min"], rows)]


def markdown(document: Mapping[str, Any]) -> str:
    """The whole document as Markdown, goals first."""
    machine = document["machine"]
    lines = [
        f"# Benchmarks ({'quick smoke run' if document['quick'] else 'full run'})",
        "",
        f"{document['started_at']}; {machine['nproc']} cores ({machine['usable_cpus']} usable), "
        f"{machine['cpu_model']}, {machine['platform']}, Python {machine['python']}; load "
        f"average at the start {' / '.join(f'{v:.2f}' for v in machine['load'])} "
        "(1 / 5 / 15 min). The machine is shared: compare figures within this run only.",
        "",
        *_goals(document["goals"]),
        *_enrollment(document.get("enrollment", {})),
        *_stages(document),
        *_suites(document.get("suites", {})),
        *_inspectors(document.get("inspectors", {})),
    ]
    return "\n".join(lines).rstrip() + "\n"
