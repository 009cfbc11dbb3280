"""Juju: machines are hosts; LXD units and subordinates belong to their machine."""

from __future__ import annotations

from import_support import DATA, checked_plan, import_to

from kostyor_dsl.importers import import_cloud

STATUS = DATA / "juju" / "status.json"
BUNDLE = DATA / "juju" / "bundle.yaml"


def test_lxd_units_and_subordinates_live_on_their_machine():
    result = import_cloud("juju", [str(STATUS)])
    hosts = {h.name: h for h in result.hosts}
    assert sorted(hosts) == ["cmp-1", "cmp-2", "ctl-1", "ctl-2", "ctl-3"]
    ctl2 = hosts["ctl-2"]
    # keystone/1 is in 1/lxd/3; its hacluster and mysql-router subordinates with it
    assert {"keystone", "hacluster-corosync", "mysql-router"} <= set(ctl2.services)
    # the charm guide upgrades vault, mysql-innodb-cluster and rabbitmq-server on their own
    assert not {"vault", "mysql-innodb-cluster", "rabbitmq"} & set(ctl2.services)
    assert dict(ctl2.labels)["juju-infrastructure"] == ("mysql", "rabbitmq-server", "vault")
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
    assert labels["ctl-3"] == {
        "az": "zone3",
        "juju-machine": "2",
        "juju-infrastructure": ("mysql", "rabbitmq-server", "vault"),
    }
    assert labels["cmp-2"] == {"az": "zone2", "juju-machine": "4"}


def test_charm_urls_are_charm_names():
    from kostyor_dsl.importers.juju import charm_name

    assert charm_name({"charm": "ch:amd64/jammy/nova-cloud-controller-700"}, "x") == (
        "nova-cloud-controller"
    )
    assert charm_name({"charm": "cs:keystone-300"}, "x") == "keystone"
    assert charm_name({}, "glance") == "glance"


def test_imported_cloud_checks_and_plans_without_the_infrastructure_charms(tmp_path):
    inventory, result = import_to(tmp_path, "juju", [STATUS], bundle_file=str(BUNDLE))
    assert [d.code for d in result.diagnostics] == ["K095"]
    (infra,) = result.diagnostics
    assert "mysql (mysql-innodb-cluster) on ctl-1, ctl-2, ctl-3" in infra.message
    plan = checked_plan(inventory)
    ids = [s["id"] for s in plan["steps"]]
    assert not [i for i in ids if i.startswith(("vault@", "mysql-innodb-cluster@", "rabbitmq@"))]
    assert ids.index("keystone@ctl-1") < ids.index("nova-compute@cmp-1")


def test_without_a_bundle_an_option_dependent_charm_is_an_assumption_said_aloud():
    result = import_cloud("juju", [str(STATUS)])
    (assumed,) = [d for d in result.diagnostics if d.code == "K094"]
    assert "application 'cinder' (charm cinder): enabled-services assumed 'all'" in assumed.message


def test_the_bundle_says_which_cinder_services_an_application_runs(tmp_path):
    """A volume-only `cinder-volume` application on the hypervisors: no cinder-api there."""
    import json

    status = json.loads(STATUS.read_text())
    status["applications"]["cinder-volume"] = {
        "charm": "cinder",
        "units": {
            "cinder-volume/0": {"machine": "3"},
            "cinder-volume/1": {"machine": "4"},
        },
    }
    path = tmp_path / "status.json"
    path.write_text(json.dumps(status))
    bundle = tmp_path / "bundle.yaml"
    bundle.write_text(
        BUNDLE.read_text() + "  cinder-volume:\n    charm: cinder\n"
        "    options:\n      enabled-services: volume\n"
    )
    result = import_cloud("juju", [str(path)], bundle_file=str(bundle))
    hosts = {h.name: set(h.services) for h in result.hosts}
    for hypervisor in ("cmp-1", "cmp-2"):
        assert "cinder-volume" in hosts[hypervisor]
        assert not {"cinder-api", "cinder-scheduler"} & hosts[hypervisor]
    assert "cinder-api" in hosts["ctl-3"]  # the `cinder` application's default: all
    assert not [d for d in result.diagnostics if d.code == "K094"]


def test_subordinates_that_run_nothing_are_known(tmp_path):
    import json

    status = json.loads(STATUS.read_text())
    for sub in ("keystone-ldap", "octavia-dashboard", "nrpe", "grafana-agent"):
        status["applications"][sub] = {"charm": sub, "subordinate-to": ["keystone"]}
        unit = status["applications"]["keystone"]["units"]["keystone/0"]
        unit.setdefault("subordinates", {})[f"{sub}/0"] = {}
    path = tmp_path / "status.json"
    path.write_text(json.dumps(status))
    result = import_cloud("juju", [str(path)], bundle_file=str(BUNDLE))
    assert not [d for d in result.diagnostics if d.code == "K055"]


def test_units_that_are_not_an_object_are_a_located_error(tmp_path):
    import json

    import pytest

    from kostyor_dsl.importers import ImportFailed

    status = json.loads(STATUS.read_text())
    status["applications"]["glance"]["units"] = "glance/0"
    path = tmp_path / "status.json"
    path.write_text(json.dumps(status, indent=1))
    with pytest.raises(ImportFailed) as caught:
        import_cloud("juju", [str(path)])
    (d,) = [d for d in caught.value.diagnostics if d.is_error]
    assert d.code == "K050" and "units must be an object" in d.message
    assert d.span is not None and d.span.file == "status.json"


def test_a_unit_in_error_is_recorded_down(tmp_path):
    import json

    status = json.loads(STATUS.read_text())
    unit = status["applications"]["nova-compute"]["units"]["nova-compute/0"]
    unit["workload-status"] = {"current": "error", "message": "hook failed: config-changed"}
    path = tmp_path / "status.json"
    path.write_text(json.dumps(status))
    result = import_cloud("juju", [str(path)], bundle_file=str(BUNDLE))
    (down,) = [d for d in result.diagnostics if d.code == "K056"]
    assert "unit 'nova-compute/0'" in down.message and "in error" in down.message
    host = next(h for h in result.hosts if dict(h.state).get("nova-compute"))
    assert dict(host.state)["nova-compute"] == ("down",)
