"""Rollout: a strategy's host groups, batches, hooks and gates applied to an
engine's ordered steps.

The engine decides the order; rollout keeps it, except that among hosts of
equal key it puts each group's hosts together (ties are only broken by
inventory order).  It
  - groups hosts into batches: consecutive hosts (in that order) of the same
    `hosts` group, sized by the group's ramp (`batch 1, 5, 20%`;
    percentages of the group's hosts, rounded up; the last size repeats).
    Steps of one batch carry the same `group` and `batch`; the runtime runs the
    batch's hosts in parallel, each host's steps in sequence;
  - wraps each host of a group in its `before`/`after` hook steps, and each
    step of a service in that service's hooks;
  - adds a `gate` step after each batch named in `pause-after-batch`.
Hosts in no group keep the engine's plain sequence (one host at a time for
node-by-node), with no failure tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from kostyor_dsl.compiler.budgets import Availability
from kostyor_dsl.compiler.engines import HOST_ENGINES, EngineResult
from kostyor_dsl.compiler.model import Action, HostGroup, OrderDef, ServiceHooks, StrategyDef
from kostyor_dsl.compiler.selectors import HostTiers, matches_all
from kostyor_dsl.compiler.strategy_blocks import BATCH_MAX, batch_sizes
from kostyor_dsl.inventory.model import Host


def assign_groups(
    groups: Sequence[HostGroup], hosts: Sequence[Host], tier_of: HostTiers
) -> dict[str, int]:
    """Host name -> index of the first group whose selectors all match it."""
    out: dict[str, int] = {}
    if not groups:
        return out
    # Without name selectors, hosts with the same services and labels match alike:
    # judge each such kind of host once (tens of thousands of computes are few kinds).
    by_name = any(s.key == "name" for g in groups for s in g.selectors)
    seen: dict[tuple, int | None] = {}
    for host in hosts:
        kind = None if by_name else (host.services, host.labels)
        if kind is not None and kind in seen:
            index = seen[kind]
        else:
            tier = tier_of(host)
            index = next(
                (i for i, g in enumerate(groups) if matches_all(g.selectors, host, tier)), None
            )
            if kind is not None:
                seen[kind] = index
        if index is not None:
            out[host.name] = index
    return out


def _hook_step(action: Action, when: str, target: str, hosts: list[str]) -> dict:
    return {
        "id": f"{when}:{action.name}:{target}",
        "kind": "hook",
        "when": when,
        "action": action.name,
        "parameters": dict(action.parameters),
        "hosts": hosts,
        "source": action.span.ref,
    }


def _tag(step: dict, group: HostGroup | None, batch: int | None) -> dict:
    if group is not None:
        step["group"] = group.name
        step["batch"] = batch
    return step


def changes_steps(strategy: StrategyDef) -> bool:
    """Whether `apply_rollout` does anything for this strategy (else the engine's
    steps are the plan's, and may be streamed)."""
    return bool(strategy.groups or strategy.service_hooks)


def apply_rollout(
    strategy: StrategyDef,
    order: OrderDef,
    tiers: Sequence[str],
    hosts: Sequence[Host],
    result: EngineResult,
    availability: Availability | None = None,
) -> tuple[list[dict], list[dict]]:
    """Return (steps, group summaries for the plan).  `availability` (the
    strategy's budgets) sizes the batches of `batch max`."""
    if not changes_steps(strategy):
        return result.steps, []
    groups = strategy.groups
    hooks = {h.service: h for h in strategy.service_hooks}
    tier_of = HostTiers(order, tiers)
    member = assign_groups(groups, hosts, tier_of)
    if strategy.engine in HOST_ENGINES:
        steps = _node_by_node(result, groups, member, hooks, availability)
    else:
        steps = _per_step(result.steps, groups, member, hooks, availability)
    counts = [0] * len(groups)
    for index in member.values():
        counts[index] += 1
    summaries = [_summary(g, counts[i]) for i, g in enumerate(groups)]
    return steps, summaries


def _summary(group: HostGroup, count: int) -> dict:
    out = {
        "name": group.name,
        "selector": [str(s) for s in group.selectors],
        "hosts": count,
        "batches": list(group.batches),
        "max_failed_hosts": group.max_failed_hosts,
    }
    if group.max_failed_hosts_per_batch is not None:
        out["max_failed_hosts_per_batch"] = group.max_failed_hosts_per_batch
    if group.pause_after_batches:
        out["pause_after_batches"] = list(group.pause_after_batches)
    out["source"] = group.span.ref
    return out


def _wrap_service(step: dict, hooks: dict[str, ServiceHooks], target: str) -> list[dict]:
    hook = hooks.get(step.get("service", ""))
    if hook is None:
        return [step]
    hosts = step["hosts"]
    before = [_hook_step(a, "before", target, list(hosts)) for a in hook.before]
    after = [_hook_step(a, "after", target, list(hosts)) for a in hook.after]
    return [*before, step, *after]


def _visits(result: EngineResult) -> list[tuple[str, list[dict], tuple]]:
    """The engine's steps cut into visits of one host each, with each visit's key
    (phase, rank): node-by-node visits a host once, phased once per phase."""
    steps = result.steps
    host_order = result.host_order or ()
    if result.visits is not None:
        out = []
        start = 0
        for entry, count in zip(host_order, result.visits, strict=True):
            out.append(
                (entry["name"], steps[start : start + count], (entry["phase"], entry["rank"]))
            )
            start += count
        return out
    ranks = {h["name"]: h["rank"] for h in host_order}
    runs: list[tuple[str, list[dict], tuple]] = []
    for step in steps:
        host = step["hosts"][0]
        if runs and runs[-1][0] == host:
            runs[-1][1].append(step)
        else:
            runs.append((host, [step], (0, ranks.get(host))))
    return runs


def _node_by_node(result, groups, member, hooks, availability=None) -> list[dict]:
    runs = _gather_groups(_visits(result), member)
    counts = [0] * len(groups)
    for host in {host for host, _, _ in runs}:
        if host in member:
            counts[member[host]] += 1
    sizes = [_ramp(g, counts[i]) for i, g in enumerate(groups)]
    batch_no = [0] * len(groups)

    out: list[dict] = []
    current: int | None = None  # group index of the open batch
    phase = None  # a batch never spans two phases: a barrier lies between them
    room = 0
    by_budget = False  # `batch max`: the open batch grows while the budgets allow
    down: list[int] = []

    def close_batch() -> None:
        if current is None:
            return
        group = groups[current]
        if batch_no[current] in group.pause_after_batches:
            label = f"{group.name}#{batch_no[current]}"
            out.append(
                {
                    "id": f"gate:{label}",
                    "kind": "gate",
                    "message": f"batch {label} is done: check it, then resume the run",
                    "group": group.name,
                    "batch": batch_no[current],
                    "source": group.span.ref,
                }
            )

    for host, host_steps, key in runs:
        index = member.get(host)
        if (
            index is None
            or index != current
            or room == 0
            or key[0] != phase
            or (by_budget and not availability.fits(down, host))
        ):
            phase = key[0]
            close_batch()
            current = index
            if index is not None:
                batch_no[index] += 1
                room, by_budget = next(sizes[index])
                by_budget = by_budget and availability is not None
                down = availability.counter() if by_budget else []
        group = groups[index] if index is not None else None
        batch = batch_no[index] if index is not None else None
        if index is not None:
            room -= 1
            if by_budget:
                availability.add(down, host)
        wrapped = group is not None and _wraps(group, host_steps)
        if wrapped:
            out.extend(
                _tag(_hook_step(a, "before", host, [host]), group, batch) for a in group.before
            )
        for step in host_steps:
            for s in _wrap_service(step, hooks, step["id"]):
                out.append(_tag(s, group, batch))
        if wrapped:
            out.extend(
                _tag(_hook_step(a, "after", host, [host]), group, batch) for a in group.after
            )
    close_batch()
    return out


def _wraps(group: HostGroup, visit: list[dict]) -> bool:
    """Whether a group's host hooks wrap this visit of a host: every visit, but
    for a group selected by service (`hosts service=nova-compute`) only the
    visits that upgrade that service (engine phased visits a host once per
    phase: its hypervisor is drained once, for nova-compute, not again for an
    agent in a later phase)."""
    patterns = [s.pattern for s in group.selectors if s.key == "service"]
    if not patterns:
        return True
    return any(fnmatchcase(step["service"], p) for step in visit for p in patterns)


def _gather_groups(runs, member):
    """Among hosts of equal key (phase and rank), put each group's hosts together,
    so that batches are not cut short by a host of another group in between.

    The engine's rule (ascending key) stays intact: only ties, which the engine
    breaks by inventory order, are regrouped, and each group keeps that order.
    """
    out: list = []
    i = 0
    while i < len(runs):
        key = runs[i][2]
        j = i + 1
        while j < len(runs) and key[1] is not None and runs[j][2] == key:
            j += 1
        tie = runs[i:j]
        first_seen: dict = {}
        for host, _, _ in tie:
            first_seen.setdefault(member.get(host), len(first_seen))
        tie.sort(key=lambda run: first_seen[member.get(run[0])])  # stable
        out.extend(tie)
        i = j
    return out


def _ramp(group: HostGroup, count: int):
    """(size, sized by the budgets) for each batch of a group; a batch cut short by
    another group's host does not shorten the ramp, so sizes go on with the ramp's
    last size.  A `max` batch is bounded by the group's size and by the budgets."""
    sizes = batch_sizes(group.batches, count) or [1]
    ramp = group.batches
    flags = [ramp[min(i, len(ramp) - 1)] == BATCH_MAX for i in range(len(sizes))]
    yield from zip(sizes, flags, strict=True)
    while True:
        yield sizes[-1], flags[-1]


def _chunks(group: HostGroup, hosts: list[str], availability) -> list[list[str]]:
    """A group's hosts cut into batches by its ramp (and budgets, for `batch max`)."""
    ramp = _ramp(group, len(hosts))
    out: list[list[str]] = []
    start = 0
    while start < len(hosts):
        size, by_budget = next(ramp)
        chunk = hosts[start : start + size]
        if by_budget and availability is not None:
            down = availability.counter()
            kept: list[str] = []
            for host in chunk:
                if kept and not availability.fits(down, host):
                    break
                kept.append(host)
                availability.add(down, host)
            chunk = kept
        out.append(chunk)
        start += len(chunk)
    return out


def _per_step(steps, groups, member, hooks, availability=None) -> list[dict]:
    """Engines whose steps hold many hosts: split each step's hosts by group and
    batch (`SERVICE#2`), each part one step whose hosts run in parallel."""
    out: list[dict] = []
    for step in steps:
        parts: dict[int | None, list[str]] = {}
        for host in step["hosts"]:
            parts.setdefault(member.get(host), []).append(host)
        pieces: list[tuple[dict, HostGroup | None, int | None]] = []
        for index, part_hosts in parts.items():
            if index is None:
                pieces.append((dict(step, hosts=part_hosts), None, None))
                continue
            group = groups[index]
            for number, chunk in enumerate(_chunks(group, part_hosts, availability), start=1):
                pieces.append((dict(step, hosts=chunk), group, number))
        for n, (piece, group, batch) in enumerate(pieces, start=1):
            if len(pieces) > 1:
                piece["id"] = f"{step['id']}#{n}"
            for s in _wrap_service(piece, hooks, piece["id"]):
                out.append(_tag(s, group, batch))
    return out
