"""What is down, when: hosts under upgrade per tier, group and budget, over time.

A host is down from the start of its first unit to the end of its last one
in an unbroken run of its units in one lane: in a batch, its whole lane
(hooks included: a compute is disabled and evacuated first); in a
one-lane stage, each run of consecutive steps naming it (service-by-service:
every host of the step).

Whose tier a host is: the plan's groups say it when a group's selector names
a tier (`compute`, `tier=compute`: the compiler selected the group's hosts
by their own tier), else the plan's `host_order` (node-by-node plans).

Budgets (`plan["budgets"]`, written by the compiler once availability
budgets exist) are read tolerantly: each item's `name` (or its `selector`
joined by ", "), the hosts it covers as `hosts` (or `host_names`) listing
host names, or else its `selector` evaluated on what the plan knows (tier,
`name=`, `service=`), and the number it allows down as `max_unavailable`
or `allowed` (a count), or `min_available` (a count) of its hosts.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from kostyor_dsl.runtime.canvas import Stage, Unit
from kostyor_dsl.simulate.model import Capacity, Unavailability

_GLOB = set("*?[")


def down_intervals(
    units: list[Unit], stages: list[Stage], start: list[float], end: list[float]
) -> list[tuple[str, float, float]]:
    """(host, from, to) for every unbroken stretch a host is under upgrade."""
    out: list[tuple[str, float, float]] = []
    for stage in stages:
        for lane in stage.lanes:
            if lane.host is not None:
                # A batch's lane is its host's, every unit of it: one stretch.
                out.append((lane.host, start[lane.first], end[lane.last]))
                continue
            open_at: dict[str, int] = {}  # host -> its interval's position in `out`
            for index in range(lane.first, lane.last + 1):
                hosts = units[index].hosts
                still = {}
                for host in hosts:
                    position = open_at.get(host)
                    if position is None:
                        position = len(out)
                        out.append((host, start[index], end[index]))
                    else:
                        name, since, _ = out[position]
                        out[position] = (name, since, end[index])
                    still[host] = position
                open_at = still
    return [item for item in out if item[2] > item[1]]


def _tier_selector(selectors: Iterable) -> str | None:
    for text in selectors or ():
        if not isinstance(text, str):
            continue
        key, sep, pattern = text.partition("=")
        tier = pattern if sep and key == "tier" else (None if sep else text)
        if tier and not (_GLOB & set(tier)):
            return tier
    return None


def plan_hosts(plan: dict) -> tuple[list[str], dict[str, dict[str, None]]]:
    """Every host the plan names, in first-seen order, and each group's hosts."""
    hosts: dict[str, None] = {}
    for entry in plan.get("host_order") or ():
        if isinstance(entry, dict) and entry.get("name"):
            hosts.setdefault(entry["name"])
    members: dict[str, dict[str, None]] = {}
    for step in plan["steps"]:
        names = step.get("hosts")
        if not names:
            continue
        for host in names:
            hosts.setdefault(host)
        group = step.get("group")
        if group is not None:
            own = members.get(group)
            if own is None:
                own = members[group] = {}
            for host in names:
                own.setdefault(host)
    return list(hosts), members


def host_tiers(plan: dict, members: dict[str, dict[str, None]]) -> dict[str, str]:
    """Each host's tier, as far as the plan tells it (`members`: each group's hosts)."""
    tiers: dict[str, str] = {}
    for entry in plan.get("host_order") or ():
        if isinstance(entry, dict) and entry.get("name") and entry.get("tier"):
            tiers[entry["name"]] = entry["tier"]
    for group in plan.get("groups") or ():
        if not isinstance(group, dict):
            continue
        tier = _tier_selector(group.get("selector"))
        if tier:
            tiers.update(dict.fromkeys(members.get(group.get("name"), ()), tier))
    return tiers


def _services(plan: dict) -> dict[str, set[str]]:
    """Each host's services, from the plan's upgrade steps."""
    services: dict[str, set[str]] = {}
    for step in plan["steps"]:
        if step.get("kind") == "upgrade":
            for host in step.get("hosts") or ():
                services.setdefault(host, set()).add(step["service"])
    return services


def _selected(
    selectors: list, hosts: list[str], tiers: dict[str, str], plan: dict
) -> list[str] | None:
    """The hosts `selectors` choose, or None when the plan cannot tell (labels)."""
    parsed = []
    for text in selectors:
        if not isinstance(text, str):
            return None
        key, sep, pattern = text.partition("=")
        if not sep:
            key, pattern = "tier", text
        if key not in ("tier", "name", "service"):
            return None
        parsed.append((key, pattern))
    services = _services(plan) if any(key == "service" for key, _ in parsed) else {}

    def matches(host: str) -> bool:
        for key, pattern in parsed:
            if key == "tier":
                tier = tiers.get(host)
                if tier is None or not fnmatchcase(tier, pattern):
                    return False
            elif key == "name":
                if not fnmatchcase(host, pattern):
                    return False
            elif not any(fnmatchcase(s, pattern) for s in services.get(host, ())):
                return False
        return True

    return [host for host in hosts if matches(host)]


def _count(value) -> int | None:
    return value if type(value) is int and value >= 0 else None


def categories(plan: dict) -> tuple[list[tuple[str, str, list[str], int | None]], list[str]]:
    """(kind, name, hosts, allowed) for every tier, group and budget, and notes."""
    hosts, members = plan_hosts(plan)
    tiers = host_tiers(plan, members)
    notes: list[str] = []
    out: list[tuple[str, str, list[str], int | None]] = []
    by_tier: dict[str, list[str]] = {}
    for host in hosts:
        if host in tiers:
            by_tier.setdefault(tiers[host], []).append(host)
    for tier in sorted(by_tier):
        out.append(("tier", tier, by_tier[tier], None))
    if hosts and not by_tier:
        notes.append(
            "the plan says no host's tier (node-by-node plans say it in host_order, "
            "rollout plans in their groups' selectors): no figures per tier"
        )
    for group in sorted(members):
        out.append(("group", group, list(members[group]), None))
    for number, budget in enumerate(plan.get("budgets") or (), 1):
        if not isinstance(budget, dict):
            notes.append(f"budgets[{number - 1}] is not a mapping: left out")
            continue
        selector = budget.get("selector")
        selector = [selector] if isinstance(selector, str) else selector
        name = budget.get("name")
        if not isinstance(name, str) or not name:
            name = ", ".join(map(str, selector)) if isinstance(selector, list) else f"#{number}"
        chosen = None
        for key in ("hosts", "host_names"):
            listed = budget.get(key)
            if isinstance(listed, list) and all(isinstance(h, str) for h in listed):
                chosen = listed
                break
        if chosen is None and isinstance(selector, list):
            chosen = _selected(selector, hosts, tiers, plan)
        if chosen is None:
            notes.append(
                f"budget {name}: the plan lists none of its hosts and its selector needs "
                "what the plan does not carry (labels): left out"
            )
            continue
        allowed = _count(budget.get("max_unavailable"))
        if allowed is None:
            allowed = _count(budget.get("allowed"))
        least = _count(budget.get("min_available"))
        if allowed is None and least is not None:
            allowed = max(0, len(chosen) - least)
        out.append(("budget", name, list(dict.fromkeys(chosen)), allowed))
    return out, notes


def unavailability(
    plan: dict, intervals: list[tuple[str, float, float]]
) -> tuple[list[Unavailability], list[str]]:
    """The most hosts down at once per tier, group and budget (a sweep over the intervals)."""
    found, notes = categories(plan)
    of_host: dict[str, list[int]] = {}
    for number, (_, _, hosts, _) in enumerate(found):
        for host in hosts:
            of_host.setdefault(host, []).append(number)
    events = []
    for host, since, until in intervals:
        if host in of_host:
            events.append((since, 1, host))
            events.append((until, -1, host))
    events.sort(key=lambda event: (event[0], event[1]))
    size = len(found)
    down = [0] * size
    most = [0] * size
    at: list[float | None] = [None] * size
    series: list[list[tuple[float, int]]] = [[(0.0, 0)] for _ in range(size)]
    for moment, delta, host in events:
        for number in of_host[host]:
            count = down[number] = down[number] + delta
            line = series[number]
            if line[-1][0] == moment:
                line[-1] = (moment, count)
            else:
                line.append((moment, count))
            if count > most[number]:
                most[number], at[number] = count, moment
    result = [
        Unavailability(
            kind, name, len(hosts), most[number], at[number], allowed, _squeeze(series[number])
        )
        for number, (kind, name, hosts, allowed) in enumerate(found)
    ]
    return result, notes


def _squeeze(line: list[tuple[float, int]]) -> tuple[tuple[float, int], ...]:
    """The series without points that change nothing."""
    out: list[tuple[float, int]] = []
    for moment, count in line:
        if out and out[-1][1] == count:
            continue
        out.append((moment, count))
    return tuple(out)


def capacity(found: list[Unavailability], tier: str, duration: float) -> Capacity | None:
    """The lowest number of `tier`'s hosts up, when it first happens, and how long in all."""
    entry = next((u for u in found if u.kind == "tier" and u.name == tier), None)
    if entry is None:
        return None
    lasting = 0.0
    line = entry.series
    for position, (moment, count) in enumerate(line):
        if count == entry.most_down and entry.most_down:
            following = line[position + 1][0] if position + 1 < len(line) else duration
            lasting += following - moment
    return Capacity(tier, entry.hosts, entry.hosts - entry.most_down, entry.at, lasting)
