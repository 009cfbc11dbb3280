"""The plan: the compiler's output and the runtime's input (schemas/plan.schema.json).

`build_plan` assembles it from a strategy and the engine's steps;
`dump_plan` writes it byte-stably: keys in a fixed, readable order (never
sorted by accident of a dict), no timestamps, no absolute paths.
"""

from __future__ import annotations

import json

import yaml

from kostyor_dsl.compiler.diagnostics import Diagnostic
from kostyor_dsl.compiler.engines import EngineResult
from kostyor_dsl.compiler.inventory import Inventory
from kostyor_dsl.compiler.model import Spec, StrategyDef

PLAN_FORMAT = "kostyor-plan/1"
YamlDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def build_plan(
    spec: Spec,
    strategy: StrategyDef,
    inventory: Inventory,
    result: EngineResult,
    warnings: list[Diagnostic],
) -> dict:
    pre_steps = [
        {
            "id": f"pre-upgrade:{action.name}",
            "kind": "pre-upgrade",
            "action": action.name,
            "parameters": dict(action.parameters),
            "source": action.span.ref,
        }
        for action in strategy.pre_upgrade
    ]
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
    if warnings:
        plan["warnings"] = [_warning_text(d) for d in warnings]
    if result.host_order is not None:
        plan["host_order"] = result.host_order
    plan["steps"] = pre_steps + result.steps
    return plan


def _warning_text(d: Diagnostic) -> str:
    where = d.span.ref if d.span else (d.subject or "")
    return f"{d.code} {where}: {d.message}" if where else f"{d.code}: {d.message}"


def dump_plan(plan: dict, fmt: str = "yaml") -> str:
    if fmt == "json":
        return json.dumps(plan, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        header = (
            f"# kostyor upgrade plan: strategy {plan['strategy']}, engine {plan['engine']}.\n"
            "# Written by `kostyorc compile`; edit the spec or the inventory, not this file.\n"
        )
        body = yaml.dump(
            plan,
            Dumper=YamlDumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=1 << 16,
        )
        return header + body
    raise ValueError(f"unknown plan format {fmt!r}")


def load_plan(text: str) -> dict:
    """Read a plan written by `dump_plan` (either format)."""
    if text.lstrip().startswith("{"):
        return json.loads(text)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
