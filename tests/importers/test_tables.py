"""The name tables: every name they produce is a service the shipped order upgrades or
declares ignored, so an import never yields an unknown service; a user's file overrides."""

from __future__ import annotations

import pytest

from kostyor_dsl.compiler.resolve import check_spec
from kostyor_dsl.importers.tables import load_table, name_map

TABLES = ("openstack-ansible", "kolla-ansible", "juju", "openstack")


@pytest.fixture(scope="module")
def known():
    order = check_spec("openstack").spec.orders["openstack"]
    return {s.name for s in order.services}, set(order.ignored)


@pytest.mark.parametrize("table", TABLES)
def test_every_mapped_name_is_known_to_the_shipped_order(table, known):
    upgraded, ignored = known
    names = name_map(load_table(table)["names"])
    produced = {s for services in names.values() for s in services}
    assert produced - upgraded - ignored == set()


def test_kolla_fallback_declares_every_service_it_names(known):
    table = load_table("kolla-ansible")
    declared = {s for role in table["services"].values() for s in role}
    assert declared == set(table["names"])
    assert set(table["services"]) <= set(table["roles"])


def test_a_names_file_replaces_entries_key_by_key(tmp_path):
    names = tmp_path / "names.yaml"
    names.write_text("names:\n  keystone: [keystone, keystone-ssh]\n  my-charm: []\n")
    table = load_table("juju", str(names))
    assert table["names"]["keystone"] == ["keystone", "keystone-ssh"]
    assert table["names"]["my-charm"] == []
    assert table["names"]["glance"] == "glance-api"  # the others stay
    assert load_table("juju")["names"]["keystone"] == "keystone"  # the shipped table is intact
