"""Hover text (Markdown) for the name under the cursor, from the resolved model."""

from __future__ import annotations

from kostyor_dsl.compiler.engines import service_ranks
from kostyor_dsl.compiler.model import BUILTIN_ACTIONS, Action, Spec, StrategyDef
from kostyor_dsl.compiler.rollout import assign_groups
from kostyor_dsl.compiler.selectors import HostTiers, Selector, matches_all
from kostyor_dsl.language import ast
from kostyor_dsl.lsp.completion import SETTING_DOCS
from kostyor_dsl.lsp.navigation import Symbol, definition
from kostyor_dsl.lsp.workspace import TextCheck

MAX_HOSTS = 20


def hover_text(check: TextCheck, symbol: Symbol) -> str | None:
    spec = check.partial
    trees = [u.tree for u in check.units if u.tree is not None]
    kind = symbol.kind
    if kind == "setting":
        doc = SETTING_DOCS.get((symbol.scope or "", symbol.name))
        return f"**{symbol.name}** ({symbol.scope} setting)\n\n{doc}" if doc else None
    if kind == "import":
        return _import(check, symbol)
    if spec is None:
        return None
    if kind == "service":
        return _service(spec, symbol)
    if kind == "strategy":
        chosen = spec.strategies.get(symbol.name)
        return _strategy(chosen, _extends_chain(trees, symbol.name)) if chosen else None
    if kind == "order":
        order = spec.orders.get(symbol.name)
        if order is None:
            return None
        projects = list(dict.fromkeys(s.project for s in order.services))
        return (
            f"**order {order.name}**: {len(projects)} projects, {len(order.services)} services"
            f" (`{order.span.ref}`)\n\n" + ", ".join(projects)
        )
    if kind == "tier":
        if symbol.name not in spec.tiers:
            return None
        rank = spec.tiers.index(symbol.name) + 1
        return f"**tier {symbol.name}**: {rank} of {len(spec.tiers)} ({', '.join(spec.tiers)})"
    if kind == "action":
        if symbol.name in BUILTIN_ACTIONS:
            return f"**action {symbol.name}**: built in (every driver is expected to offer it)"
        where = definition(trees, spec, symbol)
        if where is None:
            return f"**action {symbol.name}**: not declared (`actions {symbol.name}`)"
        return f"**action {symbol.name}**: declared at `{where}`"
    if kind == "selector":
        return _selector(check, symbol)
    if kind in ("engine", "driver"):
        return f"**{kind} {symbol.name}**"
    return None


def _import(check: TextCheck, symbol: Symbol) -> str | None:
    root = check.root
    if root is None or root.tree is None:
        return None
    item = next(
        (i for i in root.tree.items if isinstance(i, ast.Import) and i.span == symbol.span), None
    )
    unit = check.imported_unit(root, item) if item is not None else None
    if unit is None or unit.tree is None:
        return None
    names = {
        kind: [i.name.value for i in unit.tree.items if isinstance(i, node)]
        for kind, node in (("orders", ast.Order), ("strategies", ast.Strategy))
    }
    lines = [f"**import** `{unit.display}`", ""]
    lines += [f"- {kind}: {', '.join(found)}" for kind, found in names.items() if found]
    return "\n".join(lines)


def _service(spec: Spec, symbol: Symbol) -> str | None:
    orders = list(spec.orders.values())
    if symbol.container in spec.strategies:
        wanted = spec.strategies[symbol.container].order
        orders = [o for o in orders if o.name == wanted]
    elif symbol.container in spec.orders:
        orders = [spec.orders[symbol.container]]
    for order in orders:
        for position, svc in enumerate(order.services, start=1):
            if svc.name != symbol.name:
                continue
            rank = service_ranks(order, spec.tiers)[svc.name]
            total = len(order.services)
            return (
                f"**service {svc.name}** (project {svc.project})\n\n"
                f"- tiers: {', '.join(svc.roles) or '(none)'}\n"
                f"- rank {rank} of {total} (node-by-node: by its first tier)\n"
                f"- line {position} of {total} in order {order.name} (`{svc.span.ref}`)"
            )
    return None


def _actions(actions: tuple[Action, ...]) -> str:
    return ", ".join(a.name + _params(a.parameters) for a in actions)


def _params(params) -> str:
    return " {" + ", ".join(f"{k} {v}" for k, v in params) + "}" if params else ""


def _extends_chain(trees, name: str) -> list[str]:
    """The strategies `name` extends, nearest first (the first definition of each)."""
    nodes: dict[str, ast.Strategy] = {}
    for tree in trees:
        for item in tree.items:
            if isinstance(item, ast.Strategy):
                nodes.setdefault(item.name.value, item)
    chain: list[str] = []
    node = nodes.get(name)
    while node is not None and node.extends is not None and node.extends.value not in chain:
        chain.append(node.extends.value)
        node = nodes.get(node.extends.value)
    return chain


def _strategy(s: StrategyDef, chain: list[str]) -> str:
    lines = [
        f"**strategy {s.name}** (`{s.span.ref}`), settings after `extends`:",
        "",
    ]
    if chain:
        lines.append("- extends: " + " -> ".join(chain))
    lines += [
        f"- engine: {s.engine}",
        f"- order: {s.order or '(none)'}",
        f"- driver: {s.driver}{_params(s.driver_parameters)}",
        f"- unknown-services: {s.unknown_services}",
    ]
    if s.pre_upgrade:
        lines.append(f"- pre-upgrade: {_actions(s.pre_upgrade)}")
    if s.post_upgrade:
        lines.append(f"- post-upgrade: {_actions(s.post_upgrade)}")
    for g in s.groups:
        parts = [f"batch {', '.join(str(b) for b in g.batches)}"]
        parts.append(f"max-failed-hosts {g.max_failed_hosts}")
        if g.max_failed_hosts_per_batch is not None:
            parts.append(f"max-failed-hosts-per-batch {g.max_failed_hosts_per_batch}")
        if g.pause_after_batches:
            parts.append("pause-after-batch " + ", ".join(map(str, g.pause_after_batches)))
        if g.before:
            parts.append(f"before {_actions(g.before)}")
        if g.after:
            parts.append(f"after {_actions(g.after)}")
        lines.append(f"- hosts {g.name}: " + "; ".join(parts))
    for h in s.service_hooks:
        parts = [f"before {_actions(h.before)}"] if h.before else []
        parts += [f"after {_actions(h.after)}"] if h.after else []
        lines.append(f"- service {h.service}: " + "; ".join(parts))
    return "\n".join(lines)


def _selector(check: TextCheck, symbol: Symbol) -> str | None:
    spec, report = check.partial, check.report
    selector = Selector.parse(symbol.name)
    head = f"**selector {selector.key}={selector.pattern}**"
    strategy = spec.strategies.get(symbol.container or "") if spec else None
    if report.inventory is None or strategy is None or strategy.order not in spec.orders:
        return head + "\n\nconfigure an inventory to see the hosts it matches (docs/editors.md)"
    tier_of = HostTiers(spec.orders[strategy.order], spec.tiers)
    hosts = report.inventory.hosts
    matched = [h.name for h in hosts if matches_all((selector,), h, tier_of(h))]
    here = symbol.span
    group = next(
        (g for g in strategy.groups if (g.span.file, g.span.line) == (here.file, here.line)), None
    )
    lines = [f"{head}: matches {_hosts(matched)} of {len(hosts)} in {report.inventory.display}"]
    if group is not None:
        index = strategy.groups.index(group)
        assigned = assign_groups(strategy.groups, hosts, tier_of)
        members = [h.name for h in hosts if assigned.get(h.name) == index]
        lines.append(
            f"\n`hosts {group.name}` (the first group matching each host): {_hosts(members)}"
        )
    return "\n".join(lines)


def _hosts(names: list[str]) -> str:
    if not names:
        return "no host"
    shown = ", ".join(names[:MAX_HOSTS])
    more = f", ... ({len(names) - MAX_HOSTS} more)" if len(names) > MAX_HOSTS else ""
    return f"{len(names)} host{'s' if len(names) != 1 else ''}: {shown}{more}"
