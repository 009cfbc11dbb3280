"""An independent checker of upgrade plans against the upgrade guides.

It reads a plan file (JSON or YAML, with plain `json`/`yaml`) and, optionally,
the inventory it was compiled from, and verifies the cross-host rules of the
OpenStack upgrade guides on the plan's own execution stages. It shares no code
with `kostyor_dsl.compiler` on purpose: the compiler proves its plans keep its
constraints, this checker proves them again from the plan file alone with its
own model of execution and its own reading of the guides, so that one cannot
hide the other's mistake. docs/testing-guides.md lists every rule and its
source.

The execution model (docs/runtime.md, "Stages"; schemas/plan.schema.json):
steps run in plan order; consecutive steps with the same `group` and `batch`
are one stage (a batch), each of its hosts a lane running that host's steps in
order, the lanes in parallel; every other step is a stage of its own, an
upgrade step taking all its hosts down at once, a hook step its hosts one
after another. Step X on host a is done before step Y on host b starts when
X's stage is earlier, or both are in one batch, on one host, X first.

Long because the rules, their service classes and the budget arithmetic are
one reading of the guides, kept together so that the docs page can be checked
against one table (RULES).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

# rule name -> (what it says, where it comes from)
RULES: dict[str, tuple[str, str]] = {
    "database-queue-first": (
        "every database and queue cluster member before any OpenStack service",
        "openstack-upgrade-current.md (Across hosts); Kolla-Ansible and "
        "OpenStack-Ansible upgrade the infrastructure plays first",
    ),
    "keystone-first": (
        "keystone on every host before any other API service",
        "keystone upgrade guide; openstack-upgrade-current.md (Across hosts)",
    ),
    "placement-before-nova": (
        "placement on every host before any nova service",
        "nova upgrade guide (placement before nova)",
    ),
    "nova-control-before-compute": (
        "every nova control service on every host before any nova-compute",
        "nova upgrade guide (rolling upgrade process)",
    ),
    "ironic-before-nova": (
        "ironic-api and ironic-conductor on every host before any nova service",
        "ironic upgrade guide (the Bare Metal service always before the Compute service: "
        "nova's ironic driver uses the new ironic API)",
    ),
    "neutron-server-before-agents": (
        "every neutron-server before any neutron agent",
        "neutron upgrade guide (rolling upgrade)",
    ),
    "ovn-controller-before-central": (
        "ovn-controller on every chassis before ovn-northd and the NB/SB databases",
        "OVN upgrade notes; Kolla-Ansible site.yml; charmed-openstack-upgrader",
    ),
    "cinder-service-order": (
        "cinder scheduler, then volume, then backup, then API, each on every host "
        "before the next kind",
        "cinder upgrade guide",
    ),
    "glance-migrate-before-api": (
        "glance-db-migrate before any glance-api runs the new release",
        "glance rolling-upgrade guide",
    ),
    "schema-before-services": (
        "a project's expand or db sync before any of its services",
        "keystone, placement, glance, cinder, nova and neutron upgrade guides",
    ),
    "contract-after-services": (
        "a project's contract and online data migrations after every one of its services",
        "keystone, glance, cinder, nova and neutron upgrade guides",
    ),
    "expand-before-contract": (
        "a project's contract only after its expand (or db sync)",
        "keystone, glance and neutron upgrade guides",
    ),
    "absent-project-steps": (
        "no database, check or migration step for a project the cloud does not run",
        "openstack-upgrade-current.md (a project's database steps run only if the "
        "cloud runs that project)",
    ),
    "service-not-upgraded": (
        "with the inventory: every service a rule here names, and every service the "
        "plan upgrades somewhere, is upgraded on every host that runs it",
        "nothing skipped silently (README)",
    ),
    "service-not-on-host": (
        "with the inventory: no upgrade step on a host that does not run its service",
        "nothing done that the plan did not say (README)",
    ),
    "nova-pin-after-computes": (
        "nova-reload-services after every nova service, nova-online-data-migrations after it",
        "nova upgrade guide (drop the RPC pin after the last compute, then online data migrations)",
    ),
    "point-of-no-return": (
        "the plan marks its point of no return: the first contract or online data migration",
        "issue 19 (7); keystone, glance, neutron guides (contract), nova and cinder "
        "(online data migrations)",
    ),
    "hypervisor-drained": (
        "in a plan that drains hypervisors, each hypervisor is disabled and evacuated "
        "before its nova-compute upgrade and enabled after it",
        "nova upgrade guide; charmed-openstack-upgrader refuses a hypervisor with "
        "instances; OSISM and StackHPC guides",
    ),
    "evacuate-capacity": (
        "a stage that evacuates hypervisors leaves at least one other hypervisor up "
        "to take the instances",
        "nova live-migration needs a target host",
    ),
    "budget-kept": (
        "every budget's allowed count is its rule resolved, and no stage takes more "
        "of its hosts down",
        "docs/language.md (Budgets); openstack-upgrade-current.md (Availability)",
    ),
    "network-one-at-a-time": (
        "at most one network/gateway node down in any stage",
        "neutron upgrade guide (L3 agents one at a time); openstack-upgrade-current.md (HA)",
    ),
    "declared-constraint": (
        "every constraint the plan declares holds",
        "the plan's own `constraints`",
    ),
}

DATABASE_MEMBERS = frozenset(
    {"mariadb", "galera", "mysql", "mysql-innodb-cluster", "percona-cluster"}
)
QUEUE_MEMBERS = frozenset({"rabbitmq", "rabbitmq-server"})
# Not OpenStack services: what the database-queue rule does not order.
INFRASTRUCTURE = (
    DATABASE_MEMBERS
    | QUEUE_MEMBERS
    | frozenset(
        {
            "mysql-router",
            "proxysql",
            "memcached",
            "haproxy",
            "keepalived",
            "etcd",
            "vault",
            "valkey-server",
            "valkey-sentinel",
            "openvswitch-db-server",
            "openvswitch-vswitchd",
            "ovn-controller",
            "ovn-nb-db",
            "ovn-sb-db",
            "ovn-sb-db-relay",
            "ovn-northd",
        }
    )
)
OVN_CENTRAL = frozenset({"ovn-northd", "ovn-nb-db", "ovn-sb-db", "ovn-central"})
IRONIC_CONTROL = frozenset({"ironic-api", "ironic-conductor"})
NEUTRON_SERVERS = frozenset({"neutron-server", "neutron-rpc-server"})
NOVA_COMPUTES = frozenset({"nova-compute", "nova-compute-ironic"})
NOVA_HOST_HELPERS = frozenset({"nova-libvirt", "nova-ssh"})
CINDER_ORDER = ("cinder-scheduler", "cinder-volume", "cinder-backup", "cinder-api")
# A host without nova-compute running one of these is a network (gateway) node.
GATEWAY_SERVICES = frozenset(
    {
        "neutron-l3-agent",
        "neutron-dhcp-agent",
        "neutron-openvswitch-agent",
        "neutron-linuxbridge-agent",
        "ovn-controller",
    }
)
DRAIN_ACTIONS = ("disable-scheduling", "evacuate", "enable-scheduling")


def is_keystone(service: str) -> bool:
    return service == "keystone" or service.startswith("keystone-")


def is_api(service: str) -> bool:
    """An API service: what clients and other services call over HTTP."""
    return (
        service.endswith("-api")
        or "-api-" in service
        or service.endswith("-apiserver")
        or service in {"neutron-server", "nova-metadata", "swift-proxy-server"}
        or service in {"nova-api-metadata", "nova-api-os-compute", "tacker-server"}
    )


def is_nova_control(service: str) -> bool:
    return (
        service.startswith("nova-")
        and service not in NOVA_COMPUTES
        and service not in NOVA_HOST_HELPERS
    )


def is_neutron_agent(service: str) -> bool:
    return (service.startswith("neutron-") and "agent" in service) or service in {
        "ironic-neutron-agent",
        "neutron-eswitchd",
        "neutron-bgp-dragent",
        "neutron-ns-metadata-proxy",
    }


def project_of_service(service: str) -> str:
    return service.split("-", 1)[0]


def project_of_action(step: dict) -> str | None:
    """The project an action step belongs to: its `project`, else the action's
    first word when that names an OpenStack project (`nova-api-db-sync`)."""
    if step.get("project"):
        return step["project"]
    head = step["action"].split("-", 1)[0]
    return head if head in OPENSTACK_PROJECTS else None


OPENSTACK_PROJECTS = frozenset(
    "keystone placement glance cinder nova neutron heat horizon octavia designate "
    "barbican manila magnum ironic gnocchi ceilometer aodh swift cloudkitty mistral "
    "cyborg tacker trove watcher blazar masakari zun adjutant freezer skyline".split()
)


def schema_role(action: str) -> str | None:
    """expand, migrate, contract or finish (online data migrations)."""
    if action.endswith("-db-expand") or action.endswith("-db-sync"):
        return "expand"
    if action.endswith("-db-migrate"):
        return "migrate"
    if action.endswith("-db-contract"):
        return "contract"
    if action.endswith("-online-data-migrations"):
        return "finish"
    return None


@dataclass(frozen=True)
class Task:
    """One step on one host (`host` None for a step that runs on no host)."""

    index: int
    step_id: str
    stage: int
    in_batch: bool
    host: str | None


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str


def done_before(a: Task, b: Task) -> bool:
    if a.stage != b.stage:
        return a.stage < b.stage
    return a.in_batch and a.host == b.host and a.index < b.index


def read_document(path: str | Path) -> dict:
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text)


def stages_of(steps: list[dict]) -> list[tuple[int, bool]]:
    """Each step's stage number (1-based) and whether that stage is a batch."""
    result: list[tuple[int, bool]] = []
    stage = 0
    previous = None
    for step in steps:
        key = (step.get("group"), step.get("batch"))
        in_batch = key[0] is not None and key[1] is not None
        # A step that waits for declared constraints starts a stage of its own.
        if not (in_batch and key == previous) or step.get("waits_for"):
            stage += 1
        previous = key if in_batch else None
        result.append((stage, in_batch))
    return result


class PlanView:
    """The plan as tasks: who runs what, on which host, in which stage."""

    def __init__(self, plan: dict, inventory: dict | None = None):
        self.plan = plan
        self.inventory = inventory
        self.steps: list[dict] = plan["steps"]
        self.stages = stages_of(self.steps)
        self.tasks: list[Task] = []
        self.by_service: dict[str, list[Task]] = {}
        self.by_action: dict[str, list[Task]] = {}
        self.hooks: dict[tuple[str, str], list[Task]] = {}
        for index, step in enumerate(self.steps):
            stage, in_batch = self.stages[index]
            hosts = step.get("hosts") or [None]
            tasks = [Task(index, step["id"], stage, in_batch, h) for h in hosts]
            self.tasks.extend(tasks)
            if step["kind"] == "upgrade":
                self.by_service.setdefault(step["service"], []).extend(tasks)
            elif step["kind"] == "hook":
                for task in tasks:
                    self.hooks.setdefault((step["action"], task.host), []).append(task)
            elif "action" in step:
                self.by_action.setdefault(step["action"], []).extend(tasks)
        if inventory is not None:
            self.host_services = {h["name"]: set(h.get("services", [])) for h in inventory["hosts"]}
        else:
            self.host_services = {}
            for service, tasks in self.by_service.items():
                for task in tasks:
                    self.host_services.setdefault(task.host, set()).add(service)
        self.services = set().union(*self.host_services.values()) if self.host_services else set()

    def service_tasks(self, predicate) -> list[Task]:
        """Tasks of the upgrade steps of the services `predicate` accepts, in
        execution order."""
        tasks = [t for s, ts in self.by_service.items() if predicate(s) for t in ts]
        return sorted(tasks, key=lambda t: (t.index, t.host or ""))

    def hypervisors(self) -> list[str]:
        return sorted(h for h, s in self.host_services.items() if "nova-compute" in s)

    def network_nodes(self) -> set[str]:
        return {
            h
            for h, s in self.host_services.items()
            if "nova-compute" not in s and s & GATEWAY_SERVICES
        }


def barrier(rule: str, first: list[Task], then: list[Task]) -> list[Violation]:
    """Every task of `first` done before any task of `then` starts; one message
    per offending step of `then`, naming the latest task of `first` it overtakes."""
    found: dict[str, Violation] = {}
    for b in then:
        if b.step_id in found:
            continue
        late = [a for a in first if a.step_id != b.step_id and not done_before(a, b)]
        if late:
            a = max(late, key=lambda t: (t.stage, t.index))
            found[b.step_id] = Violation(
                rule,
                f"{rule}: {a.step_id} (stage {a.stage}) must finish before "
                f"{b.step_id} (stage {b.stage}) starts: {RULES[rule][0]}",
            )
    return list(found.values())


def check_order(view: PlanView) -> list[Violation]:
    found: list[Violation] = []
    members = view.service_tasks(lambda s: s in DATABASE_MEMBERS | QUEUE_MEMBERS)
    openstack = view.service_tasks(lambda s: s not in INFRASTRUCTURE)
    found += barrier("database-queue-first", members, openstack)
    keystone = view.service_tasks(is_keystone)
    found += barrier(
        "keystone-first", keystone, view.service_tasks(lambda s: is_api(s) and not is_keystone(s))
    )
    placement = view.service_tasks(lambda s: s.startswith("placement"))
    found += barrier(
        "placement-before-nova", placement, view.service_tasks(lambda s: s.startswith("nova-"))
    )
    found += barrier(
        "nova-control-before-compute",
        view.service_tasks(is_nova_control),
        view.service_tasks(lambda s: s in NOVA_COMPUTES),
    )
    found += barrier(
        "ironic-before-nova",
        view.service_tasks(lambda s: s in IRONIC_CONTROL),
        view.service_tasks(is_nova),
    )
    found += barrier(
        "neutron-server-before-agents",
        view.service_tasks(lambda s: s in NEUTRON_SERVERS),
        view.service_tasks(is_neutron_agent),
    )
    found += barrier(
        "ovn-controller-before-central",
        view.service_tasks(lambda s: s == "ovn-controller"),
        view.service_tasks(lambda s: s in OVN_CENTRAL),
    )
    for earlier, later in itertools.pairwise(CINDER_ORDER):
        found += barrier(
            "cinder-service-order",
            view.service_tasks(lambda s, e=earlier: s == e),
            view.service_tasks(lambda s, la=later: s == la),
        )
    found += barrier(
        "glance-migrate-before-api",
        view.by_action.get("glance-db-migrate", []),
        view.service_tasks(lambda s: s == "glance-api"),
    )
    return found


def check_schema_steps(view: PlanView) -> list[Violation]:
    found: list[Violation] = []
    roles: dict[tuple[str, str], list[Task]] = {}
    for index, step in enumerate(view.steps):
        if step["kind"] in ("hook", "gate", "upgrade") or "action" not in step:
            continue
        project = project_of_action(step)
        if project is None:
            continue
        if project not in {project_of_service(s) for s in view.services}:
            found.append(
                Violation(
                    "absent-project-steps",
                    f"absent-project-steps: {step['id']} (stage {view.stages[index][0]}) "
                    f"is a step of {project}, which no host of the cloud runs",
                )
            )
            continue
        role = schema_role(step["action"])
        if role:
            tasks = [t for t in view.by_action[step["action"]] if t.index == index]
            roles.setdefault((project, role), []).extend(tasks)
    for (project, role), tasks in sorted(roles.items()):
        services = view.service_tasks(lambda s, p=project: project_of_service(s) == p)
        if role == "expand":
            found += barrier("schema-before-services", tasks, services)
        if role in ("contract", "finish"):
            found += barrier("contract-after-services", services, tasks)
        if role == "contract":
            expands = roles.get((project, "expand"), [])
            if not expands:
                first = tasks[0]
                found.append(
                    Violation(
                        "expand-before-contract",
                        f"expand-before-contract: {first.step_id} (stage {first.stage}) "
                        f"contracts {project}'s database, which the plan never expands",
                    )
                )
            found += barrier("expand-before-contract", expands, tasks)
            found += barrier("expand-before-contract", roles.get((project, "migrate"), []), tasks)
    return found


def check_coverage(view: PlanView) -> list[Violation]:
    """With the inventory: a service the rules order, or one the plan upgrades on
    some host, that a host runs and the plan never upgrades there; and an upgrade
    step on a host that does not run its service."""
    if view.inventory is None:
        return []
    found: list[Violation] = []
    ordered = DATABASE_MEMBERS | QUEUE_MEMBERS | NOVA_COMPUTES | NEUTRON_SERVERS | OVN_CENTRAL
    for host, services in sorted(view.host_services.items()):
        for service in sorted(services):
            watched = service in ordered or is_keystone(service) or is_api(service)
            if not (watched or service in view.by_service):
                continue
            upgraded = any(t.host == host for t in view.by_service.get(service, []))
            if not upgraded and not warned(view.plan, host, service):
                found.append(
                    Violation(
                        "service-not-upgraded",
                        f"service-not-upgraded: {service} on {host} has no upgrade step",
                    )
                )
    for service, tasks in sorted(view.by_service.items()):
        for task in tasks:
            if service not in view.host_services.get(task.host, ()):
                found.append(
                    Violation(
                        "service-not-on-host",
                        f"service-not-on-host: {task.step_id} (stage {task.stage}) upgrades "
                        f"{service} on {task.host}, which the inventory does not run there",
                    )
                )
    return found


def warned(plan: dict, host: str, service: str) -> bool:
    """Whether the plan's warnings say this host's service is left alone (an
    unknown service allowed with --allow-unknown-services): not a silent skip."""
    return any(
        f"'{host}'" in w and f"'{service}'" in w and "not upgraded" in w
        for w in plan.get("warnings", [])
    )


def check_nova_finish(view: PlanView) -> list[Violation]:
    """The RPC pin dropped after the last nova service; data migrations after that."""
    reload = view.by_action.get("nova-reload-services", [])
    found = barrier("nova-pin-after-computes", view.service_tasks(is_nova), reload)
    migrations = view.by_action.get("nova-online-data-migrations", [])
    return found + barrier("nova-pin-after-computes", reload, migrations)


def is_nova(service: str) -> bool:
    return service.startswith("nova-")


def is_irreversible(action: str) -> bool:
    return schema_role(action) in ("contract", "finish")


def check_point_of_no_return(view: PlanView) -> list[Violation]:
    first = next(
        (
            (index, step)
            for index, step in enumerate(view.steps)
            if step["kind"] not in ("hook", "gate") and is_irreversible(step.get("action", ""))
        ),
        None,
    )
    marked = view.plan.get("point_of_no_return")
    if first is None:
        if marked is None:
            return []
        return [
            Violation(
                "point-of-no-return",
                f"point-of-no-return: the plan marks {marked.get('step')} but has no "
                "contract or online data migration",
            )
        ]
    index, step = first
    where = f"{step['id']} (stage {view.stages[index][0]})"
    if marked is None:
        text = f"point-of-no-return: the plan does not mark its point of no return, {where}"
    elif marked.get("step") != step["id"] or marked.get("action") != step["action"]:
        text = f"point-of-no-return: the plan marks {marked.get('step')}, but the first is {where}"
    else:
        return []
    return [Violation("point-of-no-return", text)]


def drains_hypervisors(plan: dict) -> bool:
    return plan.get("strategy") == "rolling-computes" or any(
        s["kind"] == "hook" and s.get("action") == "evacuate" for s in plan["steps"]
    )


def check_drains(view: PlanView) -> list[Violation]:
    found: list[Violation] = []
    if not drains_hypervisors(view.plan):
        return found
    for host in view.hypervisors():
        for compute in [t for t in view.by_service.get("nova-compute", []) if t.host == host]:
            disable, evacuate, enable = (view.hooks.get((a, host), []) for a in DRAIN_ACTIONS)
            where = f"{compute.step_id} (stage {compute.stage}) on hypervisor {host}"
            if not any(done_before(d, compute) for d in disable):
                found.append(
                    Violation(
                        "hypervisor-drained",
                        f"hypervisor-drained: {where} is not disabled before its upgrade",
                    )
                )
            if not any(
                done_before(e, compute) and any(done_before(d, e) for d in disable)
                for e in evacuate
            ):
                found.append(
                    Violation(
                        "hypervisor-drained",
                        f"hypervisor-drained: {where} is not evacuated (after disabling it) before its upgrade",
                    )
                )
            if not any(done_before(compute, e) for e in enable):
                found.append(
                    Violation(
                        "hypervisor-drained",
                        f"hypervisor-drained: {where} is not enabled again after its upgrade",
                    )
                )
    hypervisors = set(view.hypervisors())
    for stage, first, down in down_per_stage(view, only_action="evacuate"):
        if down & hypervisors and not hypervisors - down:
            found.append(
                Violation(
                    "evacuate-capacity",
                    f"evacuate-capacity: stage {stage} ({first}) evacuates "
                    f"{', '.join(sorted(down))} and leaves no other hypervisor to take "
                    "their instances",
                )
            )
    return found


def down_per_stage(
    view: PlanView, only_action: str | None = None
) -> list[tuple[int, str, set[str]]]:
    """Each parallel unit (a batch, or one step): its stage, first step id and the
    hosts it takes down at once. A hook step outside a batch takes its hosts
    down one after another: one unit per host. With `only_action`, only the
    hook steps of that action count."""
    units: dict[int, tuple[str, set[str]]] = {}
    extra: list[tuple[int, str, set[str]]] = []
    for index, step in enumerate(view.steps):
        stage, in_batch = view.stages[index]
        hosts = set(step.get("hosts") or [])
        if not hosts or (only_action and step.get("action") != only_action):
            continue
        if step["kind"] == "hook" and not in_batch:
            extra.extend((stage, step["id"], {h}) for h in sorted(hosts))
            continue
        _, down = units.setdefault(stage, (step["id"], set()))
        down |= hosts
    return sorted([(s, f, d) for s, (f, d) in units.items()] + extra, key=lambda u: u[0])


def allowed_by(budget: dict) -> int:
    n = len(budget["hosts"])
    amount = budget["amount"]
    if isinstance(amount, str) and amount.endswith("%"):
        share = float(amount[:-1]) / 100
        if budget["rule"] == "max-unavailable":
            return max(1, math.floor(share * n)) if share > 0 and n else 0
        return n - min(n, math.ceil(share * n))
    if budget["rule"] == "max-unavailable":
        return min(int(amount), n)
    return max(0, n - int(amount))


def check_budgets(view: PlanView) -> list[Violation]:
    found: list[Violation] = []
    units = down_per_stage(view)
    for budget in view.plan.get("budgets", []):
        name = budget["name"]
        allowed = allowed_by(budget)
        if budget["allowed"] != allowed or budget["selected"] != len(budget["hosts"]):
            found.append(
                Violation(
                    "budget-kept",
                    f"budget-kept: budget {name} says it allows {budget['allowed']} of "
                    f"{budget['selected']} hosts; {budget['rule']} {budget['amount']} of "
                    f"its {len(budget['hosts'])} hosts allows {allowed}",
                )
            )
        covered = set(budget["hosts"])
        for stage, first, down in units:
            hit = down & covered
            if len(hit) > allowed:
                found.append(
                    Violation(
                        "budget-kept",
                        f"budget-kept: stage {stage} ({first}) takes down "
                        f"{len(hit)} hosts of budget {name} ({', '.join(sorted(hit))}), "
                        f"which allows {allowed}",
                    )
                )
    return found


def check_network_nodes(view: PlanView) -> list[Violation]:
    found: list[Violation] = []
    gateways = view.network_nodes()
    for stage, first, down in down_per_stage(view):
        hit = down & gateways
        if len(hit) > 1:
            found.append(
                Violation(
                    "network-one-at-a-time",
                    f"network-one-at-a-time: stage {stage} ({first}) takes down "
                    f"{len(hit)} network nodes at once ({', '.join(sorted(hit))})",
                )
            )
    return found


def declared_part(constraint: dict, keys: tuple[str, ...]) -> tuple[set, set] | None:
    """One side of a declared constraint: the services and the actions it names.
    A side is an object of `services` and `actions` lists, or one list of names
    (services, projects or actions); None when the constraint has no such side."""
    for key in keys:
        part = constraint.get(key)
        if isinstance(part, str):
            part = [part]
        if isinstance(part, list) and all(isinstance(n, str) for n in part):
            return set(part), set(part)
        if isinstance(part, dict) and set(part) <= {"services", "actions"} and part:
            services, actions = part.get("services", []), part.get("actions", [])
            if all(isinstance(n, str) for n in [*services, *actions]):
                return set(services), set(actions)
    return None


def declared_tasks(view: PlanView, side: tuple[set, set], by_project: bool) -> list[Task]:
    """Tasks of upgrade steps whose service (or, for a plain list of names, its
    project) is named, and of action steps and hooks whose action is named."""
    services, actions = side
    tasks = view.service_tasks(
        lambda s: s in services or (by_project and project_of_service(s) in services)
    )
    for action, action_tasks in view.by_action.items():
        if action in actions:
            tasks += action_tasks
    for (action, _), hook_tasks in view.hooks.items():
        if action in actions:
            tasks += hook_tasks
    return tasks


def check_declared(view: PlanView) -> list[Violation]:
    """Every constraint the plan declares (`constraints`), as a barrier: what
    its first side names is done on every host before its second side starts."""
    found: list[Violation] = []
    for number, constraint in enumerate(view.plan.get("constraints", []), 1):
        first = declared_part(constraint, ("first", "before", "wait_for"))
        then = declared_part(constraint, ("then", "after", "blocks"))
        label = (
            constraint.get("name")
            or constraint.get("barrier")
            or constraint.get("text")
            or f"#{number}"
        )
        label = f"'{label}'" if " " in label else label
        if first is None or then is None:
            found.append(
                Violation(
                    "declared-constraint",
                    f"declared-constraint: constraint {label} has no readable sides: "
                    f"{json.dumps(constraint, sort_keys=True)}",
                )
            )
            continue
        by_project = not isinstance(constraint.get("first"), dict)
        first_tasks = declared_tasks(view, first, by_project)
        then_tasks = declared_tasks(view, then, by_project)
        for v in barrier("declared-constraint", first_tasks, then_tasks):
            found.append(
                Violation(
                    v.rule,
                    v.message.replace("declared-constraint:", f"declared-constraint {label}:", 1),
                )
            )
    return found


def check_plan(plan: dict, inventory: dict | None = None) -> list[Violation]:
    """Every violation of the guides' rules in `plan` (a parsed plan file)."""
    view = PlanView(plan, inventory)
    return (
        check_order(view)
        + check_schema_steps(view)
        + check_coverage(view)
        + check_nova_finish(view)
        + check_point_of_no_return(view)
        + check_drains(view)
        + check_budgets(view)
        + check_network_nodes(view)
        + check_declared(view)
    )


def check_plan_file(path: str | Path, inventory: str | Path | None = None) -> list[str]:
    """The messages of every violation in the plan file at `path`."""
    plan = read_document(path)
    inv = read_document(inventory) if inventory is not None else None
    return [v.message for v in check_plan(plan, inv)]
