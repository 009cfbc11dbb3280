"""The OpenStack API's lists: merged by host, down and disabled surfaced, host@backend."""

from __future__ import annotations

import json

import yaml
from import_support import DATA, import_to
from plan_checker import check_plan

from kostyor_dsl.compiler import check, compile_plan
from kostyor_dsl.importers import import_cloud

LISTS = sorted((DATA / "openstack").glob("*.json"))


def imported():
    result = import_cloud("openstack", [str(p) for p in LISTS])
    return {h.name: h for h in result.hosts}, result


def test_lists_merge_by_host_and_map_binaries():
    hosts, _ = imported()
    assert sorted(hosts) == ["cmp-1", "cmp-2", "cmp-3", "ctl-1", "ctl-2", "sto-1"]
    assert set(hosts["ctl-1"].services) == {
        "nova-conductor",
        "nova-scheduler",
        "ovn-controller",
        "cinder-scheduler",
    }
    assert set(hosts["cmp-1"].services) == {
        "nova-compute",
        "ovn-controller",
        "neutron-ovn-metadata-agent",
    }


def test_cinder_volume_backends_are_targets_of_their_host():
    hosts, _ = imported()
    sto = hosts["sto-1"]
    assert set(sto.services) == {"cinder-volume", "cinder-backup"}
    assert dict(sto.targets) == {"cinder-volume": ("sto-1@ceph-ssd", "sto-1@lvm-1")}


def test_down_and_disabled_are_warnings_and_labels_not_drops():
    hosts, result = imported()
    assert dict(hosts["cmp-2"].labels) == {
        "az": "az1",
        "disabled": "nova-compute",
        "down": "ovn-controller",
    }
    assert "nova-compute" in hosts["cmp-2"].services
    assert dict(hosts["ctl-2"].labels)["down"] == "nova-scheduler"
    assert dict(hosts["cmp-3"].labels)["disabled"] == "neutron-ovn-metadata-agent"
    warnings = sorted(d.message for d in result.diagnostics if d.code == "K056")
    assert len(warnings) == 4
    assert any("RMA ticket 4411" in m for m in warnings)


def test_the_api_response_shape_is_read_too(tmp_path):
    rows = json.loads((DATA / "openstack" / "compute-services.json").read_text())
    api = {
        "services": [
            {
                "binary": r["Binary"],
                "host": r["Host"],
                "zone": r["Zone"],
                "status": r["Status"],
                "state": r["State"],
            }
            for r in rows
        ]
    }
    path = tmp_path / "os-services.json"
    path.write_text(json.dumps(api))
    result = import_cloud("openstack", [str(path)])
    assert {h.name: dict(h.labels) for h in result.hosts}["cmp-2"] == {
        "az": "az1",
        "disabled": "nova-compute",
    }


def test_imported_cloud_checks_with_no_unknown_service(tmp_path):
    inventory, _ = import_to(tmp_path, "openstack", LISTS)
    report = check("openstack", str(inventory))
    assert report.ok and not [d for d in report.diagnostics if d.code == "K042"]
    plan = compile_plan("openstack", str(inventory)).plan
    ids = [s["id"] for s in plan["steps"] if s["kind"] == "upgrade"]
    # API services (and so keystone, placement, the database) do not list themselves;
    # what is listed follows the guides across hosts (the independent checker),
    # nova's control services before any hypervisor.
    violations = check_plan(json.loads(json.dumps(plan)), yaml.safe_load(inventory.read_text()))
    assert not violations, "\n".join(v.message for v in violations)
    assert ids.index("nova-conductor@ctl-1") < ids.index("nova-compute@cmp-1")
