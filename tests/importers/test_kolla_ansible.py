"""Kolla-Ansible: INI groups, role declarations evaluated against globals.yml,
from the kolla-ansible package's role defaults or from kostyor's own table."""

from __future__ import annotations

import textwrap

import pytest
from import_support import EXAMPLES, assert_current_order, checked_plan, import_to

from kostyor_dsl.importers import import_cloud
from kostyor_dsl.importers.kolla_ansible import import_kolla_ansible, package_share

MULTINODE = EXAMPLES / "kolla-multinode" / "multinode"
GLOBALS = EXAMPLES / "kolla-multinode" / "globals.yml"

SMALL = """\
[control]
ctl[1:2]

[network]
net1

[compute]
cmp1
cmp2 nova_cell_name=cell2

[mariadb:children]
control
[rabbitmq:children]
control
[keystone:children]
control
[placement:children]
control
[placement-api:children]
placement
[nova:children]
control
[nova-api:children]
nova
[nova-conductor:children]
nova
[nova-scheduler:children]
nova
[neutron:children]
network
[neutron-server:children]
control
[neutron-l3-agent:children]
neutron
[neutron-dhcp-agent:children]
neutron
[neutron-metadata-agent:children]
neutron
[openvswitch:children]
network
compute
[ovn-controller:children]
compute
network
[ovn-database:children]
control
[ovn-northd:children]
ovn-database
[ovn-nb-db:children]
ovn-database
[ovn-sb-db:children]
ovn-database
[neutron-ovn-metadata-agent:children]
compute
"""


def kolla(tmp_path, globals_text=None, inventory=SMALL, **options):
    inv = tmp_path / "multinode"
    inv.write_text(inventory)
    g = None
    if globals_text is not None:
        g = tmp_path / "globals.yml"
        g.write_text(textwrap.dedent(globals_text))
    options.setdefault("use_package", False)
    result = import_kolla_ansible(str(inv), str(g) if g else None, **options)
    return {h.name: h for h in result.hosts}, result


def test_groupless_services_come_from_the_role_declarations(tmp_path):
    hosts, _ = kolla(tmp_path)
    assert {"nova-compute", "nova-libvirt", "neutron-openvswitch-agent"} <= set(
        hosts["cmp1"].services
    )
    assert "neutron-l3-agent" not in hosts["cmp1"].services
    assert {"neutron-l3-agent", "neutron-openvswitch-agent"} <= set(hosts["net1"].services)
    assert "ovn-controller" not in hosts["cmp1"].services  # openvswitch is the default
    assert dict(hosts["cmp1"].targets)["nova-compute"] == ("nova_compute",)


def test_globals_ovn_replaces_the_openvswitch_agents(tmp_path):
    hosts, _ = kolla(tmp_path, 'neutron_plugin_agent: "ovn"\n')
    assert {"ovn-controller", "neutron-ovn-metadata-agent"} <= set(hosts["cmp1"].services)
    assert "neutron-openvswitch-agent" not in hosts["cmp1"].services
    assert "neutron-l3-agent" not in hosts["net1"].services
    assert {"ovn-nb-db", "ovn-sb-db", "ovn-northd"} <= set(hosts["ctl1"].services)


def test_globals_dvr_puts_l3_agents_on_computes(tmp_path):
    hosts, _ = kolla(tmp_path, "enable_neutron_dvr: yes\n")
    assert {"neutron-l3-agent", "neutron-metadata-agent"} <= set(hosts["cmp1"].services)


def test_globals_enable_project(tmp_path):
    hosts, _ = kolla(tmp_path)
    assert not any(s.startswith("cinder") for h in hosts.values() for s in h.services)
    inventory = SMALL + "[cinder:children]\ncontrol\n[cinder-api:children]\ncinder\n"
    hosts, _ = kolla(tmp_path, "enable_cinder: 'yes'\n", inventory=inventory)
    assert "cinder-api" in hosts["ctl1"].services
    hosts, _ = kolla(tmp_path, "enable_heat: no\nenable_openstack_core: no\n")
    assert "keystone" not in hosts["ctl1"].services


def test_labels_physical_group_and_cell(tmp_path):
    hosts, _ = kolla(tmp_path)
    assert dict(hosts["cmp2"].labels) == {"cell": "cell2", "physical-group": "compute"}
    assert dict(hosts["ctl1"].labels) == {"physical-group": "control"}


def test_a_service_whose_group_the_inventory_lacks_is_a_warning(tmp_path):
    inventory = SMALL + "[cinder:children]\ncontrol\n[cinder-api:children]\ncinder\n"
    _, result = kolla(tmp_path, "enable_cinder: yes\n", inventory=inventory)
    missing = [d for d in result.diagnostics if d.code == "K059"]
    assert any("'cinder-scheduler'" in d.message and "runs nowhere" in d.message for d in missing)


def fake_kolla_share(root):
    """A kolla-ansible `ansible/` folder in the package's layout, with one role whose
    declaration differs from kostyor's table: the package's must win."""
    share = root / "ansible"
    (share / "group_vars" / "all").mkdir(parents=True)
    (share / "group_vars" / "all" / "nova.yml").write_text(
        "enable_nova: true\nenable_openstack_core: true\nnova_cell_compute_group: compute\n"
    )
    role = share / "roles" / "nova-cell" / "defaults"
    role.mkdir(parents=True)
    role.joinpath("main.yml").write_text(
        textwrap.dedent(
            """\
            nova_cell_services:
              nova-compute:
                container_name: nova_compute
                group: "{{ nova_cell_compute_group }}"
                enabled: "{{ not enable_nova_fake | default(false) | bool }}"
              nova-compute-canary:
                container_name: nova_canary
                group: compute
                enabled: "{{ enable_canary | bool }}"
            """
        )
    )
    (share / "site.yml").write_text("- hosts: all\n")
    return share


def test_the_packages_role_defaults_are_the_real_source(tmp_path):
    share = fake_kolla_share(tmp_path)
    hosts, result = kolla(tmp_path, "enable_canary: yes\n", share=str(share))
    assert "nova-compute" in hosts["cmp1"].services
    # not in kostyor's table: a declaration of the package, reported as unmapped
    (d,) = [d for d in result.diagnostics if d.code == "K055"]
    assert "'nova-compute-canary'" in d.message and "2 hosts (cmp1, cmp2)" in d.message


def test_a_package_declaration_that_cannot_be_evaluated_falls_back_to_the_table(tmp_path):
    share = fake_kolla_share(tmp_path)
    main = share / "roles" / "nova-cell" / "defaults" / "main.yml"
    main.write_text(main.read_text().replace("nova_cell_compute_group }}", "no_such_var }}"))
    hosts, result = kolla(tmp_path, share=str(share))
    assert "nova-compute" in hosts["cmp1"].services
    (d,) = [d for d in result.diagnostics if d.code == "K059" and "'nova-compute'" in d.message]
    assert "no_such_var" in d.message and "kostyor's table is used" in d.message
    # the canary, which the table does not know, is reported, not guessed
    (canary,) = [d for d in result.diagnostics if "'nova-compute-canary'" in d.message]
    assert canary.code == "K059" and "enable_canary" in canary.message


@pytest.mark.skipif(package_share() is None, reason="the kolla-ansible package is not installed")
def test_the_installed_kolla_ansible_agrees_with_the_table(tmp_path):
    """Run where kolla-ansible is installed (`pip install --no-deps kolla-ansible`)."""
    for globals_text in (None, 'neutron_plugin_agent: "ovn"\nenable_cinder: yes\n'):
        from_package, _ = kolla(tmp_path, globals_text, use_package=True)
        from_table, _ = kolla(tmp_path, globals_text, use_package=False)
        assert from_package == from_table


def test_example_cloud_checks_and_plans_in_the_current_order(tmp_path):
    inventory, result = import_to(
        tmp_path,
        "kolla-ansible",
        [MULTINODE],
        globals_file=str(GLOBALS),
        use_kolla_package=False,
    )
    assert [d.code for d in result.diagnostics] == ["K058"]  # localhost, the deploy host
    plan = checked_plan(inventory)
    assert_current_order(plan, inventory)
    checked_plan(inventory, "rolling-computes")
    checked_plan(inventory, "service-by-service")


def test_the_shipped_example_inventory_is_the_import_of_the_example(tmp_path):
    inventory, _ = import_to(
        tmp_path, "kolla-ansible", [MULTINODE], globals_file=str(GLOBALS), use_kolla_package=False
    )
    assert inventory.read_text() == (EXAMPLES / "kolla-multinode" / "inventory.yaml").read_text()


def test_import_through_the_cli_is_byte_stable(cli, tmp_path):
    out1, out2 = tmp_path / "a.yaml", tmp_path / "b.yaml"
    for out in (out1, out2):
        code, _, err = cli(
            "import", "kolla-ansible", MULTINODE, "--globals", GLOBALS, "--no-kolla-package",
            "-o", out,
        )  # fmt: skip
        assert code == 0, err
    assert out1.read_bytes() == out2.read_bytes()
    assert "warning[K058]" in err and "imported 12 hosts" in err
    result = import_cloud("kolla-ansible", [str(MULTINODE)], globals_file=str(GLOBALS))
    assert len(result.hosts) == 12
