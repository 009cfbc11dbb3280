"""The independent plan checker itself: each rule on a small hand-written plan
that breaks it, with its exact message, so that the checker cannot pass a plan
silently; and a guide-correct plan that passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from plan_checker import RULES, check_plan, check_plan_file, stages_of


def up(service, host, group=None, batch=None):
    step = {"id": f"{service}@{host}", "kind": "upgrade", "service": service, "hosts": [host]}
    step["project"] = service.split("-")[0]
    step["source"] = "test.kostyor:1"
    if group:
        step.update(group=group, batch=batch)
    return step


def wave(service, hosts, name=None):
    return {
        "id": name or service,
        "kind": "upgrade",
        "project": service.split("-")[0],
        "service": service,
        "hosts": list(hosts),
        "source": "test.kostyor:1",
    }


def pre(action):
    return {
        "id": f"pre-upgrade:{action}",
        "kind": "pre-upgrade",
        "action": action,
        "parameters": {},
    }


def post(action):
    return {
        "id": f"post-upgrade:{action}",
        "kind": "post-upgrade",
        "action": action,
        "parameters": {},
    }


def hook(when, action, host, group="compute", batch=1):
    step = {"id": f"{when}:{action}:{host}", "kind": "hook", "when": when, "action": action}
    step.update(hosts=[host], parameters={}, group=group, batch=batch)
    return step


def drained(host, batch, *services):
    return [
        hook("before", "disable-scheduling", host, batch=batch),
        hook("before", "evacuate", host, batch=batch),
        *(up(s, host, "compute", batch) for s in services),
        hook("after", "enable-scheduling", host, batch=batch),
    ]


def plan(*steps, strategy="node-by-node", no_return="first", **extra):
    """A plan of `steps`; it marks its first contract or online data migration as
    its point of no return unless `no_return` names another step (None: none)."""
    p = {"format": "kostyor-plan/1", "strategy": strategy, "steps": list(steps), **extra}
    irreversible = [
        s for s in steps if s.get("action", "").endswith(("-contract", "-online-data-migrations"))
    ]
    if no_return == "first" and irreversible:
        no_return = irreversible[0]["id"]
    if no_return not in (None, "first"):
        action = next(s["action"] for s in steps if s["id"] == no_return)
        p["point_of_no_return"] = {"step": no_return, "action": action, "source": "t:1"}
    return p


def messages(p, inventory=None):
    return [v.message for v in check_plan(p, inventory)]


def budget(name, hosts, rule="max-unavailable", amount=1, allowed=None):
    return {
        "name": name,
        "selector": [name],
        "rule": rule,
        "amount": amount,
        "selected": len(hosts),
        "allowed": 1 if allowed is None else allowed,
        "most_down": 1,
        "source": "test.kostyor:1",
        "hosts": list(hosts),
    }


GUIDE_CORRECT = plan(
    pre("keystone-db-expand"),
    up("mariadb", "c1"),
    up("mariadb", "c2"),
    up("rabbitmq", "c1"),
    up("rabbitmq", "c2"),
    up("keystone", "c1"),
    up("keystone", "c2"),
    pre("placement-db-sync"),
    up("placement-api", "c1"),
    up("placement-api", "c2"),
    pre("glance-db-expand"),
    pre("glance-db-migrate"),
    up("glance-api", "c1"),
    up("glance-api", "c2"),
    post("glance-db-contract"),
    pre("nova-db-sync"),
    up("nova-conductor", "c1"),
    up("nova-conductor", "c2"),
    up("nova-api", "c1"),
    up("nova-api", "c2"),
    up("ovn-controller", "n1"),
    up("ovn-controller", "h1"),
    up("ovn-controller", "h2"),
    up("ovn-northd", "c1"),
    up("neutron-server", "c1"),
    up("neutron-server", "c2"),
    up("neutron-l3-agent", "n1"),
    *drained("h1", 1, "nova-compute"),
    *drained("h2", 2, "nova-compute"),
    post("keystone-db-contract"),
    post("nova-online-data-migrations"),
    strategy="rolling-computes",
    budgets=[budget("service=keystone", ["c1", "c2"])],
)


def test_a_guide_correct_plan_passes():
    assert messages(GUIDE_CORRECT) == []


def test_stages_follow_the_runtime():
    steps = [
        pre("a"),
        up("x", "h1", "g", 1),
        up("y", "h2", "g", 1),
        up("x", "h3", "g", 2),
        up("z", "h4"),
    ]
    assert stages_of(steps) == [(1, False), (2, True), (2, True), (3, True), (4, False)]


def test_database_and_queue_members_come_first():
    p = plan(
        up("mariadb", "c1"), up("keystone", "c1"), up("rabbitmq", "c2"), up("nova-conductor", "c2")
    )
    assert messages(p) == [
        "database-queue-first: rabbitmq@c2 (stage 3) must finish before keystone@c1 "
        "(stage 2) starts: every database and queue cluster member before any OpenStack service",
    ]


def test_keystone_on_every_host_before_another_api():
    p = plan(up("keystone", "c1"), up("glance-api", "c1"), up("keystone", "c2"))
    assert messages(p) == [
        "keystone-first: keystone@c2 (stage 3) must finish before glance-api@c1 (stage 2) "
        "starts: keystone on every host before any other API service",
    ]


def test_placement_on_every_host_before_any_nova_service():
    p = plan(up("placement-api", "c1"), up("nova-conductor", "c1"), up("placement-api", "c2"))
    assert messages(p) == [
        "placement-before-nova: placement-api@c2 (stage 3) must finish before "
        "nova-conductor@c1 (stage 2) starts: placement on every host before any nova service",
    ]


def test_nova_control_services_before_any_compute():
    p = plan(up("nova-conductor", "c1"), up("nova-compute", "h1"), up("nova-api", "c2"))
    assert messages(p) == [
        "nova-control-before-compute: nova-api@c2 (stage 3) must finish before "
        "nova-compute@h1 (stage 2) starts: every nova control service on every host before "
        "any nova-compute",
    ]


def test_ironic_before_any_nova_service():
    p = plan(up("ironic-conductor", "c1"), up("nova-compute-ironic", "c1"), up("ironic-api", "c2"))
    assert messages(p) == [
        "ironic-before-nova: ironic-api@c2 (stage 3) must finish before nova-compute-ironic@c1 "
        "(stage 2) starts: ironic-api and ironic-conductor on every host before any nova service",
    ]


def test_every_neutron_server_before_any_agent():
    p = plan(up("neutron-server", "c1"), up("neutron-l3-agent", "c1"), up("neutron-server", "c2"))
    assert messages(p) == [
        "neutron-server-before-agents: neutron-server@c2 (stage 3) must finish before "
        "neutron-l3-agent@c1 (stage 2) starts: every neutron-server before any neutron agent",
    ]


def test_ovn_controller_before_ovn_central():
    p = plan(up("ovn-controller", "h1"), up("ovn-nb-db", "c1"), up("ovn-controller", "h2"))
    assert messages(p) == [
        "ovn-controller-before-central: ovn-controller@h2 (stage 3) must finish before "
        "ovn-nb-db@c1 (stage 2) starts: ovn-controller on every chassis before ovn-northd and "
        "the NB/SB databases",
    ]


def test_cinder_kinds_in_the_guides_order():
    p = plan(up("cinder-scheduler", "c1"), up("cinder-volume", "s1"), up("cinder-backup", "s1"))
    p["steps"] += [up("cinder-volume", "s2"), up("cinder-api", "c1")]
    assert messages(p) == [
        "cinder-service-order: cinder-volume@s2 (stage 4) must finish before "
        "cinder-backup@s1 (stage 3) starts: cinder scheduler, then volume, then backup, then "
        "API, each on every host before the next kind",
    ]


def test_glance_migrate_before_any_new_glance_api():
    p = plan(pre("glance-db-expand"), up("glance-api", "c1"), post("glance-db-migrate"))
    assert messages(p) == [
        "glance-migrate-before-api: post-upgrade:glance-db-migrate (stage 3) must finish "
        "before glance-api@c1 (stage 2) starts: glance-db-migrate before any glance-api runs "
        "the new release",
    ]


def test_expand_before_the_services_it_serves():
    p = plan(up("keystone", "c1"), pre("keystone-db-expand"), up("keystone", "c2"))
    assert messages(p) == [
        "schema-before-services: pre-upgrade:keystone-db-expand (stage 2) must finish "
        "before keystone@c1 (stage 1) starts: a project's expand or db sync before any of its "
        "services",
    ]


def test_contract_and_online_migrations_after_every_service():
    p = plan(
        pre("neutron-db-expand"),
        up("neutron-server", "c1"),
        post("neutron-db-contract"),
        up("neutron-server", "c2"),
        post("nova-online-data-migrations"),
        up("nova-compute", "h1"),
    )
    assert messages(p) == [
        "contract-after-services: neutron-server@c2 (stage 4) must finish before "
        "post-upgrade:neutron-db-contract (stage 3) starts: a project's contract and online "
        "data migrations after every one of its services",
        "contract-after-services: nova-compute@h1 (stage 6) must finish before "
        "post-upgrade:nova-online-data-migrations (stage 5) starts: a project's contract and "
        "online data migrations after every one of its services",
    ]


def test_a_contract_never_expanded():
    p = plan(pre("backup-databases"), up("keystone", "c1"), post("keystone-db-contract"))
    assert messages(p) == [
        "expand-before-contract: post-upgrade:keystone-db-contract (stage 3) contracts "
        "keystone's database, which the plan never expands",
    ]


def test_a_contract_before_its_expand():
    p = plan(up("glance-api", "c1"), post("glance-db-contract"), post("glance-db-expand"))
    assert messages(p) == [
        "expand-before-contract: post-upgrade:glance-db-expand (stage 3) must finish before "
        "post-upgrade:glance-db-contract (stage 2) starts: a project's contract only after its "
        "expand (or db sync)",
        "schema-before-services: post-upgrade:glance-db-expand (stage 3) must finish before "
        "glance-api@c1 (stage 1) starts: a project's expand or db sync before any of its "
        "services",
    ]


def test_evacuations_outside_a_batch_run_one_host_at_a_time():
    evacuate = hook("before", "evacuate", "h1")
    del evacuate["group"], evacuate["batch"]
    evacuate["hosts"] = ["h1", "h2"]
    p = plan(evacuate, wave("nova-compute", ["h1", "h2"]))
    assert [m for m in messages(p) if m.startswith("evacuate")] == []


def test_steps_of_a_project_the_cloud_does_not_run():
    p = plan(pre("cinder-db-sync"), pre("backup-databases"), up("keystone", "c1"))
    assert messages(p) == [
        "absent-project-steps: pre-upgrade:cinder-db-sync (stage 1) is a step of cinder, "
        "which no host of the cloud runs",
    ]


def test_the_inventory_decides_which_projects_run():
    inventory = {"hosts": [{"name": "c1", "services": ["keystone", "cinder-api"]}]}
    p = plan(pre("cinder-db-sync"), up("keystone", "c1"))
    assert messages(p, inventory) == [
        "service-not-upgraded: cinder-api on c1 has no upgrade step",
    ]


def test_a_hypervisor_upgraded_without_its_drain():
    p = plan(
        hook("before", "disable-scheduling", "h1"),
        up("nova-compute", "h1", "compute", 1),
        hook("after", "enable-scheduling", "h1"),
        up("nova-compute", "h2", "compute", 2),
        *drained("h3", 3, "nova-compute"),
        strategy="rolling-computes",
    )
    assert messages(p) == [
        "hypervisor-drained: nova-compute@h1 (stage 1) on hypervisor h1 is not evacuated "
        "(after disabling it) before its upgrade",
        "hypervisor-drained: nova-compute@h2 (stage 2) on hypervisor h2 is not disabled "
        "before its upgrade",
        "hypervisor-drained: nova-compute@h2 (stage 2) on hypervisor h2 is not evacuated "
        "(after disabling it) before its upgrade",
        "hypervisor-drained: nova-compute@h2 (stage 2) on hypervisor h2 is not enabled "
        "again after its upgrade",
    ]


def test_a_hypervisor_with_a_controller_service_is_still_drained():
    inventory = {"hosts": [{"name": "h1", "services": ["nova-compute", "mysql-router"]}]}
    p = plan(up("mysql-router", "h1"), up("nova-compute", "h1"), strategy="rolling-computes")
    p["steps"] += [up("nova-compute", "h2", "compute", 1)]
    p["steps"] += drained("h2", 1)[:2]
    assert (
        "hypervisor-drained: nova-compute@h1 (stage 2) on hypervisor h1 is not disabled "
        "before its upgrade" in messages(p, inventory)
    )


def test_drains_are_only_checked_where_the_plan_drains():
    assert messages(plan(up("nova-compute", "h1"))) == []


def test_evacuating_the_only_hypervisor():
    p = plan(*drained("h1", 1, "nova-compute"), strategy="rolling-computes")
    assert messages(p) == [
        "evacuate-capacity: stage 1 (before:evacuate:h1) evacuates h1 and leaves no other "
        "hypervisor to take their instances",
    ]


def test_a_batch_that_evacuates_every_hypervisor():
    p = plan(*drained("h1", 1, "nova-compute"), *drained("h2", 1, "nova-compute"))
    assert messages(p) == [
        "evacuate-capacity: stage 1 (before:evacuate:h1) evacuates h1, h2 and leaves no "
        "other hypervisor to take their instances",
    ]


def test_a_batch_runs_its_hosts_in_parallel():
    p = plan(up("keystone", "c1", "controller", 1), up("glance-api", "c2", "controller", 1))
    assert messages(p) == [
        "keystone-first: keystone@c1 (stage 1) must finish before glance-api@c2 (stage 1) "
        "starts: keystone on every host before any other API service",
    ]
    same_host = plan(up("keystone", "c1", "controller", 1), up("glance-api", "c1", "controller", 1))
    assert messages(same_host) == []


def test_a_stage_over_a_budget():
    p = plan(
        up("keystone", "c1", "controller", 1),
        up("keystone", "c2", "controller", 1),
        budgets=[budget("service=keystone", ["c1", "c2", "c3"])],
    )
    found = messages(p)
    assert found[-1] == (
        "budget-kept: stage 1 (keystone@c1) takes down 2 hosts of budget service=keystone "
        "(c1, c2), which allows 1"
    )


def test_a_service_step_takes_all_its_hosts_down_and_a_hook_one_at_a_time():
    hook_step = hook("before", "backup-config", "c1")
    del hook_step["group"], hook_step["batch"]
    hook_step["hosts"] = ["c1", "c2"]
    p = plan(hook_step, wave("keystone", ["c1", "c2"]), budgets=[budget("API", ["c1", "c2"])])
    assert messages(p) == [
        "budget-kept: stage 2 (keystone) takes down 2 hosts of budget API (c1, c2), which allows 1"
    ]


@pytest.mark.parametrize(
    ("rule", "amount", "hosts", "allowed"),
    [
        ("max-unavailable", "20%", 4, 1),
        ("max-unavailable", "20%", 10, 2),
        ("max-unavailable", 5, 3, 3),
        ("min-available", "75%", 5, 1),
        ("min-available", 2, 5, 3),
        ("min-available", 7, 5, 0),
    ],
)
def test_budgets_are_resolved_again(rule, amount, hosts, allowed):
    names = [f"h{i}" for i in range(hosts)]
    right = budget("b", names, rule=rule, amount=amount, allowed=allowed)
    assert messages(plan(budgets=[right])) == []
    wrong = budget("b", names, rule=rule, amount=amount, allowed=allowed + 1)
    assert messages(plan(budgets=[wrong])) == [
        f"budget-kept: budget b says it allows {allowed + 1} of {hosts} hosts; {rule} "
        f"{amount} of its {hosts} hosts allows {allowed}"
    ]


def test_network_nodes_one_at_a_time():
    p = plan(wave("haproxy", ["n1", "n2"]), up("ovn-controller", "n1"), up("ovn-controller", "n2"))
    inventory = {
        "hosts": [{"name": n, "services": ["haproxy", "ovn-controller"]} for n in ("n1", "n2")]
    }
    assert messages(p, inventory) == [
        "network-one-at-a-time: stage 1 (haproxy) takes down 2 network nodes at once (n1, n2)",
    ]


def test_a_hypervisor_is_not_a_network_node():
    p = plan(wave("ovn-controller", ["h1", "h2"]))
    inventory = {
        "hosts": [{"name": h, "services": ["nova-compute", "ovn-controller"]} for h in ("h1", "h2")]
    }
    assert [m for m in messages(p, inventory) if m.startswith("network")] == []


def test_declared_constraints_are_checked():
    p = plan(
        up("glance-api", "c1"),
        pre("glance-db-migrate"),
        constraints=[
            {"name": "glance-migrate", "first": ["glance-db-migrate"], "then": ["glance-api"]}
        ],
    )
    assert messages(p)[-1] == (
        "declared-constraint glance-migrate: pre-upgrade:glance-db-migrate (stage 2) must "
        "finish before glance-api@c1 (stage 1) starts: every constraint the plan declares holds"
    )


def test_a_declared_constraint_that_cannot_be_read_is_a_violation():
    p = plan(constraints=[{"name": "odd", "shape": 1}])
    assert messages(p) == [
        'declared-constraint: constraint odd has no readable sides: {"name": "odd", "shape": 1}'
    ]


def test_every_message_names_a_documented_rule():
    broken = plan(pre("cinder-db-sync"), up("keystone", "c1"), up("mariadb", "c2"))
    for message in messages(broken):
        assert message.split(":")[0].split(" ")[0] in RULES


def test_plan_files_are_read_as_json_and_yaml(tmp_path):
    broken = plan(up("placement-api", "c1"), up("nova-api", "c1"), up("placement-api", "c2"))
    (tmp_path / "plan.json").write_text(json.dumps(broken), encoding="utf-8")
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    (tmp_path / "inventory.yaml").write_text(
        yaml.safe_dump(
            {
                "hosts": [
                    {"name": "c1", "services": ["placement-api", "nova-api"]},
                    {"name": "c2", "services": ["placement-api"]},
                ]
            }
        ),
        encoding="utf-8",
    )
    expected = [
        "placement-before-nova: placement-api@c2 (stage 3) must finish before nova-api@c1 "
        "(stage 2) starts: placement on every host before any nova service"
    ]
    assert check_plan_file(tmp_path / "plan.json") == expected
    assert check_plan_file(tmp_path / "plan.yaml", tmp_path / "inventory.yaml") == expected


def test_the_plan_marks_its_first_contract_as_its_point_of_no_return():
    steps = [pre("keystone-db-expand"), up("keystone", "c1"), post("keystone-db-contract")]
    steps += [up("nova-compute", "h1"), post("nova-online-data-migrations")]
    assert messages(plan(*steps)) == []
    assert messages(plan(*steps, no_return=None)) == [
        "point-of-no-return: the plan does not mark its point of no return, "
        "post-upgrade:keystone-db-contract (stage 3)"
    ]
    assert messages(plan(*steps, no_return="post-upgrade:nova-online-data-migrations")) == [
        "point-of-no-return: the plan marks post-upgrade:nova-online-data-migrations, but the "
        "first is post-upgrade:keystone-db-contract (stage 3)"
    ]


def test_nova_drops_its_rpc_pin_after_the_last_compute():
    p = plan(
        up("nova-conductor", "c1"),
        post("nova-reload-services"),
        up("nova-compute", "h1"),
        post("nova-online-data-migrations"),
    )
    assert messages(p) == [
        "nova-pin-after-computes: nova-compute@h1 (stage 3) must finish before "
        "post-upgrade:nova-reload-services (stage 2) starts: nova-reload-services after every "
        "nova service, nova-online-data-migrations after it",
    ]


def test_a_service_upgraded_on_some_of_its_hosts_only():
    inventory = {
        "hosts": [
            {"name": "c1", "services": ["horizon"]},
            {"name": "c2", "services": ["horizon", "memcached"]},
        ]
    }
    p = plan(up("horizon", "c1"), up("memcached", "c1"))
    assert messages(p, inventory) == [
        "service-not-upgraded: horizon on c2 has no upgrade step",
        "service-not-upgraded: memcached on c2 has no upgrade step",
        "service-not-on-host: memcached@c1 (stage 2) upgrades memcached on c1, which the "
        "inventory does not run there",
    ]


def test_declared_barriers_in_the_plan_schema_shape():
    constraint = {
        "barrier": "placement before nova",
        "first": {"services": ["placement-api"], "actions": []},
        "then": {"services": ["nova-conductor"], "actions": ["nova-db-sync"]},
        "origin": "order openstack",
        "source": "t:1",
    }
    p = plan(
        up("placement-api", "c1"),
        pre("nova-db-sync"),
        up("placement-api", "c2"),
        up("nova-conductor", "c1"),
        constraints=[constraint],
    )
    assert messages(p) == [
        "declared-constraint 'placement before nova': placement-api@c2 (stage 3) must finish "
        "before pre-upgrade:nova-db-sync (stage 2) starts: every constraint the plan declares "
        "holds",
    ]


def test_a_step_that_waits_for_a_barrier_starts_a_stage():
    first = up("keystone", "c1", "controller", 1)
    then = up("glance-api", "c2", "controller", 1)
    then["waits_for"] = ["keystone before glance"]
    assert stages_of([first, then]) == [(1, True), (2, True)]
    assert messages(plan(first, then)) == []


def test_every_rule_is_documented_with_its_source():
    page = (Path(__file__).parent.parent / "docs" / "testing-guides.md").read_text("utf-8")
    missing = [rule for rule in RULES if f"| `{rule}` |" not in page]
    assert missing == []


def test_a_service_the_plan_warns_it_leaves_alone_is_no_silent_skip():
    inventory = {"hosts": [{"name": "c1", "services": ["keystone-wsgi-admin"]}]}
    p = plan()
    assert messages(p, inventory) == [
        "service-not-upgraded: keystone-wsgi-admin on c1 has no upgrade step"
    ]
    p["warnings"] = [
        "K042 inv.yaml:3: host 'c1' runs 'keystone-wsgi-admin', which order 'openstack' "
        "does not know; it is not upgraded"
    ]
    assert messages(p, inventory) == []
