"""Import benchmark: `kostyorc import openstack-ansible` of a large OSA inventory,
against `json.load` of the same file, measured side by side in one process.

    .venv/bin/python bench/import_bench.py                 # 10,000 hosts, best of 5
    .venv/bin/python bench/import_bench.py --hosts 2000 --repeat 3
    .venv/bin/python bench/import_bench.py --write FILE    # only write the inventory

The inventory is shaped like the `openstack_inventory.json` that OSA's
dynamic_inventory.py writes (each hostvar with the keys OSA gives it, its
container_networks included): infra hosts with LXC containers per component,
bare-metal computes in every ML2 plugin's group (as OSA does), storage
hosts, availability zones as `azN_hosts` groups, and `_meta.hostvars` with
physical_host for every member.  `osa_inventory` also makes the test
fixture tests/importers/data/osa/openstack_inventory.json.

Prints the ratio import / json.load (the goal: under 2x) and exits 0; the
figure is for review, not a test (no test depends on the machine's speed).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# container type -> the component groups its container runs (as OSA's env.d says)
INFRA_CONTAINERS = {
    "galera": ["galera"],
    "rabbit-mq": ["rabbitmq"],
    "memcached": ["memcached"],
    "keystone": ["keystone"],
    "placement": ["placement_api"],
    "glance": ["glance_api"],
    "cinder-api": ["cinder_api", "cinder_scheduler"],
    "nova-api": [
        "nova_api_metadata",
        "nova_api_os_compute",
        "nova_conductor",
        "nova_console",
        "nova_scheduler",
    ],
    "neutron-server": ["neutron_server"],
    "heat-api": ["heat_api", "heat_api_cfn", "heat_engine"],
    "horizon": ["horizon"],
    "utility": ["utility"],
    "repo": ["pkg_repo"],
}
# components that OSA puts on the infra hosts themselves (is_metal)
INFRA_METAL = [
    "haproxy",
    "neutron_agent",
    "neutron_l3_agent",
    "neutron_dhcp_agent",
    "neutron_metadata_agent",
    "neutron_openvswitch_agent",
    "neutron_sriov_nic_agent",
]
# every compute is put in every plugin's group, whatever the cloud uses
COMPUTE_METAL = [
    "nova_compute",
    "neutron_openvswitch_agent",
    "neutron_ovn_controller",
    "neutron_sriov_nic_agent",
]
STORAGE_METAL = ["cinder_volume", "cinder_backup"]


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:8]


def osa_inventory(infra: int, computes: int, storage: int, azs: int = 2) -> dict:
    """An OSA-shaped inventory; deterministic for the same arguments."""
    groups: dict[str, dict] = {}
    hostvars: dict[str, dict] = {}

    def group(name: str) -> dict:
        return groups.setdefault(name, {"hosts": [], "children": []})

    def networks(address: str, metal: bool) -> dict:
        """`container_networks` as OSA writes it for each host and container."""
        out = {
            "management_address": {
                "address": address,
                "bridge": "br-mgmt",
                "netmask": "255.255.252.0",
                "type": "veth",
            },
            "tunnel_address": {"bridge": "br-vxlan", "netmask": "255.255.252.0", "type": "veth"},
            "storage_address": {"bridge": "br-storage", "netmask": "255.255.252.0", "type": "veth"},
        }
        if metal:
            out["eth11_address"] = {"bridge": "br-vlan", "netmask": None, "type": "veth"}
            out["eth12_address"] = {"bridge": "br-vlan", "netmask": None, "type": "veth"}
        else:
            out["management_address"]["interface"] = "eth1"
        return out

    def metal(host: str, host_group: str, address: str, component: str) -> None:
        hostvars[host] = {
            "ansible_host": address,
            "component": component,
            "container_name": host,
            "container_networks": networks(address, True),
            "container_tech": "lxc",
            "container_types": f"{host}_host_containers",
            "is_metal": True,
            "management_address": address,
            "physical_host": host,
            "physical_host_addr": address,
            "physical_host_group": host_group,
            "properties": {"is_metal": True},
        }
        group(host_group)["hosts"].append(host)

    def address(i: int) -> str:
        return f"172.29.{236 + i // 250}.{10 + i % 250}"

    n = 0
    for i in range(1, infra + 1):
        host = f"infra{i}"
        metal(host, "shared_infra_hosts", address(n), "haproxy")
        n += 1
        for component in INFRA_METAL:
            group(component)["hosts"].append(host)
        group("lxc_hosts")["hosts"].append(host)
        for ctype, components in INFRA_CONTAINERS.items():
            container = f"{host}-{ctype}-container-{_suffix(host + ctype)}"
            hostvars[container] = {
                "ansible_host": address(100000 + n),
                "component": components[-1],
                "container_name": container,
                "container_networks": networks(address(100000 + n), False),
                "container_tech": "lxc",
                "management_address": address(100000 + n),
                "physical_host": host,
                "physical_host_addr": address(n),
                "physical_host_group": "shared_infra_hosts",
                "properties": {},
            }
            n += 1
            for component in components:
                group(component)["hosts"].append(container)
            group(f"{ctype.replace('-', '_')}_container")["hosts"].append(container)
            group(f"{host}_host_containers")["hosts"].append(container)
    for i in range(1, computes + 1):
        host = f"compute{i}"
        metal(host, "compute_hosts", address(n), "nova_compute")
        n += 1
        for component in COMPUTE_METAL:
            group(component)["hosts"].append(host)
        group(f"az{1 + (i - 1) % azs}_hosts")["hosts"].append(host)
    for i in range(1, storage + 1):
        host = f"storage{i}"
        metal(host, "storage_hosts", address(n), "cinder_volume")
        n += 1
        for component in STORAGE_METAL:
            group(component)["hosts"].append(host)
    group("all_containers")["children"] = sorted(g for g in groups if g.endswith("_container"))
    group("hosts")["children"] = sorted(g for g in groups if g.endswith("_hosts"))
    groups["all"] = {"vars": {"internal_lb_vip_address": "172.29.236.9"}}
    return {"_meta": {"hostvars": hostvars}, **dict(sorted(groups.items()))}


def write_inventory(path: str, doc: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=4, sort_keys=True)
        fh.write("\n")


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000, help="computes + infra + storage")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", metavar="FILE", help="only write the inventory to FILE")
    args = parser.parse_args(argv)
    infra = 3 + args.hosts // 1000
    storage = max(1, args.hosts // 20)
    doc = osa_inventory(infra, args.hosts - infra - storage, storage)
    if args.write:
        write_inventory(args.write, doc)
        return 0

    from kostyor_dsl.importers import import_cloud
    from kostyor_dsl.importers.document import write_inventory as dump

    with tempfile.TemporaryDirectory(prefix="kostyor-import-bench-") as folder:
        path = os.path.join(folder, "openstack_inventory.json")
        write_inventory(path, doc)
        del doc
        size = os.path.getsize(path)

        def reference():
            with open(path, encoding="utf-8") as fh:
                json.load(fh)

        def strict_reference():  # as the import runs: the cyclic GC paused
            gc.disable()
            try:
                reference()
            finally:
                gc.enable()

        def imported():
            result = import_cloud("openstack-ansible", [path], neutron_plugin="ovs")
            with open(os.devnull, "w", encoding="utf-8") as out:
                dump(result, "yaml", out)

        imported()  # warm: modules and tables loaded, as in every later call
        # Side by side: each round times both, so a busy machine slows both alike.
        # CPU time is reported too: on a shared machine the wall clock also
        # counts the time other processes had the CPU.
        rounds = []
        for _ in range(args.repeat):
            ref = timed(reference)
            strict = timed(strict_reference)
            imp = timed(imported)
            rounds.append((imp[0] / ref[0], imp[1] / ref[1], ref, imp, imp[1] / strict[1]))
        wall = sorted(r[0] for r in rounds)
        cpu = sorted(r[1] for r in rounds)
        strict_cpu = sorted(r[4] for r in rounds)
        ref_cpu = sorted(r[2][1] for r in rounds)[len(rounds) // 2]
        imp_cpu = sorted(r[3][1] for r in rounds)[len(rounds) // 2]
    mid = len(rounds) // 2
    print(f"OSA inventory: {args.hosts} hosts, {size / 1e6:.1f} MB; {args.repeat} rounds")
    print(f"json.load:                        {ref_cpu * 1000:8.1f} ms CPU (median)")
    print(f"import openstack-ansible (+YAML): {imp_cpu * 1000:8.1f} ms CPU (median)")
    print(f"ratio, CPU time:   median {cpu[mid]:.2f}x  (min {cpu[0]:.2f}x, max {cpu[-1]:.2f}x)")
    print(f"ratio, wall clock: median {wall[mid]:.2f}x  (min {wall[0]:.2f}x, max {wall[-1]:.2f}x)")
    print(
        f"strict (json.load with the GC paused too), CPU: median {strict_cpu[mid]:.2f}x  "
        f"(min {strict_cpu[0]:.2f}x, max {strict_cpu[-1]:.2f}x)"
    )
    print("goal: under 2x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
