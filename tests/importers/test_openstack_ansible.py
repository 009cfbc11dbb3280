"""OpenStack-Ansible: component groups through physical_host, --neutron-plugin, labels, targets."""

from __future__ import annotations

import json

import pytest
import yaml
from import_support import DATA, assert_current_order, checked_plan, import_to

from kostyor_dsl.compiler import compile_plan
from kostyor_dsl.importers import ImportFailed, import_cloud

OSA = DATA / "osa" / "openstack_inventory.json"


def hosts_of(result):
    return {h.name: h for h in result.hosts}


def test_containers_map_to_their_physical_host_with_targets():
    result = import_cloud("openstack-ansible", [str(OSA)], neutron_plugin="ovs")
    hosts = hosts_of(result)
    assert sorted(hosts) == [
        "compute1", "compute2", "compute3", "compute4", "compute5", "compute6",
        "infra1", "infra2", "infra3", "storage1", "storage2",
    ]  # fmt: skip
    infra1 = hosts["infra1"]
    assert {"mariadb", "rabbitmq", "keystone", "placement-api", "nova-api", "haproxy"} <= set(
        infra1.services
    )
    targets = dict(infra1.targets)
    assert targets["mariadb"] == ("infra1-galera-container-" + targets["mariadb"][0][-8:],)
    assert targets["nova-api"] == targets["nova-conductor"]  # one container, several components
    assert "haproxy" not in targets  # on the host itself: the host is its own target
    assert dict(infra1.labels) == {"physical-group": "shared_infra_hosts"}


def test_the_plugin_trap_needs_the_operators_word():
    with pytest.raises(ImportFailed) as caught:
        import_cloud("openstack-ansible", [str(OSA)])
    (d,) = caught.value.diagnostics
    assert d.code == "K057"
    assert (
        "neutron_openvswitch_agent, neutron_ovn_controller, neutron_ovn_northd, "
        "neutron_sriov_nic_agent" in d.message
    )
    assert any("user_variables.yml" in h for h in d.hints)


@pytest.mark.parametrize(
    ("plugin", "has", "lacks"),
    [
        ("ovs", {"neutron-openvswitch-agent"}, {"ovn-controller", "neutron-sriov-agent"}),
        (
            "ml2.ovn",
            {"ovn-controller", "neutron-ovn-metadata-agent"},
            {"neutron-openvswitch-agent"},
        ),
        ("ovs,sriov", {"neutron-openvswitch-agent", "neutron-sriov-agent"}, {"ovn-controller"}),
    ],
)
def test_neutron_plugin_chooses_the_agents(plugin, has, lacks):
    result = import_cloud("openstack-ansible", [str(OSA)], neutron_plugin=plugin)
    compute = set(hosts_of(result)["compute1"].services)
    assert has <= compute and not (lacks & compute)


def test_unknown_plugin_is_an_error():
    with pytest.raises(ImportFailed) as caught:
        import_cloud("openstack-ansible", [str(OSA)], neutron_plugin="ovz")
    assert caught.value.diagnostics[0].code == "K057"
    assert "ovz" in caught.value.diagnostics[0].message


def test_availability_zones_come_from_group_names():
    result = import_cloud("openstack-ansible", [str(OSA)], neutron_plugin="ovs")
    zones = {h.name: dict(h.labels).get("az") for h in result.hosts}
    assert zones["compute1"] == "az1" and zones["compute2"] == "az2"
    assert zones["infra1"] is None


def test_a_component_the_table_lacks_is_a_warning_with_hosts(tmp_path):
    doc = json.loads(OSA.read_text())
    doc["neutron_foo_agent"] = {"hosts": ["compute1", "compute2"], "children": []}
    path = tmp_path / "openstack_inventory.json"
    path.write_text(json.dumps(doc, indent=4))
    result = import_cloud("openstack-ansible", [str(path)], neutron_plugin="ovs")
    (d,) = [d for d in result.diagnostics if d.code == "K055"]
    assert not d.is_error
    assert "'neutron_foo_agent'" in d.message and "2 hosts (compute1, compute2)" in d.message
    assert d.span is not None and d.span.line > 1  # points at the group in the file
    # with a names file mapping it, it is imported
    names = tmp_path / "names.yaml"
    names.write_text("names:\n  neutron_foo_agent: [neutron-metering-agent]\n")
    result = import_cloud(
        "openstack-ansible", [str(path)], neutron_plugin="ovs", names_file=str(names)
    )
    assert "neutron-metering-agent" in hosts_of(result)["compute1"].services
    assert not [d for d in result.diagnostics if d.code == "K055"]


def test_imported_cloud_checks_and_plans_in_the_current_order(tmp_path):
    inventory, _ = import_to(tmp_path, "openstack-ansible", [OSA], neutron_plugin="ovs")
    plan = checked_plan(inventory)
    assert_current_order(plan, inventory)
    assert yaml.safe_load(inventory.read_text())["hosts"][0]["name"] == "compute1"


def test_host_selectors_work_on_the_imported_az_labels(tmp_path, write):
    inventory, _ = import_to(tmp_path, "openstack-ansible", [OSA], neutron_plugin="ovs")
    spec = write(
        "team.kostyor",
        "import openstack\n\nstrategy by-zone extends node-by-node {\n"
        "  hosts az=az1 {\n    batch  3\n  }\n  hosts az=az2 {\n    batch  1\n  }\n"
        # The shipped compute budget (20%: 1 of 6) would refuse a batch of 3.
        "  budget compute {\n    max-unavailable  3\n  }\n}\n",
    )
    plan = compile_plan(str(spec), str(inventory)).plan
    assert {g["name"]: g["hosts"] for g in plan["groups"]} == {"az=az1": 3, "az=az2": 3}
    first_batch = {
        h
        for s in plan["steps"]
        if s.get("group") == "az=az1" and s.get("batch") == 1
        for h in s["hosts"]
    }
    assert first_batch == {"compute1", "compute3", "compute5"}
