"""The library facade: what the CLI, the tests and other tools call.

parse(text, file)               -> ast.SpecFile         (stage 1)
check(spec, inventory=None)     -> Report               (stages 1-3, never raises)
compile_plan(spec, inventory)   -> Compiled             (all stages; CompileError)
compile_to(stream, spec, inv)   -> Written              (compile_plan + write_plan, streamed)
dump_plan(plan, "yaml"|"json")  -> str

Long because it is the one place that runs the stages in order, the rolled-out
plan's proofs (budgets, barriers, project steps, drains) included, for both
`check` and `compile`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kostyor_dsl.compiler.budgets import check_stages, resolve_budgets, split_waves
from kostyor_dsl.compiler.constraints import check_barriers
from kostyor_dsl.compiler.drains import check_drains, drains
from kostyor_dsl.compiler.engines import EngineResult, find_engine, iter_node_by_node, node_by_node
from kostyor_dsl.compiler.inventory_check import (
    check_against_order,
    state_warnings,
    unused_service_hooks,
)
from kostyor_dsl.compiler.model import Spec, StrategyDef
from kostyor_dsl.compiler.plan_build import build_plan, phase_steps
from kostyor_dsl.compiler.project_steps import (
    check_expanded,
    insert_project_steps,
    point_of_no_return,
)
from kostyor_dsl.compiler.resolve import SpecCheck, check_spec
from kostyor_dsl.compiler.rollout import apply_rollout, assign_groups, changes_steps
from kostyor_dsl.compiler.selectors import HostTiers, Selector, matches_all
from kostyor_dsl.gc_paused import gc_paused
from kostyor_dsl.inventory.model import Inventory, InventoryCheck
from kostyor_dsl.inventory.read import read_inventory
from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import CompileError, Diagnostic, Label, error, warning
from kostyor_dsl.language.parser import parse_spec
from kostyor_dsl.language.suggest import did_you_mean
from kostyor_dsl.plan.write import write_plan


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
    # With budgets, `check` rolls the plan out to prove them; compile reuses it.
    rolled_out: _RolledOut | None = field(default=None, repr=False, compare=False)

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
    limit: str | None = None,
) -> Report:
    """Resolve the spec and, when given, check the inventory against the chosen strategy."""
    with gc_paused():  # see plan.gc_paused: large inventories are many small objects
        return _check(spec, inventory, strategy, allow_unknown_services, limit)


def _check(
    spec: str,
    inventory: str | None,
    strategy: str | None,
    allow_unknown_services: bool,
    limit: str | None = None,
) -> Report:
    try:
        spec_check = check_spec(spec)
    except CompileError as exc:
        return Report(exc.diagnostics, exc.sources)
    return check_resolved(spec_check, inventory, strategy, allow_unknown_services, limit)


def check_resolved(
    spec_check: SpecCheck,
    inventory: str | None = None,
    strategy: str | None = None,
    allow_unknown_services: bool = False,
    limit: str | None = None,
    inventory_check: InventoryCheck | None = None,
) -> Report:
    """`check` of a spec already resolved (editors resolve unsaved text: compiler.workspace).

    `inventory_check`: the inventory already read (the language server reads it itself,
    confined: lsp.inventory_access); `inventory` is then only its name."""
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
    inv_check = read_inventory(inventory) if inventory_check is None else inventory_check
    diagnostics.extend(inv_check.diagnostics)
    sources.update(inv_check.sources)
    inv = inv_check.inventory
    if inv is None:
        return Report(tuple(diagnostics), sources, model, chosen)
    allow = allow_unknown_services or chosen.unknown_services == "warn"
    order = model.orders[chosen.order]
    diagnostics.extend(check_against_order(inv, order, inv_check.sources[inv.display], allow))
    diagnostics.extend(state_warnings(inv, inv_check.sources[inv.display]))
    cloud = inv  # budgets are about the whole cloud, even for a --limit slice
    if limit is not None:
        inv, problems = _limit(inv, order, model.tiers, limit)
        diagnostics.extend(problems)
    diagnostics.extend(_empty_groups(model, chosen, order, inv))
    diagnostics.extend(unused_service_hooks(chosen, inv))
    report = Report(tuple(diagnostics), sources, model, chosen, inv)
    if proves_plan(model, chosen) and report.ok:
        # Budgets and barriers are proven on the rolled-out steps: `check` runs the engine too.
        rolled = _roll_out(report, cloud.hosts)
        report = replace(
            report, diagnostics=(*report.diagnostics, *rolled.diagnostics), rolled_out=rolled
        )
    return report


def proves_plan(spec: Spec, chosen: StrategyDef) -> bool:
    """Whether the plan has anything to prove or place beyond the engine's steps:
    budgets, barriers, project steps, drains, a point of no return."""
    order = spec.orders[chosen.order]
    return bool(
        chosen.budgets
        or order.barriers
        or chosen.barriers
        or chosen.project_steps
        or spec.irreversible
        or any(drains(g) for g in chosen.groups)
    )


@dataclass(frozen=True)
class _RolledOut:
    result: EngineResult
    steps: list[dict] | None  # with the strategy's pre- and post-upgrade steps
    groups: list[dict]
    budgets: list[dict]
    diagnostics: tuple[Diagnostic, ...]
    constraints: list[dict] = field(default_factory=list)
    no_return: dict | None = None


def _roll_out(report: Report, cloud_hosts=None) -> _RolledOut:
    """The engine's steps with the strategy's rollout, budgets, project steps and
    barriers applied, and every proof of the plan made on them.

    `cloud_hosts`: every host of the inventory when the report's is a `--limit`
    slice.  A budget counts the cloud's hosts (75% of 40 computes allows 10
    down, whatever the slice), and the slice's steps are checked against it; the
    hosts outside the slice are not touched by this plan, so they count as up."""
    chosen = report.strategy
    engine = find_engine(chosen.engine)
    order = report.spec.orders[chosen.order]
    if chosen.barriers:
        order = replace(order, barriers=order.barriers + chosen.barriers)
    tiers = report.spec.tiers
    hosts = report.inventory.hosts
    result = engine(order, tiers, hosts)
    problems: list[Diagnostic] = []
    availability = None
    if chosen.budgets:
        availability, problems = resolve_budgets(
            chosen.budgets, hosts if cloud_hosts is None else cloud_hosts, HostTiers(order, tiers)
        )
    problems.extend(_unbounded_max(chosen, availability.budgets if availability else ()))
    steps, groups = apply_rollout(chosen, order, tiers, hosts, result, availability)
    entries: list[dict] = []
    if availability is not None:
        steps = split_waves(list(steps), availability)
        breaches, entries = check_stages(steps, availability, chosen)
        problems.extend(breaches)
    steps = insert_project_steps(list(steps), chosen.project_steps)
    steps = [
        *phase_steps("pre-upgrade", chosen.pre_upgrade),
        *steps,
        *phase_steps("post-upgrade", chosen.post_upgrade),
    ]
    broken, constraints = check_barriers(steps, order.barriers, chosen)
    problems.extend(broken)
    problems.extend(check_expanded(steps, chosen, chosen.project_steps))
    problems.extend(check_drains(steps, chosen))
    no_return = point_of_no_return(steps, report.spec.irreversible)
    return _RolledOut(result, steps, groups, entries, tuple(problems), constraints, no_return)


def _unbounded_max(chosen: StrategyDef, budgets) -> list[Diagnostic]:
    """`batch max` with no budget to bound it takes a whole group at once: say so."""
    return [
        warning(
            "K063",
            f"hosts {group.name}: `batch max` is bounded by no budget (the strategy has none), "
            "so one batch takes all its hosts at once",
            group.batch_span or group.span,
            hints=(
                f"add a budget for its hosts:\nbudget {group.name} {{\n  min-available 80%\n}}",
            ),
        )
        for group in chosen.groups
        if "max" in group.batches and not budgets
    ]


def _limit(inv: Inventory, order, tiers, limit: str) -> tuple[Inventory, list[Diagnostic]]:
    """Keep the hosts `--limit` selects; the plan says it is partial."""
    selectors = tuple(Selector.parse(part.strip()) for part in limit.split(",") if part.strip())
    tier_of = HostTiers(order, tiers)
    kept = tuple(h for h in inv.hosts if matches_all(selectors, h, tier_of(h)))
    if not kept:
        return inv, [
            error(
                "K035",
                f"--limit {limit} matches no host of the inventory",
                subject="--limit",
                hints=(
                    "selectors: TIER, tier=T, name=GLOB, service=GLOB, LABEL=GLOB; all must match",
                ),
            )
        ]
    note = warning(
        "K036",
        f"partial plan: --limit {limit} keeps {len(kept)} of {len(inv.hosts)} hosts",
        subject="--limit",
    )
    return replace(inv, hosts=kept, positions=None), [note]


def _empty_groups(model: Spec, chosen: StrategyDef, order, inv: Inventory) -> list[Diagnostic]:
    """K037 for a `hosts` block that selects no host.  K077, an error, for a block of
    an extending strategy whose hosts all belong to an inherited block with other
    selectors (it was meant to change that block, and would silently not apply)."""
    if not chosen.groups:
        return []
    # Host by host, stopping once every group has a host (most runs: a few hosts in).
    tier_of = HostTiers(order, model.tiers)
    used: set[int] = set()
    for host in inv.hosts:
        used.update(assign_groups(chosen.groups, (host,), tier_of).values())
        if len(used) == len(chosen.groups):
            return []
    unused = [i for i in range(len(chosen.groups)) if i not in used]
    claimed_by = _claimed_by(chosen.groups, unused, inv, tier_of)
    out = []
    for i in unused:
        group = chosen.groups[i]
        first = chosen.groups[claimed_by[i]] if i in claimed_by else None
        if first is not None and _declared_in(model, group.span) != _declared_in(model, first.span):
            out.append(
                error(
                    "K077",
                    f"hosts {group.name} selects only hosts that the earlier block "
                    f"hosts {first.name} already holds; its settings would not apply",
                    group.span,
                    labels=(Label(first.span, "these hosts belong to this block"),),
                    hints=(
                        "a host belongs to the first hosts block whose selectors all match it",
                        f"to change that block, write it with the same selectors: "
                        f"hosts {first.name} {{ ... }}",
                    ),
                )
            )
        else:
            out.append(
                warning(
                    "K037",
                    f"hosts {group.name} selects no host of the inventory",
                    group.span,
                    hints=("a host belongs to the first hosts block whose selectors all match it",),
                )
            )
    return out


def _declared_in(model: Spec, span) -> tuple[str, int] | None:
    """The strategy whose block `span` is in: the last strategy of its file that
    starts before it (blocks are declared inside their strategy)."""
    if span is None:
        return None
    starts = [
        s.span.line
        for s in model.strategies.values()
        if s.span is not None and s.span.file == span.file and s.span.line <= span.line
    ]
    return (span.file, max(starts)) if starts else None


def _claimed_by(groups, unused: list[int], inv: Inventory, tier_of) -> dict[int, int]:
    """For each unused group that some host matches, the group that holds that host."""
    out: dict[int, int] = {}
    seen: set[tuple] = set()
    by_name = any(s.key == "name" for g in groups for s in g.selectors)
    for host in inv.hosts:
        kind = None if by_name else (host.services, host.labels)
        if kind is not None:
            if kind in seen:
                continue
            seen.add(kind)
        tier = tier_of(host)
        holder = next(
            (j for j, g in enumerate(groups) if matches_all(g.selectors, host, tier)), None
        )
        for i in unused:
            if i not in out and holder is not None and matches_all(groups[i].selectors, host, tier):
                out[i] = holder
        if len(out) == len(unused):
            break
    return out


def compile_plan(
    spec: str,
    inventory: str,
    strategy: str | None = None,
    allow_unknown_services: bool = False,
    limit: str | None = None,
) -> Compiled:
    """Spec + inventory -> plan.  Raises CompileError carrying every diagnostic.

    `limit` (selectors, comma-separated) compiles a partial plan for the hosts
    it selects."""
    with gc_paused():
        return _compile_plan(spec, inventory, strategy, allow_unknown_services, limit)


@dataclass(frozen=True)
class Written:
    """What `compile_to` wrote: the warnings to report, with their sources."""

    warnings: tuple[Diagnostic, ...]
    sources: dict[str, str]


def compile_to(
    stream,
    spec: str,
    inventory: str,
    fmt: str = "yaml",
    strategy: str | None = None,
    allow_unknown_services: bool = False,
    limit: str | None = None,
) -> Written:
    """`compile_plan` then `write_plan` to a text stream: the same text as
    `dump_plan(compile_plan(...).plan, fmt)`.  Raises CompileError before
    writing anything.

    For JSON with the built-in node-by-node engine and a strategy whose
    rollout leaves the engine's steps as they are, the steps are made and
    written a few thousand at a time, never all held: at 50,000 hosts that
    is the difference between ~4x and ~1.3x the memory of `json.load` of
    the inventory."""
    with gc_paused():
        compiled = _compile_plan(
            spec, inventory, strategy, allow_unknown_services, limit, lazy=fmt == "json"
        )
        write_plan(compiled.plan, fmt, stream)
    return Written(compiled.warnings, compiled.sources)


def _compile_plan(
    spec: str,
    inventory: str,
    strategy: str | None,
    allow_unknown_services: bool,
    limit: str | None,
    lazy: bool = False,
) -> Compiled:
    report = _check(spec, inventory, strategy, allow_unknown_services, limit)
    if not report.ok or report.strategy is None or report.inventory is None:
        raise CompileError(report.diagnostics, report.sources)
    chosen = report.strategy
    engine = find_engine(chosen.engine)
    order = report.spec.orders[chosen.order]
    hosts = report.inventory.hosts
    budgets: list[dict] = []
    rolled = None
    if (
        lazy
        and engine is node_by_node
        and not changes_steps(chosen)
        and not proves_plan(report.spec, chosen)
    ):
        # Iterators, written as they are made (plan.iter_plan_json): the same steps.
        host_order, lazy_steps = iter_node_by_node(order, report.spec.tiers, hosts)
        result = EngineResult(lazy_steps, host_order)
        steps, groups = None, []
    else:
        # With budgets `check` rolled out already, and its diagnostics are in the report.
        rolled = (
            _roll_out(report)
            if report.rolled_out is None
            else replace(report.rolled_out, diagnostics=())
        )
        result, steps, groups, budgets = rolled.result, rolled.steps, rolled.groups, rolled.budgets
    if rolled is not None and rolled.diagnostics:
        report = replace(report, diagnostics=(*report.diagnostics, *rolled.diagnostics))
    warnings = [d for d in report.diagnostics if not d.is_error]
    limits = [limit] if limit is not None else None
    plan = build_plan(
        report.spec,
        chosen,
        report.inventory,
        result,
        warnings,
        steps,
        groups,
        limits,
        budgets,
        constraints=rolled.constraints if rolled else None,
        no_return=rolled.no_return if rolled else None,
    )
    return Compiled(plan, tuple(warnings), report.sources)
