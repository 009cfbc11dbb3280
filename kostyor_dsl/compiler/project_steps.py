"""Project steps in the plan: each project's own steps (schema, checks, data
migrations) placed where its upgrade starts and ends, the check that nothing
contracts a database it never expanded (K073), and the plan's point of no return.

A project's `pre-upgrade` steps go right before the first *block* that
upgrades one of its services, its `post-upgrade` steps right after the last
one; a block is a rollout batch with its hooks (`group` and `batch`), or one
step outside any batch.  A project no host runs gets none of its steps.  At one
place, the post-upgrade steps of the projects ending there come first, then the
pre-upgrade steps of those starting there, each in the order's project order.
"""

from __future__ import annotations

from collections.abc import Sequence

from kostyor_dsl.compiler.model import Action, ProjectStepsDef, StrategyDef
from kostyor_dsl.language.diagnostics import Diagnostic, error


def _blocks(steps: Sequence[dict]) -> list[int]:
    """The block number of each step."""
    numbers: list[int] = []
    block = -1
    key = None
    for step in steps:
        group = step.get("group")
        this = (group, step.get("batch")) if group is not None else None
        if this is None or this != key:
            block += 1
        key = this
        numbers.append(block)
    return numbers


def project_step(when: str, project: str, action: Action) -> dict:
    return {
        "id": f"{when}:{project}:{action.name}",
        "kind": when,
        "project": project,
        "action": action.name,
        "parameters": dict(action.parameters),
        "source": action.span.ref,
    }


def insert_project_steps(steps: list[dict], projects: Sequence[ProjectStepsDef]) -> list[dict]:
    """`steps` with each project's own steps around its upgrade steps."""
    wanted = {p.project: p for p in projects if p.pre or p.post}
    if not wanted:
        return steps
    blocks = _blocks(steps)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for index, step in enumerate(steps):
        if step["kind"] != "upgrade":
            continue
        project = step.get("project")
        if project in wanted:
            first.setdefault(project, blocks[index])
            last[project] = blocks[index]
    if not first:
        return steps
    order = list(wanted)
    before: dict[int, list[dict]] = {}
    after: dict[int, list[dict]] = {}
    for project in order:
        if project not in first:
            continue  # the cloud does not run it
        found = wanted[project]
        before.setdefault(first[project], []).extend(
            project_step("pre-upgrade", project, a) for a in found.pre
        )
        after.setdefault(last[project], []).extend(
            project_step("post-upgrade", project, a) for a in found.post
        )
    out: list[dict] = []
    previous = None
    for index, step in enumerate(steps):
        block = blocks[index]
        if block != previous:
            if previous is not None:
                out.extend(after.get(previous, ()))
            out.extend(before.get(block, ()))
            previous = block
        out.append(step)
    if previous is not None:
        out.extend(after.get(previous, ()))
    return out


def check_expanded(
    steps: Sequence[dict], strategy: StrategyDef, projects: Sequence[ProjectStepsDef]
) -> list[Diagnostic]:
    """A `NAME-contract` step needs a `NAME-expand` step before it (K073)."""
    declared: dict[str, Action] = {}
    for action in (*strategy.pre_upgrade, *strategy.post_upgrade):
        declared.setdefault(action.name, action)
    for found in projects:
        for action in (*found.pre, *found.post):
            declared.setdefault(action.name, action)
    seen: set[str] = set()
    problems: list[Diagnostic] = []
    reported: set[str] = set()
    for step in steps:
        action = step.get("action")
        if action is None:
            continue
        if action.endswith("-contract") and action not in reported:
            expand = action[: -len("contract")] + "expand"
            if expand not in seen:
                reported.add(action)
                where = declared.get(action)
                problems.append(
                    error(
                        "K073",
                        f"step {step['id']} contracts a database that no step before it "
                        f"expands ({expand})",
                        where.span if where else strategy.span,
                        subject=None if where else step["id"],
                        hints=(
                            f"run {expand} before it (a project's pre-upgrade steps), "
                            "or drop the contract: the old release needs what it removes",
                        ),
                    )
                )
        seen.add(action)
    return problems


def point_of_no_return(steps: Sequence[dict], irreversible: Sequence[str]) -> dict | None:
    """The first step after which the old release cannot run (an `irreversible` action)."""
    if not irreversible:
        return None
    names = set(irreversible)
    for step in steps:
        if step.get("action") in names:
            return {"step": step["id"], "action": step["action"], "source": step["source"]}
    return None
