"""Availability budgets: prove from the plan that no moment of the upgrade takes
down more of a set of hosts than the cloud can lose.

A budget (`budget SELECTOR... { max-unavailable N }` or `min-available N`) covers
the hosts its selectors all match.  It resolves to a number of those hosts that
may be down at once:

    max-unavailable N     N (at most the hosts it covers)
    max-unavailable P%    P% of its hosts rounded down, but at least 1 when P > 0
                          (Ansible's `serial` rule: a budget that allows something
                          always allows one host)
    min-available N       its hosts minus N (never below 0)
    min-available P%      its hosts minus P% of them rounded up (Kubernetes'
                          PodDisruptionBudget rule: what must stay up rounds up)

A host is down while it is being upgraded.  What is down at once follows the
runtime's own schedule (runtime/canvas.py): the hosts of one rollout batch run
in parallel, so all of them are down together; every other step runs alone,
and an upgrade step with several hosts (service-by-service) takes all of them
down at once, while a hook step runs its hosts one after another.

The compiler keeps budgets where it can: `batch max` sizes each batch as the
largest the budgets allow, and an upgrade step of several hosts in no batch is
split into waves (`SERVICE#w1`, `SERVICE#w2`, ...: hosts in order, a new wave
whenever the next host would break a budget).  What it cannot keep is an error
located at the batch (or the strategy's engine line).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import NamedTuple

from kostyor_dsl.compiler.model import Budget, HostGroup, StrategyDef
from kostyor_dsl.compiler.selectors import HostTiers, matches_all
from kostyor_dsl.inventory.model import Host
from kostyor_dsl.language.diagnostics import Diagnostic, Label, error, warning
from kostyor_dsl.language.imports import SHIPPED_PREFIX

SHOWN_HOSTS = 5


def allowed_down(rule: str, amount: int | str, hosts: int) -> int:
    """How many of a budget's `hosts` may be down at once."""
    if isinstance(amount, str):
        percent = float(amount[:-1])
        if rule == "max-unavailable":
            if percent <= 0 or hosts == 0:
                return 0
            return min(hosts, max(1, math.floor(percent * hosts / 100)))
        return max(0, hosts - math.ceil(percent * hosts / 100))
    if rule == "max-unavailable":
        return min(amount, hosts)
    return max(0, hosts - amount)


@dataclass(frozen=True)
class ResolvedBudget:
    budget: Budget
    hosts: tuple[str, ...]  # the hosts it covers, in inventory order
    allowed: int

    @property
    def name(self) -> str:
        return self.budget.name

    def rule_text(self) -> str:
        b = self.budget
        return f"{b.rule} {b.amount} of {_hosts(len(self.hosts))}"


def _hosts(n: int) -> str:
    return f"{n} host" if n == 1 else f"{n} hosts"


def resolve_budgets(
    budgets: Sequence[Budget], hosts: Sequence[Host], tier_of: HostTiers
) -> tuple[Availability, list[Diagnostic]]:
    """Each budget's hosts and what it allows, in one pass over the inventory."""
    by_name = any(s.key == "name" for b in budgets for s in b.selectors)
    members: list[list[str]] = [[] for _ in budgets]
    of: dict[str, tuple[int, ...]] = {}
    # Hosts with the same services and labels match alike: judge each kind once.
    seen: dict[tuple, tuple[int, ...]] = {}
    for host in hosts:
        kind = None if by_name else (host.services, host.labels)
        mine = seen.get(kind) if kind is not None else None
        if mine is None:
            tier = tier_of(host)
            mine = tuple(
                i for i, budget in enumerate(budgets) if matches_all(budget.selectors, host, tier)
            )
            if kind is not None:
                seen[kind] = mine
        if mine:
            of[host.name] = mine
            for i in mine:
                members[i].append(host.name)
    resolved = [
        ResolvedBudget(budget, tuple(names), allowed_down(budget.rule, budget.amount, len(names)))
        for budget, names in zip(budgets, members, strict=True)
    ]
    problems = [
        warning(
            "K061",
            f"budget {budget.name} selects no host of the inventory",
            budget.span,
            hints=("selectors: TIER, tier=T, name=GLOB, service=GLOB, LABEL=GLOB; all must match",),
        )
        for budget, names in zip(budgets, members, strict=True)
        # A shipped spec's budgets cover services a given cloud may not run.
        if not names and not budget.span.file.startswith(SHIPPED_PREFIX + "/")
    ]
    return Availability(resolved, of), problems


class Availability:
    """The resolved budgets, which of them each host counts against, and a
    running count of hosts down."""

    def __init__(self, budgets: Sequence[ResolvedBudget], of: dict[str, tuple[int, ...]]):
        self.budgets = list(budgets)
        self.allowed = [b.allowed for b in budgets]
        self.of = of

    def counter(self) -> list[int]:
        return [0] * len(self.budgets)

    def fits(self, down: list[int], host: str) -> bool:
        """Whether taking `host` down as well keeps every budget."""
        return all(down[b] < self.allowed[b] for b in self.of.get(host, ()))

    def add(self, down: list[int], host: str) -> None:
        for b in self.of.get(host, ()):
            down[b] += 1


def split_waves(steps: list[dict], availability: Availability) -> list[dict]:
    """Upgrade steps of several hosts in no batch, cut into waves that fit every budget."""
    if not availability.of:
        return steps
    out: list[dict] = []
    for step in steps:
        hosts = step.get("hosts") or ()
        if step["kind"] != "upgrade" or step.get("group") is not None or len(hosts) < 2:
            out.append(step)
            continue
        waves = _waves(hosts, availability)
        if len(waves) == 1:
            out.append(step)
            continue
        for number, wave in enumerate(waves, start=1):
            out.append({**step, "id": f"{step['id']}#w{number}", "hosts": wave, "wave": number})
    return out


def _waves(hosts: Sequence[str], availability: Availability) -> list[list[str]]:
    """Hosts in order, a new wave at the first host that would break a budget.

    Taken a run of hosts of the same budgets at a time (computes come in long
    runs): as many of the run as every one of its budgets has room for."""
    allowed = availability.allowed
    waves: list[list[str]] = [[]]
    down = availability.counter()
    for mine, run in groupby(hosts, key=availability.of.get):
        run = list(run)
        if not mine:
            waves[-1].extend(run)
            continue
        while run:
            room = min(allowed[b] - down[b] for b in mine)
            if room <= 0:
                if not waves[-1]:  # allows nothing: one host a wave (K062 says why)
                    room = 1
                else:
                    waves.append([])
                    down = availability.counter()
                    continue
            taken, run = run[:room], run[room:]
            waves[-1].extend(taken)
            for b in mine:
                down[b] += len(taken)
    return waves


class Stage(NamedTuple):
    """Hosts down at once: a rollout batch, or one step (one host of a hook step)."""

    first_step: str
    hosts: Sequence[str]
    group: str | None = None
    batch: int | None = None


def plan_stages(steps: Sequence[dict]) -> Iterator[Stage]:
    """The moments of the plan, as the runtime schedules them (runtime/canvas.py)."""
    i = 0
    n = len(steps)
    while i < n:
        step = steps[i]
        group = step.get("group")
        if group is not None:
            batch = step.get("batch")
            hosts: dict[str, None] = {}
            j = i
            while j < n and steps[j].get("group") == group and steps[j].get("batch") == batch:
                hosts.update(dict.fromkeys(steps[j].get("hosts") or ()))
                j += 1
            yield Stage(step["id"], tuple(hosts), group, batch)
            i = j
            continue
        hosts_of = step.get("hosts") or ()
        if step["kind"] == "hook" and len(hosts_of) > 1:
            for host in hosts_of:
                yield Stage(step["id"], (host,))
        elif hosts_of:
            yield Stage(step["id"], hosts_of)
        i += 1


@dataclass
class _Breach:
    stage: Stage
    down: list[str]
    more: int = 0


def check_stages(
    steps: Sequence[dict], availability: Availability, strategy: StrategyDef
) -> tuple[list[Diagnostic], list[dict]]:
    """Every stage against every budget: (diagnostics, the plan's `budgets` entries)."""
    budgets = availability.budgets
    most = [0] * len(budgets)
    upgraded = [0] * len(budgets)
    parallel: list[list[dict]] = [[] for _ in budgets]
    breaches: dict[tuple[int, str | None], _Breach] = {}
    of = availability.of
    for stage in plan_stages(steps):
        hosts = stage.hosts
        if len(hosts) == 1 and stage.group is None:
            # One host down: it can break only a budget that allows none (K062).
            for b in of.get(hosts[0], ()):
                upgraded[b] += 1
                most[b] = most[b] or 1
            continue
        counts: dict[int, int] = {}
        for mine, many in Counter(map(of.get, hosts)).items():
            for b in mine or ():
                counts[b] = counts.get(b, 0) + many
        for b, count in counts.items():
            most[b] = max(most[b], count)
            upgraded[b] += count
            if stage.group is not None or count > 1:
                parallel[b].append({"step": stage.first_step, "down": count})
            if count > budgets[b].allowed and budgets[b].allowed > 0:
                key = (b, stage.group)
                if key in breaches:
                    breaches[key].more += 1
                else:
                    down = [h for h in hosts if b in of.get(h, ())]
                    breaches[key] = _Breach(stage, down)
    diagnostics: list[Diagnostic] = []
    groups = {g.name: g for g in strategy.groups}
    for b, budget in enumerate(budgets):
        if budget.allowed == 0 and upgraded[b]:
            diagnostics.append(_impossible(budget))
    for (b, group_name), breach in sorted(breaches.items(), key=lambda i: (i[0][0], i[0][1] or "")):
        diagnostics.append(
            _breach(budgets[b], breach, groups.get(group_name) if group_name else None, strategy)
        )
    entries = [_entry(budget, most[b], parallel[b]) for b, budget in enumerate(budgets)]
    return diagnostics, entries


def _names(hosts: Sequence[str]) -> str:
    shown = ", ".join(hosts[:SHOWN_HOSTS])
    if len(hosts) > SHOWN_HOSTS:
        shown += f" and {len(hosts) - SHOWN_HOSTS} more"
    return shown


def _impossible(budget: ResolvedBudget) -> Diagnostic:
    return error(
        "K062",
        f"budget {budget.name} allows no host down ({budget.rule_text()}), "
        "but the plan upgrades its hosts",
        budget.budget.span,
        hints=(
            "no batch can keep it: lower min-available (or raise max-unavailable) "
            "so that at least 1 host may be down",
        ),
    )


def _breach(
    budget: ResolvedBudget, breach: _Breach, group: HostGroup | None, strategy: StrategyDef
) -> Diagnostic:
    stage = breach.stage
    down = breach.down
    if stage.group is not None:
        where = f"batch {stage.group}#{stage.batch}"
        span = (group.batch_span or group.span) if group else strategy.span
        hint = (
            f"a batch of at most {budget.allowed} of these hosts fits; "
            "or write `batch max` for the largest batches the budgets allow"
        )
    else:
        where = f"step {stage.first_step}"
        span = strategy.engine_span or strategy.span
        hint = "hosts in a rollout batch or in waves fit budgets: give them a hosts block"
    more = f" (and {breach.more} more stages of it)" if breach.more else ""
    return error(
        "K060",
        f"{where} takes down {len(down)} hosts of budget {budget.name} at once{more}: "
        f"{_names(down)}; it allows {budget.allowed} ({budget.rule_text()})",
        span,
        labels=(Label(budget.budget.span, "budget declared here"),),
        hints=(hint,),
    )


def _entry(budget: ResolvedBudget, most: int, stages: list[dict]) -> dict:
    b = budget.budget
    out = {
        "name": b.name,
        "selector": [str(s) for s in b.selectors],
        "rule": b.rule,
        "amount": b.amount,
        "selected": len(budget.hosts),
        "allowed": budget.allowed,
        "most_down": most,
    }
    if stages:
        out["stages"] = stages
    out["source"] = b.span.ref
    out["hosts"] = list(budget.hosts)
    return out
