"""The compiler's last stage: the plan assembled from a strategy and the engine's
steps, with the spec's and inventory's digests (written by `plan.write`)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from kostyor_dsl.compiler.engines import EngineResult
from kostyor_dsl.compiler.model import Spec, StrategyDef
from kostyor_dsl.inventory.model import Inventory
from kostyor_dsl.language.diagnostics import Diagnostic
from kostyor_dsl.plan.write import PLAN_FORMAT


def phase_steps(phase: str, actions) -> list[dict]:
    return [
        {
            "id": f"{phase}:{action.name}",
            "kind": phase,
            "action": action.name,
            "parameters": dict(action.parameters),
            "source": action.span.ref,
        }
        for action in actions
    ]


def build_plan(
    spec: Spec,
    strategy: StrategyDef,
    inventory: Inventory,
    result: EngineResult,
    warnings: list[Diagnostic],
    steps: list[dict] | None = None,
    groups: list[dict] | None = None,
    limit: list[str] | None = None,
    budgets: list[dict] | None = None,
    constraints: list[dict] | None = None,
    no_return: dict | None = None,
) -> dict:
    """`steps` (the rolled-out steps, with the strategy's pre- and post-upgrade
    steps) default to the engine's own (without them)."""
    inventory_digest = {"file": inventory.display, "sha256": inventory.sha256}
    if inventory.cluster is not None:
        inventory_digest["cluster"] = inventory.cluster
    plan: dict = {
        "format": PLAN_FORMAT,
        "strategy": strategy.name,
        "engine": strategy.engine,
        "driver": {"name": strategy.driver, "parameters": dict(strategy.driver_parameters)},
        "inputs": {
            "spec": [{"file": f.display, "sha256": f.sha256} for f in spec.files],
            "inventory": inventory_digest,
        },
    }
    if limit:
        plan["limit"] = list(limit)
    if warnings:
        plan["warnings"] = [_warning_text(d) for d in warnings]
    if groups:
        plan["groups"] = groups
    if budgets:
        plan["budgets"] = budgets
    if constraints:
        plan["constraints"] = constraints
    if no_return is not None:
        plan["point_of_no_return"] = no_return
    if result.host_order is not None:
        plan["host_order"] = result.host_order
    main_steps = result.steps if steps is None else steps
    if inventory.targets or inventory.states:
        with_targets = _with_targets(main_steps, inventory.targets, inventory)
        main_steps = with_targets if isinstance(main_steps, Iterator) else list(with_targets)
    if steps is not None:
        plan["steps"] = main_steps
        return plan
    if isinstance(main_steps, Iterator):  # streamed by compile_to: chained, not copied
        plan["steps"] = chain(
            phase_steps("pre-upgrade", strategy.pre_upgrade),
            main_steps,
            phase_steps("post-upgrade", strategy.post_upgrade),
        )
        return plan
    plan["steps"] = (
        phase_steps("pre-upgrade", strategy.pre_upgrade)
        + main_steps
        + phase_steps("post-upgrade", strategy.post_upgrade)
    )
    return plan


def _with_targets(steps, targets, inventory) -> Iterator[dict]:
    """Upgrade steps with what the driver addresses their service by on each host
    (`targets: {HOST: [NAME, ...]}`, from the inventory's `targets`), and what the
    deployment reports wrong with it (`state: {HOST: [down, ...]}`, from its `state`)."""
    states = inventory.states
    for step in steps:
        if step["kind"] == "upgrade":
            service = step["service"]
            found = {
                host: list(targets[host][service])
                for host in step["hosts"]
                if host in targets and service in targets[host]
            }
            if found:
                step = {**step, "targets": found}
            if states:
                wrong = {
                    host: list(inventory.state_of(host, service))
                    for host in step["hosts"]
                    if host in states and service in states[host]
                }
                if wrong:
                    step = {**step, "state": wrong}
        yield step


def _warning_text(d: Diagnostic) -> str:
    where = d.span.ref if d.span else (d.subject or "")
    return f"{d.code} {where}: {d.message}" if where else f"{d.code}: {d.message}"
