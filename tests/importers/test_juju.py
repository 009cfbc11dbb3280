"""Juju: machines are hosts; LXD units and subordinates belong to their machine."""

from __future__ import annotations

from import_support import DATA, assert_current_order, checked_plan, import_to

from kostyor_dsl.importers import import_cloud

STATUS = DATA / "juju" / "status.json"


def test_lxd_units_and_subordinates_live_on_their_machine():
    result = import_cloud("juju", [str(STATUS)])
    hosts = {h.name: h for h in result.hosts}
    assert sorted(hosts) == ["cmp-1", "cmp-2", "ctl-1", "ctl-2", "ctl-3"]
    ctl2 = hosts["ctl-2"]
    # keystone/1 is in 1/lxd/3; its hacluster and mysql-router subordinates with it
    assert {"keystone", "hacluster-corosync", "mysql-router", "vault"} <= set(ctl2.services)
    targets = dict(ctl2.targets)
    assert targets["keystone"] == ("keystone/1",)
    assert targets["hacluster-pacemaker"] == ("keystone-hacluster/1",)
    assert set(targets["mysql-router"]) == {
        "keystone-mysql-router/1",
        "placement-mysql-router/1",
        "ncc-mysql-router/1",
    }
    cmp1 = hosts["cmp-1"]
    assert {"nova-compute", "ovn-controller", "neutron-ovn-metadata-agent"} <= set(cmp1.services)
    assert dict(cmp1.targets)["ovn-controller"] == ("ovn-chassis/0",)


def test_labels_machine_and_availability_zone():
    result = import_cloud("juju", [str(STATUS)])
    labels = {h.name: dict(h.labels) for h in result.hosts}
    assert labels["ctl-3"] == {"az": "zone3", "juju-machine": "2"}
    assert labels["cmp-2"] == {"az": "zone2", "juju-machine": "4"}


def test_charm_urls_are_charm_names():
    from kostyor_dsl.importers.juju import charm_name

    assert charm_name({"charm": "ch:amd64/jammy/nova-cloud-controller-700"}, "x") == (
        "nova-cloud-controller"
    )
    assert charm_name({"charm": "cs:keystone-300"}, "x") == "keystone"
    assert charm_name({}, "glance") == "glance"


def test_imported_cloud_checks_and_plans_in_the_current_order(tmp_path):
    inventory, result = import_to(tmp_path, "juju", [STATUS])
    assert not result.diagnostics
    plan = checked_plan(inventory)
    assert_current_order(plan, inventory)
    ids = [s["id"] for s in plan["steps"]]
    assert ids.index("vault@ctl-1") < ids.index("mysql-innodb-cluster@ctl-1")
