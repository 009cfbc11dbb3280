"""AST files -> the resolved Spec: names, references, and their checks.

Every problem becomes a Diagnostic; all of them are collected before the
stage gives up.  Codes are listed in docs/diagnostics.md.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from kostyor_dsl.compiler import ast, entry_points
from kostyor_dsl.compiler.diagnostics import (
    Diagnostic,
    DiagnosticSink,
    Label,
    Span,
    error,
    warning,
)
from kostyor_dsl.compiler.engines import BUILTIN_ENGINES, available_engines
from kostyor_dsl.compiler.entry_points import DRIVER_GROUP, SHIPPED_DRIVERS
from kostyor_dsl.compiler.imports import Loader, Unit, locate_spec
from kostyor_dsl.compiler.model import (
    BUILTIN_ACTIONS,
    DEFAULT_DRIVER,
    DEFAULT_ENGINE,
    DEFAULT_TIERS,
    Action,
    HostGroup,
    OrderDef,
    ServiceDef,
    SourceFile,
    Spec,
    StrategyDef,
)
from kostyor_dsl.compiler.strategy_blocks import (
    build_budget,
    build_group,
    build_service_hooks,
    check_budget,
    check_hosts,
    check_numbers,
    check_parameters,
    check_service,
    merge_block,
    parameters,
)
from kostyor_dsl.compiler.suggest import did_you_mean


@dataclass(frozen=True)
class SpecCheck:
    """The outcome of resolving a spec: the model (None on errors), every diagnostic,
    and the source texts by display name (to render diagnostics with their lines)."""

    spec: Spec | None
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str]
    # For editors (kostyor_dsl.compiler.workspace): the files as loaded, root first,
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
    spec = _Resolver(sink, units).resolve()
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


# --- strategy settings ------------------------------------------------------

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
)
# Keys that may appear once per distinct value (`hosts compute`, `hosts storage`).
REPEATABLE_KEYS = ("hosts", "service", "budget")
# Of those, the blocks an extending strategy merges key by key; a budget is
# replaced whole (its one rule would otherwise meet the parent's).
MERGED_KEYS = ("hosts", "service")


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


class _Resolver:
    def __init__(self, sink: DiagnosticSink, units: list[Unit]):
        self.sink = sink
        self.units = units

    def resolve(self) -> Spec:
        files = tuple(
            SourceFile(u.display, u.text, hashlib.sha256(u.text.encode("utf-8")).hexdigest())
            for u in self.units
        )
        trees = [u.tree for u in self.units if u.tree is not None]
        tiers = self._tiers(trees)
        orders = self._orders(trees, tiers)
        self.tiers = tiers
        self.actions = self._actions(trees)
        strategies_ast = self._strategy_asts(trees)
        merged = self._merged_settings(strategies_ast)
        self._engines: list[str] | None = None
        # Inherited blocks are the same AST objects in every strategy of a chain.
        self._groups: dict[int, HostGroup] = {}
        self._checked: set[tuple[int, str]] = set()
        self._drivers: tuple[str, ...] | None = None
        strategies = {}
        for name, node in strategies_ast.items():
            if merged[name] is None:
                continue
            built = self._strategy(node, merged[name], orders)
            if built is not None:
                strategies[name] = built
        default = self._default(trees, strategies_ast)
        return Spec(files, tiers, orders, strategies, default, self.actions)

    def _actions(self, trees) -> tuple[str, ...]:
        names = list(BUILTIN_ACTIONS)
        for tree in trees:
            for item in tree.items:
                if isinstance(item, ast.Actions):
                    names.extend(n.value for n in item.names if n.value not in names)
        return tuple(names)

    # tiers
    def _tiers(self, trees: list[ast.SpecFile]) -> tuple[str, ...]:
        chosen: ast.Tiers | None = None
        for tree in trees:  # root first: the root's declaration wins
            decls = [i for i in tree.items if isinstance(i, ast.Tiers)]
            for extra in decls[1:]:
                self.sink.add(
                    error(
                        "K011",
                        "tiers are declared twice in one file",
                        extra.span,
                        labels=(Label(decls[0].span, "first declared here"),),
                    )
                )
            if decls and chosen is None:
                chosen = decls[0]
        if chosen is None:
            return DEFAULT_TIERS
        seen: dict[str, ast.Name] = {}
        for name in chosen.names:
            if name.value in seen:
                self.sink.add(
                    error(
                        "K011",
                        f"tier '{name.value}' is listed twice",
                        name.span,
                        labels=(Label(seen[name.value].span, "first listed here"),),
                    )
                )
            else:
                seen[name.value] = name
        return tuple(seen)

    def _first_definitions(self, trees, kind, code: str, what: str, hint) -> dict:
        """Items of one kind by name, across all files; a second definition is an error."""
        found: dict = {}
        for tree in trees:
            for item in tree.items:
                if not isinstance(item, kind):
                    continue
                name = item.name.value
                if name in found:
                    self.sink.add(
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
    def _orders(self, trees, tiers) -> dict[str, OrderDef]:
        nodes = self._first_definitions(
            trees, ast.Order, "K014", "order", lambda _: "give one of them another name"
        )
        return {name: self._order(node, tiers) for name, node in nodes.items()}

    def _order(self, node: ast.Order, tiers) -> OrderDef:
        services: list[ServiceDef] = []
        seen: dict[str, tuple[ast.Service, str]] = {}
        projects: dict[str, ast.Project] = {}
        for project in node.projects:
            pname = project.name.value
            if pname in projects:
                self.sink.add(
                    error(
                        "K014",
                        f"project '{pname}' appears twice in order '{node.name.value}'",
                        project.name.span,
                        labels=(Label(projects[pname].name.span, "first here"),),
                        hints=("list all of a project's services in one block",),
                    )
                )
            else:
                projects[pname] = project
            for svc in project.services:
                sname = svc.name.value
                if sname in seen:
                    prev, prev_project = seen[sname]
                    if prev_project == pname:
                        self.sink.add(
                            error(
                                "K012",
                                f"service '{sname}' is listed twice in project '{pname}'",
                                svc.name.span,
                                labels=(Label(prev.name.span, "first listed here"),),
                                hints=("remove one of the two lines",),
                            )
                        )
                    else:
                        self.sink.add(
                            error(
                                "K013",
                                f"service '{sname}' is in two projects: '{prev_project}' and '{pname}'",
                                svc.name.span,
                                labels=(Label(prev.name.span, f"listed in '{prev_project}' here"),),
                                hints=("a service belongs to exactly one project",),
                            )
                        )
                    continue
                seen[sname] = (svc, pname)
                roles = []
                for role in svc.roles:
                    if role.value not in tiers:
                        self.sink.add(
                            error(
                                "K010",
                                f"unknown tier '{role.value}' for service '{sname}'",
                                role.span,
                                hints=did_you_mean(role.value, tiers)
                                or ("known tiers: " + ", ".join(tiers),),
                            )
                        )
                    elif role.value in roles:
                        self.sink.add(
                            error("K010", f"tier '{role.value}' is listed twice", role.span)
                        )
                    else:
                        roles.append(role.value)
                services.append(ServiceDef(sname, pname, tuple(roles), span=svc.name.span))
        ignored = self._ignored(node, seen)
        return OrderDef(node.name.value, tuple(services), span=node.name.span, ignored=ignored)

    def _ignored(self, node: ast.Order, upgraded: dict) -> tuple[str, ...]:
        """`ignore` lines: known services the order leaves alone (K016 if also upgraded)."""
        ignored: dict[str, ast.Name] = {}
        for line in node.ignores:
            for name in line.names:
                if name.value in upgraded:
                    svc, project = upgraded[name.value]
                    self.sink.add(
                        error(
                            "K016",
                            f"service '{name.value}' is ignored and upgraded in project '{project}'",
                            name.span,
                            labels=(Label(svc.name.span, "upgraded here"),),
                            hints=("remove it from the ignore line or from the project",),
                        )
                    )
                elif name.value in ignored:
                    self.sink.add(
                        error(
                            "K016",
                            f"service '{name.value}' is ignored twice",
                            name.span,
                            labels=(Label(ignored[name.value].span, "first ignored here"),),
                        )
                    )
                else:
                    ignored[name.value] = name
        return tuple(ignored)

    # strategies
    def _strategy_asts(self, trees) -> dict[str, ast.Strategy]:
        found = self._first_definitions(
            trees,
            ast.Strategy,
            "K015",
            "strategy",
            lambda name: (
                f"to change an imported strategy: strategy my-{name} extends {name} {{ ... }}"
            ),
        )
        for node in found.values():
            self._check_settings(node)
        return found

    def _check_settings(self, node: ast.Strategy) -> None:
        check_numbers(node.settings, self.sink)
        seen: dict[str, ast.Setting] = {}
        for setting in node.settings:
            key = setting.key.value
            ident = setting_key(setting)
            if key not in STRATEGY_KEYS:
                self.sink.add(
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
                self.sink.add(
                    error(
                        "K025",
                        f"setting '{ident}' is given twice",
                        setting.key.span,
                        labels=(Label(seen[ident].key.span, "first given here"),),
                    )
                )
                continue
            seen[ident] = setting
            self._check_shape(setting)

    def _check_shape(self, setting: ast.Setting) -> None:
        key = setting.key.value
        span = setting.key.span
        n = len(setting.values)
        if key in ("engine", "order", "unknown-services"):
            if n != 1 or setting.values[0].kind != "name" or setting.block is not None:
                self.sink.add(
                    error(
                        "K025",
                        f"'{key}' takes exactly one name",
                        span,
                        hints=(f"write: {key} NAME",),
                    )
                )
                return
            if key == "unknown-services" and setting.values[0].raw not in UNKNOWN_SERVICE_POLICIES:
                self.sink.add(
                    error(
                        "K025",
                        f"unknown-services must be one of: {', '.join(UNKNOWN_SERVICE_POLICIES)}",
                        setting.values[0].span,
                        hints=did_you_mean(setting.values[0].raw, UNKNOWN_SERVICE_POLICIES),
                    )
                )
        elif key == "driver":
            if n != 1 or setting.values[0].kind != "name":
                self.sink.add(
                    error(
                        "K025",
                        "'driver' takes one name and an optional block of parameters",
                        span,
                        hints=('write: driver shell { command "..." }',),
                    )
                )
                return
            check_parameters(setting.block, self.sink)
        elif key == "hosts":
            check_hosts(setting, self.sink)
        elif key == "service":
            check_service(setting, self.sink)
        elif key == "budget":
            check_budget(setting, self.sink)
        elif key in ("pre-upgrade", "post-upgrade"):
            if n or setting.block is None:
                self.sink.add(
                    error(
                        "K025",
                        f"'{key}' takes a block of actions, one per line",
                        span,
                        hints=(f"write: {key} {{\\n  backup-databases\\n}}",),
                    )
                )
                return
            for action in setting.block:
                if action.values:
                    self.sink.add(
                        error(
                            "K025",
                            f"action '{action.key.value}' takes no value; "
                            "give parameters in a block",
                            action.values[0].span,
                            hints=(f"write: {action.key.value} {{ timeout 10m }}",),
                        )
                    )
                check_parameters(action.block, self.sink)

    def _merged_settings(self, strategies) -> dict[str, dict[str, ast.Setting] | None]:
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
                    self._cycle(chain[position[cname] :], memo)
                    base = None
                    break
                position[cname] = len(chain)
                chain.append(current)
                if current.extends is None:
                    base = {}
                    break
                parent = strategies.get(current.extends.value)
                if parent is None:
                    self.sink.add(
                        error(
                            "K020",
                            f"strategy '{cname}' extends unknown strategy "
                            f"'{current.extends.value}'",
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

    def _cycle(self, members: list[ast.Strategy], memo) -> None:
        names = [m.name.value for m in members]
        for i, member in enumerate(members):
            ring = names[i:] + names[:i]
            self.sink.add(
                error(
                    "K027",
                    "strategies extend each other in a cycle: " + " -> ".join([*ring, ring[0]]),
                    member.name.span,
                )
            )
            memo[member.name.value] = None

    def _strategy(self, node: ast.Strategy, settings, orders) -> StrategyDef | None:
        name = node.name.value

        def one(key: str, default: str | None) -> tuple[str | None, Span | None]:
            setting = settings.get(key)
            if setting is None or not setting.values:
                return default, None
            return setting.values[0].raw, setting.values[0].span

        engine, engine_span = one("engine", DEFAULT_ENGINE)
        if engine not in BUILTIN_ENGINES and self._engines is None:
            self._engines = available_engines()
        engines = self._engines or list(BUILTIN_ENGINES)
        if engine not in BUILTIN_ENGINES and engine not in engines:
            self.sink.add(
                error(
                    "K022",
                    f"unknown engine '{engine}'",
                    engine_span or node.name.span,
                    hints=did_you_mean(engine, engines)
                    or (
                        "known engines: " + ", ".join(sorted(engines)),
                        "third-party engines register in the 'kostyor_dsl.engines' entry point group",
                    ),
                )
            )
        only_order = next(iter(orders)) if len(orders) == 1 else None
        order, order_span = one("order", only_order)
        if order is None:
            self.sink.add(
                error(
                    "K024",
                    f"strategy '{name}' needs an order",
                    node.name.span,
                    hints=("orders: " + ", ".join(sorted(orders)),)
                    if orders
                    else ("define one: order NAME { project ... }",),
                )
            )
        elif order not in orders:
            self.sink.add(
                error(
                    "K021",
                    f"unknown order '{order}'",
                    order_span or node.name.span,
                    hints=did_you_mean(order, orders),
                )
            )
        driver, driver_span = one("driver", DEFAULT_DRIVER)
        if driver_span is not None:
            self._check_driver(driver, driver_span)
        driver_setting = settings.get("driver")
        params = parameters(driver_setting.block if driver_setting else None)
        pre = self._phase_actions(settings, "pre-upgrade")
        post = self._phase_actions(settings, "post-upgrade")
        groups = tuple(
            self._group(s) for k, s in settings.items() if k.startswith("hosts ") and s.block
        )
        hooks = tuple(
            build_service_hooks(s)
            for k, s in settings.items()
            if k.startswith("service ") and s.block is not None and len(s.values) == 1
        )
        budgets = tuple(
            b
            for k, s in settings.items()
            if k.startswith("budget ") and (b := build_budget(s)) is not None
        )
        self._check_rollout(engine, groups, hooks, orders.get(order or ""))
        policy, _ = one("unknown-services", "error")
        return StrategyDef(
            name=name,
            engine=engine,
            order=order or "",
            driver=driver,
            driver_parameters=params,
            pre_upgrade=pre,
            unknown_services=policy,
            span=node.name.span,
            groups=groups,
            service_hooks=hooks,
            post_upgrade=post,
            budgets=budgets,
            engine_span=engine_span,
        )

    def _check_driver(self, driver: str, span: Span) -> None:
        """A warning only: the deploy host, where `kostyorc run` checks it again,
        may have a driver this machine lacks."""
        if driver in SHIPPED_DRIVERS:
            return
        if self._drivers is None:
            self._drivers = entry_points.installed(DRIVER_GROUP)
        if driver in self._drivers:
            return
        self.sink.add(
            warning(
                "K028",
                f"driver '{driver}' is not installed here",
                span,
                hints=(
                    *(
                        did_you_mean(driver, self._drivers)
                        or ("installed drivers: " + (", ".join(self._drivers) or "none"),)
                    ),
                    f"drivers register in the '{DRIVER_GROUP}' entry point group; "
                    "kostyorc run refuses a driver its host does not have",
                ),
            )
        )

    def _phase_actions(self, settings, key: str) -> tuple[Action, ...]:
        setting = settings.get(key)
        actions = tuple(
            Action(a.key.value, parameters(a.block), span=a.key.span)
            for a in ((setting.block or ()) if setting else ())
        )
        seen: dict[str, Action] = {}
        for action in actions:
            self._check_action(action)
            if action.name in seen:
                self.sink.add(
                    error(
                        "K025",
                        f"{key} action '{action.name}' is listed twice",
                        action.span,
                        labels=(Label(seen[action.name].span, "first listed here"),),
                    )
                )
            seen[action.name] = action
        return actions

    def _check_action(self, action: Action) -> None:
        if action.name not in self.actions:
            self.sink.add(
                error(
                    "K032",
                    f"unknown action '{action.name}'",
                    action.span,
                    hints=did_you_mean(action.name, self.actions)
                    or (
                        "built-in actions: " + ", ".join(BUILTIN_ACTIONS),
                        f"declare a driver's own action at the top of the spec: actions {action.name}",
                    ),
                )
            )

    def _group(self, setting: ast.Setting) -> HostGroup:
        """A hosts block as a group, built once however many strategies inherit it."""
        group = self._groups.get(id(setting))
        if group is None:
            group = self._groups[id(setting)] = build_group(setting)
        return group

    def _check_rollout(self, engine, groups, hooks, order: OrderDef | None) -> None:
        for group in groups:
            if (id(group), engine) in self._checked:
                continue
            self._checked.add((id(group), engine))
            for action in group.before + group.after:
                self._check_action(action)
            for selector in group.selectors:
                is_glob = any(ch in selector.pattern for ch in "*?[")
                if selector.key == "tier" and not is_glob and selector.pattern not in self.tiers:
                    self.sink.add(
                        error(
                            "K010",
                            f"unknown tier '{selector.pattern}' in a host selector",
                            group.span,
                            hints=did_you_mean(selector.pattern, self.tiers)
                            or ("known tiers: " + ", ".join(self.tiers),),
                        )
                    )
            if engine != "node-by-node" and (
                group.before or group.after or group.pause_after_batches
            ):
                self.sink.add(
                    error(
                        "K033",
                        "host hooks (before/after) and pause-after-batch need engine node-by-node",
                        group.span,
                        hints=(
                            f"engine {engine} upgrades a service on many hosts in one step; "
                            "use a `service NAME { before ... }` block for actions around it",
                        ),
                    )
                )
        for hook in hooks:
            for action in hook.before + hook.after:
                self._check_action(action)
            if order is not None and hook.service not in {s.name for s in order.services}:
                self.sink.add(
                    error(
                        "K034",
                        f"service '{hook.service}' is not in order '{order.name}'",
                        hook.span,
                        hints=did_you_mean(hook.service, [s.name for s in order.services]),
                    )
                )

    def _default(self, trees, strategies) -> str | None:
        levels = [
            [i for i in tree.items if isinstance(i, ast.Strategy) and i.is_default]
            for tree in trees
        ]
        root_defaults = levels[0] if levels else []
        for extra in root_defaults[1:]:
            self.sink.add(
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
        root_strategies = (
            [i for i in trees[0].items if isinstance(i, ast.Strategy)] if trees else []
        )
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
