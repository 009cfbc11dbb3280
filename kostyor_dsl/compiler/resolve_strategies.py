"""Strategies: each strategy's merged settings built into a StrategyDef, with the
checks that need the orders, the declared actions and the installed engines
and drivers."""

from __future__ import annotations

from dataclasses import replace

from kostyor_dsl.compiler import entry_points
from kostyor_dsl.compiler.definitions import unknown_action
from kostyor_dsl.compiler.engines import BUILTIN_ENGINES, HOST_ENGINES, available_engines
from kostyor_dsl.compiler.entry_points import DRIVER_GROUP, SHIPPED_DRIVERS
from kostyor_dsl.compiler.model import (
    DEFAULT_DRIVER,
    DEFAULT_ENGINE,
    Action,
    BarrierDef,
    HostGroup,
    OrderDef,
    ProjectStepsDef,
    StrategyDef,
)
from kostyor_dsl.compiler.resolve_constraints import resolve_barrier, step_projects
from kostyor_dsl.compiler.strategy_blocks import (
    build_budget,
    build_group,
    build_service_hooks,
    parameters,
)
from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import DiagnosticSink, Label, Span, error, warning
from kostyor_dsl.language.suggest import did_you_mean


class StrategyResolver:
    """Builds strategies; remembers what many strategies of one spec share (the
    installed engines and drivers, host groups inherited through `extends`)."""

    def __init__(self, sink: DiagnosticSink, tiers: tuple[str, ...], actions: tuple[str, ...]):
        self.sink = sink
        self.tiers = tiers
        self.actions = actions
        self._engines: list[str] | None = None
        # Inherited blocks are the same AST objects in every strategy of a chain.
        self._groups: dict[int, HostGroup] = {}
        self._checked: set[tuple[int, str]] = set()
        self._drivers: tuple[str, ...] | None = None
        self._barriers: dict[tuple[int, str], BarrierDef | None] = {}

    def build(
        self, node: ast.Strategy, settings, orders, barriers: tuple[ast.Barrier, ...] = ()
    ) -> StrategyDef | None:
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
        order_def = orders.get(order or "")
        added: tuple[BarrierDef, ...] = ()
        steps: tuple[ProjectStepsDef, ...] = ()
        if order_def is not None:
            owners = step_projects(order_def)
            added = tuple(
                b
                for barrier in barriers
                if (b := self._barrier(barrier, order_def, owners, name)) is not None
            )
            steps = self._project_steps(settings, order_def)
        undrained, _ = one("undrained-hypervisors", "error")
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
            barriers=added,
            project_steps=steps,
            undrained_hypervisors=undrained,
        )

    def _barrier(self, barrier, order, owners, strategy: str) -> BarrierDef | None:
        """An inherited barrier is checked once, in the strategy that wrote it."""
        key = (id(barrier), order.name)
        if key in self._barriers:
            return self._barriers[key]
        found = resolve_barrier(
            barrier, order, owners, self.actions, f"strategy {strategy}", self.sink
        )
        self._barriers[key] = found
        return found

    def _project_steps(self, settings, order: OrderDef) -> tuple[ProjectStepsDef, ...]:
        """The order's project steps with the strategy's `project NAME { ... }` blocks
        applied: `add` appends to a project's steps, `replace` stands for them."""
        projects = list(dict.fromkeys(s.project for s in order.services))
        current = {p.project: p for p in order.project_steps}
        for key, setting in settings.items():
            if not key.startswith("project ") or setting.block is None or len(setting.values) != 1:
                continue
            project = setting.values[0].raw
            if project not in projects:
                self.sink.add(
                    error(
                        "K074",
                        f"project '{project}' is not in order '{order.name}'",
                        setting.values[0].span,
                        hints=did_you_mean(project, projects),
                    )
                )
                continue
            found = current.get(project) or ProjectStepsDef(project, (), ())
            for item in setting.block:
                when = item.key.value
                if when not in ("pre-upgrade", "post-upgrade") or item.block is None:
                    continue
                if len(item.values) != 1 or item.values[0].raw not in ("add", "replace"):
                    continue
                actions = tuple(Action(a.key.value, (), span=a.key.span) for a in item.block)
                for action in actions:
                    self._check_action(action)
                old = found.pre if when == "pre-upgrade" else found.post
                new = actions if item.values[0].raw == "replace" else old + actions
                found = replace(found, **{"pre" if when == "pre-upgrade" else "post": new})
            current[project] = found
        return tuple(current[p] for p in projects if p in current)

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
            self.sink.add(unknown_action(action.name, action.span, self.actions))

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
            if engine not in HOST_ENGINES and (
                group.before or group.after or group.pause_after_batches
            ):
                self.sink.add(
                    error(
                        "K033",
                        "host hooks (before/after) and pause-after-batch need engine node-by-node or phased",
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
