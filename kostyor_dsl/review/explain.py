"""Why a host or a step is where it is in a plan, in words.

Everything said comes from the plan itself: a node-by-node plan's `host_order`
records each host's tier (the first tier on which all its services may run, as
`hosts` selectors see it), its key service with that service's rank, and the
spec line that declared it; every step records the spec line (`source`) that
produced it.  Names from the plan are printed with control characters escaped.
"""

from __future__ import annotations

from kostyor_dsl.language.printable import printable
from kostyor_dsl.language.suggest import did_you_mean

ENGINE_RULES = {
    "node-by-node": (
        "upgrades one host at a time, hosts in ascending order of their key "
        "service (the earliest-ranked service they run; ties keep the inventory order), "
        "and on each host its services in the order the spec lists them."
    ),
    "service-by-service": (
        "upgrades one service at a time, in the order the spec lists "
        "them, on every host that runs it at once."
    ),
    "phased": (
        "cuts the order into phases at its barriers and upgrades node by node inside "
        "each phase: one host at a time, hosts in ascending order of their key service "
        "among the phase's services, on each host its services of the phase in the "
        "order the spec lists them."
    ),
}


PROJECT_STEP_WORDS = {
    "pre-upgrade": "It is a step of project {project}: a project's pre-upgrade steps run right "
    "before the first batch or step that upgrades one of its services, in the order's order.",
    "post-upgrade": "It is a step of project {project}: a project's post-upgrade steps run right "
    "after the last batch or step that upgrades one of its services, in the order's order.",
}
PHASE_WORDS = {
    "pre-upgrade": "Pre-upgrade steps run before any host is upgraded, in the order the strategy lists them.",
    "post-upgrade": "Post-upgrade steps run after every host is upgraded, in the order the strategy lists them.",
    "hook": "A host's hooks run around its upgrade: `before` hooks first, `after` hooks last, in the order the strategy lists them.",
}


def _batch_words(plan: dict, step: dict) -> str:
    """Which batch of which host group the step belongs to, and who runs alongside."""
    if step.get("batch") is None:
        return ""
    group, batch = step.get("group"), step["batch"]
    hosts: dict[str, None] = {}
    for other in plan["steps"]:
        if other.get("group") == group and other.get("batch") == batch:
            hosts.update(dict.fromkeys(other.get("hosts") or ()))
    source = next((g["source"] for g in plan.get("groups") or () if g["name"] == group), None)
    verb = "It comes right after" if step["kind"] == "gate" else "It belongs to"
    text = f"{verb} batch {batch} of host group {group}"
    if source:
        text += f" (declared at {source})"
    if len(hosts) > 1:
        text += (
            f": the batch's {len(hosts)} hosts ({', '.join(list(hosts)[:10])}"
            + (", ..." if len(hosts) > 10 else "")
            + ") are upgraded in parallel, each host's steps in sequence."
        )
    else:
        text += ", a batch of one host."
    return text


class UnknownName(LookupError):
    """A host or step id the plan does not have; `str()` says so with suggestions."""

    def __init__(self, what: str, name: str, candidates) -> None:
        hints = did_you_mean(name, candidates)
        message = f"no {what} {name!r} in this plan"
        if hints:
            message += f"; {hints[0]}"
        super().__init__(printable(message))


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# node-by-node with host groups: batches, not one host at a time.
GROUPED_RULE = (
    "upgrades hosts in ascending order of their key service (the earliest-ranked "
    "service they run; ties keep the inventory order), and on each host its services "
    "in the order the spec lists them; the hosts of {groups} go batch by batch, the "
    "hosts of a batch in parallel; the other hosts one at a time."
)


def _strategy_line(plan: dict) -> str:
    groups = [
        f"{g['name']} (batches {', '.join(map(str, g.get('batches') or ()))})"
        for g in plan.get("groups") or ()
    ]
    if plan["engine"] in ("node-by-node", "phased") and groups:
        named = ", ".join(groups[:-1]) + " and " + groups[-1] if len(groups) > 1 else groups[0]
        rule = GROUPED_RULE.format(
            groups=f"host group {named}" if len(groups) == 1 else f"host groups {named}"
        )
    else:
        rule = ENGINE_RULES.get(plan["engine"], "orders the steps as its engine decides.")
    return f"Strategy {plan['strategy']} (engine {plan['engine']}) {rule}"


def _step_line(number: int, step: dict) -> str:
    if step["kind"] in ("pre-upgrade", "post-upgrade"):
        what = f"{step['kind']} action {step['action']}"
    elif step["kind"] == "hook":
        what = f"{step['when']} {step['action']}"
    elif step["kind"] == "gate":
        what = "manual gate"
    else:
        hosts = step["hosts"]
        what = step["service"] if len(hosts) == 1 else f"{step['service']} on {len(hosts)} hosts"
        if step.get("state"):
            what += " [" + state_words(step["state"]) + "]"
    return f"{number:>5}. {what}  ({step['source']})"


def state_words(state: dict) -> str:
    """`{cmp1: [down]}` -> `down on cmp1`."""
    return "; ".join(f"{' and '.join(what)} on {host}" for host, what in sorted(state.items()))


def _placement_words(p: dict) -> str:
    return f"a {p['tier']} host, key service {p['key_service']} of rank {p['rank']}"


def explain_host(plan: dict, host: str) -> str:
    steps = plan["steps"]
    mine = [(i, s) for i, s in enumerate(steps, start=1) if host in s.get("hosts", ())]
    order = plan.get("host_order")
    placements = {p["name"]: (i, p) for i, p in enumerate(order or (), start=1)}
    if not mine and host not in placements:
        hosts: dict[str, None] = dict.fromkeys(placements)
        for s in steps:
            hosts.update(dict.fromkeys(s.get("hosts", ())))
        raise UnknownName("host", host, hosts)
    out: list[str] = []
    if host in placements:
        position, p = placements[host]
        out.append(f"{host} is the {ordinal(position)} of {len(order)} hosts to be upgraded.")
        out.append(_strategy_line(plan))
        out.append(
            f"It is a {p['tier']} host (the first tier on which all its services may run). "
            f"Its key service is {p['key_service']}: rank {p['rank']} in the order sorted by "
            f"tier, declared at {p['source']}."
        )
        if position > 1:
            before = order[position - 2]
            out.append(
                f"Before it: {before['name']} ({_placement_words(before)}){_tie(before, p)}."
            )
        else:
            out.append("No host comes before it: no other host has an earlier key service.")
        if position < len(order):
            after = order[position]
            out.append(f"After it: {after['name']} ({_placement_words(after)}){_tie(p, after)}.")
        else:
            out.append("It is the last host.")
    else:
        out.append(
            f"{host} takes part in {len(mine)} of {len(steps)} steps (strategy {plan['strategy']})."
        )
        out.append(_strategy_line(plan))
        shared = sum(len(s["hosts"]) > 1 for _, s in mine)
        if shared:
            out.append(
                f"In {_plural(shared, 'step')} it is upgraded together with other hosts, in parallel."
            )
    batched = next((s for _, s in mine if s.get("batch") is not None), None)
    if batched is not None:
        out.append(_batch_words(plan, batched))
    if mine:
        out.extend(_budget_words(plan, mine[0][1]))
    if mine:
        first, last = mine[0][0], mine[-1][0]
        span = f"step {first}" if first == last else f"steps {first} to {last}"
        out.append(f"Its {_plural(len(mine), 'step')} ({span} of {len(steps)}):")
        out.extend(_step_line(i, s) for i, s in mine)
    else:
        out.append("It has no steps: none of its services is in the order.")
    return printable("\n".join(out) + "\n")


def _stage_hosts(plan: dict, step: dict) -> list[str]:
    """The hosts down together with this step (compiler/budgets.py's stages)."""
    if step.get("group") is None:
        return list(step.get("hosts") or ())[: 1 if step["kind"] == "hook" else None]
    hosts: dict[str, None] = {}
    for other in plan["steps"]:
        if other.get("group") == step["group"] and other.get("batch") == step["batch"]:
            hosts.update(dict.fromkeys(other.get("hosts") or ()))
    return list(hosts)


def _budget_words(plan: dict, step: dict) -> list[str]:
    budgets = plan.get("budgets") or ()
    if not budgets or not step.get("hosts"):
        return []
    down = _stage_hosts(plan, step)
    out = []
    for budget in budgets:
        members = set(budget["hosts"])
        if not members.intersection(step["hosts"]):
            continue
        count = sum(h in members for h in down)
        out.append(
            f"It counts against budget {budget['name']} ({budget['rule']} {budget['amount']} "
            f"of {_plural(budget['selected'], 'host')}: at most {budget['allowed']} down at once, "
            f"declared at {budget['source']}): its stage takes down {count} of them; "
            f"the plan takes down at most {budget['most_down']} at once."
        )
    return out


def _in_side(side: dict, step: dict) -> bool:
    if step["kind"] == "upgrade":
        return step.get("service") in side["services"]
    return step.get("action") in side["actions"]


def _barrier_words(plan: dict, step: dict) -> list[str]:
    """The barriers this step waits for (it is on their `then` side)."""
    out = []
    for barrier in plan.get("constraints") or ():
        if not _in_side(barrier["then"], step) or "after_step" not in barrier:
            continue
        out.append(
            f"It waits for barrier '{barrier['barrier']}' ({barrier['origin']}, declared at "
            f"{barrier['source']}): it starts only once every step of the first names is done "
            f"on every host; the last of them is {barrier['after_step']}."
        )
    return out


def _no_return_words(plan: dict, index: int) -> list[str]:
    mark = plan.get("point_of_no_return")
    if mark is None:
        return []
    at = next((i for i, s in enumerate(plan["steps"]) if s["id"] == mark["step"]), None)
    if at is None or index < at:
        return []
    if index == at:
        return [
            f"It is the plan's point of no return ({mark['action']}, irreversible, declared at "
            f"{mark['source']}): once it has run, the old release can no longer run."
        ]
    return [
        f"It comes after the plan's point of no return (step {at + 1}, {mark['step']}): "
        "the old release can no longer run."
    ]


def _tie(first: dict, second: dict) -> str:
    if first["rank"] == second["rank"]:
        return "; the same rank, so the inventory order decides"
    return ""


def explain_step(plan: dict, step_id: str) -> str:
    steps = plan["steps"]
    index = next((i for i, s in enumerate(steps) if s["id"] == step_id), None)
    if index is None:
        raise UnknownName("step", step_id, (s["id"] for s in steps))
    step = steps[index]
    number = index + 1
    out = [f"{step_id} is step {number} of {len(steps)} (strategy {plan['strategy']})."]
    kind = step["kind"]
    if kind in ("pre-upgrade", "post-upgrade", "hook"):
        params = ", ".join(f"{k} {v}" for k, v in step["parameters"].items())
        what = f"the {kind} action" if kind != "hook" else f"the {step['when']}-hook action"
        where = f" on {', '.join(step['hosts'])}" if kind == "hook" else ""
        out.append(
            f"It runs {what} {step['action']}{where}"
            + (f" with {params}" if params else "")
            + f", declared at {step['source']}."
        )
        out.append(
            PROJECT_STEP_WORDS[kind].format(project=step["project"])
            if "project" in step
            else PHASE_WORDS[kind]
        )
    elif kind == "gate":
        out.append(
            f"It is a manual gate, declared at {step['source']}: the run pauses here until an "
            f"operator resumes it. Its message: {step['message']}"
        )
    elif kind == "upgrade":
        hosts = step["hosts"]
        where = (
            f"on {hosts[0]}"
            if len(hosts) == 1
            else f"on {len(hosts)} hosts at once: {', '.join(hosts[:10])}"
        )
        if len(hosts) > 10:
            where += f" and {len(hosts) - 10} more"
        out.append(
            f"It upgrades {step['service']} (project {step['project']}) {where}; "
            f"the service is declared at {step['source']}."
        )
        if step.get("state"):
            down = any("down" in what for what in step["state"].values())
            out.append(
                f"The deployment reports {step['service']} {state_words(step['state'])}"
                + (
                    ": `kostyorc run` refuses to start this step unless --allow-down."
                    if down
                    else "."
                )
            )
        out.append(_strategy_line(plan))
        if step.get("wave") is not None:
            out.append(
                f"It is wave {step['wave']} of {step['service']}: the strategy's budgets do not "
                "allow all its hosts down at once, so they are upgraded in waves, one after another."
            )
        placement = next(
            (p for p in plan.get("host_order") or () if len(hosts) == 1 and p["name"] == hosts[0]),
            None,
        )
        if placement is not None:
            out.append(
                f"{hosts[0]} is where it is because it is a {placement['tier']} host whose key "
                f"service, {placement['key_service']}, has rank {placement['rank']} "
                f"(declared at {placement['source']})."
            )
    else:
        raise ValueError(f"step {step_id!r} has kind {step['kind']!r}, which explain does not know")
    batch = _batch_words(plan, step)
    if batch:
        out.append(batch)
    out.extend(_budget_words(plan, step))
    out.extend(_barrier_words(plan, step))
    out.extend(_no_return_words(plan, index))
    if index > 0:
        out.append(f"Before it: step {number - 1}, {steps[index - 1]['id']}.")
    else:
        out.append("It is the first step.")
    if index + 1 < len(steps):
        out.append(f"After it: step {number + 1}, {steps[index + 1]['id']}.")
    else:
        out.append("It is the last step.")
    return printable("\n".join(out) + "\n")
