"""Engines: pure functions from (order, tiers, hosts) to the ordered upgrade steps.

Built in: `node-by-node` and `service-by-service`, Kostyor's NodeByNode and
ServiceByService as docs/language.md and the reference describe them, and
`phased`: node-by-node inside each phase of the order that its barriers cut.  Other
engines are found through the `kostyor_dsl.engines` entry point group; an
engine is any callable with the signature of `node_by_node`.

Steps are plain dicts in plan form (see schemas/plan.schema.json), built in
one pass: at tens of thousands of hosts the engine must cost less than
writing its output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from kostyor_dsl.compiler import entry_points as installed_entry_points
from kostyor_dsl.compiler.entry_points import ENGINE_GROUP
from kostyor_dsl.compiler.model import OrderDef, ServiceDef
from kostyor_dsl.compiler.selectors import HostTiers
from kostyor_dsl.inventory.model import Host


@dataclass(frozen=True)
class EngineResult:
    steps: list[dict]
    # node-by-node: each host in upgrade order with why it is there (plan `host_order`).
    host_order: list[dict] | None = None
    # phased: how many steps each visit of a host has (aligned with host_order),
    # since a host is visited once per phase it has services in.
    visits: list[int] | None = None


Engine = Callable[[OrderDef, Sequence[str], Sequence[Host]], EngineResult]


def service_ranks(order: OrderDef, tiers: Sequence[str]) -> dict[str, int]:
    """Rank of each service: the flat order stable-sorted by the tier of its FIRST role.

    1-based.  So the L2 agents (controller, compute) rank with the controllers.
    """
    tier_index = {t: i for i, t in enumerate(tiers)}
    last = len(tiers)
    ranked = sorted(
        order.services, key=lambda s: tier_index.get(s.roles[0], last) if s.roles else last
    )
    return {s.name: i for i, s in enumerate(ranked, start=1)}


def node_by_node(order: OrderDef, tiers: Sequence[str], hosts: Sequence[Host]) -> EngineResult:
    """Hosts by ascending key (the smallest rank of their services), ties in inventory
    order; on each host, its services one by one in the plain flat order."""
    placed = _node_by_node_order(order, tiers, hosts)
    return EngineResult(list(_nbn_steps(placed)), list(_nbn_host_order(placed)))


def iter_node_by_node(
    order: OrderDef, tiers: Sequence[str], hosts: Sequence[Host]
) -> tuple[Iterator[dict], Iterator[dict]]:
    """`node_by_node` as two iterators (host_order, steps), so a writer can stream
    the plan without holding a dict per step: the same dicts, made one at a time."""
    placed = _node_by_node_order(order, tiers, hosts)
    return _nbn_host_order(placed), _nbn_steps(placed)


# What node-by-node decided for one distinct list of services: the host's key
# (rank), its placement fields, and its steps' fields in flat order.
_HostPlan = tuple[int, tuple[str, int, str, str], tuple[tuple[str, str, str, str], ...]]


def _node_by_node_order(
    order: OrderDef, tiers: Sequence[str], hosts: Sequence[Host], host_tier=None
) -> list[tuple[str, _HostPlan]]:
    """(host name, its plan) in upgrade order."""
    ranks = service_ranks(order, tiers)
    host_tier = host_tier or HostTiers(order, tiers)
    services = order.services
    position = {s.name: i for i, s in enumerate(services)}
    # Per service, what every step and placement on it repeats (computed once, not per host).
    step_parts = [(f"{s.name}@", s.project, s.name, s.span.ref) for s in services]
    # Hosts share a handful of service lists: work each distinct one out once.
    plans: dict[tuple[str, ...], _HostPlan | None] = {}

    def plan_for(host_services) -> _HostPlan | None:
        known = sorted(position[s] for s in host_services if s in position)
        if not known:
            return None
        key_service = min((services[p].name for p in known), key=ranks.__getitem__)
        key_def = services[position[key_service]]
        rank = ranks[key_service]
        # The host's own tier (as rollout selectors see it), not its key service's first role.
        tier = host_tier(Host("", tuple(host_services))) or (key_def.roles or ("",))[0]
        placement = (key_service, rank, tier, key_def.span.ref)
        return rank, placement, tuple(step_parts[p] for p in known)

    # Buckets by rank keep inventory order inside a rank: the stable sort, in O(N).
    buckets: dict[int, list[tuple[str, _HostPlan]]] = {}
    for host in hosts:
        host_services = host.services
        try:
            found = plans[host_services]
        except KeyError:
            found = plans[host_services] = plan_for(host_services)
        except TypeError:  # an unhashable list of services, from a caller of the library
            found = plan_for(host_services)
        if found is None:
            continue
        bucket = buckets.get(found[0])
        if bucket is None:
            bucket = buckets[found[0]] = []
        bucket.append((host.name, found))
    placed: list[tuple[str, _HostPlan]] = []
    for rank in sorted(buckets):
        placed += buckets[rank]
    return placed


def _nbn_host_order(placed: list[tuple[str, _HostPlan]]) -> Iterator[dict]:
    for name, (_, (key_service, rank, tier, source), _) in placed:
        yield {
            "name": name,
            "key_service": key_service,
            "rank": rank,
            "tier": tier,
            "source": source,
        }


def _nbn_steps(placed: list[tuple[str, _HostPlan]]) -> Iterator[dict]:
    for name, (_, _, parts) in placed:
        for prefix, project, service, source in parts:
            yield {
                "id": prefix + name,
                "kind": "upgrade",
                "project": project,
                "service": service,
                "hosts": [name],
                "source": source,
            }


def service_by_service(
    order: OrderDef, tiers: Sequence[str], hosts: Sequence[Host]
) -> EngineResult:
    """One step per service of the flat order, on every host running it (inventory order)."""
    runs_on: dict[str, list[str]] = {s.name: [] for s in order.services}
    get = runs_on.get
    for host in hosts:
        name = host.name
        for service in host.services:
            bucket = get(service)
            if bucket is not None:
                bucket.append(name)
    steps = [
        {
            "id": svc.name,
            "kind": "upgrade",
            "project": svc.project,
            "service": svc.name,
            "hosts": runs_on[svc.name],
            "source": svc.span.ref,
        }
        for svc in order.services
        if runs_on[svc.name]
    ]
    return EngineResult(steps)


def phases(order: OrderDef) -> list[tuple[ServiceDef, ...]]:
    """The order's services cut into phases by its barriers: a barrier between
    services cuts the order right before the first service it puts after.  The
    barriers' own check (resolve_constraints, K071) made sure that every
    service a barrier puts first is listed above that cut."""
    position = {s.name: i for i, s in enumerate(order.services)}
    cuts = sorted(
        {
            min(position[s] for s in b.then_services)
            for b in order.barriers
            if b.first_services and b.then_services
        }
        - {0}
    )
    bounds = [0, *cuts, len(order.services)]
    return [order.services[start:end] for start, end in pairwise(bounds) if end > start]


def phased(order: OrderDef, tiers: Sequence[str], hosts: Sequence[Host]) -> EngineResult:
    """Node by node inside each phase (`phases`): the phases one after another;
    in each, the hosts running its services by ascending key over those
    services, each host's services of the phase one by one in the flat order.
    Without barriers, exactly node-by-node."""
    host_tier = HostTiers(order, tiers)
    steps: list[dict] = []
    host_order: list[dict] = []
    visits: list[int] = []
    for number, services in enumerate(phases(order), start=1):
        part = replace(order, services=services)
        placed = _node_by_node_order(part, tiers, hosts, host_tier)
        for entry in _nbn_host_order(placed):
            entry["phase"] = number
            host_order.append(entry)
        for _, (_, _, parts) in placed:
            visits.append(len(parts))
        steps.extend(_nbn_steps(placed))
    return EngineResult(steps, host_order, visits)


BUILTIN_ENGINES: dict[str, Engine] = {
    "node-by-node": node_by_node,
    "service-by-service": service_by_service,
    "phased": phased,
}
# Engines whose steps each upgrade one host: host hooks, batches and gates apply.
HOST_ENGINES = ("node-by-node", "phased")


def find_engine(name: str) -> Engine | None:
    """A built-in engine, else one registered in the entry point group (loaded lazily).

    An entry point that fails to load is a CompileError (K022), not a traceback."""
    if name in BUILTIN_ENGINES:
        return BUILTIN_ENGINES[name]
    for ep in _entry_points():
        if ep.name == name:
            try:
                return ep.load()
            except Exception as exc:  # a third party's module: any error is possible
                from kostyor_dsl.language.diagnostics import CompileError, error

                raise CompileError(
                    [
                        error(
                            "K022",
                            f"engine '{name}' cannot be loaded ({ep.value}): "
                            f"{type(exc).__name__}: {exc}",
                            subject="engine",
                            hints=("is the package that provides it installed completely?",),
                        )
                    ]
                ) from None
    return None


def available_engines() -> list[str]:
    """Engine names, built in or registered, without importing any of them."""
    return sorted({*BUILTIN_ENGINES, *installed_entry_points.installed(ENGINE_GROUP)})


def _entry_points():
    from importlib.metadata import entry_points

    return entry_points(group=ENGINE_GROUP)
