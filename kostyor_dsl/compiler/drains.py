"""Drains, proven on the plan: in a strategy that drains hypervisors, every
hypervisor is drained before its nova-compute is upgraded (K075), and no batch
drains more hypervisors than the others can take in (K076).

A *hypervisor* is a host that runs nova-compute, whatever else it runs (a
controller-tier service beside it does not make it a controller).  A strategy
*drains hypervisors* when one of its hosts blocks runs `evacuate` or `drain`
before its hosts; a hypervisor is drained when such a hook on it comes before
its nova-compute step, in the same batch.  A batch that drains every hypervisor leaves none to take in
the instances (the plan knows no capacities: how many a hypervisor can take in
is the compute budget's to say).  `undrained-hypervisors allow` in the strategy says that upgrading
nova-compute on a host that is not drained is meant.
"""

from __future__ import annotations

from collections.abc import Sequence

from kostyor_dsl.compiler.model import HostGroup, StrategyDef
from kostyor_dsl.language.diagnostics import Diagnostic, error

HYPERVISOR_SERVICE = "nova-compute"
DRAIN_ACTIONS = ("evacuate", "drain")
SHOWN_HOSTS = 5


def drains(group: HostGroup) -> bool:
    return any(a.name in DRAIN_ACTIONS for a in group.before)


def check_drains(steps: Sequence[dict], strategy: StrategyDef) -> list[Diagnostic]:
    draining = {g.name: g for g in strategy.groups if drains(g)}
    if not draining:
        return []
    hypervisors: dict[str, None] = {}
    undrained: dict[str, None] = {}
    batches: dict[tuple[str, int], dict[str, None]] = {}
    for step in steps:
        key = (step.get("group") or "", step.get("batch") or 0)
        if step["kind"] == "upgrade" and step.get("service") == HYPERVISOR_SERVICE:
            drained = batches.get(key, {}) if step.get("group") is not None else {}
            for host in step["hosts"]:
                hypervisors[host] = None
                if host not in drained:
                    undrained[host] = None
        elif step["kind"] == "hook" and step.get("action") in DRAIN_ACTIONS:
            batches.setdefault(key, {}).update(dict.fromkeys(step["hosts"]))
    problems: list[Diagnostic] = []
    if undrained and strategy.undrained_hypervisors != "allow":
        names = list(undrained)
        shown = ", ".join(names[:SHOWN_HOSTS])
        if len(names) > SHOWN_HOSTS:
            shown += f" and {len(names) - SHOWN_HOSTS} more"
        group = next(iter(draining.values()))
        problems.append(
            error(
                "K075",
                f"strategy '{strategy.name}' drains hypervisors, but upgrades nova-compute "
                f"on {len(names)} without draining them: {shown}",
                group.span,
                hints=(
                    "a host running nova-compute is a hypervisor whatever else it runs: "
                    "select them with a hosts block above the others, "
                    "`hosts service=nova-compute { ... }`",
                    "or say it is meant: undrained-hypervisors allow",
                ),
            )
        )
    total = len(hypervisors)
    groups = {g.name: g for g in strategy.groups}
    for (group_name, batch), hosts in batches.items():
        drained = sum(1 for h in hosts if h in hypervisors)
        left = total - drained
        if drained == 0 or left > 0:
            continue
        group = groups.get(group_name)
        what = "the only hypervisor" if total == 1 else f"all {total} hypervisors at once"
        problems.append(
            error(
                "K076",
                f"batch {group_name}#{batch} drains {what}: "
                "no other hypervisor can take in their instances",
                (group.batch_span or group.span) if group else strategy.span,
                hints=(
                    "a cloud with one hypervisor cannot be drained: use a strategy "
                    "without evacuate (and plan the instances' downtime)"
                    if total == 1
                    else "smaller batches, bounded by a budget such as "
                    "`budget compute { max-unavailable 50% }`",
                ),
            )
        )
        break  # one is enough: the rest of the ramp repeats it
    return problems
