"""Barriers and project steps: the `barrier` lines of orders and strategies and the
`pre-upgrade` / `post-upgrade` lines of projects, resolved against an order's
services and projects and the spec's actions (codes K070-K074)."""

from __future__ import annotations

from collections.abc import Sequence

from kostyor_dsl.compiler.definitions import unknown_action
from kostyor_dsl.compiler.model import Action, BarrierDef, OrderDef, ProjectStepsDef, ServiceDef
from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import DiagnosticSink, Label, error
from kostyor_dsl.language.suggest import did_you_mean


def project_steps(
    project: ast.Project, actions: Sequence[str], sink: DiagnosticSink
) -> ProjectStepsDef | None:
    """A project's `pre-upgrade` and `post-upgrade` lines (each at most once)."""
    if not project.steps:
        return None
    found: dict[str, tuple[Action, ...]] = {}
    lines: dict[str, ast.ProjectSteps] = {}
    for line in project.steps:
        if line.when in lines:
            sink.add(
                error(
                    "K025",
                    f"project '{project.name.value}' has two {line.when} lines",
                    line.span,
                    labels=(Label(lines[line.when].span, "first given here"),),
                    hints=(f"list all its {line.when} steps on one line, in order",),
                )
            )
            continue
        lines[line.when] = line
        found[line.when] = _actions(line.names, actions, f"{line.when} of project", sink)
    return ProjectStepsDef(
        project.name.value, found.get("pre-upgrade", ()), found.get("post-upgrade", ())
    )


def _actions(
    names: Sequence[ast.Name], actions: Sequence[str], what: str, sink: DiagnosticSink
) -> tuple[Action, ...]:
    out: list[Action] = []
    seen: dict[str, ast.Name] = {}
    for name in names:
        if name.value not in actions:
            sink.add(unknown_action(name.value, name.span, actions))
        elif name.value in seen:
            sink.add(
                error(
                    "K025",
                    f"{what}: action '{name.value}' is listed twice",
                    name.span,
                    labels=(Label(seen[name.value].span, "first listed here"),),
                )
            )
        else:
            seen[name.value] = name
            out.append(Action(name.value, (), span=name.span))
    return tuple(out)


def resolve_barrier(
    node: ast.Barrier,
    order: OrderDef,
    project_of_steps: dict[str, str],
    actions: Sequence[str],
    origin: str,
    sink: DiagnosticSink,
) -> BarrierDef | None:
    """A barrier's names as services and actions.  A name is a service of the
    order, a project of the order (its services), or an action; K070 otherwise.
    `project_of_steps`: each project step's action -> its project."""
    services: dict[str, list[ServiceDef]] = {}
    for svc in order.services:
        services.setdefault(svc.project, []).append(svc)
    by_name = {s.name: s for s in order.services}
    sides = []
    ok = True
    for names in (node.first, node.then):
        side_services: list[str] = []
        side_actions: list[str] = []
        for name in names:
            value = name.value
            if value in by_name:
                side_services.append(value)
            elif value in services:
                side_services.extend(s.name for s in services[value])
            elif value in actions:
                side_actions.append(value)
            else:
                ok = False
                sink.add(
                    error(
                        "K070",
                        f"barrier '{node.text}': '{value}' is no service, project or action "
                        f"of order '{order.name}'",
                        name.span,
                        hints=did_you_mean(value, [*by_name, *services, *actions])
                        or ("a barrier names services, projects or actions",),
                    )
                )
        sides.append((tuple(dict.fromkeys(side_services)), tuple(dict.fromkeys(side_actions))))
    if not ok:
        return None
    (first_s, first_a), (then_s, then_a) = sides
    both = (set(first_s) & set(then_s)) | (set(first_a) & set(then_a))
    if both:
        sink.add(
            error(
                "K071",
                f"barrier '{node.text}' names {', '.join(sorted(both))} on both sides",
                node.span,
                hints=("a barrier orders two different sets of steps",),
            )
        )
        return None
    barrier = BarrierDef(node.text, first_s, first_a, then_s, then_a, span=node.span, origin=origin)
    _check_against_order(barrier, order, project_of_steps, sink)
    return barrier


def _check_against_order(
    barrier: BarrierDef, order: OrderDef, project_of_steps: dict[str, str], sink: DiagnosticSink
) -> None:
    """A barrier the order itself contradicts can never be kept: say so at the
    barrier, naming the order's line (K071).  Services compare by their place in
    the order; a project step by its project's (before its first service for a
    pre-upgrade step, after its last for a post-upgrade one)."""
    position = {s.name: i for i, s in enumerate(order.services)}
    first_of: dict[str, int] = {}
    last_of: dict[str, int] = {}
    for i, svc in enumerate(order.services):
        first_of.setdefault(svc.project, i)
        last_of[svc.project] = i
    pre = {a.name for p in order.project_steps for a in p.pre}

    def places(services, actions) -> list[tuple[float, str]]:
        out = [(float(position[s]), s) for s in services]
        for action in actions:
            project = project_of_steps.get(action)
            if project is None or project not in first_of:
                continue
            if action in pre:
                out.append((first_of[project] - 0.5, action))
            else:
                out.append((last_of[project] + 0.5, action))
        return out

    first = places(barrier.first_services, barrier.first_actions)
    then = places(barrier.then_services, barrier.then_actions)
    if not first or not then:
        return
    last_first = max(first)
    first_then = min(then)
    if last_first[0] > first_then[0]:
        later = next((s for s in order.services if s.name == last_first[1]), None)
        sink.add(
            error(
                "K071",
                f"barrier '{barrier.text}' contradicts order '{order.name}': "
                f"{first_then[1]} comes before {last_first[1]} in it",
                barrier.span,
                labels=(Label(later.span, f"{last_first[1]} is listed here"),) if later else (),
                hints=(
                    "every engine follows the order: list what the barrier puts first "
                    "above what it puts after",
                ),
            )
        )


def step_projects(order: OrderDef) -> dict[str, str]:
    """Each project step's action -> its project."""
    return {a.name: p.project for p in order.project_steps for a in (*p.pre, *p.post)}
