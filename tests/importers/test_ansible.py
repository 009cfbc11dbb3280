"""Any Ansible inventory (`ansible-inventory --list`) with a map of groups -> services."""

from __future__ import annotations

import pytest
from import_support import DATA, assert_current_order, checked_plan, import_to

from kostyor_dsl.importers import ImportFailed, import_cloud

INVENTORY = DATA / "ansible" / "inventory.json"
MAP = DATA / "ansible" / "groups.yaml"


def test_groups_map_to_services_and_labels():
    result = import_cloud("ansible", [str(INVENTORY)], map_file=str(MAP))
    hosts = {h.name: h for h in result.hosts}
    assert set(hosts["db-1"].services) == {"mariadb", "rabbitmq", "memcached"}
    assert dict(hosts["hv-3"].labels) == {"rack": "b"}
    (d,) = result.diagnostics  # the monitoring group holds services the map does not say
    assert d.code == "K055" and "'monitoring'" in d.message and "1 host (api-1)" in d.message


def test_the_map_is_required_and_checked(tmp_path):
    with pytest.raises(ImportFailed) as caught:
        import_cloud("ansible", [str(INVENTORY)])
    assert caught.value.diagnostics[0].code == "K057"
    bad = tmp_path / "map.yaml"
    bad.write_text("groups:\n  databases: [mariadb, 3]\n")
    with pytest.raises(ImportFailed) as caught:
        import_cloud("ansible", [str(INVENTORY)], map_file=str(bad))
    assert caught.value.diagnostics[0].code == "K057"
    bad.write_text("labels:\n  rack: x\n")
    with pytest.raises(ImportFailed) as caught:
        import_cloud("ansible", [str(INVENTORY)], map_file=str(bad))
    assert "groups" in caught.value.diagnostics[0].message
    with pytest.raises(ImportFailed) as caught:
        import_cloud("ansible", [str(INVENTORY)], map_file=str(MAP), names_file=str(MAP))
    assert "--names is not used" in caught.value.diagnostics[0].message


def test_imported_cloud_checks_and_plans_in_the_current_order(tmp_path):
    inventory, _ = import_to(tmp_path, "ansible", [INVENTORY], map_file=str(MAP))
    plan = checked_plan(inventory)
    assert_current_order(plan, inventory)
