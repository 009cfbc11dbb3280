"""A strategy's settings: the keys it may set, their shapes, and `extends`
merged into one dict of settings per strategy."""

from __future__ import annotations

from kostyor_dsl.compiler.strategy_blocks import (
    check_budget,
    check_hosts,
    check_numbers,
    check_parameters,
    check_service,
    merge_block,
)
from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import DiagnosticSink, Label, error
from kostyor_dsl.language.suggest import did_you_mean

STRATEGY_KEYS = (
    "engine",
    "order",
    "driver",
    "pre-upgrade",
    "post-upgrade",
    "unknown-services",
    "hosts",
    "service",
    "budget",
    "project",
    "undrained-hypervisors",
)
# Keys that may appear once per distinct value (`hosts compute`, `hosts storage`).
REPEATABLE_KEYS = ("hosts", "service", "budget", "project")
# Of those, the blocks an extending strategy merges key by key; a budget is
# replaced whole (its one rule would otherwise meet the parent's).
MERGED_KEYS = ("hosts", "service", "project")
# `project NAME { pre-upgrade add { ... } }`: how a strategy changes a project's steps.
PROJECT_STEP_MODES = ("add", "replace")


def _extend(inherited: dict[str, ast.Setting], node: ast.Strategy) -> dict[str, ast.Setting]:
    """`node`'s settings over the inherited ones, key by key.  A `hosts` or `service`
    block with the selectors (service) of an inherited one is merged into it
    (strategy_blocks.merge_block) and keeps its place; anything else replaces
    the inherited setting of its key, or is added after them."""
    merged = dict(inherited)
    for setting in node.settings:
        if setting.key.value not in STRATEGY_KEYS:
            continue
        ident = setting_key(setting)
        old = merged.get(ident)
        if (
            setting.key.value in MERGED_KEYS
            and old is not None
            and old.block is not None
            and setting.block is not None
        ):
            merged[ident] = merge_block(old, setting)
        else:
            merged[ident] = setting
    return merged


def setting_key(setting: ast.Setting) -> str:
    """The identity of a setting for `extends` overrides and duplicate checks."""
    key = setting.key.value
    if key in REPEATABLE_KEYS:
        return key + " " + ",".join(v.raw for v in setting.values)
    return key


UNKNOWN_SERVICE_POLICIES = ("error", "warn")


def check_settings(node: ast.Strategy, sink: DiagnosticSink) -> None:
    check_numbers(node.settings, sink)
    seen: dict[str, ast.Setting] = {}
    for setting in node.settings:
        key = setting.key.value
        ident = setting_key(setting)
        if key not in STRATEGY_KEYS:
            sink.add(
                error(
                    "K023",
                    f"unknown setting '{key}' in strategy '{node.name.value}'",
                    setting.key.span,
                    hints=did_you_mean(key, STRATEGY_KEYS)
                    or ("strategy settings: " + ", ".join(STRATEGY_KEYS),),
                )
            )
            continue
        if ident in seen:
            sink.add(
                error(
                    "K025",
                    f"setting '{ident}' is given twice",
                    setting.key.span,
                    labels=(Label(seen[ident].key.span, "first given here"),),
                )
            )
            continue
        seen[ident] = setting
        _check_shape(setting, sink)


def _check_shape(setting: ast.Setting, sink: DiagnosticSink) -> None:
    key = setting.key.value
    span = setting.key.span
    n = len(setting.values)
    if key in ("engine", "order", "unknown-services", "undrained-hypervisors"):
        if n != 1 or setting.values[0].kind != "name" or setting.block is not None:
            sink.add(
                error(
                    "K025",
                    f"'{key}' takes exactly one name",
                    span,
                    hints=(f"write: {key} NAME",),
                )
            )
            return
        if key == "undrained-hypervisors" and setting.values[0].raw not in ("error", "allow"):
            sink.add(
                error(
                    "K025",
                    "undrained-hypervisors must be one of: error, allow",
                    setting.values[0].span,
                    hints=did_you_mean(setting.values[0].raw, ("error", "allow")),
                )
            )
        if key == "unknown-services" and setting.values[0].raw not in UNKNOWN_SERVICE_POLICIES:
            sink.add(
                error(
                    "K025",
                    f"unknown-services must be one of: {', '.join(UNKNOWN_SERVICE_POLICIES)}",
                    setting.values[0].span,
                    hints=did_you_mean(setting.values[0].raw, UNKNOWN_SERVICE_POLICIES),
                )
            )
    elif key == "driver":
        if n != 1 or setting.values[0].kind != "name":
            sink.add(
                error(
                    "K025",
                    "'driver' takes one name and an optional block of parameters",
                    span,
                    hints=('write: driver shell { command "..." }',),
                )
            )
            return
        check_parameters(setting.block, sink)
    elif key == "hosts":
        check_hosts(setting, sink)
    elif key == "service":
        check_service(setting, sink)
    elif key == "budget":
        check_budget(setting, sink)
    elif key == "project":
        _check_project(setting, sink)
    elif key in ("pre-upgrade", "post-upgrade"):
        if n or setting.block is None:
            sink.add(
                error(
                    "K025",
                    f"'{key}' takes a block of actions, one per line",
                    span,
                    hints=(f"write:\n{key} {{\n  backup-databases\n}}",),
                )
            )
            return
        for action in setting.block:
            if action.values:
                sink.add(
                    error(
                        "K025",
                        f"action '{action.key.value}' takes no value; give parameters in a block",
                        action.values[0].span,
                        hints=(f"write: {action.key.value} {{ timeout 10m }}",),
                    )
                )
            check_parameters(action.block, sink)


def _check_project(setting: ast.Setting, sink: DiagnosticSink) -> None:
    """`project NAME { pre-upgrade add|replace { ACTION ... } post-upgrade ... }`."""
    example = "write: project glance {\\n  pre-upgrade add {\\n    my-check\\n  }\\n}"
    if len(setting.values) != 1 or setting.values[0].kind != "name" or setting.block is None:
        sink.add(
            error(
                "K025",
                "'project' takes a project's name and a block",
                setting.key.span,
                hints=(example,),
            )
        )
        return
    for item in setting.block:
        key = item.key.value
        if key not in ("pre-upgrade", "post-upgrade"):
            sink.add(
                error(
                    "K023",
                    f"unknown setting '{key}' in a project block",
                    item.key.span,
                    hints=did_you_mean(key, ("pre-upgrade", "post-upgrade"))
                    or ("project settings: pre-upgrade, post-upgrade",),
                )
            )
            continue
        mode = item.values[0].raw if len(item.values) == 1 else None
        if mode not in PROJECT_STEP_MODES or item.block is None:
            sink.add(
                error(
                    "K074",
                    f"say how '{key}' changes the project's own steps: "
                    f"`{key} add {{ ... }}` or `{key} replace {{ ... }}`",
                    item.key.span,
                    hints=(
                        "add runs these after the project's steps; replace drops the "
                        "project's steps for these (an empty block drops them all)",
                    ),
                )
            )
            continue
        for action in item.block:
            if action.values or action.block is not None:
                sink.add(
                    error(
                        "K025",
                        f"project step '{action.key.value}' takes no value and no block",
                        action.key.span,
                    )
                )


def inherited_barriers(strategies) -> dict[str, tuple[ast.Barrier, ...]]:
    """Each strategy's barriers: those of what it extends, then its own."""
    out: dict[str, tuple[ast.Barrier, ...]] = {}
    for name, node in strategies.items():
        chain: list[ast.Strategy] = []
        seen: set[str] = set()
        current = node
        while current is not None and current.name.value not in seen:
            seen.add(current.name.value)
            chain.append(current)
            parent = current.extends.value if current.extends is not None else None
            current = strategies.get(parent) if parent is not None else None
        out[name] = tuple(b for member in reversed(chain) for b in member.barriers)
    return out


def merged_settings(strategies, sink: DiagnosticSink) -> dict[str, dict[str, ast.Setting] | None]:
    """Each strategy's settings with what it extends merged in (None when its
    chain of `extends` is broken).  Walked without recursion and once per
    strategy: a chain may be thousands of strategies long."""
    memo: dict[str, dict[str, ast.Setting] | None] = {}
    for name in strategies:
        chain: list[ast.Strategy] = []
        position: dict[str, int] = {}
        current = strategies[name]
        while True:
            cname = current.name.value
            if cname in memo:
                base = memo[cname]
                break
            if cname in position:
                _cycle(chain[position[cname] :], memo, sink)
                base = None
                break
            position[cname] = len(chain)
            chain.append(current)
            if current.extends is None:
                base = {}
                break
            parent = strategies.get(current.extends.value)
            if parent is None:
                sink.add(
                    error(
                        "K020",
                        f"strategy '{cname}' extends unknown strategy '{current.extends.value}'",
                        current.extends.span,
                        hints=did_you_mean(current.extends.value, strategies),
                    )
                )
                base = None
                break
            current = parent
        for node in reversed(chain):
            if node.name.value not in memo:
                base = None if base is None else _extend(base, node)
                memo[node.name.value] = base
            else:
                base = memo[node.name.value]
    return memo


def _cycle(members: list[ast.Strategy], memo, sink: DiagnosticSink) -> None:
    names = [m.name.value for m in members]
    for i, member in enumerate(members):
        ring = names[i:] + names[:i]
        sink.add(
            error(
                "K027",
                "strategies extend each other in a cycle: " + " -> ".join([*ring, ring[0]]),
                member.name.span,
            )
        )
        memo[member.name.value] = None
