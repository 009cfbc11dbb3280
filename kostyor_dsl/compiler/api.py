"""The library facade: what the CLI, the tests and other tools call.

parse(text, file)               -> ast.SpecFile         (stage 1)
check(spec, inventory=None)     -> Report               (stages 1-3, never raises)
compile_plan(spec, inventory)   -> Compiled             (all stages; CompileError)
dump_plan(plan, "yaml"|"json")  -> str
"""

from __future__ import annotations

from dataclasses import dataclass

from kostyor_dsl.compiler import ast
from kostyor_dsl.compiler.diagnostics import CompileError, Diagnostic, error
from kostyor_dsl.compiler.engines import find_engine
from kostyor_dsl.compiler.inventory import Inventory, check_against_order, read_inventory
from kostyor_dsl.compiler.model import Spec, StrategyDef
from kostyor_dsl.compiler.parser import parse_spec
from kostyor_dsl.compiler.plan import build_plan, gc_paused
from kostyor_dsl.compiler.resolve import check_spec
from kostyor_dsl.compiler.suggest import did_you_mean


def parse(text: str, file: str = "<spec>") -> ast.SpecFile:
    return parse_spec(text, file)


@dataclass(frozen=True)
class Report:
    """Everything `check` found, with the source texts to render it."""

    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str]
    spec: Spec | None = None
    strategy: StrategyDef | None = None
    inventory: Inventory | None = None

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


@dataclass(frozen=True)
class Compiled:
    plan: dict
    warnings: tuple[Diagnostic, ...]
    sources: dict[str, str]


def select_strategy(spec: Spec, name: str | None) -> tuple[StrategyDef | None, list[Diagnostic]]:
    if name is not None:
        if name in spec.strategies:
            return spec.strategies[name], []
        return None, [
            error(
                "K020",
                f"unknown strategy '{name}'",
                subject="--strategy",
                hints=did_you_mean(name, spec.strategies)
                or ("strategies: " + ", ".join(sorted(spec.strategies)),),
            )
        ]
    if spec.default_strategy is not None:
        return spec.strategies[spec.default_strategy], []
    if not spec.strategies:
        return None, [
            error(
                "K026",
                "the spec defines no strategy",
                subject=spec.files[0].display,
                hints=("add one: strategy NAME { engine node-by-node }",),
            )
        ]
    return None, [
        error(
            "K026",
            "no default strategy: choose one with --strategy",
            subject=spec.files[0].display,
            hints=(
                "strategies: " + ", ".join(sorted(spec.strategies)),
                "or mark one in the spec: default strategy NAME { ... }",
            ),
        )
    ]


def check(
    spec: str,
    inventory: str | None = None,
    strategy: str | None = None,
    allow_unknown_services: bool = False,
) -> Report:
    """Resolve the spec and, when given, check the inventory against the chosen strategy."""
    with gc_paused():  # see plan.gc_paused: large inventories are many small objects
        return _check(spec, inventory, strategy, allow_unknown_services)


def _check(
    spec: str,
    inventory: str | None,
    strategy: str | None,
    allow_unknown_services: bool,
) -> Report:
    try:
        spec_check = check_spec(spec)
    except CompileError as exc:
        return Report(exc.diagnostics, exc.sources)
    diagnostics = list(spec_check.diagnostics)
    sources = dict(spec_check.sources)
    model = spec_check.spec
    if model is None:
        return Report(tuple(diagnostics), sources)
    chosen = None
    if inventory is not None or strategy is not None:
        chosen, problems = select_strategy(model, strategy)
        diagnostics.extend(problems)
    if inventory is None or chosen is None:
        return Report(tuple(diagnostics), sources, model, chosen)
    inv_check = read_inventory(inventory)
    diagnostics.extend(inv_check.diagnostics)
    sources.update(inv_check.sources)
    inv = inv_check.inventory
    if inv is None:
        return Report(tuple(diagnostics), sources, model, chosen)
    allow = allow_unknown_services or chosen.unknown_services == "warn"
    diagnostics.extend(
        check_against_order(inv, model.orders[chosen.order], inv_check.sources[inv.display], allow)
    )
    return Report(tuple(diagnostics), sources, model, chosen, inv)


def compile_plan(
    spec: str,
    inventory: str,
    strategy: str | None = None,
    allow_unknown_services: bool = False,
) -> Compiled:
    """Spec + inventory -> plan.  Raises CompileError carrying every diagnostic."""
    with gc_paused():
        return _compile_plan(spec, inventory, strategy, allow_unknown_services)


def _compile_plan(
    spec: str,
    inventory: str,
    strategy: str | None,
    allow_unknown_services: bool,
) -> Compiled:
    report = _check(spec, inventory, strategy, allow_unknown_services)
    if not report.ok or report.strategy is None or report.inventory is None:
        raise CompileError(report.diagnostics, report.sources)
    chosen = report.strategy
    engine = find_engine(chosen.engine)
    order = report.spec.orders[chosen.order]
    result = engine(order, report.spec.tiers, report.inventory.hosts)
    warnings = [d for d in report.diagnostics if not d.is_error]
    plan = build_plan(report.spec, chosen, report.inventory, result, warnings)
    return Compiled(plan, tuple(warnings), report.sources)
