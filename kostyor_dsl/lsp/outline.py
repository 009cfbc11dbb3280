"""Document symbols: orders with their projects and services, strategies with their blocks."""

from __future__ import annotations

from collections.abc import Callable

from lsprotocol import types

from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import Span

RangeOf = Callable[[Span], types.Range]


def document_symbols(tree: ast.SpecFile, range_of: RangeOf) -> list[types.DocumentSymbol]:
    out = []
    for item in tree.items:
        if isinstance(item, ast.Order):
            projects = [
                _symbol(
                    range_of,
                    p.name,
                    types.SymbolKind.Package,
                    "project",
                    [_service(range_of, s) for s in p.services],
                )
                for p in item.projects
            ]
            out.append(_symbol(range_of, item.name, types.SymbolKind.Namespace, "order", projects))
        elif isinstance(item, ast.Strategy):
            blocks = [
                _symbol(
                    range_of,
                    s.key,
                    types.SymbolKind.Struct,
                    ", ".join(v.raw for v in s.values),
                    [],
                    label=f"{s.key.value} {', '.join(v.raw for v in s.values)}".strip(),
                )
                for s in item.settings
                if s.block is not None
            ]
            detail = ("default " if item.is_default else "") + "strategy"
            if item.extends is not None:
                detail += f" extends {item.extends.value}"
            out.append(_symbol(range_of, item.name, types.SymbolKind.Class, detail, blocks))
    return out


def _service(range_of, service: ast.Service) -> types.DocumentSymbol:
    roles = "on " + ", ".join(r.value for r in service.roles)
    return _symbol(range_of, service.name, types.SymbolKind.Field, roles, [])


def _symbol(range_of, name: ast.Name, kind, detail: str, children, label: str | None = None):
    selection = range_of(name.span)
    whole = selection
    for child in children:  # the range holds the children's
        if (child.range.end.line, child.range.end.character) > (
            whole.end.line,
            whole.end.character,
        ):
            whole = types.Range(whole.start, child.range.end)
    return types.DocumentSymbol(
        name=label or name.value,
        kind=kind,
        range=whole,
        selection_range=selection,
        detail=detail or None,
        children=children or None,
    )
