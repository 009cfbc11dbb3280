"""The names in a spec's AST and what they refer to: for editors' hover and go to definition.

`symbols(tree)` lists every name with its span and role (a definition, or a
reference to something defined elsewhere); `symbol_at` finds the one under a
cursor; `definition` finds where a referenced name is defined, following the
resolver's rules (the first definition wins, files in load order, a hook
block's service in its strategy's order).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from kostyor_dsl.compiler.model import Spec
from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import Span

# Setting keys of a strategy whose values or blocks name something.
_PHASES = ("pre-upgrade", "post-upgrade")
_HOOKS = ("before", "after")


@dataclass(frozen=True)
class Symbol:
    """A name in a spec file.

    kind: import, tier, action, order, project, service, strategy, setting,
    selector, engine, driver.  `scope` says where a setting key is (strategy,
    hosts, service); `container` is the enclosing order or strategy."""

    kind: str
    name: str
    span: Span
    is_definition: bool = False
    scope: str | None = None
    container: str | None = None
    project: str | None = None


def symbols(tree: ast.SpecFile) -> list[Symbol]:
    return list(_walk(tree))


def _walk(tree: ast.SpecFile) -> Iterator[Symbol]:
    for item in tree.items:
        if isinstance(item, ast.Import):
            yield Symbol("import", item.target, item.span)
        elif isinstance(item, ast.Tiers):
            for name in item.names:
                yield Symbol("tier", name.value, name.span, is_definition=True)
        elif isinstance(item, ast.Actions):
            for name in item.names:
                yield Symbol("action", name.value, name.span, is_definition=True)
        elif isinstance(item, ast.Order):
            yield from _order(item)
        elif isinstance(item, ast.Strategy):
            yield from _strategy(item)


def _order(order: ast.Order) -> Iterator[Symbol]:
    oname = order.name.value
    yield Symbol("order", oname, order.name.span, is_definition=True)
    for project in order.projects:
        pname = project.name.value
        yield Symbol("project", pname, project.name.span, True, container=oname)
        for service in project.services:
            yield Symbol("service", service.name.value, service.name.span, True, None, oname, pname)
            for role in service.roles:
                yield Symbol("tier", role.value, role.span, container=oname)


def _strategy(node: ast.Strategy) -> Iterator[Symbol]:
    sname = node.name.value
    yield Symbol("strategy", sname, node.name.span, is_definition=True)
    if node.extends is not None:
        yield Symbol("strategy", node.extends.value, node.extends.span, container=sname)
    for setting in node.settings:
        key = setting.key.value
        yield Symbol("setting", key, setting.key.span, scope="strategy", container=sname)
        values = setting.values
        if key in ("engine", "order", "driver") and values:
            yield Symbol(key, values[0].raw, values[0].span, container=sname)
        elif key in _PHASES:
            for action in setting.block or ():
                yield Symbol("action", action.key.value, action.key.span, container=sname)
        elif key == "hosts":
            for value in values:
                yield Symbol("selector", value.raw, value.span, container=sname)
            yield from _hooks(setting.block or (), "hosts", sname)
        elif key == "service":
            if len(values) == 1:
                yield Symbol("service", values[0].raw, values[0].span, container=sname)
            yield from _hooks(setting.block or (), "service", sname)


def _hooks(block: Iterable[ast.Setting], scope: str, strategy: str) -> Iterator[Symbol]:
    for item in block:
        yield Symbol("setting", item.key.value, item.key.span, scope=scope, container=strategy)
        if item.key.value in _HOOKS and len(item.values) == 1:
            value = item.values[0]
            yield Symbol("action", value.raw, value.span, container=strategy)


def symbol_at(tree: ast.SpecFile, line: int, column: int) -> Symbol | None:
    """The name at a 1-based position; a cursor just past a name's end counts as on it."""
    best = None
    for sym in _walk(tree):
        span = sym.span
        if span.line != line or not span.column <= column <= span.end_column:
            continue
        if column < span.end_column:
            return sym
        best = sym
    return best


def definition(trees: Iterable[ast.SpecFile], spec: Spec | None, symbol: Symbol) -> Span | None:
    """Where the thing a symbol names is defined (None: built in, or nowhere)."""
    if symbol.is_definition and symbol.kind not in ("service",):
        return symbol.span
    trees = list(trees)
    items = [item for tree in trees for item in tree.items]
    if symbol.kind == "strategy":
        return _first(s.name.span for s in items if isinstance(s, ast.Strategy) and _is(s, symbol))
    if symbol.kind == "order":
        return _first(o.name.span for o in items if isinstance(o, ast.Order) and _is(o, symbol))
    if symbol.kind == "action":
        return _first(
            n.span
            for a in items
            if isinstance(a, ast.Actions)
            for n in a.names
            if n.value == symbol.name
        )
    if symbol.kind == "selector" and "=" not in symbol.name:  # `hosts compute`: a tier
        symbol = Symbol("tier", symbol.name, symbol.span)
    if symbol.kind == "tier":
        for tree in trees:  # the root's declaration wins
            for tiers in (i for i in tree.items if isinstance(i, ast.Tiers)):
                return _first(n.span for n in tiers.names if n.value == symbol.name)
        return None
    if symbol.kind == "service":
        if symbol.is_definition:
            return symbol.span
        order = _order_of(spec, symbol.container)
        orders = [o for o in items if isinstance(o, ast.Order)]
        if order is not None:
            orders = [o for o in orders if o.name.value == order]
        return _first(
            s.name.span
            for o in orders
            for p in o.projects
            for s in p.services
            if s.name.value == symbol.name
        )
    return None


def _is(node, symbol: Symbol) -> bool:
    return node.name.value == symbol.name


def _first(spans: Iterable[Span]) -> Span | None:
    return next(iter(spans), None)


def _order_of(spec: Spec | None, strategy: str | None) -> str | None:
    """The order a strategy follows, as resolved; None when it is not known."""
    if spec is None or strategy is None:
        return None
    chosen = spec.strategies.get(strategy)
    return chosen.order if chosen is not None and chosen.order else None
