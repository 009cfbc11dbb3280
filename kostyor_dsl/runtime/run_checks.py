"""What `kostyorc run` checks before it submits anything.

A plan is refused whole, naming every problem, rather than failing (or
doing nothing) half-way through an upgrade:

- it is the plan that was compiled: its seal matches its content and every
  step id follows from the step's content (`compiler.plan_seal`); an edited
  plan runs only when asked (`allow_edited`), and the run record says so;
- every host a step names is a host name, and every target it carries a
  target (`inventory.hostnames`), so no driver ever sees `-oProxyCommand=...`
  as a host nor `all` in `--limit`;
- the driver, with these parameters, can perform every step
  (`Driver.unsupported`) and the plan as a whole (`Driver.plan_problems`:
  the order its tool can keep, the files its steps need);
- no step upgrades a service the deployment reported down (the step's
  `state`) unless the operator says `--allow-down`;
- with `--against SPEC --inventory INV`, the current spec and inventory
  compile to this very plan (else it is stale, as Terraform says of a saved
  plan whose configuration changed).

None of this imports Celery.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

from kostyor_dsl.inventory.hostnames import host_name_problem, target_problem
from kostyor_dsl.plan.seal import SEAL_KEY, plan_seal, seal_problems, step_id_problems
from kostyor_dsl.runtime.drivers import Driver
from kostyor_dsl.runtime.errors import PlanRefused

# Steps a driver never sees: the runtime runs them itself.
_RUNTIME_KINDS = frozenset({"gate"})
_LISTED = 20  # bad hosts named one by one; the rest are counted
_EDITED_HINT = (
    "recompile it from its spec and inventory, or pass --allow-edited to run it as it is "
    "(the run record will say so)"
)


@dataclass(frozen=True)
class RunCheck:
    """What the checks found in a plan that may run."""

    seal: str | None  # the plan's seal (its sha256), when the plan carries one
    edited: tuple[str, ...] = ()  # how it differs from its seal (allowed by allow_edited)


def integrity_problems(plan: dict, text: str | None = None) -> list[str]:
    """How the plan differs from the plan compile wrote: its seal, then its step ids
    (`text`: the file the plan was read from, see `seal_problems`)."""
    return seal_problems(plan, text) + step_id_problems(plan)


def host_problems(plan: dict) -> list[str]:
    """Each host name of the steps that is not a host name, and each target that is not
    a target, with the first step naming it."""
    verdicts: dict[str, str | None] = {}
    bad: dict[str, list[str]] = {}
    for step in plan.get("steps", ()):
        for host in step.get("hosts") or ():
            key = host if isinstance(host, str) else repr(host)
            if key not in verdicts:
                verdicts[key] = host_name_problem(host)
            if verdicts[key] is not None:
                bad.setdefault(key, []).append(step["id"])
        for name in target_names(step.get("targets")):
            key = "target " + (name if isinstance(name, str) else repr(name))
            if key not in verdicts:
                verdicts[key] = target_problem(name)
            if verdicts[key] is not None:
                bad.setdefault(key, []).append(step["id"])
    problems = [
        f"step {steps[0]!r}{_more(steps)}: {_named(key)}: {verdicts[key]}"
        for key, steps in islice(bad.items(), _LISTED)
    ]
    if len(bad) > _LISTED:
        problems.append(f"... and {len(bad) - _LISTED} more hosts that are not host names")
    return problems


def _named(key: str) -> str:
    if key.startswith("target "):
        return f"target {key[len('target ') :]!r}"
    return f"host {key!r}"


def target_names(targets: object, hosts: Iterable[object] | None = None) -> list[object]:
    """Every name in a step's `targets` (`{HOST: [NAME, ...]}`, `{HOST: {SERVICE: [...]}}`
    or `{SERVICE: [...]}`), of `hosts` only when given; anything that is not a
    list of names is returned as it is, to be refused."""
    if not isinstance(targets, dict):
        return [] if targets is None else [targets]
    wanted = None if hosts is None else set(map(str, hosts))
    out: list[object] = []
    for key, value in targets.items():
        if wanted is not None and key not in wanted and not isinstance(value, list):
            continue
        values = value.values() if isinstance(value, dict) else [value]
        for names in values:
            out.extend(names if isinstance(names, list) else [names])
    return out


def step_host_problem(step_id: str, hosts: Iterable[object], targets: object = None) -> str | None:
    """For the step task: the first host of a unit that is not a host name, or target
    of the step that is not a target, said whole."""
    hosts = list(hosts)
    for host in hosts:
        problem = host_name_problem(host)
        if problem is not None:
            return f"step {step_id!r}: host {host!r} refused before the driver saw it: {problem}"
    for name in target_names(targets, hosts):
        problem = target_problem(name)
        if problem is not None:
            return f"step {step_id!r}: target {name!r} refused before the driver saw it: {problem}"
    return None


def driver_problems(plan: dict, driver: Driver) -> list[str]:
    """Each kind and action (or service) of the plan the driver cannot perform, with the
    first step that needs it; the driver is asked once per distinct pair."""
    answers: dict[tuple[str, str | None], str | None] = {}
    needing: dict[tuple[str, str | None], list[str]] = {}
    for step in plan.get("steps", ()):
        kind = step["kind"]
        if kind in _RUNTIME_KINDS:
            continue
        name = step.get("service") if kind == "upgrade" else step.get("action")
        key = (kind, name)
        if key not in answers:
            answers[key] = driver.unsupported(kind, name)
        if answers[key] is not None:
            needing.setdefault(key, []).append(step["id"])
    problems = [
        f"step {steps[0]!r}{_more(steps)} ({kind} {name}): {answers[kind, name]}"
        for (kind, name), steps in needing.items()
    ]
    return problems + list(driver.plan_problems(plan))


def _more(steps: list[str]) -> str:
    return f" and {len(steps) - 1} more" if len(steps) > 1 else ""


def down_problems(plan: dict) -> list[str]:
    """Each upgrade step on a host where the deployment reported its service down (the
    step's `state`, from the inventory's): nothing is known to be running there to
    upgrade, and the step would report done."""
    problems = []
    for step in plan.get("steps", ()):
        state = step.get("state")
        if step.get("kind") != "upgrade" or not isinstance(state, dict):
            continue
        down = sorted(h for h, what in state.items() if isinstance(what, list) and "down" in what)
        if down:
            problems.append(f"step {step['id']!r}: {step['service']} is down on {', '.join(down)}")
    return problems


def check_run(
    plan: dict,
    driver: Driver,
    *,
    path: str = "plan",
    allow_edited: bool = False,
    allow_down: bool = False,
    text: str | None = None,
) -> RunCheck:
    """The checks `kostyorc run` makes; raises PlanRefused listing every problem.
    `text` is the file the plan was read from, when there is one."""
    edited = integrity_problems(plan, text)
    sections = []
    down = [] if allow_down else down_problems(plan)
    if down:
        sections.append(
            (
                "steps upgrade services the deployment reports down",
                down[:_LISTED]
                + ([f"... and {len(down) - _LISTED} more"] if len(down) > _LISTED else []),
                "see to them, re-import and recompile; or pass --allow-down to upgrade them anyway",
            )
        )
    if edited and not allow_edited:
        sections.append(
            ("the plan was changed after `kostyorc compile` sealed it", edited, _EDITED_HINT)
        )
    hosts = host_problems(plan)
    if hosts:
        sections.append(
            (
                "steps name hosts that are not host names, or targets a command line would misread",
                hosts,
                "fix the inventory, recompile",
            )
        )
    unsupported = driver_problems(plan, driver)
    if unsupported:
        sections.append(
            (
                f"driver {driver.name!r}, with these parameters, cannot perform these steps",
                unsupported,
                "choose another driver (--driver), give it what it lacks (-p), "
                "or change the strategy",
            )
        )
    if sections:
        raise PlanRefused(_refusal(path, sections))
    seal = plan.get(SEAL_KEY)
    sha = seal.get("sha256") if isinstance(seal, dict) else None
    return RunCheck(seal=sha if isinstance(sha, str) else None, edited=tuple(edited))


def _refusal(path: str, sections: list[tuple[str, list[str], str]]) -> str:
    lines = [f"{path}: refused, nothing was submitted:"]
    for title, problems, hint in sections:
        lines.append(f"  {title}:")
        lines.extend(f"    - {problem}" for problem in problems)
        lines.append(f"    ({hint})")
    return "\n".join(lines)


def stale_problems(plan: dict, spec: str, inventory: str, strategy: str | None = None) -> list[str]:
    """How the plan differs from what `spec` and `inventory` compile to now; [] when
    they still produce it.  The plan's own strategy and `--limit` are used unless
    `strategy` is given; unknown services are allowed when the plan's warnings
    say they were (K042)."""
    from kostyor_dsl.compiler import CompileError, compile_plan
    from kostyor_dsl.language.diagnostics import render_text

    limit = plan.get("limit")
    allow_unknown = any(str(w).startswith("K042") for w in plan.get("warnings", ()))
    try:
        fresh = compile_plan(
            spec,
            inventory,
            strategy or plan.get("strategy"),
            allow_unknown_services=allow_unknown,
            limit=",".join(limit) if limit else None,
        ).plan
    except CompileError as exc:
        rendered = render_text(exc.diagnostics, exc.sources).rstrip()
        raise PlanRefused(
            f"--against {spec} --inventory {inventory} does not compile, so the plan "
            f"cannot be checked against it:\n{rendered}"
        ) from None
    content = {key: value for key, value in plan.items() if key != SEAL_KEY}
    theirs, ours = plan_seal(content)["parts"], plan_seal(fresh)["parts"]
    problems = []
    first = {"inputs": 0, "steps": 1}  # what a reader looks for, then the rest by name
    for key in sorted(set(theirs) | set(ours), key=lambda k: (first.get(k, 2), k)):
        if theirs.get(key) == ours.get(key):
            continue
        if key == "inputs":
            problems.extend(_input_changes(content.get("inputs", {}), fresh["inputs"]))
        elif key == "steps":
            problems.append(_first_step_change(content.get("steps", []), fresh["steps"]))
        elif key not in content:
            problems.append(f"`{key}`: the plan has none, compile now writes one")
        elif key not in fresh:
            problems.append(f"`{key}`: the plan has one, compile now writes none")
        else:
            problems.append(f"`{key}` differs from what compile writes now")
    return problems


def _input_changes(old: dict, new: dict) -> list[str]:
    out = []
    old_inv, new_inv = old.get("inventory", {}), new.get("inventory", {})
    if old_inv != new_inv:
        named = "" if old_inv.get("file") == new_inv.get("file") else f" ({old_inv.get('file')})"
        out.append(
            f"inventory {new_inv.get('file')}: sha256 {str(old_inv.get('sha256'))[:12]} in "
            f"the plan{named}, {str(new_inv.get('sha256'))[:12]} now"
        )
    old_specs = {entry.get("file"): entry.get("sha256") for entry in old.get("spec", ())}
    new_specs = {entry.get("file"): entry.get("sha256") for entry in new.get("spec", ())}
    if old_specs != new_specs and sorted(map(str, old_specs.values())) == sorted(
        map(str, new_specs.values())
    ):
        out.append(
            f"spec files: the same contents under other names ({', '.join(old_specs)} in the "
            f"plan, {', '.join(new_specs)} now): give --against the spec as compile was given it"
        )
        return out
    for name in sorted(set(old_specs) | set(new_specs)):
        if name not in new_specs:
            out.append(f"spec file {name}: in the plan's inputs, no longer part of the spec")
        elif name not in old_specs:
            out.append(f"spec file {name}: part of the spec now, not in the plan's inputs")
        elif old_specs[name] != new_specs[name]:
            out.append(
                f"spec file {name}: sha256 {str(old_specs[name])[:12]} in the plan, "
                f"{new_specs[name][:12]} now"
            )
    if not out:
        out.append("inputs: the spec files are listed in another order")
    return out


def _first_step_change(old: list, new: list) -> str:
    for index, (theirs, ours) in enumerate(zip(old, new, strict=False)):
        if theirs != ours:
            if _describe(theirs) != _describe(ours) or not (
                isinstance(theirs, dict) and isinstance(ours, dict)
            ):
                return (
                    f"step {index + 1}: the plan has {_describe(theirs)}, "
                    f"compile now gives {_describe(ours)}"
                )
            key = min(k for k in {*theirs, *ours} if theirs.get(k) != ours.get(k))
            return (
                f"step {index + 1} {_describe(theirs)}: its {key} is {theirs.get(key)!r} in "
                f"the plan, {ours.get(key)!r} now"
            )
    if len(old) == len(new):
        return "steps: the same steps, with their keys written in another order"
    if len(old) > len(new):
        return (
            f"the plan has {len(old)} steps, compile now gives {len(new)}: "
            f"from step {len(new) + 1} ({_describe(old[len(new)])}) on, the plan has more"
        )
    return (
        f"the plan has {len(old)} steps, compile now gives {len(new)}: "
        f"step {len(old) + 1} would be {_describe(new[len(old)])}"
    )


def _describe(step: object) -> str:
    if not isinstance(step, dict):
        return repr(step)
    name = step.get("service") or step.get("action") or step.get("message") or ""
    hosts = step.get("hosts") or []
    on = f" on {', '.join(map(str, hosts))}" if hosts else ""
    return f"{step.get('id')!r} ({step.get('kind')} {name}{on})"
