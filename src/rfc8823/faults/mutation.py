"""Generated mutants of a Python module: one small change each, found and applied on source text.

The second line of self-validation (docs/verdicts.md#self-validation): the fault registry was
written from the same list as the tests, so a suite can be tuned to it; mutants are not. Each
mutant changes one expression or statement of the reference implementation:

- ``compare``: ``==``/``!=``, ``<``/``<=``, ``>``/``>=``, ``is``/``is not``, ``in``/``not in``;
- ``boolop``: ``and``/``or``;
- ``arith``: ``+``/``-``;
- ``if-true``, ``if-false``: the test of an ``if``, ``elif``, ``while`` or conditional
  expression replaced by a constant;
- ``not-removed``: ``not x`` becomes ``x``;
- ``number``: an int or float constant plus and minus one; ``bool``: ``True``/``False``;
- ``string-emptied``: a string constant without white space (an ID, a name, a status) becomes
  ``""``; prose (messages, details) is left alone, since no rule judges its wording;
- ``call-removed``: a statement that records a finding (``judge.add(...)``,
  ``findings.append(...)``) becomes ``pass``.

Left alone: docstrings, annotations and type forms (``Literal[...]``), f-string parts, logging
calls, and code that acts only
when a fault is switched on (a statement or ``if`` test naming an identifier that contains
``fault``, and functions so named; the ``else`` branch of such an ``if`` is mutated): the
registry's self-check judges that code, and without faults it cannot run.

The mutated text replaces exactly the source span of the node (parenthesised, with the span's
line count kept), so every other byte and every line number is the original's. A mutant's ID
is stable across unrelated edits: module, operator and a hash of the enclosing statement's
text, the node's text, the replacement and the occurrence among identical ones. Pure.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

OPERATORS = (
    "compare",
    "boolop",
    "arith",
    "if-true",
    "if-false",
    "not-removed",
    "number",
    "bool",
    "string-emptied",
    "call-removed",
)
"""Every mutation operator, in the order the docstring above describes them."""

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_ARITH_SWAPS: dict[type[ast.operator], type[ast.operator]] = {ast.Add: ast.Sub, ast.Sub: ast.Add}
_RECORDING_CALLS = (("judge", "add"), ("findings", "append"), ("findings", "extend"))
"""(receiver name contains, method): calls whose removal drops a finding."""
_LOGGERS = frozenset({"log", "logger", "_log", "_logger", "logging"})
_FAULT_MARK = "fault"
_TYPE_FORMS = frozenset({"Literal", "Callable", "Mapping", "Sequence", "Union", "Optional"})


class MutationError(ValueError):
    """A mutant that does not belong to this source (stale ID, edited file)."""


@dataclass(frozen=True)
class Mutant:
    """One change to one module: where, which operator, the text before and after."""

    module: str
    """The module's path as given (e.g. ``src/rfc8823/server/engine.py``)."""
    operator: str
    line: int
    """1-based first line of the changed span."""
    start: tuple[int, int]
    """(line, column) where the span starts; column in UTF-8 bytes as ``ast`` counts."""
    end: tuple[int, int]
    original: str
    """The span's source text."""
    replacement: str
    """What replaces it (line count padded to the original's)."""
    mutant_id: str
    module_level: bool
    """Whether the span runs at import (outside any function body)."""

    @property
    def location(self) -> str:
        """``module:line``."""
        return f"{self.module}:{self.line}"

    def describe(self) -> str:
        """One line: operator, location, before and after."""
        before = " ".join(self.original.split())
        after = " ".join(self.replacement.split())
        return f"{self.mutant_id} {self.operator} {self.location}: {before} -> {after}"


@dataclass(frozen=True)
class _Site:
    node: ast.AST
    operator: str
    replacement: str
    statement: ast.AST
    module_level: bool


def mutants(source: str, module: str) -> list[Mutant]:
    """Every mutant of ``source`` (the text of ``module``), in source order.

    ``SyntaxError`` when the source does not parse. A replacement that does not parse on its
    own is left out (none is expected; it guards the unparsing).
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found: list[Mutant] = []
    seen: dict[str, int] = {}
    for site in _sites(tree):
        original = _segment(lines, site.node)
        replacement = _padded(site.replacement, original, site.node)
        region = _region_text(lines, site.statement)
        key = "\n".join((module, site.operator, region, original, replacement))
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        digest = hashlib.sha256(f"{key}\n{occurrence}".encode()).hexdigest()[:12]
        mutant = Mutant(
            module=module,
            operator=site.operator,
            line=_line(site.node),
            start=(_line(site.node), _col(site.node)),
            end=(_end_line(site.node), _end_col(site.node)),
            original=original,
            replacement=replacement,
            mutant_id=f"{_stem(module)}/{site.operator}/{digest}",
            module_level=site.module_level,
        )
        if _parses(replacement, site.node):
            found.append(mutant)
    return found


def apply(source: str, mutant: Mutant) -> str:
    """``source`` with the mutant's span replaced; MutationError if the span's text differs."""
    lines = source.splitlines(keepends=True)
    (first, start_col), (last, end_col) = mutant.start, mutant.end
    if last > len(lines) or _span(lines, mutant.start, mutant.end) != mutant.original:
        raise MutationError(f"{mutant.mutant_id}: {mutant.location} no longer reads as expected")
    head = lines[first - 1].encode()[:start_col].decode()
    tail = lines[last - 1].encode()[end_col:].decode()
    return "".join([*lines[: first - 1], head, mutant.replacement, tail, *lines[last:]])


def diff(source: str, mutant: Mutant) -> str:
    """The unified diff (no context) of the changed lines, headed ``module:line``."""
    mutated = apply(source, mutant)
    body = difflib.unified_diff(
        source.splitlines(keepends=True),
        mutated.splitlines(keepends=True),
        fromfile=f"a/{mutant.module}",
        tofile=f"b/{mutant.module}",
        n=0,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in body)


def _sites(tree: ast.Module) -> Iterator[_Site]:
    """Every mutation site of the module, statement by statement."""
    yield from _walk_body(tree.body, module_level=True)


def _walk_body(body: list[ast.stmt], *, module_level: bool) -> Iterator[_Site]:
    for statement in body:
        if not _is_docstring(statement):
            yield from _walk_statement(statement, module_level=module_level)


def _walk_statement(statement: ast.stmt, *, module_level: bool) -> Iterator[_Site]:
    """Sites of one statement and, for a compound one, of the statements it holds."""
    walk = _walk_body
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
        if _FAULT_MARK not in statement.name.lower():
            yield from walk(statement.body, module_level=False)
    elif isinstance(statement, ast.ClassDef):
        yield from walk(statement.body, module_level=module_level)
    elif isinstance(statement, ast.If | ast.While | ast.For | ast.AsyncFor):
        yield from _walk_branching(statement, module_level=module_level)
    elif isinstance(statement, ast.With | ast.AsyncWith):
        for item in statement.items:
            yield from _expression_sites(item.context_expr, statement, module_level)
        yield from walk(statement.body, module_level=module_level)
    elif isinstance(statement, ast.Try):
        for block in (statement.body, *(h.body for h in statement.handlers)):
            yield from walk(block, module_level=module_level)
        yield from walk(statement.orelse, module_level=module_level)
        yield from walk(statement.finalbody, module_level=module_level)
    elif not (_mentions_fault(statement) or _is_logging(statement)):
        if _records_finding(statement):
            yield _Site(statement, "call-removed", "pass", statement, module_level)
        for child in _expression_children(statement):
            yield from _expression_sites(child, statement, module_level)


def _walk_branching(
    statement: ast.If | ast.While | ast.For | ast.AsyncFor, *, module_level: bool
) -> Iterator[_Site]:
    """Sites of a conditional or a loop: its test (or iterable) and body unless the test names
    a fault, then its ``else``."""
    if isinstance(statement, ast.If | ast.While):
        if not _mentions_fault(statement.test):
            yield from _condition_sites(statement.test, statement, module_level)
            yield from _expression_sites(statement.test, statement, module_level)
            yield from _walk_body(statement.body, module_level=module_level)
    elif not _mentions_fault(statement.iter):
        yield from _expression_sites(statement.iter, statement, module_level)
        yield from _walk_body(statement.body, module_level=module_level)
    yield from _walk_body(statement.orelse, module_level=module_level)


def _expression_children(statement: ast.stmt) -> Iterator[ast.expr]:
    """The expressions of a simple statement that run; annotations and targets left out."""
    value: ast.expr | None = None
    simple = ast.AnnAssign | ast.AugAssign | ast.Expr | ast.Return
    if isinstance(statement, simple) or (
        isinstance(statement, ast.Assign) and not _assigns_dunder(statement)
    ):
        value = statement.value
    elif isinstance(statement, ast.Assert):
        value = statement.test
    elif isinstance(statement, ast.Raise):
        value = statement.exc
    if value is not None:
        yield value


def _condition_sites(test: ast.expr, statement: ast.stmt, module_level: bool) -> Iterator[_Site]:
    yield _Site(test, "if-true", "True", statement, module_level)
    yield _Site(test, "if-false", "False", statement, module_level)


def _expression_sites(root: ast.expr, statement: ast.stmt, module_level: bool) -> Iterator[_Site]:
    """Sites inside one expression, in source order; nested lambdas and f-strings skipped."""
    for node in _expression_nodes(root):
        for operator, replacement in _node_mutations(node):
            yield _Site(node, operator, replacement, statement, module_level)
        if isinstance(node, ast.IfExp):
            yield from _condition_sites(node.test, statement, module_level)


def _expression_nodes(root: ast.expr) -> Iterator[ast.expr]:
    """``root`` and its sub-expressions, depth first, skipping f-strings, ``Literal[...]`` and
    the like (type forms), and the branches of a fault test."""
    stack: list[ast.AST] = [root]
    ordered: list[ast.expr] = []
    while stack:
        node = stack.pop()
        if (
            isinstance(node, ast.JoinedStr | ast.Lambda)
            or _is_type_form(node)
            or (isinstance(node, ast.IfExp) and _mentions_fault(node.test))
        ):
            if isinstance(node, ast.IfExp):
                stack.append(node.orelse)
            continue
        if isinstance(node, ast.expr):
            ordered.append(node)
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    ordered.sort(key=lambda n: (_line(n), _col(n)))
    return iter(ordered)


def _node_mutations(node: ast.expr) -> Iterator[tuple[str, str]]:
    """(operator, replacement text) for each mutation of this very node."""
    mutations: dict[type[ast.AST], Callable[[ast.expr], Iterator[tuple[str, str]]]] = {
        ast.Compare: _compare_mutations,
        ast.BoolOp: _boolop_mutations,
        ast.BinOp: _arith_mutations,
        ast.UnaryOp: _not_mutations,
        ast.Constant: _constant_mutations,
    }
    make = mutations.get(type(node))
    if make is not None:
        yield from make(node)


def _compare_mutations(node: ast.expr) -> Iterator[tuple[str, str]]:
    assert isinstance(node, ast.Compare)
    for index, op in enumerate(node.ops):
        swap = _COMPARE_SWAPS.get(type(op))
        if swap is not None:
            ops = [*node.ops[:index], swap(), *node.ops[index + 1 :]]
            yield "compare", _unparse(ast.Compare(node.left, ops, node.comparators))


def _boolop_mutations(node: ast.expr) -> Iterator[tuple[str, str]]:
    assert isinstance(node, ast.BoolOp)
    other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    yield "boolop", _unparse(ast.BoolOp(other, node.values))


def _arith_mutations(node: ast.expr) -> Iterator[tuple[str, str]]:
    assert isinstance(node, ast.BinOp)
    swap = _ARITH_SWAPS.get(type(node.op))
    if swap is not None and not _is_text(node.left) and not _is_text(node.right):
        yield "arith", _unparse(ast.BinOp(node.left, swap(), node.right))


def _not_mutations(node: ast.expr) -> Iterator[tuple[str, str]]:
    assert isinstance(node, ast.UnaryOp)
    if isinstance(node.op, ast.Not):
        yield "not-removed", _unparse(node.operand)


def _constant_mutations(node: ast.expr) -> Iterator[tuple[str, str]]:
    assert isinstance(node, ast.Constant)
    value = node.value
    if isinstance(value, bool):
        yield "bool", repr(not value)
    elif isinstance(value, int | float):
        yield "number", repr(value + 1)
        yield "number", repr(value - 1)
    elif isinstance(value, str) and value and not any(c.isspace() for c in value):
        yield "string-emptied", '""'


def _is_text(node: ast.expr) -> bool:
    """A string operand: ``+`` joins text there, and ``-`` would only raise TypeError."""
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)
    )


def _mentions_fault(node: ast.AST) -> bool:
    """Whether the code names an identifier containing ``fault`` (fault-only code)."""
    for child in ast.walk(node):
        name = (
            child.id
            if isinstance(child, ast.Name)
            else child.attr
            if isinstance(child, ast.Attribute)
            else None
        )
        if name is not None and _FAULT_MARK in name.lower():
            return True
    return False


def _is_type_form(node: ast.AST) -> bool:
    """``Literal[...]``, ``Callable[...]``: a subscript of a typing name, no run-time value."""
    if not isinstance(node, ast.Subscript):
        return False
    name = node.value.attr if isinstance(node.value, ast.Attribute) else None
    if isinstance(node.value, ast.Name):
        name = node.value.id
    return name in _TYPE_FORMS


def _is_logging(statement: ast.stmt) -> bool:
    """``log.info(...)`` and the like: wording for the operator, not behaviour."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return False
    func = statement.value.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in _LOGGERS
    )


def _records_finding(statement: ast.stmt) -> bool:
    """``judge.add(...)``, ``findings.append(...)``: a statement that records a finding."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return False
    func = statement.value.func
    if not isinstance(func, ast.Attribute):
        return False
    receiver = func.value
    name = (
        receiver.id
        if isinstance(receiver, ast.Name)
        else receiver.attr
        if isinstance(receiver, ast.Attribute)
        else ""
    )
    return any(part in name.lower() and func.attr == method for part, method in _RECORDING_CALLS)


def _is_docstring(statement: ast.stmt) -> bool:
    """A bare string statement: a docstring, or an attribute's docstring after it."""
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _assigns_dunder(statement: ast.Assign) -> bool:
    """``__all__ = ...`` and the like: module metadata, not behaviour."""
    return any(
        isinstance(t, ast.Name) and t.id.startswith("__") and t.id.endswith("__")
        for t in statement.targets
    )


def _unparse(node: ast.AST) -> str:
    return ast.unparse(ast.fix_missing_locations(node))


def _padded(replacement: str, original: str, node: ast.AST) -> str:
    """The replacement in parentheses (an expression) with the original's line count kept."""
    extra = "\n" * original.count("\n")
    if isinstance(node, ast.stmt):
        indent = " " * _col(node)
        return replacement + "".join(f"\n{indent}" for _ in range(original.count("\n")))
    return f"({replacement}{extra})"


def _region_text(lines: list[str], statement: ast.AST) -> str:
    """The text identifying a site's place: its simple statement, or its compound's test."""
    anchor = statement.test if isinstance(statement, ast.If | ast.While) else statement
    if isinstance(statement, ast.For | ast.AsyncFor):
        anchor = statement.iter
    if isinstance(statement, ast.With | ast.AsyncWith):
        anchor = statement.items[0].context_expr
    return " ".join(_segment(lines, anchor).split())


def _segment(lines: list[str], node: ast.AST) -> str:
    return _span(lines, (_line(node), _col(node)), (_end_line(node), _end_col(node)))


def _span(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    """The source text between two (line, UTF-8 byte column) positions."""
    (first, start_col), (last, end_col) = start, end
    if first == last:
        return lines[first - 1].encode()[start_col:end_col].decode()
    head = lines[first - 1].encode()[start_col:].decode()
    tail = lines[last - 1].encode()[:end_col].decode()
    return "".join([head, *lines[first : last - 1], tail])


def _line(node: ast.AST) -> int:
    return int(getattr(node, "lineno", 0))


def _col(node: ast.AST) -> int:
    return int(getattr(node, "col_offset", 0))


def _end_line(node: ast.AST) -> int:
    return int(getattr(node, "end_lineno", 0) or _line(node))


def _end_col(node: ast.AST) -> int:
    return int(getattr(node, "end_col_offset", 0) or 0)


def _stem(module: str) -> str:
    """``src/rfc8823/server/engine.py`` -> ``server.engine`` (the ID's readable part)."""
    path = module.removesuffix(".py").replace("\\", "/")
    parts = path.split("/")
    if "rfc8823" in parts:
        parts = parts[len(parts) - parts[::-1].index("rfc8823") :]
    return ".".join(parts)


def _parses(replacement: str, node: ast.AST) -> bool:
    """Whether the replacement stands on its own: a statement, or an expression."""
    try:
        ast.parse(replacement.strip(), mode="exec" if isinstance(node, ast.stmt) else "eval")
    except SyntaxError:
        return False
    return True
