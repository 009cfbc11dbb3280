"""Top-level definitions across a spec's files: first definitions by name, the
declared actions, and the strategy compiled by default."""

from __future__ import annotations

from kostyor_dsl.compiler.model import BUILTIN_ACTIONS
from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import Diagnostic, DiagnosticSink, Label, Span, error
from kostyor_dsl.language.suggest import did_you_mean


def first_definitions(trees, kind, code: str, what: str, hint, sink: DiagnosticSink) -> dict:
    """Items of one kind by name, across all files; a second definition is an error."""
    found: dict = {}
    for tree in trees:
        for item in tree.items:
            if not isinstance(item, kind):
                continue
            name = item.name.value
            if name in found:
                sink.add(
                    error(
                        code,
                        f"{what} '{name}' is defined twice",
                        item.name.span,
                        labels=(Label(found[name].name.span, "first defined here"),),
                        hints=(hint(name),),
                    )
                )
                continue
            found[name] = item
    return found


# orders


def declared_actions(trees) -> tuple[str, ...]:
    names = list(BUILTIN_ACTIONS)
    for tree in trees:
        for item in tree.items:
            if isinstance(item, (ast.Actions, ast.Irreversible)):
                names.extend(n.value for n in item.names if n.value not in names)
    return tuple(names)


def irreversible_actions(trees) -> tuple[str, ...]:
    """`irreversible NAME, ...` lines: they also declare the actions they name."""
    names: dict[str, None] = {}
    for tree in trees:
        for item in tree.items:
            if isinstance(item, ast.Irreversible):
                names.update(dict.fromkeys(n.value for n in item.names))
    return tuple(names)


# tiers


def default_strategy(trees, strategies, sink: DiagnosticSink) -> str | None:
    levels = [
        [i for i in tree.items if isinstance(i, ast.Strategy) and i.is_default] for tree in trees
    ]
    root_defaults = levels[0] if levels else []
    for extra in root_defaults[1:]:
        sink.add(
            error(
                "K026",
                "more than one strategy is marked default",
                extra.name.span,
                labels=(Label(root_defaults[0].name.span, "also marked default here"),),
            )
        )
    if root_defaults:
        return root_defaults[0].name.value
    # A team spec's own strategy wins over an imported default: importing the
    # shipped order must not make its default silently the one compiled.
    root_strategies = [i for i in trees[0].items if isinstance(i, ast.Strategy)] if trees else []
    if len(root_strategies) == 1:
        return root_strategies[0].name.value
    if root_strategies:
        return None
    imported = [s for level in levels[1:] for s in level]
    if len(imported) == 1:
        return imported[0].name.value
    if not imported and len(strategies) == 1:
        return next(iter(strategies))
    return None


def unknown_action(name: str, span: Span, actions) -> Diagnostic:
    """K032: an action that is neither built in nor declared with `actions`."""
    return error(
        "K032",
        f"unknown action '{name}'",
        span,
        hints=(
            *did_you_mean(name, actions),
            f"a driver's own action: declare it with `actions {name}` at the top of the spec",
            "built-in actions: " + ", ".join(BUILTIN_ACTIONS),
        ),
    )
