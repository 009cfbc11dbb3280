"""An inventory checked against an order: every service known, none listed twice."""

from __future__ import annotations

from kostyor_dsl.compiler.model import OrderDef, StrategyDef
from kostyor_dsl.inventory.model import Inventory
from kostyor_dsl.inventory.read import Locator
from kostyor_dsl.language.diagnostics import Diagnostic, error, warning
from kostyor_dsl.language.printable import printable
from kostyor_dsl.language.suggest import did_you_mean


def _judge(services, known: set[str], upgraded: set[str]) -> tuple[bool, bool]:
    """(every service known and listed once, at least one of them upgraded)."""
    unique = set(services)
    return unique <= known and len(unique) == len(services), not unique.isdisjoint(upgraded)


def check_against_order(
    inventory: Inventory,
    order: OrderDef,
    text: str,
    allow_unknown: bool,
) -> list[Diagnostic]:
    """Every host's services must be known to the order (or allowed, as warnings)."""
    upgraded = {s.name for s in order.services}
    known = upgraded | set(order.ignored)
    out: list[Diagnostic] = []
    locate = None
    # Hosts share a few lists of services: judge each distinct list once.
    fine: dict[tuple[str, ...], tuple[bool, bool]] = {}
    for i, host in enumerate(inventory.hosts):
        index = inventory.position(i)
        services = host.services
        try:
            all_known, runs_upgraded = fine[services]
        except KeyError:
            all_known, runs_upgraded = fine[services] = _judge(services, known, upgraded)
        except TypeError:  # an unhashable list of services, from a caller of the library
            all_known, runs_upgraded = _judge(services, known, upgraded)
        if all_known:
            if not runs_upgraded:
                locate = locate or Locator(text, inventory.display)
                what = "no service" if not services else "only services the order ignores"
                out.append(
                    warning(
                        "K044",
                        f"host '{host.name}' runs {what}; it gets no upgrade steps",
                        locate(["hosts", index, "name"]),
                        subject=f"host '{host.name}'",
                    )
                )
            continue
        locate = locate or Locator(text, inventory.display)
        seen: set[str] = set()
        host_name = printable(host.name)
        for sindex, raw_service in enumerate(services):
            where = locate(["hosts", index, "services", sindex])
            service = printable(raw_service)
            subject = f"host '{host_name}', service '{service}'"
            if raw_service in seen:
                out.append(
                    error(
                        "K045",
                        f"service '{service}' is listed twice on host '{host_name}'",
                        where,
                        subject=subject,
                    )
                )
                continue
            seen.add(raw_service)
            if raw_service in known:
                continue
            hints = did_you_mean(service, known)
            if allow_unknown:
                out.append(
                    warning(
                        "K042",
                        f"host '{host_name}' runs '{service}', which order '{order.name}' does not know; "
                        "it is not upgraded",
                        where,
                        subject=subject,
                        hints=hints,
                    )
                )
            else:
                out.append(
                    error(
                        "K042",
                        f"host '{host_name}' runs unknown service '{service}' "
                        f"(not in order '{order.name}')",
                        where,
                        subject=subject,
                        hints=(
                            *hints,
                            "add it to the order, or allow it: `unknown-services warn` in the strategy "
                            "or --allow-unknown-services",
                        ),
                    )
                )
        if services and not (set(services) & upgraded):
            out.append(
                warning(
                    "K044",
                    f"host '{host_name}' runs no service of order '{order.name}'; it gets no upgrade steps",
                    locate(["hosts", index, "name"]),
                    subject=f"host '{host_name}'",
                )
            )
    return out


def state_warnings(inventory: Inventory, text: str) -> list[Diagnostic]:
    """K096 for every service the inventory records down or disabled (`state`), with
    host and service: the plan upgrades it, `kostyorc run` refuses a down one."""
    if not inventory.states:
        return []
    out: list[Diagnostic] = []
    locate = Locator(text, inventory.display)
    index = {h.name: inventory.position(i) for i, h in enumerate(inventory.hosts)}
    for host in sorted(inventory.states):
        if host not in index:
            continue
        for service in sorted(inventory.states[host]):
            what = " and ".join(inventory.state_of(host, service))
            refuse = "down" in what
            out.append(
                warning(
                    "K096",
                    f"host '{printable(host)}': {printable(service)} is {what} "
                    "(the deployment reports so)"
                    + (
                        "; `kostyorc run` will not upgrade it without --allow-down"
                        if refuse
                        else ""
                    ),
                    locate(["hosts", index[host], "state", service]),
                    subject=f"host '{printable(host)}', service '{printable(service)}'",
                    hints=("see to it before upgrading, then re-import the inventory",),
                )
            )
    return out


def unused_service_hooks(chosen: StrategyDef, inventory: Inventory) -> list[Diagnostic]:
    """A `service NAME { before ... }` block that no host of the inventory runs: its
    actions never happen, which a typo or a trimmed inventory makes easy to miss
    (a `hosts` block that selects no host warns the same way, K037)."""
    if not chosen.service_hooks:
        return []
    running: set[str] = set()
    for services in {host.services for host in inventory.hosts}:
        running.update(services)
    return [
        warning(
            "K101",
            f"service {hooks.service}: no host of the inventory runs it, so its "
            "before/after actions never run",
            hooks.span,
            hints=("check the service's name against the inventory's hosts",),
        )
        for hooks in chosen.service_hooks
        if hooks.service not in running
    ]
