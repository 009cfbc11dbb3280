from __future__ import annotations

import pytest
from review_support import check_golden, compiled, mutated

from kostyor_dsl.review.explain import UnknownName, explain_host, explain_step


def test_explain_goldens(design_doc_plan, design_doc_sbs_plan):
    check_golden("explain", "host-node-a.txt", explain_host(design_doc_plan, "node-a"))
    check_golden("explain", "host-node-b-sbs.txt", explain_host(design_doc_sbs_plan, "node-b"))
    check_golden(
        "explain", "step-glance-api.txt", explain_step(design_doc_plan, "glance-api@node-a")
    )
    check_golden(
        "explain",
        "step-parallel-sbs.txt",
        explain_step(design_doc_sbs_plan, "neutron-linuxbridge-agent"),
    )


def test_host_reason_comes_from_host_order(design_doc_plan):
    text = explain_host(design_doc_plan, "node-b")
    placement = next(p for p in design_doc_plan["host_order"] if p["name"] == "node-b")
    assert "the 3rd of 3 hosts" in text
    assert f"Its key service is {placement['key_service']}: rank {placement['rank']}" in text
    assert f"tier, declared at {placement['source']}" in text
    # node-b runs nova-compute and an L2 agent: a compute host, though its key
    # service (the agent) ranks with the controllers' services (issue 9, item 8).
    assert placement["tier"] == "compute"
    assert "It is a compute host" in text
    assert (
        "Before it: node-a (a controller host, key service glance-api of rank 3" in text
        and "It is the last host." in text
    )


def test_batched_strategy_is_not_one_host_at_a_time():
    plan = compiled("small-cloud.yaml", "rolling-computes")
    text = explain_host(plan, "cmp-3")
    assert "one host at a time" not in text.splitlines()[1].split(";")[0]
    assert "compute (batches 1, 5, 20%)" in text
    assert "the hosts of a batch in parallel" in text
    assert "It is a compute host" in text


def test_ties_say_the_inventory_decides():
    plan = compiled("design-doc-plus-compute.yaml")
    text = explain_host(plan, "node-d")
    assert "Before it: node-b" in text and "the same rank, so the inventory order decides" in text


def test_step_neighbours_and_position(design_doc_plan):
    steps = design_doc_plan["steps"]
    text = explain_step(design_doc_plan, steps[0]["id"])
    assert text.startswith(f"{steps[0]['id']} is step 1 of {len(steps)}")
    assert "It is the first step." in text and f"After it: step 2, {steps[1]['id']}." in text
    text = explain_step(design_doc_plan, steps[-1]["id"])
    assert "It is the last step." in text and steps[-1]["source"] in text


def test_pre_upgrade_step():
    plan = {
        "strategy": "s",
        "engine": "node-by-node",
        "steps": [
            {
                "id": "pre-upgrade:backup",
                "kind": "pre-upgrade",
                "action": "backup",
                "parameters": {"timeout": "30m"},
                "source": "team.kostyor:14",
            },
        ],
    }
    text = explain_step(plan, "pre-upgrade:backup")
    assert "pre-upgrade action backup with timeout 30m, declared at team.kostyor:14" in text


@pytest.mark.parametrize(
    ("option", "name", "suggestion"),
    [
        ("--host", "node-x", "did you mean 'node-c'"),
        ("--step", "glance-api@node-b", "'glance-api@node-a'"),
    ],
)
def test_unknown_names_suggest(cli, plan_file, design_doc_plan, option, name, suggestion):
    code, out, err = cli("explain", plan_file(design_doc_plan), option, name)
    assert code == 1 and out == ""
    assert f"no {option[2:]} {name!r} in this plan" in err and suggestion in err


def test_unknown_without_close_match_has_no_hint(design_doc_plan):
    with pytest.raises(UnknownName) as info:
        explain_host(design_doc_plan, "zzzzzzzz")
    assert "did you mean" not in str(info.value)


def test_explain_needs_host_or_step(cli, plan_file, design_doc_plan):
    code, _, err = cli("explain", plan_file(design_doc_plan))
    assert code == 2 and "one of the arguments --host --step is required" in err


def test_explain_batches_hooks_and_gates():
    plan = compiled("small-cloud.yaml", "rolling-computes")
    check_golden("explain", "host-cmp-3-rolling.txt", explain_host(plan, "cmp-3"))
    check_golden("explain", "step-gate-rolling.txt", explain_step(plan, "gate:compute#1"))
    check_golden("explain", "step-hook-rolling.txt", explain_step(plan, "before:evacuate:cmp-2"))
    text = explain_host(plan, "cmp-3")
    assert (
        "batch 2 of host group compute" in text
        and "(cmp-2, cmp-3, cmp-4) are upgraded in parallel" in text
    )
    assert "manual gate" in explain_step(plan, "gate:compute#1")


def test_control_characters_in_a_plan_are_escaped(design_doc_plan):
    evil = "node-a\x1b]0;owned\x07"

    def rename(plan):
        for step in plan["steps"]:
            step["hosts"] = [evil if h == "node-a" else h for h in step.get("hosts", ())]
            if step["kind"] == "upgrade" and step["id"].endswith("@node-a"):
                step["id"] = step["id"].replace("@node-a", "@" + evil)
        for place in plan["host_order"]:
            if place["name"] == "node-a":
                place["name"] = evil

    plan = mutated(design_doc_plan, rename)
    for text in (
        explain_host(plan, evil),
        explain_step(plan, "glance-api@" + evil),
        explain_host(plan, "node-c"),
    ):
        assert "\x1b" not in text and "\x07" not in text
    assert "node-a\\x1b]0;owned\\x07 is the 2nd of 3 hosts" in explain_host(plan, evil)
    with pytest.raises(UnknownName) as caught:
        explain_host(plan, "node-a\x1b")
    assert "\x1b" not in str(caught.value)
