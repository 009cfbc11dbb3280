"""Availability budgets at run time: a stage may not start if the hosts already
down plus the stage's own would break a budget the plan carries.

The compiler proved every stage within its budgets for a run where nothing
fails.  A host whose upgrade failed (and was tolerated by the failure policy)
stays unavailable for the rest of the run, so before each stage starts the
runtime counts, per budget, its failed hosts plus the most of its hosts the
stage takes down at once; past what the budget allows, the run pauses with a
reason naming the budget and the failed hosts.  `retry` (which re-runs the
failed hosts) and `resume` go on.  Pure functions over the plan, the run
record and the canvas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kostyor_dsl.runtime.canvas import Stage, Unit


def failed_hosts(failed: dict[str, dict[str, str]]) -> set[str]:
    """Every host the run counts as failed, whatever its group (`RunRecord.failed_hosts`)."""
    return {host for hosts in failed.values() for host in hosts}


def stage_down(stage: Stage, units: Sequence[Unit]) -> list[set[str]]:
    """The sets of hosts the stage takes down at the same moment: all its hosts
    when its lanes run in parallel, else one unit's hosts at a time."""
    chosen = units[stage.first : stage.last + 1]
    if stage.parallel:
        return [{host for unit in chosen for host in unit.hosts}]
    return [set(unit.hosts) for unit in chosen if unit.hosts]


def budget_use(plan: dict[str, Any], failed: set[str]) -> list[dict[str, Any]]:
    """Each budget of the plan with its failed hosts, for `status`."""
    out = []
    for budget in plan.get("budgets") or ():
        members = set(budget["hosts"])
        down = sorted(failed & members)
        out.append(
            {
                "name": budget["name"],
                "rule": budget["rule"],
                "amount": budget["amount"],
                "selected": budget["selected"],
                "allowed": budget["allowed"],
                "failed_hosts": down,
            }
        )
    return out


def breach(
    plan: dict[str, Any], failed: set[str], stage: Stage, units: Sequence[Unit]
) -> str | None:
    """Why the stage may not start (the budgets it would break), or None."""
    budgets = plan.get("budgets") or ()
    if not budgets or not failed:
        return None
    moments = stage_down(stage, units)
    reasons = []
    for budget in budgets:
        members = set(budget["hosts"])
        already = failed & members
        if not already:
            continue
        # A failed host the stage would upgrade again counts once.
        worst = max((len((moment & members) - already) for moment in moments), default=0)
        if worst and len(already) + worst > budget["allowed"]:
            reasons.append(
                f"budget {budget['name']} allows {budget['allowed']} of its "
                f"{budget['selected']} hosts down ({budget['rule']} {budget['amount']}); "
                f"{len(already)} failed ({', '.join(sorted(already))}) and the next stage "
                f"takes down {worst} more"
            )
    if not reasons:
        return None
    return (
        "availability budget: "
        + "; ".join(reasons)
        + " (fix and retry the failed hosts, then resume)"
    )
