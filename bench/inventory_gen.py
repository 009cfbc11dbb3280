"""Synthetic inventories shaped like a large OpenStack cloud (issue 5).

For N hosts: 3 + N/100 controllers with 25 services each, 85% computes with
two services (nova-compute, neutron-openvswitch-agent), the rest storage
(cinder-volume; every tenth storage host a swift host with three swift
services).  That makes about 2.1 upgrade steps per host.

Deterministic: the same N gives byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path

CONTROLLER_SERVICES = (
    "keystone-wsgi-admin",
    "keystone-wsgi-public",
    "glance-api",
    "glance-registry",
    "nova-conductor",
    "nova-scheduler",
    "nova-consoleauth",
    "nova-novncproxy",
    "nova-api",
    "nova-api-metadata",
    "neutron-server",
    "neutron-openvswitch-agent",
    "neutron-l3-agent",
    "neutron-dhcp-agent",
    "neutron-metadata-agent",
    "cinder-api",
    "cinder-scheduler",
    "horizon-wsgi",
    "heat-api",
    "heat-engine",
    "heat-api-cfn",
    "ceilometer-collector",
    "ceilometer-agent-notification",
    "gnocchi-api",
    "swift-proxy-server",
)
COMPUTE_SERVICES = ("nova-compute", "neutron-openvswitch-agent")
CINDER_SERVICES = ("cinder-volume",)
SWIFT_SERVICES = ("swift-account-server", "swift-container-server", "swift-object-server")


def inventory(n: int) -> dict:
    """The inventory document for N hosts (N >= 10)."""
    controllers = min(n, 3 + n // 100)
    computes = min(n - controllers, round(n * 0.85))
    storage = n - controllers - computes
    hosts: list[dict] = []
    # Shuffle kinds deterministically so the engines really have to sort:
    # walk the hosts in a fixed stride pattern over the three kinds.
    kinds = ["storage"] * storage + ["compute"] * computes
    step = 7919  # a prime, coprime with any realistic count
    order = [kinds[(i * step) % len(kinds)] for i in range(len(kinds))] if kinds else []
    for i in range(controllers):
        hosts.append(
            {
                "name": f"ctl{i:05d}",
                "services": list(CONTROLLER_SERVICES),
                "labels": {"rack": f"r{i % 40:02d}", "role": "controller"},
            }
        )
    counts = {"compute": 0, "storage": 0}
    for kind in order:
        k = counts[kind]
        counts[kind] = k + 1
        if kind == "compute":
            hosts.append({"name": f"cmp{k:06d}", "services": list(COMPUTE_SERVICES)})
        elif k % 10 == 9:
            hosts.append({"name": f"swf{k:06d}", "services": list(SWIFT_SERVICES)})
        else:
            hosts.append({"name": f"stg{k:06d}", "services": list(CINDER_SERVICES)})
    # Controllers spread through the file too (inventory order is the tie-breaker).
    if controllers and len(hosts) > controllers:
        ctl, rest = hosts[:controllers], hosts[controllers:]
        stride = max(1, len(rest) // controllers)
        merged: list[dict] = []
        for i, c in enumerate(ctl):
            merged.extend(rest[i * stride : (i + 1) * stride])
            merged.append(c)
        merged.extend(rest[len(ctl) * stride :])
        hosts = merged
    return {"cluster": f"bench-{n}", "hosts": hosts}


def write_json(doc: dict, path: str) -> None:
    """Written the way people and tools write JSON inventories: indented."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2)
        fh.write("\n")


def write_yaml(doc: dict, path: str) -> None:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with open(path, "w", encoding="utf-8") as fh:
        yaml.dump(doc, fh, Dumper=dumper, sort_keys=False, default_flow_style=False)


def spec_text(projects: int = 200, per_project: int = 10) -> str:
    """A spec with PROJECTS projects of PER_PROJECT services each, and two strategies."""
    tiers = ("controller", "compute", "storage")
    lines = ["tiers controller, compute, storage", "", "order big {"]
    for p in range(projects):
        lines.append(f"  project proj{p:03d} {{")
        for s in range(per_project):
            tier = tiers[(p + s) % 3]
            extra = ", compute" if tier == "controller" and s % 4 == 0 else ""
            lines.append(f"    proj{p:03d}-svc{s:02d}  on {tier}{extra}")
        lines.append("  }")
        lines.append("")
    lines += [
        "}",
        "",
        "default strategy rolling {",
        "  engine  node-by-node",
        "  order   big",
        "  driver  noop",
        "}",
        "",
        "strategy wide {",
        "  engine  service-by-service",
        "  order   big",
        "  driver  noop",
        "}",
    ]
    return "\n".join(lines) + "\n"


def kolla_shaped(n: int, extra_compute: bool = False) -> dict:
    """A cloud shaped like examples/kolla-multinode (issue 24): its controllers,
    network, storage and monitoring nodes, and computes like its cmp01 (its
    targets, the containers, included) up to n hosts; with `extra_compute`,
    one more compute in the middle of the computes."""
    import yaml

    example = yaml.safe_load(
        (
            Path(__file__).resolve().parent.parent
            / "examples"
            / "kolla-multinode"
            / "inventory.yaml"
        ).read_text(encoding="utf-8")
    )
    computes = [h for h in example["hosts"] if h["name"].startswith("cmp")]
    others = [h for h in example["hosts"] if not h["name"].startswith("cmp")]
    template = computes[0]
    made = [{**template, "name": f"cmp{i:05d}"} for i in range(1, n - len(others) + 1)]
    if extra_compute:
        made.insert(len(made) // 2, {**template, "name": "cmp-extra"})
    return {"hosts": others + made}


def write_osa_source(n: int, path, extra_compute: bool = False) -> None:
    """An OpenStack-Ansible `openstack_inventory.json` of n hosts (bench/import_bench.py's
    shape: 3 + n/1000 infra hosts with LXC containers, 5% storage, computes
    on metal); with `extra_compute`, one compute more."""
    from import_bench import osa_inventory
    from import_bench import write_inventory as write_osa

    infra = 3 + n // 1000
    storage = max(1, n // 20)
    write_osa(str(path), osa_inventory(infra, n - infra - storage + extra_compute, storage))
