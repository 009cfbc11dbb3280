"""Barriers, project steps, drains and the point of no return (issue 19).

A table of labelled bad specs, each compiled against a small inventory: the
(code, line, column) expected and the exact message.  Then what the shipped
`openstack` spec's plans keep on multi-controller clouds, and the runtime's
stages around a barrier.
"""

from __future__ import annotations

import json

import pytest
from support import EXAMPLES

from kostyor_dsl.compiler import check, compile_plan
from kostyor_dsl.language.diagnostics import render_text
from kostyor_dsl.runtime.canvas import stages_of

HEAD = """actions a-expand, a-contract
irreversible a-contract
order o {
  project db {
    mariadb  on controller
  }
  project api {
    pre-upgrade   a-expand
    api  on controller
    post-upgrade  a-contract
  }
  project nova {
    nova-conductor  on controller
    nova-compute    on compute
  }
"""

TWO_CONTROLLERS = """hosts:
- name: c1
  services: [mariadb, api, nova-conductor]
- name: c2
  services: [mariadb, api, nova-conductor]
- name: h1
  services: [nova-compute]
- name: h2
  services: [nova-compute]
"""

ONE_HYPERVISOR = """hosts:
- name: c1
  services: [mariadb, api, nova-conductor]
- name: h1
  services: [nova-compute]
"""

CONTROLLER_HYPERVISOR = """hosts:
- name: c1
  services: [mariadb, api, nova-conductor]
- name: h1
  services: [nova-compute]
- name: h2
  services: [nova-compute, api]
"""

DRAINED = """  hosts compute {
    before  evacuate
  }
"""

CASES = {
    "barrier names nothing known": (
        HEAD + "  barrier db before apii\n}\nstrategy s {\n  engine  phased\n}\n",
        TWO_CONTROLLERS,
        [
            (
                "K070",
                16,
                21,
                "barrier 'db before apii': 'apii' is no service, project or action of order 'o'",
            )
        ],
    ),
    "barrier with a name on both sides": (
        HEAD + "  barrier db, api before api\n}\nstrategy s {\n  engine  phased\n}\n",
        TWO_CONTROLLERS,
        [("K071", 16, 3, "barrier 'db, api before api' names api on both sides")],
    ),
    "barrier against the order": (
        HEAD + "  barrier api before db\n}\nstrategy s {\n  engine  phased\n}\n",
        TWO_CONTROLLERS,
        [
            (
                "K071",
                16,
                3,
                "barrier 'api before db' contradicts order 'o': mariadb comes before api in it",
            )
        ],
    ),
    "node by node breaks a barrier on two controllers": (
        HEAD + "  barrier db before api\n}\nstrategy s {\n  engine  node-by-node\n}\n",
        TWO_CONTROLLERS,
        [
            (
                "K072",
                19,
                11,
                "barrier 'db before api' is broken: api@c1 starts before mariadb@c2 is done",
            )
        ],
    ),
    "a batch spans a barrier": (
        HEAD
        + "  barrier nova-conductor before nova-compute\n}\nstrategy s {\n  engine  node-by-node\n"
        + "  hosts name=* {\n    batch  3\n  }\n}\n",
        TWO_CONTROLLERS,
        [
            (
                "K072",
                21,
                5,
                "barrier 'nova-conductor before nova-compute' is broken: nova-compute@h1 runs "
                "in parallel with nova-conductor@c2 in batch name=*#1",
            )
        ],
    ),
    "a strategy's own barrier": (
        HEAD + "}\nstrategy s {\n  engine  node-by-node\n  barrier db before api\n}\n",
        TWO_CONTROLLERS,
        [
            (
                "K072",
                18,
                11,
                "barrier 'db before api' is broken: api@c1 starts before mariadb@c2 is done",
            )
        ],
    ),
    "contract without expand": (
        HEAD
        + "}\nstrategy s {\n  engine  phased\n  project api {\n    pre-upgrade replace {\n    }\n  }\n}\n",
        TWO_CONTROLLERS,
        [
            (
                "K073",
                10,
                19,
                "step post-upgrade:api:a-contract contracts a database that no step before it "
                "expands (a-expand)",
            )
        ],
    ),
    "project steps changed without add or replace": (
        HEAD
        + "}\nstrategy s {\n  project api {\n    pre-upgrade {\n      a-expand\n    }\n  }\n}\n",
        TWO_CONTROLLERS,
        [
            (
                "K074",
                19,
                5,
                "say how 'pre-upgrade' changes the project's own steps: "
                "`pre-upgrade add { ... }` or `pre-upgrade replace { ... }`",
            )
        ],
    ),
    "project steps of an unknown project": (
        HEAD + "}\nstrategy s {\n  project apii {\n    pre-upgrade add {\n    }\n  }\n}\n",
        TWO_CONTROLLERS,
        [("K074", 18, 11, "project 'apii' is not in order 'o'")],
    ),
    "a hypervisor that also runs a controller service is not drained": (
        HEAD + "}\nstrategy s {\n" + DRAINED + "}\n",
        CONTROLLER_HYPERVISOR,
        [
            (
                "K075",
                18,
                3,
                "strategy 's' drains hypervisors, but upgrades nova-compute on 1 without draining them: h2",
            )
        ],
    ),
    "the only hypervisor drained": (
        HEAD + "}\nstrategy s {\n" + DRAINED + "}\n",
        ONE_HYPERVISOR,
        [
            (
                "K076",
                18,
                3,
                "batch compute#1 drains the only hypervisor: no other hypervisor can take in their instances",
            )
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_plan(name, write):
    text, inventory, expected = CASES[name]
    spec = write("bad.kostyor", text)
    inv = write("inventory.yaml", inventory)
    report = check(str(spec), str(inv))
    errors = [d for d in report.diagnostics if d.is_error]
    rendered = render_text(report.diagnostics, report.sources)
    assert [(d.code, d.span.line, d.span.column) for d in errors] == [
        (c, line, col) for c, line, col, _ in expected
    ], rendered
    assert [d.message for d in errors] == [m for *_, m in expected], rendered


def test_an_explicit_undrained_hypervisor_is_allowed(write):
    spec = write(
        "ok.kostyor",
        HEAD + "}\nstrategy s {\n  undrained-hypervisors  allow\n" + DRAINED + "}\n",
    )
    inv = write("inventory.yaml", CONTROLLER_HYPERVISOR)
    assert check(str(spec), str(inv)).ok


def test_phased_keeps_the_barriers_and_the_plan_carries_them(write):
    spec = write(
        "ok.kostyor",
        HEAD
        + "  barrier db before api\n  barrier nova-conductor before nova-compute\n}\n"
        + "strategy s {\n  engine  phased\n}\n",
    )
    inv = write("inventory.yaml", TWO_CONTROLLERS)
    plan = compile_plan(str(spec), str(inv)).plan
    ids = [s["id"] for s in plan["steps"]]
    assert ids == [
        "mariadb@c1",
        "mariadb@c2",
        "pre-upgrade:api:a-expand",
        "api@c1",
        "nova-conductor@c1",
        "api@c2",
        "post-upgrade:api:a-contract",
        "nova-conductor@c2",
        "nova-compute@h1",
        "nova-compute@h2",
    ]
    assert [c["barrier"] for c in plan["constraints"]] == [
        "db before api",
        "nova-conductor before nova-compute",
    ]
    first = plan["constraints"][0]
    assert first["first"] == {"services": ["mariadb"], "actions": []}
    assert (first["after_step"], first["before_step"]) == ("mariadb@c2", "api@c1")
    waiting = {s["id"]: s["waits_for"] for s in plan["steps"] if "waits_for" in s}
    assert waiting == {
        "api@c1": ["db before api"],
        "nova-compute@h1": ["nova-conductor before nova-compute"],
    }
    assert plan["point_of_no_return"] == {
        "step": "post-upgrade:api:a-contract",
        "action": "a-contract",
        "source": "ok.kostyor:10",
    }
    assert [h.get("phase") for h in plan["host_order"]] == [1, 1, 2, 2, 3, 3]


def test_project_steps_only_for_projects_the_cloud_runs(write):
    spec = write("ok.kostyor", HEAD + "}\nstrategy s {\n  engine  phased\n}\n")
    inv = write("inventory.yaml", "hosts:\n- name: c1\n  services: [mariadb]\n")
    plan = compile_plan(str(spec), str(inv)).plan
    assert [s["id"] for s in plan["steps"]] == ["mariadb@c1"]
    assert "point_of_no_return" not in plan


def test_a_strategy_adds_to_a_projects_steps(write):
    spec = write(
        "ok.kostyor",
        "actions check-api\n"
        + HEAD
        + "}\nstrategy s {\n  engine  phased\n  project api {\n    post-upgrade add {\n"
        + "      check-api\n    }\n  }\n}\n",
    )
    inv = write("inventory.yaml", TWO_CONTROLLERS)
    ids = [s["id"] for s in compile_plan(str(spec), str(inv)).plan["steps"]]
    assert ids.index("post-upgrade:api:a-contract") + 1 == ids.index("post-upgrade:api:check-api")


def test_the_kostyor_spec_with_phased_is_node_by_node():
    inventory = str(EXAMPLES / "design-doc.yaml")
    seed = compile_plan("kostyor", inventory, "node-by-node").plan
    assert "constraints" not in seed and "point_of_no_return" not in seed


KOLLA = EXAMPLES / "kolla-multinode" / "inventory.yaml"


def _done_when(plan: dict) -> None:
    """The issue's 'done when', read from the steps alone."""
    steps = plan["steps"]

    def stage_of(i):  # a batch of several hosts is one stage
        s = steps[i]
        return (s.get("group"), s.get("batch")) if s.get("group") else ("step", i)

    def before(first, then):
        a = [i for i, s in enumerate(steps) if s.get("service") in first]
        b = [i for i, s in enumerate(steps) if s.get("service") in then]
        if a and b:
            assert max(a) < min(b), (first, then)
            assert (
                stage_of(max(a)) != stage_of(min(b))
                or len(
                    {
                        h
                        for s in steps
                        if stage_of(steps.index(s)) == stage_of(max(a))
                        for h in s.get("hosts", ())
                    }
                )
                == 1
            )

    services = {s["service"]: s["project"] for s in steps if s["kind"] == "upgrade"}
    infra = {s for s, p in services.items() if p in ("database", "rabbitmq")}
    keystone = {s for s, p in services.items() if p == "keystone"}
    apis = {s for s in services if s.endswith("-api") and s not in keystone}
    before(infra, keystone)
    before(keystone, apis)
    before({"placement-api"}, {s for s, p in services.items() if p == "nova"})
    control = {s for s, p in services.items() if p == "nova"} - {
        "nova-compute",
        "nova-libvirt",
        "nova-ssh",
    }
    before(control, {"nova-compute"})
    agents = {s for s in services if s.endswith("-agent") and s.startswith("neutron")}
    before({"neutron-server"}, agents)
    before({"ovn-controller"}, {"ovn-northd", "ovn-nb-db", "ovn-sb-db"})
    ids = [s["id"] for s in steps]
    for project in ("keystone", "glance", "neutron"):
        expands = [i for i in ids if i.startswith(f"pre-upgrade:{project}:") and "expand" in i]
        contracts = [i for i in ids if i.startswith(f"post-upgrade:{project}:") and "contract" in i]
        assert expands and contracts and ids.index(expands[0]) < ids.index(contracts[0])


MULTI_CONTROLLER = {
    "kolla-ansible": KOLLA,
    "openstack-ansible": EXAMPLES / "multi-controller" / "openstack-ansible-three-infra.yaml",
    "juju": EXAMPLES / "multi-controller" / "juju-hyperconverged.yaml",
}


@pytest.mark.parametrize("source", sorted(MULTI_CONTROLLER))
@pytest.mark.parametrize("strategy", ["node-by-node", "service-by-service", "rolling-computes"])
def test_the_shipped_strategies_keep_the_guides_on_three_controllers(strategy, source):
    plan = compile_plan("openstack", str(MULTI_CONTROLLER[source]), strategy).plan
    _done_when(plan)
    assert not any(":ironic:" in s["id"] or ":manila:" in s["id"] for s in plan["steps"])
    if strategy == "rolling-computes":
        hypervisors = {
            h for s in plan["steps"] if s.get("service") == "nova-compute" for h in s["hosts"]
        }
        evacuated = {s["hosts"][0] for s in plan["steps"] if s.get("action") == "evacuate"}
        assert hypervisors == evacuated


def test_node_by_node_engine_is_refused_with_the_guides_barriers(write):
    spec = write(
        "seed.kostyor",
        "import openstack\n\nstrategy seed extends node-by-node {\n  engine  node-by-node\n}\n",
    )
    report = check(str(spec), str(KOLLA), "seed")
    codes = {d.code for d in report.diagnostics if d.is_error}
    assert codes == {"K072"}
    assert any(
        "barrier 'vault, database, rabbitmq, memcached, loadbalancer, etcd, valkey before keystone'"
        in d.message
        for d in report.diagnostics
    )


def test_rolling_computes_drains_every_hypervisor(write):
    inv = write(
        "inventory.yaml",
        """hosts:
- name: ctl1
  services: [mariadb, rabbitmq, keystone, placement-api, nova-conductor, nova-api, neutron-server]
- name: hv1
  services: [nova-compute, mysql-router, cinder-api]
- name: hv2
  services: [nova-compute]
""",
    )
    plan = compile_plan("openstack", str(inv), "rolling-computes").plan
    evacuated = {s["hosts"][0] for s in plan["steps"] if s.get("action") == "evacuate"}
    assert evacuated == {"hv1", "hv2"}


def test_the_runtime_starts_a_stage_at_a_barrier():
    plan = {
        "steps": [
            {"id": "a@h1", "kind": "upgrade", "hosts": ["h1"], "group": "g", "batch": 1},
            {"id": "b@h2", "kind": "upgrade", "hosts": ["h2"], "group": "g", "batch": 1},
            {
                "id": "c@h1",
                "kind": "upgrade",
                "hosts": ["h1"],
                "group": "g",
                "batch": 1,
                "waits_for": ["a, b before c"],
            },
        ]
    }
    stages = stages_of(plan, "run-1")
    assert [len(s.lanes) for s in stages] == [2, 1]
    del plan["steps"][2]["waits_for"]
    assert [len(s.lanes) for s in stages_of(plan, "run-1")] == [2]


def test_plans_validate_against_the_schema():
    import jsonschema

    from kostyor_dsl.inventory.read import load_schema

    plan = compile_plan("openstack", str(KOLLA), "rolling-computes").plan
    jsonschema.validate(json.loads(json.dumps(plan)), load_schema("plan"))


def test_simulate_never_calls_an_emptied_budget_kept(write):
    from kostyor_dsl.simulate import simulate_plan
    from kostyor_dsl.simulate.render import render_text as render_simulation

    inv = write(
        "inventory.yaml",
        "hosts:\n- name: ctl1\n  services: [mariadb, keystone, nova-conductor]\n"
        "- name: hv1\n  services: [nova-compute]\n",
    )
    plan = compile_plan("openstack", str(inv)).plan
    text = render_simulation(simulate_plan(json.loads(json.dumps(plan))))
    (line,) = [x for x in text.splitlines() if x.strip().startswith("budget compute")]
    assert "NONE UP" in line and "kept" not in line


def test_the_one_hypervisor_cloud_is_refused_by_rolling_computes(write):
    inv = write(
        "inventory.yaml",
        "hosts:\n- name: ctl1\n  services: [mariadb, keystone, nova-conductor]\n"
        "- name: hv1\n  services: [nova-compute]\n",
    )
    report = check("openstack", str(inv), "rolling-computes")
    assert [d.code for d in report.diagnostics if d.is_error] == ["K076"]
    assert "cannot be drained" in report.diagnostics[-1].hints[0]


def test_diff_shows_the_point_of_no_return_moving(write):
    from kostyor_dsl.review.diff import diff_plans

    old = compile_plan("openstack", str(KOLLA)).plan
    new = json.loads(json.dumps(old))
    new["point_of_no_return"]["step"] = "post-upgrade:glance:glance-db-contract"
    changes = {c.field: (c.old, c.new) for c in diff_plans(old, new).settings}
    assert changes["point of no return"] == (
        "post-upgrade:keystone:keystone-db-contract",
        "post-upgrade:glance:glance-db-contract",
    )
