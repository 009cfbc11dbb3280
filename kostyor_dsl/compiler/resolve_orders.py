"""Tiers and orders: the `tiers` line and each `order` block resolved to an OrderDef."""

from __future__ import annotations

from dataclasses import replace

from kostyor_dsl.compiler.definitions import first_definitions
from kostyor_dsl.compiler.model import DEFAULT_TIERS, OrderDef, ServiceDef
from kostyor_dsl.compiler.resolve_constraints import project_steps, resolve_barrier, step_projects
from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import DiagnosticSink, Label, error
from kostyor_dsl.language.suggest import did_you_mean


def resolve_tiers(trees: list[ast.SpecFile], sink: DiagnosticSink) -> tuple[str, ...]:
    chosen: ast.Tiers | None = None
    for tree in trees:  # root first: the root's declaration wins
        decls = [i for i in tree.items if isinstance(i, ast.Tiers)]
        for extra in decls[1:]:
            sink.add(
                error(
                    "K011",
                    "tiers are declared twice in one file",
                    extra.span,
                    labels=(Label(decls[0].span, "first declared here"),),
                )
            )
        if decls and chosen is None:
            chosen = decls[0]
    if chosen is None:
        return DEFAULT_TIERS
    seen: dict[str, ast.Name] = {}
    for name in chosen.names:
        if name.value in seen:
            sink.add(
                error(
                    "K011",
                    f"tier '{name.value}' is listed twice",
                    name.span,
                    labels=(Label(seen[name.value].span, "first listed here"),),
                )
            )
        else:
            seen[name.value] = name
    return tuple(seen)


def resolve_orders(trees, tiers, actions, sink: DiagnosticSink) -> dict[str, OrderDef]:
    nodes = first_definitions(
        trees, ast.Order, "K014", "order", lambda _: "give one of them another name", sink
    )
    return {name: _order(node, tiers, actions, sink) for name, node in nodes.items()}


def _order(node: ast.Order, tiers, actions, sink: DiagnosticSink) -> OrderDef:
    order = _services(node, tiers, sink)
    steps = tuple(
        found for project in node.projects if (found := project_steps(project, actions, sink))
    )
    owner: dict[str, str] = {}
    for found in steps:
        for action in (*found.pre, *found.post):
            if action.name in owner and owner[action.name] != found.project:
                sink.add(
                    error(
                        "K025",
                        f"action '{action.name}' is a step of two projects: "
                        f"'{owner[action.name]}' and '{found.project}'",
                        action.span,
                        hints=("a project step belongs to one project",),
                    )
                )
            owner[action.name] = found.project
    order = replace(order, project_steps=steps)
    barriers = tuple(
        b
        for node_barrier in node.barriers
        if (
            b := resolve_barrier(
                node_barrier, order, step_projects(order), actions, f"order {order.name}", sink
            )
        )
        is not None
    )
    return replace(order, barriers=barriers)


def _services(node: ast.Order, tiers, sink: DiagnosticSink) -> OrderDef:
    services: list[ServiceDef] = []
    seen: dict[str, tuple[ast.Service, str]] = {}
    projects: dict[str, ast.Project] = {}
    for project in node.projects:
        pname = project.name.value
        if pname in projects:
            sink.add(
                error(
                    "K014",
                    f"project '{pname}' appears twice in order '{node.name.value}'",
                    project.name.span,
                    labels=(Label(projects[pname].name.span, "first here"),),
                    hints=("list all of a project's services in one block",),
                )
            )
        else:
            projects[pname] = project
        for svc in project.services:
            sname = svc.name.value
            if sname in seen:
                prev, prev_project = seen[sname]
                if prev_project == pname:
                    sink.add(
                        error(
                            "K012",
                            f"service '{sname}' is listed twice in project '{pname}'",
                            svc.name.span,
                            labels=(Label(prev.name.span, "first listed here"),),
                            hints=("remove one of the two lines",),
                        )
                    )
                else:
                    sink.add(
                        error(
                            "K013",
                            f"service '{sname}' is in two projects: '{prev_project}' and '{pname}'",
                            svc.name.span,
                            labels=(Label(prev.name.span, f"listed in '{prev_project}' here"),),
                            hints=("a service belongs to exactly one project",),
                        )
                    )
                continue
            seen[sname] = (svc, pname)
            roles = []
            for role in svc.roles:
                if role.value not in tiers:
                    sink.add(
                        error(
                            "K010",
                            f"unknown tier '{role.value}' for service '{sname}'",
                            role.span,
                            hints=did_you_mean(role.value, tiers)
                            or ("known tiers: " + ", ".join(tiers),),
                        )
                    )
                elif role.value in roles:
                    sink.add(error("K010", f"tier '{role.value}' is listed twice", role.span))
                else:
                    roles.append(role.value)
            services.append(ServiceDef(sname, pname, tuple(roles), span=svc.name.span))
    ignored = _ignored(node, seen, sink)
    return OrderDef(node.name.value, tuple(services), span=node.name.span, ignored=ignored)


def _ignored(node: ast.Order, upgraded: dict, sink: DiagnosticSink) -> tuple[str, ...]:
    """`ignore` lines: known services the order leaves alone (K016 if also upgraded)."""
    ignored: dict[str, ast.Name] = {}
    for line in node.ignores:
        for name in line.names:
            if name.value in upgraded:
                svc, project = upgraded[name.value]
                sink.add(
                    error(
                        "K016",
                        f"service '{name.value}' is ignored and upgraded in project '{project}'",
                        name.span,
                        labels=(Label(svc.name.span, "upgraded here"),),
                        hints=("remove it from the ignore line or from the project",),
                    )
                )
            elif name.value in ignored:
                sink.add(
                    error(
                        "K016",
                        f"service '{name.value}' is ignored twice",
                        name.span,
                        labels=(Label(ignored[name.value].span, "first ignored here"),),
                    )
                )
            else:
                ignored[name.value] = name
    return tuple(ignored)


# strategies
