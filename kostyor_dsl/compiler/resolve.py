"""AST files -> the resolved Spec: names, references, and their checks.

The stages, in order: tiers and orders (resolve_orders), each strategy's
settings with `extends` merged (strategy_settings), the strategies built
(resolve_strategies, budgets and blocks by strategy_blocks), the default.

Every problem becomes a Diagnostic; all of them are collected before the
stage gives up.  Codes are listed in docs/diagnostics.md.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from kostyor_dsl.compiler.definitions import (
    declared_actions,
    default_strategy,
    first_definitions,
    irreversible_actions,
)
from kostyor_dsl.compiler.model import (
    SourceFile,
    Spec,
)
from kostyor_dsl.compiler.resolve_orders import resolve_orders, resolve_tiers
from kostyor_dsl.compiler.resolve_strategies import StrategyResolver
from kostyor_dsl.compiler.strategy_settings import (
    check_settings,
    inherited_barriers,
    merged_settings,
)
from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import Diagnostic, DiagnosticSink
from kostyor_dsl.language.imports import Loader, Unit, locate_spec


@dataclass(frozen=True)
class SpecCheck:
    """The outcome of resolving a spec: the model (None on errors), every diagnostic,
    and the source texts by display name (to render diagnostics with their lines)."""

    spec: Spec | None
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str]
    # For editors (kostyor_dsl.lsp.workspace): the files as loaded, root first,
    # and the model resolved so far even when there are errors.
    units: tuple[Unit, ...] = field(default=(), compare=False, repr=False)
    partial: Spec | None = field(default=None, compare=False, repr=False)


def check_spec(spec: str) -> SpecCheck:
    """Resolve a spec given as a path or a shipped spec's name."""
    key, text = locate_spec(spec)
    return resolve_text(key, text)


def resolve_text(key: tuple[str, str], text: str) -> SpecCheck:
    sink = DiagnosticSink()
    root_dir = os.path.dirname(key[1]) if key[0] == "file" else None
    loader = Loader(sink, root_dir)
    loader.load(key, text)
    units = [loader.units[k] for k in loader.order]
    spec = resolve_units(sink, units)
    diagnostics = tuple(_dedupe(sink.items))
    return SpecCheck(
        None if sink.has_errors else spec, diagnostics, loader.sources, tuple(units), spec
    )


def _dedupe(items: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in items:
        k = (d.code, d.span, d.message, d.subject)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out


def resolve_units(sink: DiagnosticSink, units: list[Unit]) -> Spec:
    """The loaded files (root first) as one resolved Spec; problems go to `sink`."""
    files = tuple(
        SourceFile(u.display, u.text, hashlib.sha256(u.text.encode("utf-8")).hexdigest())
        for u in units
    )
    trees = [u.tree for u in units if u.tree is not None]
    tiers = resolve_tiers(trees, sink)
    actions = declared_actions(trees)
    orders = resolve_orders(trees, tiers, actions, sink)
    strategies_ast = first_definitions(
        trees,
        ast.Strategy,
        "K015",
        "strategy",
        lambda name: f"to change an imported strategy: strategy my-{name} extends {name} {{ ... }}",
        sink,
    )
    for node in strategies_ast.values():
        check_settings(node, sink)
    merged = merged_settings(strategies_ast, sink)
    barriers = inherited_barriers(strategies_ast)
    resolver = StrategyResolver(sink, tiers, actions)
    strategies = {}
    for name, node in strategies_ast.items():
        if merged[name] is None:
            continue
        built = resolver.build(node, merged[name], orders, barriers.get(name, ()))
        if built is not None:
            strategies[name] = built
    default = default_strategy(trees, strategies_ast, sink)
    return Spec(files, tiers, orders, strategies, default, actions, irreversible_actions(trees))
