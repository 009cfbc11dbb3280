"""Host groups, batches, failure policy, hooks, gates and --limit, from spec to plan."""

from __future__ import annotations

import jsonschema
import pytest
from support import EXAMPLES

from kostyor_dsl.compiler import check, compile_plan
from kostyor_dsl.compiler.strategy_blocks import batch_sizes
from kostyor_dsl.inventory.read import load_schema


def inventory(write, computes: int = 12, controllers: int = 2, storage: int = 1):
    lines = ["hosts:"]
    for i in range(1, controllers + 1):
        lines += [
            f"- name: ctl-{i}",
            "  services: [keystone-wsgi-admin, nova-api, neutron-openvswitch-agent]",
        ]
    for i in range(1, computes + 1):
        rack = "r1" if i % 2 else "r2"
        lines += [
            f"- name: cmp-{i:02d}",
            "  services: [nova-compute, neutron-openvswitch-agent]",
            f"  labels: {{rack: {rack}}}",
        ]
    for i in range(1, storage + 1):
        lines += [f"- name: sto-{i}", "  services: [cinder-volume]"]
    return write("inv.yaml", "\n".join(lines) + "\n")


def spec(write, body: str, engine: str = "node-by-node"):
    return write(
        "team.kostyor",
        "import kostyor\nactions drain-l3\n\nstrategy s extends " + engine + " {\n" + body + "}\n",
    )


def batches(plan) -> list[tuple[str | None, int | None, list[str]]]:
    """(group, batch, hosts in order of first appearance) for each batch of the plan."""
    out: list = []
    for step in plan["steps"]:
        if step["kind"] not in ("upgrade", "hook"):
            continue
        key = (step.get("group"), step.get("batch"))
        if not out or out[-1][:2] != key:
            out.append((*key, []))
        for host in step["hosts"]:
            if host not in out[-1][2]:
                out[-1][2].append(host)
    return out


def test_batch_sizes_ramp():
    assert batch_sizes((1, 5, "20%"), 30) == [1, 5, 6, 6, 6, 6]
    assert batch_sizes((1, 5, "20%"), 3) == [1, 2]
    assert batch_sizes(("50%",), 5) == [3, 2]
    assert batch_sizes((2,), 0) == []
    assert batch_sizes(("1%",), 10) == [1] * 10


def test_ramp_and_hooks_node_by_node(write):
    body = (
        "  hosts compute {\n    batch 1, 5, 50%\n    before disable-scheduling\n"
        "    before evacuate {\n      timeout 30m\n    }\n    after enable-scheduling\n  }\n"
    )
    plan = compile_plan(str(spec(write, body)), str(inventory(write))).plan
    jsonschema.validate(plan, load_schema("plan"))
    got = batches(plan)
    assert got[0] == (None, None, ["ctl-1", "ctl-2"])  # untagged: one at a time, in order
    assert [(g, b, len(h)) for g, b, h in got[1:4]] == [
        ("compute", 1, 1),
        ("compute", 2, 5),
        ("compute", 3, 6),
    ]
    assert got[1][2] == ["cmp-01"] and got[2][2] == [f"cmp-{i:02d}" for i in range(2, 7)]
    assert got[4] == (None, None, ["sto-1"])
    canary = [s for s in plan["steps"] if s.get("hosts") == ["cmp-01"]]
    assert [s["id"] for s in canary] == [
        "before:disable-scheduling:cmp-01",
        "before:evacuate:cmp-01",
        "nova-compute@cmp-01",
        "neutron-openvswitch-agent@cmp-01",
        "after:enable-scheduling:cmp-01",
    ]
    assert canary[1]["parameters"] == {"timeout": "30m"}
    assert canary[1]["source"] == "team.kostyor:8"
    (group,) = plan["groups"]
    assert group == {
        "name": "compute",
        "selector": ["compute"],
        "hosts": 12,
        "batches": [1, 5, "50%"],
        "max_failed_hosts": 0,
        "source": "team.kostyor:5",
    }


def test_gates_and_failure_policy(write):
    body = (
        "  hosts compute, rack=r1 {\n    batch 2\n    pause-after-batch 1, 2\n"
        "    max-failed-hosts 10%\n    max-failed-hosts-per-batch 1\n  }\n"
    )
    plan = compile_plan(str(spec(write, body)), str(inventory(write))).plan
    jsonschema.validate(plan, load_schema("plan"))
    gates = [s for s in plan["steps"] if s["kind"] == "gate"]
    assert [g["id"] for g in gates] == ["gate:compute,rack=r1#1", "gate:compute,rack=r1#2"]
    index = {s["id"]: i for i, s in enumerate(plan["steps"])}
    assert (
        index["neutron-openvswitch-agent@cmp-03"]
        < index["gate:compute,rack=r1#1"]
        < index["nova-compute@cmp-05"]
    )
    (group,) = plan["groups"]
    assert group["hosts"] == 6 and group["max_failed_hosts"] == "10%"
    assert group["max_failed_hosts_per_batch"] == 1 and group["pause_after_batches"] == [1, 2]
    # rack=r2 computes are in no group: one at a time, no tags.
    assert "group" not in plan["steps"][index["nova-compute@cmp-02"]]


def test_first_matching_group_wins_and_default_is_one_at_a_time(write):
    body = "  hosts name=cmp-0* {\n    batch 3\n  }\n  hosts compute {\n    batch 100%\n  }\n"
    plan = compile_plan(str(spec(write, body)), str(inventory(write, computes=11))).plan
    got = [(g, b, h) for g, b, h in batches(plan) if g]
    assert [(g, b, len(h)) for g, b, h in got] == [
        ("name=cmp-0*", 1, 3),
        ("name=cmp-0*", 2, 3),
        ("name=cmp-0*", 3, 3),
        ("compute", 1, 2),
    ]


def test_service_by_service_batches_split_steps(write):
    body = "  hosts compute {\n    batch 1, 50%\n  }\n  service nova-compute {\n    before drain-l3\n  }\n"
    plan = compile_plan(
        str(spec(write, body, "service-by-service")), str(inventory(write, computes=5))
    ).plan
    jsonschema.validate(plan, load_schema("plan"))
    nova = [s for s in plan["steps"] if s.get("service") == "nova-compute" or s["kind"] == "hook"]
    assert [(s["id"], s["hosts"]) for s in nova] == [
        ("before:drain-l3:nova-compute#1", ["cmp-01"]),
        ("nova-compute#1", ["cmp-01"]),
        ("before:drain-l3:nova-compute#2", ["cmp-02", "cmp-03", "cmp-04"]),
        ("nova-compute#2", ["cmp-02", "cmp-03", "cmp-04"]),
        ("before:drain-l3:nova-compute#3", ["cmp-05"]),
        ("nova-compute#3", ["cmp-05"]),
    ]
    ovs = [s for s in plan["steps"] if s.get("service") == "neutron-openvswitch-agent"]
    # Controllers (no group) together in one step; the computes batched after them.
    assert [(s["id"], len(s["hosts"]), s.get("batch")) for s in ovs] == [
        ("neutron-openvswitch-agent#1", 2, None),
        ("neutron-openvswitch-agent#2", 1, 1),
        ("neutron-openvswitch-agent#3", 3, 2),
        ("neutron-openvswitch-agent#4", 1, 3),
    ]


BAD = {
    "batch of 0": ("  hosts compute {\n    batch 1, 0\n  }\n", "K030", 6, 14),
    "percentage over 100": ("  hosts compute {\n    batch 120%\n  }\n", "K031", 6, 11),
    "unknown hook action": ("  hosts compute {\n    before evacuat\n  }\n", "K032", 6, 12),
    "unknown pre-upgrade action": ("  pre-upgrade {\n    backup\n  }\n", "K032", 6, 5),
    "unknown hosts setting": ("  hosts compute {\n    batches 1\n  }\n", "K023", 6, 5),
    "unknown tier selector": ("  hosts computes {\n    batch 1\n  }\n", "K010", 5, 3),
    "hosts without block": ("  hosts compute\n", "K025", 5, 3),
    "failure threshold over 100%": (
        "  hosts compute {\n    max-failed-hosts 101%\n  }\n",
        "K031",
        6,
        22,
    ),
    "gate number 0": ("  hosts compute {\n    pause-after-batch 0\n  }\n", "K030", 6, 23),
    "fractional batch": ("  hosts compute {\n    batch 1.5\n  }\n", "K030", 6, 11),
    "fractional failure count": (
        "  hosts compute {\n    max-failed-hosts 1.5\n  }\n",
        "K030",
        6,
        22,
    ),
    "fractional per-batch failure count": (
        "  hosts compute {\n    max-failed-hosts-per-batch 0.5\n  }\n",
        "K030",
        6,
        32,
    ),
    "fractional gate": ("  hosts compute {\n    pause-after-batch 1.5\n  }\n", "K030", 6, 23),
    "batch of 4301 digits": (
        "  hosts compute {\n    batch " + "9" * 4301 + "\n  }\n",
        "K025",
        6,
        11,
    ),
    "failure count of 4301 digits": (
        "  hosts compute {\n    max-failed-hosts " + "9" * 4301 + "\n  }\n",
        "K025",
        6,
        22,
    ),
    "gate of 4301 digits": (
        "  hosts compute {\n    pause-after-batch " + "1" * 4301 + "\n  }\n",
        "K025",
        6,
        23,
    ),
    "timeout of 4301 digits": (
        "  driver shell {\n    timeout " + "6" * 4301 + "\n  }\n",
        "K025",
        6,
        13,
    ),
    "hook timeout of 4301 digits": (
        "  hosts compute {\n    before evacuate {\n      timeout " + "6" * 4301 + "\n    }\n  }\n",
        "K025",
        7,
        15,
    ),
    "batch of 4400 zeros and a one": (
        "  hosts compute {\n    batch " + "0" * 4400 + "1\n  }\n",
        "K025",
        6,
        11,
    ),
    "batch that is a word": ("  hosts compute {\n    batch many\n  }\n", "K025", 6, 11),
    "driver parameter given twice with another type": (
        '  driver shell {\n    timeout 600\n    timeout "10"\n  }\n',
        "K025",
        7,
        5,
    ),
    "action parameter given twice": (
        "  pre-upgrade {\n    wait {\n      timeout 1\n      timeout 2.5\n    }\n  }\n",
        "K025",
        8,
        7,
    ),
    "hook given twice": (
        "  hosts compute {\n    before evacuate\n    before evacuate\n  }\n",
        "K025",
        7,
        5,
    ),
    "batch none": ("  hosts compute {\n    batch none\n  }\n", "K025", 6, 11),
    "before none with parameters": (
        "  hosts compute {\n    before none {\n      timeout 1\n    }\n  }\n",
        "K025",
        6,
        12,
    ),
    "service hook for unknown service": (
        "  service nova-comput {\n    before drain\n  }\n",
        "K034",
        5,
        11,
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_rollout_misuse(name, write):
    body, code, line, col = BAD[name]
    report = check(str(spec(write, body)))
    errors = [(d.code, d.span.line, d.span.column) for d in report.diagnostics if d.is_error]
    assert errors == [(code, line, col)]


def test_host_hooks_need_node_by_node(write):
    body = "  hosts compute {\n    before evacuate\n  }\n"
    report = check(str(spec(write, body, "service-by-service")))
    assert [d.code for d in report.diagnostics] == ["K033"]


def test_selector_matching_nothing_is_a_warning(write, cli):
    body = "  hosts rack=r9 {\n    batch 2\n  }\n"
    path = spec(write, body)
    inv = inventory(write)
    report = check(str(path), str(inv), strategy="s")
    assert report.ok
    (d,) = report.diagnostics
    assert (d.code, d.severity.value, d.span.line) == ("K037", "warning", 5)
    code, _, err = cli("compile", path, "-i", inv, "-s", "s")
    assert code == 0 and "warning[K037]: hosts rack=r9 selects no host" in err


def test_limit_makes_a_partial_plan(write, cli):
    inv = inventory(write)
    plan = compile_plan("kostyor", str(inv), limit="rack=r2").plan
    assert {h for s in plan["steps"] for h in s["hosts"]} == {
        f"cmp-{i:02d}" for i in range(2, 13, 2)
    }
    assert plan["limit"] == ["rack=r2"]
    assert plan["warnings"] == ["K036 --limit: partial plan: --limit rack=r2 keeps 6 of 15 hosts"]
    jsonschema.validate(plan, load_schema("plan"))
    code, out, err = cli("compile", "kostyor", "-i", inv, "--limit", "compute,name=cmp-1*")
    assert code == 0 and "keeps 3 of 15 hosts" in err
    code, out, err = cli("compile", "kostyor", "-i", inv, "--limit", "rack=r7")
    assert code == 1 and out == "" and "error[K035]: --limit rack=r7 matches no host" in err


def test_shipped_rolling_computes_on_the_example():
    plan = compile_plan("kostyor", str(EXAMPLES / "small-cloud.yaml"), "rolling-computes").plan
    jsonschema.validate(plan, load_schema("plan"))
    got = batches(plan)
    compute = [(b, h) for g, b, h in got if g == "compute"]
    assert compute == [(1, ["cmp-1"]), (2, ["cmp-2", "cmp-3", "cmp-4"])]
    assert [s["id"] for s in plan["steps"] if s["kind"] == "gate"] == ["gate:compute#1"]
    controllers = [(b, h) for g, b, h in got if g == "controller"]
    assert controllers == [(1, ["ctl-1"]), (2, ["ctl-2"]), (3, ["ctl-3"])]


def test_extends_merges_a_hosts_block_key_by_key_in_its_place(write):
    path = write(
        "team.kostyor",
        "import kostyor\n\nstrategy mine extends rolling-computes {\n"
        "  hosts storage {\n    batch 2\n  }\n  hosts compute {\n    batch 2\n  }\n}\n",
    )
    rolling = check(str(path)).spec.strategies["mine"]
    assert [(g.name, g.batches) for g in rolling.groups] == [
        ("controller", (1,)),
        ("compute", (2,)),
        ("storage", (2,)),
    ]
    compute = rolling.groups[1]
    # What the override does not mention is kept: the evacuation and the canary gate.
    assert [a.name for a in compute.before] == ["disable-scheduling", "evacuate"]
    assert compute.before[1].parameters == (("timeout", "30m"),)
    assert [a.name for a in compute.after] == ["enable-scheduling"]
    assert compute.pause_after_batches == (1,)


def test_overriding_the_ramp_keeps_the_evacuation_in_the_plan(write):
    """Issue 9 item 3: the natural override used to compile into 0 hooks and 0 gates."""
    path = write(
        "gentle.kostyor",
        "import kostyor\nstrategy gentle extends rolling-computes {\n"
        "  hosts compute {\n    batch 1, 2, 25%\n  }\n}\n",
    )
    plan = compile_plan(str(path), str(EXAMPLES / "small-cloud.yaml"), "gentle").plan
    cmp1 = [s["id"] for s in plan["steps"] if s.get("hosts") == ["cmp-1"] and s["kind"] == "hook"]
    assert cmp1 == [
        "before:disable-scheduling:cmp-1",
        "before:evacuate:cmp-1",
        "after:enable-scheduling:cmp-1",
    ]
    assert [s["id"] for s in plan["steps"] if s["kind"] == "gate"] == ["gate:compute#1"]
    assert [(b, h) for g, b, h in batches(plan) if g == "compute"] == [
        (1, ["cmp-1"]),
        (2, ["cmp-2", "cmp-3"]),
        (3, ["cmp-4"]),
    ]


PARENT = (
    "import kostyor\nactions drain-l3\n\n"
    "strategy base extends node-by-node {\n"
    "  hosts compute {\n    batch 1, 5\n    pause-after-batch 1\n"
    "    max-failed-hosts-per-batch 1\n"
    "    before disable-scheduling\n    before evacuate {\n      timeout 30m\n    }\n"
    "    after enable-scheduling\n  }\n"
    "  service neutron-l3-agent {\n    before drain-l3\n    after health-check\n  }\n"
    "}\n\n"
)


def _child(write, body: str, parent: str = "base"):
    path = write("team.kostyor", PARENT + f"strategy child extends {parent} {{\n{body}}}\n")
    report = check(str(path))
    assert report.ok, [d.message for d in report.diagnostics]
    return report.spec.strategies["child"]


def _hooks(actions):
    return [(a.name, a.parameters) for a in actions]


def test_a_hook_written_again_replaces_the_inherited_one_in_place(write):
    child = _child(
        write, "  hosts compute {\n    before evacuate {\n      timeout 1h\n    }\n  }\n"
    )
    (group,) = child.groups
    assert _hooks(group.before) == [
        ("disable-scheduling", ()),
        ("evacuate", (("timeout", "1h"),)),
    ]
    assert group.batches == (1, 5) and group.pause_after_batches == (1,)


def test_a_new_hook_comes_after_the_inherited_ones(write):
    child = _child(write, "  hosts compute {\n    before drain\n    after reboot\n  }\n")
    (group,) = child.groups
    assert [a.name for a in group.before] == ["disable-scheduling", "evacuate", "drain"]
    assert [a.name for a in group.after] == ["enable-scheduling", "reboot"]


def test_none_drops_inherited_hooks_and_settings(write):
    child = _child(
        write,
        "  hosts compute {\n    before none\n    before drain\n"
        "    pause-after-batch none\n    max-failed-hosts-per-batch none\n  }\n"
        "  service neutron-l3-agent {\n    after none\n  }\n",
    )
    (group,) = child.groups
    assert [a.name for a in group.before] == ["drain"]
    assert [a.name for a in group.after] == ["enable-scheduling"]
    assert group.pause_after_batches == ()
    assert group.max_failed_hosts_per_batch is None
    (hooks,) = child.service_hooks
    assert [a.name for a in hooks.before] == ["drain-l3"] and hooks.after == ()


def test_service_blocks_merge_and_chains_merge_at_every_level(write):
    text = PARENT + ("strategy middle extends base {\n  hosts compute {\n    batch 2\n  }\n}\n\n")
    path = write(
        "team.kostyor",
        text + "strategy child extends middle {\n  service neutron-l3-agent {\n"
        "    before wait\n  }\n  hosts compute {\n    after none\n  }\n}\n",
    )
    report = check(str(path))
    assert report.ok, [d.message for d in report.diagnostics]
    child = report.spec.strategies["child"]
    (group,) = child.groups
    assert group.batches == (2,)
    assert [a.name for a in group.before] == ["disable-scheduling", "evacuate"]
    assert group.after == ()
    (hooks,) = child.service_hooks
    assert [a.name for a in hooks.before] == ["drain-l3", "wait"]
    assert [a.name for a in hooks.after] == ["health-check"]
    # The parent is unchanged by what its children do.
    base = report.spec.strategies["base"]
    assert [a.name for a in base.groups[0].after] == ["enable-scheduling"]


def test_a_strategy_without_parent_may_say_none(write):
    path = spec(write, "  hosts compute {\n    before none\n    pause-after-batch none\n  }\n")
    report = check(str(path))
    assert report.ok
    (group,) = report.spec.strategies["s"].groups
    assert (group.before, group.pause_after_batches) == ((), ())


def test_extends_chains_of_thousands_resolve_without_recursion(write):
    """Issue 15 item 8: a chain of 2,000 strategies was a RecursionError."""
    lines = ["import kostyor", "strategy s0 extends node-by-node {", "}"]
    for i in range(1, 2001):
        lines += [
            f"strategy s{i} extends s{i - 1} {{",
            f"  hosts name=h{i} {{",
            "    batch 1",
            "  }",
            "}",
        ]
    report = check(str(write("chain.kostyor", "\n".join(lines) + "\n")), strategy="s2000")
    assert report.ok
    assert len(report.strategy.groups) == 2000


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
@pytest.mark.parametrize(
    "name",
    ["fractional batch", "fractional failure count", "fractional gate", "batch of 4301 digits"],
)
def test_bad_counts_are_located_in_every_diagnostics_format(write, cli, fmt, name):
    import json

    body, code, line, col = BAD[name]
    path = spec(write, body)
    status, out, err = cli("check", path, "--diagnostics-format", fmt, "--color", "never")
    assert status == 1 and "Traceback" not in err
    if fmt == "text":
        assert f"team.kostyor:{line}:{col}: error[{code}]" in err
    elif fmt == "json":
        (d,) = json.loads(out)["diagnostics"]
        assert (d["code"], d["range"]["start"]) == (code, {"line": line, "column": col})
    else:
        (result,) = json.loads(out)["runs"][0]["results"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert (result["ruleId"], region["startLine"], region["startColumn"]) == (code, line, col)
