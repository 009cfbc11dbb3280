"""Issue 20 and 21: importers read real deployments right, and never run, hang on or
trace back on what an operator's files hold.  Inputs are the project's own, with the
shapes of the tools' real files (OSA's az example, prod with a gateway, Kolla 2024.1
multinode with LVM and all-in-one, a production Juju model, the API's lists)."""

from __future__ import annotations

import json
import textwrap

import pytest
from import_support import DATA, import_to

from kostyor_dsl.compiler import check, compile_plan
from kostyor_dsl.importers import ImportFailed, import_cloud
from kostyor_dsl.inventory.hostnames import host_name_problem, target_problem

OSA = DATA / "osa" / "openstack_inventory.json"


def _osa(tmp_path, groups: dict, hostvars: dict, name="openstack_inventory.json"):
    doc = {"_meta": {"hostvars": hostvars}, **groups}
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=1))
    return path


def _metal(*names, group="compute_hosts"):
    return {n: {"physical_host": n, "physical_host_group": group, "is_metal": True} for n in names}


def _errors(caught):
    return [d for d in caught.value.diagnostics if d.is_error]


# --- host names (issue 20.1, 21.2) ---------------------------------------------------


@pytest.mark.parametrize("name", ["az1_compute1", "infra1", "cmp-01.example.org", "_x"])
def test_names_the_tools_allow_are_host_names(name):
    assert host_name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    [
        "all",
        "ALL",
        "ungrouped",
        "a,b",
        "infra2:&compute",
        "!infra1",
        "*",
        "web[0]",
        "~re",
        "-e@x.yml",
        "@retry",
        "a b",
        "a\nb",
        "a..b",
        "a;b",
        "a/b",
        "ínfra",
    ],
)
def test_names_a_command_line_would_misread_are_refused(name):
    assert host_name_problem(name) is not None


def test_targets_allow_units_and_backends_but_not_patterns():
    assert target_problem("keystone/0") is None and target_problem("storage1@lvm") is None
    for bad in ("all", "-e@x.yml", "infra2:&compute", "@file", "a,b"):
        assert target_problem(bad) is not None, bad


def test_osa_az_example_with_underscores_imports_every_host(tmp_path):
    hosts = [f"az{z}_compute{i}" for z in (1, 2) for i in (1, 2, 3)]
    path = _osa(
        tmp_path,
        {"nova_compute": {"hosts": hosts}, "compute_hosts": {"hosts": hosts}},
        _metal(*hosts),
    )
    result = import_cloud("openstack-ansible", [str(path)])
    assert sorted(h.name for h in result.hosts) == sorted(hosts)


def test_a_container_named_all_never_becomes_a_target(tmp_path):
    path = _osa(
        tmp_path,
        {"galera": {"hosts": ["all"]}, "shared_infra_hosts": {"hosts": ["infra1"]}},
        {"all": {"physical_host": "infra1"}, **_metal("infra1", group="shared_infra_hosts")},
    )
    with pytest.raises(ImportFailed) as caught:
        import_cloud("openstack-ansible", [str(path)])
    (d,) = _errors(caught)
    assert d.code == "K054" and "'all'" in d.message and "every host" in d.message


def test_an_inventory_target_that_widens_limit_is_refused_with_its_line(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text(
        "hosts:\n  - name: infra1\n    services: [keystone]\n    targets:\n      keystone: [all]\n"
    )
    report = check("openstack", str(inv))
    (d,) = [d for d in report.diagnostics if d.is_error]
    assert (d.code, d.span.line) == ("K090", 5)


def test_run_refuses_a_step_whose_targets_are_a_pattern():
    from kostyor_dsl.runtime.run_checks import host_problems, step_host_problem

    step = {
        "id": "keystone@infra1",
        "kind": "upgrade",
        "hosts": ["infra1"],
        "targets": {"infra1": ["infra2:&compute"]},
    }
    assert host_problems({"steps": [step]})
    assert "refused before the driver saw it" in step_host_problem(
        step["id"], step["hosts"], step["targets"]
    )


def test_the_ansible_drivers_limit_never_holds_a_refused_name():
    from kostyor_dsl.runtime.drivers.ansible import limit_for
    from kostyor_dsl.runtime.errors import StepFailed

    step = {"service": "keystone", "targets": {"infra1": ["all"]}}
    with pytest.raises(StepFailed):
        limit_for(step, ["infra1"])
    assert limit_for({"service": "keystone", "targets": {"infra1": ["c-1"]}}, ["infra1"]) == ["c-1"]


# --- OpenStack-Ansible (issue 20.2) ----------------------------------------------------

PROD = {
    "neutron_server": {"hosts": ["infra1-neutron-server-container-1"]},
    "galera": {"hosts": ["infra1-galera-container-1"]},
    "nova_compute": {"hosts": ["compute1"]},
    "neutron_ovn_controller": {"hosts": ["compute1"]},
    "neutron_openvswitch_agent": {"hosts": ["compute1"]},
    "neutron_ovn_gateway": {"hosts": ["gw1", "gw2", "gw3"]},
    "neutron_ovn_northd": {"hosts": ["infra1-neutron-ovn-northd-container-1"]},
    "neutron_bgp_dragent": {"hosts": ["infra1-neutron-agents-container-1"]},
    "neutron_metering_agent": {"hosts": ["infra1-neutron-agents-container-1"]},
    "ironic_neutron_agent": {"hosts": ["infra1-neutron-agents-container-1"]},
    "shared_infra_hosts": {"hosts": ["infra1"]},
    "storage_hosts": {"hosts": ["infra1"]},
    "compute_hosts": {"hosts": ["compute1"]},
    "network-gateway_hosts": {"hosts": ["gw1", "gw2", "gw3"]},
}
PROD_VARS = {
    **{
        c: {"physical_host": "infra1", "physical_host_group": "storage_hosts"}
        for g, b in PROD.items()
        for c in b["hosts"]
        if c.startswith("infra1-")
    },
    **_metal("compute1"),
    **_metal("gw1", "gw2", "gw3", group="network-gateway_hosts"),
    "infra1": {"physical_host": "infra1", "physical_host_group": "storage_hosts"},
}


def test_a_wrong_plugin_names_every_host_it_drops(tmp_path):
    path = _osa(tmp_path, PROD, PROD_VARS)
    result = import_cloud("openstack-ansible", [str(path)], neutron_plugin="ovs")
    (dropped,) = [d for d in result.diagnostics if d.code == "K092"]
    assert "gw1 (neutron_ovn_gateway); gw2 (neutron_ovn_gateway); gw3" in dropped.message


def test_ovn_without_northd_is_an_error_with_a_hint(tmp_path):
    groups = {k: v for k, v in PROD.items() if k != "neutron_ovn_northd"}
    path = _osa(tmp_path, groups, PROD_VARS)
    with pytest.raises(ImportFailed) as caught:
        import_cloud("openstack-ansible", [str(path)], neutron_plugin="ovn")
    (d,) = [d for d in _errors(caught) if d.code != "K052"]  # its container is in no group
    assert d.code == "K093" and d.hints


def test_user_variables_choose_the_plugin_and_the_optional_agents(tmp_path):
    path = _osa(tmp_path, {**PROD, "neutron_ovn_gateway": {"hosts": []}}, PROD_VARS)
    variables = tmp_path / "user_variables.yml"
    variables.write_text("neutron_plugin_type: ml2.ovs\nneutron_plugin_base: [router]\n")
    result = import_cloud("openstack-ansible", [str(path)], user_variables=[str(variables)])
    services = {s for h in result.hosts for s in h.services}
    assert "neutron-openvswitch-agent" in services and "ovn-controller" not in services
    assert not {"neutron-bgp-dragent", "neutron-metering-agent", "ironic-neutron-agent"} & services
    assert not [d for d in result.diagnostics if d.code == "K094"]


def test_user_variables_enable_an_optional_agent(tmp_path):
    path = _osa(tmp_path, PROD, PROD_VARS)
    first = tmp_path / "user_variables.yml"
    first.write_text("neutron_plugin_type: ml2.ovn\n")
    second = tmp_path / "user_variables_bgp.yml"
    second.write_text(
        "neutron_plugin_base: [ovn-router, "
        "neutron_dynamic_routing.services.bgp.bgp_plugin.BgpPlugin]\n"
    )
    result = import_cloud(
        "openstack-ansible", [str(path)], user_variables=[str(first), str(second)]
    )
    infra1 = {h.name: h for h in result.hosts}["infra1"]
    assert "neutron-bgp-dragent" in infra1.services
    assert "neutron-metering-agent" not in infra1.services


def test_neutron_server_runs_its_other_processes_and_physical_group_is_the_hosts_own(tmp_path):
    path = _osa(tmp_path, PROD, PROD_VARS)
    result = import_cloud("openstack-ansible", [str(path)], neutron_plugin="ovn")
    infra1 = {h.name: h for h in result.hosts}["infra1"]
    assert {
        "neutron-server",
        "neutron-rpc-server",
        "neutron-periodic-worker",
        "neutron-ovn-maintenance-worker",
    } <= set(infra1.services)
    assert dict(infra1.labels)["physical-group"] == ("shared_infra_hosts", "storage_hosts")
    assert [d.code for d in result.diagnostics if d.code == "K094"]  # bgp etc. assumed aloud


# --- Kolla-Ansible (issue 20.3) --------------------------------------------------------

MULTINODE_2024_1 = """\
[control]
ctl1
[network]
net1
[compute]
cmp1
[storage]
stor1
[deployment]
localhost ansible_connection=local
[baremetal:children]
control
network
compute
storage
[mariadb:children]
control
[rabbitmq:children]
control
[keystone:children]
control
[cinder:children]
control
[cinder-api:children]
cinder
[cinder-scheduler:children]
cinder
[cinder-volume:children]
storage
[cinder-backup:children]
storage
"""


def test_kolla_2024_1_with_lvm_keeps_cinder_volume_on_its_storage_host(tmp_path):
    inv = tmp_path / "multinode"
    inv.write_text(MULTINODE_2024_1)
    globals_file = tmp_path / "globals.yml"
    globals_file.write_text("enable_cinder: yes\nenable_cinder_backend_lvm: yes\n")
    result = import_cloud(
        "kolla-ansible", [str(inv)], globals_file=str(globals_file), use_kolla_package=False
    )
    storage = {h.name: h for h in result.hosts}["stor1"]
    assert {"cinder-volume", "cinder-backup"} <= set(storage.services)
    assert not [d for d in result.diagnostics if d.code == "K059" and "cinder" in d.message]
    forced = import_cloud(
        "kolla-ansible",
        [str(inv)],
        globals_file=str(globals_file),
        use_kolla_package=False,
        release="2026.1",
    )
    # 2026.1's layout wants the cinder-volume-lvm group this inventory lacks
    assert "stor1" not in {h.name for h in forced.hosts}


def test_kolla_all_in_one_has_no_false_k058_and_lists_its_physical_groups(tmp_path):
    inv = tmp_path / "all-in-one"
    groups = ["control", "network", "compute", "storage", "monitoring", "deployment"]
    inv.write_text(
        "".join(f"[{g}]\nlocalhost ansible_connection=local\n" for g in groups)
        + "[mariadb:children]\ncontrol\n[keystone:children]\ncontrol\n"
    )
    result = import_cloud("kolla-ansible", [str(inv)], use_kolla_package=False)
    assert not [d for d in result.diagnostics if d.code == "K058"]
    (host,) = result.hosts
    assert dict(host.labels)["physical-group"] == tuple(groups)


# --- service state (issue 20.5) ---------------------------------------------------------


def test_a_down_compute_from_the_api_is_reported_planned_and_refused(tmp_path):
    services = tmp_path / "compute-services.json"
    services.write_text(
        json.dumps(
            [
                {
                    "Binary": "nova-compute",
                    "Host": "cmp1",
                    "Zone": "nova",
                    "Status": "enabled",
                    "State": "down",
                },
                {
                    "Binary": "nova-compute",
                    "Host": "cmp2",
                    "Zone": "nova",
                    "Status": "enabled",
                    "State": "up",
                },
            ]
        )
    )
    inventory, _ = import_to(tmp_path, "openstack", [services])
    assert "state: {nova-compute: down}" in inventory.read_text()
    report = check("openstack", str(inventory))
    (warned,) = [d for d in report.diagnostics if d.code == "K096"]
    assert "host 'cmp1': nova-compute is down" in warned.message
    plan = compile_plan("openstack", str(inventory)).plan
    (step,) = [s for s in plan["steps"] if s.get("state")]
    assert step["state"] == {"cmp1": ["down"]}

    from kostyor_dsl.review.explain import explain_step
    from kostyor_dsl.runtime.drivers import load_driver
    from kostyor_dsl.runtime.errors import PlanRefused
    from kostyor_dsl.runtime.run_checks import check_run

    assert "refuses to start this step unless --allow-down" in explain_step(plan, step["id"])
    driver = load_driver("noop", {})
    with pytest.raises(PlanRefused) as refused:
        check_run(plan, driver, allow_edited=True)
    assert "nova-compute is down on cmp1" in str(refused.value)
    check_run(plan, driver, allow_edited=True, allow_down=True)


def test_inventories_without_state_still_read_the_same(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text("hosts:\n  - name: c1\n    services: [nova-compute]\n")
    assert check("openstack", str(inv)).ok


# --- issue 21: no code run, no hang, no traceback ---------------------------------------

SMALL = "[control]\nctl1\n[compute]\ncmp1\n[nova:children]\ncontrol\n[mariadb:children]\ncontrol\n"


def _kolla(tmp_path, globals_text: str, inventory: str = SMALL):
    inv = tmp_path / "multinode"
    inv.write_text(inventory)
    g = tmp_path / "globals.yml"
    g.write_text(globals_text)
    return import_cloud("kolla-ansible", [str(inv)], globals_file=str(g), use_kolla_package=False)


def test_a_template_in_globals_never_runs_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = (
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}"
        "{% if c.__name__ == 'catch_warnings' %}"
        "{{ c.__init__.__globals__['__builtins__']['open']('" + str(marker) + "', 'w') }}"
        "{% endif %}{% endfor %}"
    )
    with pytest.raises(ImportFailed) as caught:
        _kolla(tmp_path, "enable_nova: " + json.dumps(payload) + "\n")
    (d,) = _errors(caught)
    assert d.code == "K091" and (d.span.file, d.span.line) == ("globals.yml", 1)
    assert not marker.exists()
    with pytest.raises(ImportFailed) as caught:  # no statement: the sandbox still refuses
        _kolla(tmp_path, "enable_nova: \"{{ ''.__class__.__mro__[1].__subclasses__() }}\"\n")
    assert _errors(caught)[0].code == "K091"


@pytest.mark.parametrize(
    "value",
    [
        '"{{ 1/0 }}"',
        '"{{ 10.0**400 > 1 }}"',
        '"{{ 10**100000000 > 1 }}"',
        "\"{{ 'a' * 100000000 }}\"",
        "maybe",
        '"{{ [1, 2] }}"',
    ],
)
def test_bad_globals_values_are_located_errors(tmp_path, value):
    with pytest.raises(ImportFailed) as caught:
        _kolla(tmp_path, "enable_cinder: no\nenable_nova: " + value + "\n")
    (d,) = _errors(caught)
    assert d.code == "K091" and (d.span.file, d.span.line) == ("globals.yml", 2), d.message


def test_a_long_chain_of_variables_is_a_located_error(tmp_path):
    chain = "".join(f'v{i}: "{{{{ v{i + 1} }}}}"\n' for i in range(3000)) + "v3000: yes\n"
    with pytest.raises(ImportFailed) as caught:
        _kolla(tmp_path, 'enable_nova: "{{ v0 }}"\n' + chain)
    assert _errors(caught)[0].code == "K091"


def test_a_huge_range_is_a_located_error(tmp_path):
    with pytest.raises(ImportFailed) as caught:
        _kolla(tmp_path, "", "[control]\nctl[0:100000000]\n")
    (d,) = _errors(caught)
    assert d.code == "K050" and (d.span.line, d.span.column) == (2, 1)


def test_a_deep_children_chain_is_a_located_error(tmp_path):
    # parents first: reading them needs the whole chain below
    text = "".join(f"[g{i}:children]\ng{i + 1}\n" for i in range(3000)) + "[g3000]\nh1\n"
    with pytest.raises(ImportFailed) as caught:
        _kolla(tmp_path, "", text)
    (d,) = _errors(caught)
    assert d.code == "K053" and d.span is not None


def test_one_large_group_is_read_in_linear_time(tmp_path):
    """20,000 hosts in one group: each host line is a set look-up, not a list scan."""
    from kostyor_dsl.importers.ansible_inventory import parse_ini

    text = "[compute]\n" + "".join(f"cmp{i}\n" for i in range(20000))
    inv = parse_ini(text, "multinode")
    assert len(inv.groups["compute"].hosts) == 20000 == len(inv.groups["compute"].host_set)


@pytest.mark.parametrize("source", ["openstack-ansible", "juju", "openstack"])
def test_json_nested_very_deep_is_a_located_error(tmp_path, source):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ImportFailed) as caught:
        import_cloud(source, [str(path)])
    (d,) = _errors(caught)
    assert d.code == "K050" and d.span is not None and "deep" in d.message


def test_a_json_key_given_twice_is_refused(tmp_path):
    path = tmp_path / "inv.json"
    path.write_text(
        '{"_meta": {"hostvars": {"c1": {"physical_host": "c1"}}},\n'
        ' "nova_compute": {"hosts": ["c1"]},\n'
        ' "nova_compute": {"hosts": []}}\n'
    )
    with pytest.raises(ImportFailed) as caught:
        import_cloud("openstack-ansible", [str(path)])
    (d,) = _errors(caught)
    assert d.code == "K050" and "twice" in d.message and d.span.line == 3


@pytest.mark.parametrize("pattern", ["^(a|a)*$", "^(\\w+_)+$", "(a)\\1"])
def test_patterns_that_can_backtrack_are_refused(tmp_path, pattern):
    inv = tmp_path / "inventory.json"
    inv.write_text(json.dumps({"_meta": {"hostvars": {}}, "a" * 40 + "b": {"hosts": ["h1"]}}))
    groups = tmp_path / "groups.yaml"
    groups.write_text(
        textwrap.dedent(f"""\
            groups: {{}}
            labels:
              rack: {json.dumps(pattern)}
            """)
    )
    with pytest.raises(ImportFailed) as caught:
        import_cloud("ansible", [str(inv)], map_file=str(groups))
    (d,) = _errors(caught)
    assert d.code == "K057" and "refused" in d.message


def test_a_host_named_like_a_group_is_refused(tmp_path):
    with pytest.raises(ImportFailed) as caught:
        _kolla(tmp_path, "", "[control]\ncompute\n[compute]\ncompute\n[nova:children]\ncontrol\n")
    (d,) = _errors(caught)
    assert d.code == "K054" and "--limit compute` would select the whole group" in d.message
    assert (d.span.file, d.span.line) == ("multinode", 2)


@pytest.mark.parametrize("target", ["all", "infra2:&compute", "-e@x.yml"])
def test_the_step_task_never_hands_a_driver_a_widening_target(target):
    """Whatever `kostyorc run` checked, a plan submitted another way fails the step,
    naming the target, before any driver builds its command line."""
    from kostyor_dsl.runtime.canvas import units_of
    from kostyor_dsl.runtime.errors import StepFailed
    from kostyor_dsl.runtime.run_context import driver_signature

    step = {
        "id": "keystone@infra1",
        "kind": "upgrade",
        "project": "keystone",
        "service": "keystone",
        "hosts": ["infra1"],
        "source": "openstack.kostyor:1:1",
        "targets": {"infra1": [target]},
    }
    plan = {"steps": [step], "driver": {"name": "noop", "parameters": {}}}
    seen = []

    class Recording:
        def start(self, service, hosts):
            seen.append(hosts)

    (unit,) = units_of(plan, "r1")
    with pytest.raises(StepFailed, match="refused before the driver saw it"):
        driver_signature(Recording(), step, unit)
    assert seen == []


def test_a_names_file_statement_is_refused_before_anything_is_evaluated(tmp_path):
    inv = tmp_path / "multinode"
    inv.write_text(SMALL)
    names = tmp_path / "names.yaml"
    names.write_text('roles:\n  nova: "{% for x in range(10**6) %}{% endfor %}yes"\n')
    with pytest.raises(ImportFailed) as caught:
        import_cloud("kolla-ansible", [str(inv)], names_file=str(names), use_kolla_package=False)
    (d,) = _errors(caught)
    assert d.code == "K091" and "roles.nova" in d.message


def test_an_osa_names_pattern_that_can_backtrack_is_refused(tmp_path):
    names = tmp_path / "names.yaml"
    names.write_text("labels:\n  az: '^(a|aa)*_hosts$'\n")
    with pytest.raises(ImportFailed) as caught:
        import_cloud("openstack-ansible", [str(OSA)], names_file=str(names), neutron_plugin="ovs")
    (d,) = _errors(caught)
    assert d.code == "K057" and "labels.az" in d.message and "refused" in d.message


def test_group_membership_in_kolla_expressions_is_a_look_up_not_a_scan():
    """`inventory_hostname in groups['compute']` is asked once per host: a scan of the
    group each time made an import of N computes N*N comparisons."""
    from kostyor_dsl.importers.kolla_ansible import _Groups

    compared = []

    class Host(str):
        __hash__ = str.__hash__

        def __eq__(self, other):
            compared.append(other)
            return str.__eq__(self, other)

    groups = _Groups({"compute": [Host(f"cmp{i}") for i in range(1000)]})
    assert "cmp999" in groups["compute"] and "ctl1" not in groups["compute"]
    assert len(compared) <= 2
    assert list(groups["compute"])[:2] == ["cmp0", "cmp1"]  # still the group, in order


def test_import_options_through_the_cli(cli, tmp_path):
    inv = tmp_path / "multinode"
    inv.write_text(MULTINODE_2024_1)
    g = tmp_path / "globals.yml"
    g.write_text("enable_cinder: yes\nenable_cinder_backend_lvm: yes\n")
    out = tmp_path / "inventory.yaml"
    code, _, err = cli(
        "import", "kolla-ansible", inv, "--globals", g, "--no-kolla-package",
        "--release", "2024.1", "-o", out,
    )  # fmt: skip
    assert code == 0, err
    assert "cinder-volume" in out.read_text()
    code, _, err = cli("import", "kolla-ansible", inv, "--release", "1999.1", "-o", out)
    assert code == 1 and "unknown --release '1999.1'" in err and "2024.1" in err
