"""Barriers, proven on the plan: every stage of the rolled-out steps against every
barrier of the order and the strategy, in one pass over the steps (K072).

A *stage* is what the runtime runs at once (runtime/canvas.py): the steps of a
rollout batch of several hosts run in parallel lanes, so the whole batch is one
stage; every other step (and every step of a one-host batch, which runs in
sequence) is a stage of its own.  A barrier `FIRST before THEN` holds when the
last stage with a step of FIRST comes before the first stage with a step of
THEN.  A step is *of* a barrier's side when its service, or its action (a pre-
or post-upgrade step, a project step, a hook), is named there.

The plan carries the barriers (`constraints`) with the two steps that bound
each, and the first step of the stage where THEN starts says which barriers it
waits for (`waits_for`): the runtime starts a new stage there whatever the
batches say, and `kostyorc explain --step` names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kostyor_dsl.compiler.model import BarrierDef, HostGroup, StrategyDef
from kostyor_dsl.language.diagnostics import Diagnostic, Label, error


def stage_numbers(steps: Sequence[dict]) -> list[int]:
    """The stage of each step, as the runtime schedules them (see the docstring)."""
    numbers: list[int] = []
    stage = -1
    i = 0
    n = len(steps)
    while i < n:
        group = steps[i].get("group")
        if group is None:
            stage += 1
            numbers.append(stage)
            i += 1
            continue
        batch = steps[i].get("batch")
        j = i
        hosts: set[str] = set()
        while j < n and steps[j].get("group") == group and steps[j].get("batch") == batch:
            hosts.update(steps[j].get("hosts") or ())
            j += 1
        if len(hosts) > 1:
            stage += 1
            numbers.extend([stage] * (j - i))
        else:
            for _ in range(i, j):
                stage += 1
                numbers.append(stage)
        i = j
    return numbers


@dataclass
class _Bounds:
    last_first: int = -1  # index of the last step of FIRST
    first_then: int = -1  # index of the first step of THEN


def check_barriers(
    steps: list[dict], barriers: Sequence[BarrierDef], strategy: StrategyDef
) -> tuple[list[Diagnostic], list[dict]]:
    """(K072 errors, the plan's `constraints` entries); marks `waits_for` on steps."""
    if not barriers:
        return [], []
    by_service: dict[str, list[tuple[int, bool]]] = {}
    by_action: dict[str, list[tuple[int, bool]]] = {}
    for b, barrier in enumerate(barriers):
        for name in barrier.first_services:
            by_service.setdefault(name, []).append((b, True))
        for name in barrier.then_services:
            by_service.setdefault(name, []).append((b, False))
        for name in barrier.first_actions:
            by_action.setdefault(name, []).append((b, True))
        for name in barrier.then_actions:
            by_action.setdefault(name, []).append((b, False))
    bounds = [_Bounds() for _ in barriers]
    for index, step in enumerate(steps):
        service = step.get("service") if step["kind"] == "upgrade" else None
        found = by_service.get(service) if service else by_action.get(step.get("action", ""))
        for b, is_first in found or ():
            if is_first:
                bounds[b].last_first = index
            elif bounds[b].first_then < 0:
                bounds[b].first_then = index
    stages = stage_numbers(steps)
    stage_start: dict[int, int] = {}
    for index, stage in enumerate(stages):
        stage_start.setdefault(stage, index)
    groups = {g.name: g for g in strategy.groups}
    diagnostics: list[Diagnostic] = []
    entries: list[dict] = []
    for barrier, bound in zip(barriers, bounds, strict=True):
        entry = _entry(barrier)
        if bound.last_first >= 0 and bound.first_then >= 0:
            after, before = steps[bound.last_first], steps[bound.first_then]
            entry["after_step"] = after["id"]
            entry["before_step"] = before["id"]
            if stages[bound.last_first] >= stages[bound.first_then]:
                diagnostics.append(_broken(barrier, after, before, stages, bound, groups, strategy))
            else:
                start = steps[stage_start[stages[bound.first_then]]]
                start.setdefault("waits_for", []).append(barrier.text)
        entries.append(entry)
    return diagnostics, entries


def _entry(barrier: BarrierDef) -> dict:
    return {
        "barrier": barrier.text,
        "first": {"services": list(barrier.first_services), "actions": list(barrier.first_actions)},
        "then": {"services": list(barrier.then_services), "actions": list(barrier.then_actions)},
        "origin": barrier.origin,
        "source": barrier.span.ref,
    }


def _broken(
    barrier: BarrierDef,
    after: dict,
    before: dict,
    stages: list[int],
    bound: _Bounds,
    groups: dict[str, HostGroup],
    strategy: StrategyDef,
) -> Diagnostic:
    parallel = stages[bound.last_first] == stages[bound.first_then]
    if parallel:
        how = (
            f"{before['id']} runs in parallel with {after['id']} "
            f"in batch {before.get('group')}#{before.get('batch')}"
        )
    else:
        how = f"{before['id']} starts before {after['id']} is done"
    group = groups.get(before.get("group") or after.get("group") or "")
    if group is not None:
        span = group.batch_span or group.span
        hint = f"a batch of hosts {group.name} must not span the barrier: `batch 1` keeps it"
    else:
        span = strategy.engine_span or strategy.span
        hint = (
            "engine phased upgrades node by node inside the phases the barriers cut: "
            "write `engine phased`"
        )
    return error(
        "K072",
        f"barrier '{barrier.text}' is broken: {how}",
        span,
        labels=(Label(barrier.span, f"barrier declared here ({barrier.origin})"),),
        hints=(hint,),
    )
