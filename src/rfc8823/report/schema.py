"""The report's JSON Schema (``schema.json``) and a small validator for the keywords it uses.

The validator understands the subset of JSON Schema 2020-12 that ``schema.json`` is written in
(type, const, enum, required, properties, additionalProperties, items, minItems, minimum,
minLength, pattern, local ``$ref``); a schema using anything else is refused, so the file and the
validator cannot drift apart silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import cast

from rfc8823.report.document import ReportDocument

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description"})
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


class SchemaError(ValueError):
    """The schema itself uses a keyword or form the validator does not implement."""


class ReportFileError(ValueError):
    """A report file that cannot be read, is not JSON, or does not match the schema."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = "; ".join(problems[:5]) + ("; …" if len(problems) > 5 else "")
        super().__init__(f"{path}: {shown}")


@cache
def report_schema() -> Mapping[str, object]:
    """The packaged ``schema.json``."""
    text = resources.files("rfc8823.report").joinpath("schema.json").read_text(encoding="utf-8")
    return cast(Mapping[str, object], json.loads(text))


def validate(instance: object, schema: Mapping[str, object]) -> list[str]:
    """Problems of ``instance`` against ``schema``, each as ``/json/pointer: what``; [] if valid."""
    validator = _Validator(schema)
    validator.check(instance, schema, "")
    return validator.problems


def validate_report(document: object) -> list[str]:
    """Problems of a report document against the packaged schema; [] if valid."""
    return validate(document, report_schema())


def load_report(path: Path) -> ReportDocument:
    """Read and validate a report JSON file; ReportFileError says why it is unusable."""
    try:
        data: object = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportFileError(path, [str(exc)]) from exc
    problems = validate_report(data)
    if problems:
        raise ReportFileError(path, problems)
    return cast(ReportDocument, data)


class _Validator:
    """One validation pass: the root schema (for ``$ref``) and the problems found so far."""

    def __init__(self, root: Mapping[str, object]) -> None:
        self.root = root
        self.problems: list[str] = []

    def check(self, value: object, node: Mapping[str, object], where: str) -> None:
        unknown = sorted(set(node) - _KEYWORDS - _ANNOTATIONS)
        if unknown:
            raise SchemaError(f"unsupported schema keyword(s) {unknown} at {where or '/'}")
        if "$ref" in node:
            self.check(value, self._resolve(node["$ref"]), where)
        if "type" in node:
            self._type(value, node["type"], where)
        if "const" in node and not _same(value, node["const"]):
            self.problems.append(f"{where or '/'}: expected {node['const']!r}, got {value!r}")
        if "enum" in node and not any(_same(value, option) for option in _list(node["enum"])):
            self.problems.append(f"{where or '/'}: {value!r} is not one of {node['enum']!r}")
        if isinstance(value, dict):
            self._object(value, node, where)
        elif isinstance(value, list):
            self._array(value, node, where)
        elif isinstance(value, str):
            if len(value) < _number(node.get("minLength", 0)):
                self.problems.append(f"{where or '/'}: shorter than {node['minLength']} characters")
            pattern = node.get("pattern")
            if isinstance(pattern, str) and re.search(pattern, value) is None:
                self.problems.append(f"{where or '/'}: {value!r} does not match {pattern!r}")
        elif (
            _is_type(value, "number")
            and "minimum" in node
            and cast(float, value) < _number(node["minimum"])
        ):
            self.problems.append(f"{where or '/'}: {value} is below {node['minimum']}")

    def _resolve(self, ref: object) -> Mapping[str, object]:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise SchemaError(f"only local $ref is supported, got {ref!r}")
        target: object = self.root
        for part in ref[2:].split("/"):
            if not isinstance(target, Mapping) or part not in target:
                raise SchemaError(f"$ref {ref!r} does not resolve")
            target = target[part]
        return _schema(target)

    def _type(self, value: object, rule: object, where: str) -> None:
        names = _list(rule) if isinstance(rule, list) else [rule]
        if not all(isinstance(name, str) and name in _TYPES for name in names):
            raise SchemaError(f"bad type {rule!r}")
        if not any(_is_type(value, str(name)) for name in names):
            wanted = " or ".join(str(name) for name in names)
            self.problems.append(f"{where or '/'}: expected {wanted}, got {_json_type(value)}")

    def _object(self, value: dict[object, object], node: Mapping[str, object], where: str) -> None:
        properties = _schema(node.get("properties", {}))
        for key in _list(node.get("required", [])):
            if key not in value:
                self.problems.append(f"{where}/{key}: missing")
        for key, sub in properties.items():
            if key in value:
                self.check(value[key], _schema(sub), f"{where}/{key}")
        if node.get("additionalProperties", True) is False:
            for key in value:
                if key not in properties:
                    self.problems.append(f"{where}/{key}: unexpected property")

    def _array(self, value: list[object], node: Mapping[str, object], where: str) -> None:
        if len(value) < _number(node.get("minItems", 0)):
            self.problems.append(f"{where or '/'}: fewer than {node['minItems']} items")
        if "items" in node:
            items = _schema(node["items"])
            for index, element in enumerate(value):
                self.check(element, items, f"{where}/{index}")


_KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "const",
        "enum",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "minItems",
        "minimum",
        "minLength",
        "pattern",
    }
)


def _is_type(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return name == "boolean"
    return isinstance(value, _TYPES[name])


def _same(value: object, expected: object) -> bool:
    return value == expected and _json_type(value) == _json_type(expected)


def _json_type(value: object) -> str:
    return next((name for name in _TYPES if _is_type(value, name)), type(value).__name__)


def _schema(node: object) -> Mapping[str, object]:
    if not isinstance(node, Mapping) or not all(isinstance(key, str) for key in node):
        raise SchemaError(f"expected a schema object, got {node!r}")
    return cast(Mapping[str, object], node)


def _list(rule: object) -> list[object]:
    if not isinstance(rule, list):
        raise SchemaError(f"expected a list, got {rule!r}")
    return rule


def _number(rule: object) -> float:
    if not isinstance(rule, int | float) or isinstance(rule, bool):
        raise SchemaError(f"expected a number, got {rule!r}")
    return rule
