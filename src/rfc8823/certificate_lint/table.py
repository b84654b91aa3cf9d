"""The data table from pkilint finding codes to catalog rows (``rows.toml``), read and checked.

Which row a code speaks to, which rows each linter judges, and which findings only the test
world causes (declared once, reported INFO with the reason).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal, cast

from rfc8823.requirements import load_catalog

Linter = Literal["pkix", "smime-br"]
LINTERS: tuple[Linter, ...] = ("pkix", "smime-br")


@dataclass(frozen=True)
class Exemption:
    """A finding the test environment alone causes: its code, a message pattern, the reason."""

    code: str
    message: re.Pattern[str]
    reason: str


@dataclass(frozen=True)
class LintTable:
    """Codes to rows, the rows each linter judges, and the test-environment exemptions."""

    exact: Mapping[str, str]
    prefixes: tuple[tuple[str, str], ...]
    """(code prefix, row) pairs, longest prefix first."""
    judged: Mapping[Linter, tuple[str, ...]]
    owners: tuple[tuple[str, Linter], ...]
    """(code prefix, linter) pairs: which linter a code belongs to."""
    fallbacks: Mapping[Linter, str]
    exemptions: tuple[Exemption, ...]

    def row_for(self, code: str) -> str | None:
        """The row a code is judged on; None for a code the table does not list."""
        if code in self.exact:
            return self.exact[code]
        return next((row for prefix, row in self.prefixes if code.startswith(prefix)), None)

    def linter_of(self, code: str) -> Linter:
        """The linter a code belongs to by its prefix (the S/MIME BR linter for any other)."""
        owners = (linter for prefix, linter in self.owners if code.startswith(prefix))
        return next(owners, "smime-br")

    def fallback_for(self, code: str) -> str:
        """The row that shows an unlisted code as INFO."""
        return self.fallbacks[self.linter_of(code)]

    def exemption(self, code: str, message: str) -> Exemption | None:
        """The declared test-environment exemption that covers this finding, if any."""
        return next(
            (e for e in self.exemptions if e.code == code and e.message.search(message)), None
        )


@cache
def lint_table() -> LintTable:
    """The packaged table (checked against the catalog once)."""
    text = resources.files(__name__.rpartition(".")[0]).joinpath("rows.toml").read_text("utf-8")
    return parse_lint_table(text)


def parse_lint_table(text: str) -> LintTable:
    """A table from ``rows.toml`` text; ValueError naming the entry that is malformed."""
    data = tomllib.loads(text)
    catalog = load_catalog()
    linters = _table(data, "linters")
    if set(linters) != set(LINTERS):
        raise ValueError(f"[linters] must name exactly {LINTERS}, not {sorted(linters)}")
    owners: list[tuple[str, Linter]] = []
    fallbacks: dict[Linter, str] = {}
    for name in LINTERS:
        entry = _table(linters, name)
        owners += [(prefix, name) for prefix in _strings(entry, "prefixes", f"[linters.{name}]")]
        fallbacks[name] = str(entry.get("fallback", ""))
    exact: dict[str, str] = {}
    prefixes: list[tuple[str, str]] = []
    judged: dict[Linter, list[str]] = {name: [] for name in LINTERS}
    for number, row in enumerate(data.get("row", []), 1):
        where = f"row #{number}"
        rid, linter = row.get("id"), row.get("linter")
        if linter not in LINTERS:
            raise ValueError(f"{where}: linter must be one of {LINTERS}, not {linter!r}")
        judged[cast(Linter, linter)].append(str(rid))
        for code in _strings(row, "codes", where):
            if code.endswith("*"):
                prefixes.append((code[:-1], str(rid)))
            elif exact.setdefault(code, str(rid)) != rid:
                raise ValueError(f"{where}: code {code!r} is listed on {exact[code]} already")
    catalog.check_ids([*fallbacks.values(), *(rid for rows in judged.values() for rid in rows)])
    exemptions = tuple(
        Exemption(str(e["code"]), re.compile(str(e["message"])), " ".join(str(e["reason"]).split()))
        for e in data.get("environment", [])
    )
    return LintTable(
        exact=exact,
        prefixes=tuple(sorted(prefixes, key=lambda pair: -len(pair[0]))),
        judged={name: tuple(rows) for name, rows in judged.items()},
        owners=tuple(owners),
        fallbacks=fallbacks,
        exemptions=exemptions,
    )


def _table(data: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ValueError(f"[{key}] must be a table")
    return cast(Mapping[str, object], value)


def _strings(data: Mapping[str, object], key: str, where: str) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: {key} must be a non-empty list of strings")
    return cast(list[str], value)
