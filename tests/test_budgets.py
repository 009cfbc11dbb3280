"""Availability budgets: resolved on the inventory, proven on the plan's stages."""

from __future__ import annotations

import jsonschema
import pytest
from support import EXAMPLES
from test_rollout import batches

from kostyor_dsl.compiler import check, compile_plan
from kostyor_dsl.compiler.budgets import allowed_down
from kostyor_dsl.inventory.read import load_schema
from kostyor_dsl.language.diagnostics import CompileError
from kostyor_dsl.review.diff import diff_plans, summary
from kostyor_dsl.review.explain import explain_step


def inventory(write, computes: int = 12, controllers: int = 3):
    lines = ["hosts:"]
    for i in range(1, controllers + 1):
        lines += [f"- name: ctl-{i}", "  services: [keystone-wsgi-admin, nova-api]"]
    for i in range(1, computes + 1):
        lines += [
            f"- name: cmp-{i:02d}",
            "  services: [nova-compute, neutron-openvswitch-agent]",
            f"  labels: {{az: az{1 + (i - 1) % 2}}}",
        ]
    return str(write("inv.yaml", "\n".join(lines) + "\n"))


def spec(write, body: str, engine: str = "node-by-node") -> str:
    text = "import kostyor\n\nstrategy s extends " + engine + " {\n" + body + "}\n"
    return str(write("team.kostyor", text))


def errors_of(spec_path: str, inv: str) -> list:
    with pytest.raises(CompileError) as caught:
        compile_plan(spec_path, inv)
    return [d for d in caught.value.diagnostics if d.is_error]


@pytest.mark.parametrize(
    ("rule", "amount", "hosts", "allowed"),
    [
        ("max-unavailable", 1, 3, 1),
        ("max-unavailable", 5, 3, 3),
        ("max-unavailable", 0, 3, 0),
        ("max-unavailable", "25%", 12, 3),
        ("max-unavailable", "10%", 5, 1),  # rounds down, but at least 1
        ("max-unavailable", "0%", 5, 0),
        ("min-available", 2, 3, 1),
        ("min-available", 4, 3, 0),
        ("min-available", "80%", 10, 2),
        ("min-available", "80%", 4, 0),  # 3.2 must stay up: rounds up to 4
        ("min-available", "100%", 7, 0),
        ("max-unavailable", "50%", 0, 0),
    ],
)
def test_allowed_down_rounding(rule, amount, hosts, allowed):
    assert allowed_down(rule, amount, hosts) == allowed


def test_batch_over_max_unavailable(write):
    body = (
        "  hosts controller {\n    batch 3\n  }\n"
        "  budget service=nova-api {\n    max-unavailable 1\n  }\n"
    )
    (diag,) = errors_of(spec(write, body), inventory(write))
    assert diag.code == "K060"
    assert str(diag.span) == "team.kostyor:5:5"  # the batch line
    assert diag.message == (
        "batch controller#1 takes down 3 hosts of budget service=nova-api at once: "
        "ctl-1, ctl-2, ctl-3; it allows 1 (max-unavailable 1 of 3 hosts)"
    )
    assert [str(label.span) for label in diag.labels] == ["team.kostyor:7:3"]
    assert diag.hints == (
        "a batch of at most 1 of these hosts fits; "
        "or write `batch max` for the largest batches the budgets allow",
    )


def test_batch_under_min_available(write):
    body = (
        "  hosts compute {\n    batch 1, 5, 50%\n  }\n"
        "  budget compute {\n    min-available 75%\n  }\n"
    )
    (diag,) = errors_of(spec(write, body), inventory(write))
    assert diag.code == "K060"
    assert diag.message == (
        "batch compute#2 takes down 5 hosts of budget compute at once (and 1 more stages of it): "
        "cmp-02, cmp-03, cmp-04, cmp-05, cmp-06; it allows 3 (min-available 75% of 12 hosts)"
    )


def test_percentage_budget_passes_when_batches_fit(write):
    body = (
        "  hosts compute {\n    batch 1, 3\n  }\n  budget compute {\n    max-unavailable 25%\n  }\n"
    )
    plan = compile_plan(spec(write, body), inventory(write)).plan
    jsonschema.validate(plan, load_schema("plan"))
    (budget,) = plan["budgets"]
    assert {k: budget[k] for k in ("selected", "allowed", "most_down")} == {
        "selected": 12,
        "allowed": 3,
        "most_down": 3,
    }
    assert budget["hosts"] == [f"cmp-{i:02d}" for i in range(1, 13)]
    assert [s["down"] for s in budget["stages"]] == [1, 3, 3, 3, 2]
    assert budget["source"] == "team.kostyor:7"


def test_service_by_service_splits_into_waves(write):
    body = (
        "  budget service=nova-api {\n    max-unavailable 1\n  }\n"
        "  budget az=az1 {\n    max-unavailable 2\n  }\n"
        "  budget az=az2 {\n    max-unavailable 3\n  }\n"
    )
    plan = compile_plan(spec(write, body, "service-by-service"), inventory(write)).plan
    jsonschema.validate(plan, load_schema("plan"))
    got = [(s["id"], s["hosts"]) for s in plan["steps"]]
    assert got[:6] == [
        ("keystone-wsgi-admin#w1", ["ctl-1"]),
        ("keystone-wsgi-admin#w2", ["ctl-2"]),
        ("keystone-wsgi-admin#w3", ["ctl-3"]),
        ("nova-api#w1", ["ctl-1"]),
        ("nova-api#w2", ["ctl-2"]),
        ("nova-api#w3", ["ctl-3"]),
    ]
    computes = [(i, h) for i, h in got if i.startswith("nova-compute")]
    # az1 hosts are the odd ones (2 at a time), az2 the even ones (3 at a time): a wave
    # ends at the first host that would break a budget (hosts keep their order).
    assert computes == [
        ("nova-compute#w1", ["cmp-01", "cmp-02", "cmp-03", "cmp-04"]),
        ("nova-compute#w2", ["cmp-05", "cmp-06", "cmp-07", "cmp-08"]),
        ("nova-compute#w3", ["cmp-09", "cmp-10", "cmp-11", "cmp-12"]),
    ]
    assert [s.get("wave") for s in plan["steps"][:3]] == [1, 2, 3]
    assert "It is wave 2 of nova-api" in explain_step(plan, "nova-api#w2")


def test_batch_max_takes_the_largest_batches_the_budgets_allow(write):
    body = (
        "  hosts compute {\n    batch 1, max\n  }\n"
        "  budget compute {\n    min-available 75%\n  }\n"
        "  budget az=az1 {\n    max-unavailable 1\n  }\n"
    )
    plan = compile_plan(spec(write, body), inventory(write)).plan
    jsonschema.validate(plan, load_schema("plan"))
    computes = [(b, hosts) for g, b, hosts in batches(plan) if g == "compute"]
    # Canary, then at most 3 computes (75% of 12 stay up), at most 1 of az1 in each.
    # (odd hosts are in az1, even ones in az2)
    assert computes == [
        (1, ["cmp-01"]),
        (2, ["cmp-02", "cmp-03", "cmp-04"]),
        (3, ["cmp-05", "cmp-06"]),
        (4, ["cmp-07", "cmp-08"]),
        (5, ["cmp-09", "cmp-10"]),
        (6, ["cmp-11", "cmp-12"]),
    ]
    assert [b["most_down"] for b in plan["budgets"]] == [3, 1]
    assert plan["groups"][0]["batches"] == [1, "max"]


def test_batch_max_without_a_budget_warns(write):
    body = "  hosts compute {\n    batch 1, max\n  }\n"
    compiled = compile_plan(spec(write, body), inventory(write))
    (warn,) = [d for d in compiled.warnings if d.code == "K063"]
    assert str(warn.span) == "team.kostyor:5:5"
    assert [len(h) for g, b, h in batches(compiled.plan) if g == "compute"] == [1, 11]


def test_budget_selecting_nothing_is_a_warning(write):
    body = "  budget service=octavia-api {\n    max-unavailable 1\n  }\n"
    compiled = compile_plan(spec(write, body), inventory(write))
    (warn,) = [d for d in compiled.warnings if d.code == "K061"]
    assert warn.message == "budget service=octavia-api selects no host of the inventory"
    assert str(warn.span) == "team.kostyor:4:3"


def test_impossible_budget_is_an_error(write):
    body = "  budget compute {\n    min-available 100%\n  }\n"
    (diag,) = errors_of(spec(write, body), inventory(write))
    assert diag.code == "K062"
    assert diag.message == (
        "budget compute allows no host down (min-available 100% of 12 hosts), "
        "but the plan upgrades its hosts"
    )
    assert str(diag.span) == "team.kostyor:4:3"


def test_check_with_an_inventory_proves_budgets_too(write, cli):
    body = (
        "  hosts controller {\n    batch 3\n  }\n"
        "  budget service=nova-api {\n    max-unavailable 1\n  }\n"
    )
    path, inv = spec(write, body), inventory(write)
    assert [d.code for d in check(path, inv).diagnostics if d.is_error] == ["K060"]
    code, _, err = cli("check", path, "-i", inv)
    assert code == 1
    assert "team.kostyor:5:5: error[K060]: batch controller#1 takes down 3 hosts" in err
    assert "Traceback" not in err


def test_budgets_are_inherited_and_overridden_by_selector(write):
    text = (
        "import kostyor\n\n"
        "strategy base extends node-by-node {\n"
        "  hosts compute {\n    batch 1, 5\n  }\n"
        "  budget compute {\n    max-unavailable 2\n  }\n"
        "}\n\n"
        "strategy loose extends base {\n"
        "  budget compute {\n    max-unavailable 5\n  }\n"
        "}\n"
    )
    path, inv = str(write("team.kostyor", text)), inventory(write)
    assert [d.code for d in check(path, inv, "base").diagnostics if d.is_error] == ["K060"]
    plan = compile_plan(path, inv, "loose").plan
    assert plan["budgets"][0]["allowed"] == 5 and plan["budgets"][0]["source"] == "team.kostyor:13"


def test_a_budget_with_another_rule_replaces_the_inherited_one_whole(write):
    text = (
        "import kostyor\n\n"
        "strategy base extends node-by-node {\n"
        "  budget compute {\n    max-unavailable 2\n  }\n"
        "}\n\n"
        "strategy strict extends base {\n"
        "  budget compute {\n    min-available 75%\n  }\n"
        "}\n"
    )
    path = str(write("team.kostyor", text))
    (budget,) = compile_plan(path, inventory(write), "strict").plan["budgets"]
    assert (budget["rule"], budget["amount"], budget["allowed"]) == ("min-available", "75%", 3)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("budget compute {\n    max-unavailable 1\n    min-available 2\n  }\n", "not both"),
        ("budget compute {\n  }\n", "takes one of max-unavailable or min-available"),
        ("budget compute {\n    max-unavailible 1\n  }\n", "unknown setting 'max-unavailible'"),
        ("budget compute {\n    max-unavailable 120%\n  }\n", "120% is over 100%"),
        ("budget {\n    max-unavailable 1\n  }\n", "takes one or more selectors"),
    ],
)
def test_bad_budget_blocks(write, cli, block, message):
    path = spec(write, "  " + block)
    code, _, err = cli("check", path)
    assert code == 1
    assert message in err and "team.kostyor:" in err and "Traceback" not in err


def test_diff_says_when_a_budget_has_less_headroom(write):
    inv = inventory(write)
    budget = "  budget compute {\n    max-unavailable 3\n  }\n"
    old = compile_plan(spec(write, "  hosts compute {\n    batch 1, 2\n  }\n" + budget), inv).plan
    new = compile_plan(spec(write, "  hosts compute {\n    batch 1, 3\n  }\n" + budget), inv).plan
    result = diff_plans(old, new)
    assert "1 budget closer to its limit" in summary(result)
    changes = {c.field: (c.old, c.new) for c in result.settings}
    assert changes["budget compute.most_down"] == (2, 3)
    assert changes["budget compute.headroom"] == (1, 0)


def test_explain_step_names_the_budgets_it_counts_against(write):
    body = (
        "  hosts compute {\n    batch 1, 3\n  }\n  budget compute {\n    max-unavailable 3\n  }\n"
    )
    plan = compile_plan(spec(write, body), inventory(write)).plan
    text = explain_step(plan, "nova-compute@cmp-03")
    assert (
        "It counts against budget compute (max-unavailable 3 of 12 hosts: at most 3 down at once, "
        "declared at team.kostyor:7): its stage takes down 3 of them; "
        "the plan takes down at most 3 at once."
    ) in text


@pytest.mark.parametrize("strategy", ["node-by-node", "service-by-service", "rolling-computes"])
def test_the_shipped_openstack_strategies_keep_their_budgets(strategy):
    from support import EXAMPLES

    compiled = compile_plan(
        "openstack", str(EXAMPLES / "kolla-multinode" / "inventory.yaml"), strategy
    )
    plan = compiled.plan
    jsonschema.validate(plan, load_schema("plan"))
    by_name = {b["name"]: b for b in plan["budgets"]}
    assert by_name["service=mariadb"]["allowed"] == 1
    assert by_name["API nodes"]["allowed"] == 1
    assert all(b["most_down"] <= b["allowed"] for b in plan["budgets"])
    # Budgets for services this cloud does not run (mysql-innodb-cluster) stay quiet.
    assert by_name["service=mysql-innodb-cluster"]["selected"] == 0
    assert not [d for d in compiled.warnings if d.code == "K061"]


SMALL_CLOUD = str(EXAMPLES / "small-cloud.yaml")
CLOUD_BUDGET = (
    "import kostyor\n\nstrategy s extends node-by-node {\n"
    "  budget compute {\n    min-available 75%\n  }\n"
    "  hosts compute {\n    batch BATCH\n  }\n}\n"
)


def test_a_limit_slice_is_checked_against_the_clouds_budget(write):
    """Issue 21 item 12: 75% of the cloud's 4 computes allows 1 down; a slice of one
    compute was judged on its own (75% of 1 allows none: K062)."""
    path = write("s.kostyor", CLOUD_BUDGET.replace("BATCH", "1"))
    compiled = compile_plan(str(path), SMALL_CLOUD, limit="name=cmp-1")
    assert [d.code for d in compiled.warnings] == ["K036"]
    assert [b["allowed"] for b in compiled.plan["budgets"]] == [1]
    assert {h for s in compiled.plan["steps"] for h in s.get("hosts", ())} == {"cmp-1"}


def test_a_limit_slice_that_breaks_the_clouds_budget_is_an_error(write):
    path = write("s.kostyor", CLOUD_BUDGET.replace("BATCH", "2"))
    report = check(str(path), SMALL_CLOUD, limit="name=cmp-[12]")
    (breach,) = [d for d in report.diagnostics if d.code == "K060"]
    assert (
        "takes down 2 hosts of budget compute at once: cmp-1, cmp-2; it allows 1" in breach.message
    )
