"""The plan contract: schema-valid, byte-stable, ids independent of position."""

from __future__ import annotations

import json
import os

import jsonschema
import pytest
import yaml
from support import EXAMPLES, KOSTYOR_SPEC, run_kostyorc

from kostyor_dsl.compiler import compile_plan, dump_plan, load_plan
from kostyor_dsl.inventory.read import load_schema
from kostyor_dsl.plan.seal import plan_seal

SPEC = str(KOSTYOR_SPEC)
STRATEGIES = ["node-by-node", "service-by-service"]


def inventory_text(n_computes: int, extra: str = "") -> str:
    lines = [
        "cluster: test",
        "hosts:",
        "  - name: ctl-1",
        "    services: [keystone-wsgi-admin, glance-api, nova-api, neutron-server, cinder-api]",
        "  - name: ctl-2",
        "    services: [keystone-wsgi-public, nova-conductor, neutron-l3-agent]",
    ]
    for i in range(n_computes):
        lines += [
            f"  - name: cmp-{i:03d}",
            "    services: [nova-compute, neutron-openvswitch-agent]",
        ]
        if extra and i == n_computes // 2:
            lines += [extra]
    lines += ["  - name: sto-1", "    services: [cinder-volume, swift-object-server]"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_plans_validate_against_the_schema(strategy, fmt, write):
    schema = load_schema("plan")
    jsonschema.Draft202012Validator.check_schema(schema)
    inv = write("inv.yaml", inventory_text(5))
    spec = write(
        "team.kostyor",
        "import kostyor\nactions backup\nstrategy ops extends "
        + strategy
        + " {\n  pre-upgrade {\n    backup\n  }\n}\n",
    )
    for spec_path, name in [(SPEC, strategy), (str(spec), "ops")]:
        text = dump_plan(compile_plan(spec_path, str(inv), strategy=name).plan, fmt)
        jsonschema.validate(load_plan(text), schema)


def test_example_plans_validate(cli, tmp_path):
    schema = load_schema("plan")
    for inv in sorted(EXAMPLES.glob("*.yaml")) + sorted(EXAMPLES.glob("*.json")):
        for strategy in STRATEGIES:
            out = tmp_path / "plan.json"
            code, _, err = cli(
                "compile", SPEC, "-i", inv, "-s", strategy, "--format", "json", "-o", out
            )
            assert code == 0, err
            jsonschema.validate(json.loads(out.read_text()), schema)


def test_compiled_twice_is_byte_identical_across_processes(tmp_path, write):
    inv = write("inv.yaml", inventory_text(30))
    outputs = set()
    for seed in ("1", "2", "random"):
        for fmt in ("yaml", "json"):
            result = run_kostyorc(
                "compile", SPEC, "-i", inv, "--format", fmt, env={"PYTHONHASHSEED": seed}
            )
            assert result.returncode == 0, result.stderr
            outputs.add((fmt, result.stdout))
    assert len(outputs) == 2


def test_plan_has_no_absolute_paths_or_times(write, tmp_path):
    inv = write("deep/inside/inv.yaml", inventory_text(2))
    text = dump_plan(compile_plan(SPEC, str(inv)).plan, "yaml")
    assert str(tmp_path) not in text
    assert os.path.expanduser("~") not in text or os.path.expanduser("~") == "/"
    plan = yaml.safe_load(text)
    assert plan["inputs"]["inventory"]["file"] == "inv.yaml"
    assert plan["inputs"]["spec"] == [
        {"file": "kostyor.kostyor", "sha256": plan["inputs"]["spec"][0]["sha256"]}
    ]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_adding_a_host_only_adds_lines(strategy, write):
    import difflib

    before = write("before/inv.yaml", inventory_text(20))
    after = write(
        "after/inv.yaml",
        inventory_text(
            20, extra="  - name: cmp-new\n    services: [nova-compute, neutron-openvswitch-agent]"
        ),
    )
    # The seal (written last) changes with the content: the rest must only grow.
    old = dump_plan(compile_plan(SPEC, str(before), strategy).plan).split("\nseal:\n")[0]
    new = dump_plan(compile_plan(SPEC, str(after), strategy).plan).split("\nseal:\n")[0]
    old, new = old.splitlines(), new.splitlines()
    diff = [
        line
        for line in difflib.unified_diff(old, new, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    removed = [line for line in diff if line.startswith("-")]
    added = [line for line in diff if line.startswith("+")]
    # Only the inventory digest line changes; everything else is added.
    assert len(removed) == 1 and "sha256" in removed[0]
    assert any("cmp-new" in line for line in added)
    ids_old = [s["id"] for s in yaml.safe_load("\n".join(old))["steps"]]
    ids_new = [s["id"] for s in yaml.safe_load("\n".join(new))["steps"]]
    assert [i for i in ids_new if i in set(ids_old)] == ids_old


def test_step_ids_are_unique(write):
    inv = write("inv.yaml", inventory_text(10))
    for strategy in STRATEGIES:
        ids = [s["id"] for s in compile_plan(SPEC, str(inv), strategy).plan["steps"]]
        assert len(ids) == len(set(ids))


def test_output_file_written_only_on_success(cli, write, tmp_path):
    out = tmp_path / "plan.yaml"
    out.write_text("previous plan\n")
    bad = write("bad.yaml", "hosts:\n- name: a\n  services: [nope]\n")
    code, stdout, _ = cli("compile", SPEC, "-i", bad, "-o", out)
    assert code == 1 and stdout == ""
    assert out.read_text() == "previous plan\n"
    good = write("good.yaml", inventory_text(1))
    code, stdout, err = cli("compile", SPEC, "-i", good, "-o", out)
    assert code == 0 and stdout == "" and err == ""
    assert yaml.safe_load(out.read_text())["format"] == "kostyor-plan/1"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kostyorc-")]


def test_unicode_and_odd_host_names_survive_a_round_trip(write):
    inv = write(
        "inv.yaml",
        "hosts:\n- name: a\n  services: [nova-compute]\n"
        "- name: b\n  services: [nova-compute]\n- name: 'yes'\n  services: [nova-compute]\n",
    )
    plan = compile_plan(SPEC, str(inv), "service-by-service").plan
    # Names an inventory refuses (K046), as a hand-made plan may hold them: still quoted.
    plan["steps"][0]["hosts"][:2] = ["x'); import os; os.system('id", "узел-1"]
    for fmt in ("yaml", "json"):
        again = load_plan(dump_plan(plan, fmt))
        assert again.pop("seal") == plan_seal(plan)
        assert again == plan
        assert again["steps"][0]["hosts"] == ["x'); import os; os.system('id", "узел-1", "yes"]


def test_steps_carry_the_inventorys_targets_for_their_service(write):
    """What a driver addresses a service by on a host (an OSA container, a Juju unit)
    goes from the inventory into that service's steps, and nowhere else."""
    import json as json_module

    from kostyor_dsl.compiler import compile_plan, dump_plan
    from kostyor_dsl.plan.read import parse_plan_text

    inventory = write(
        "inv.yaml",
        "hosts:\n"
        "- name: node-a\n"
        "  services: [glance-api, nova-api]\n"
        "  targets:\n"
        "    nova-api: [node-a-nova-api-container-1]\n"
        "- name: node-b\n"
        "  services: [nova-compute]\n",
    )
    for strategy in ("node-by-node", "service-by-service"):
        plan = compile_plan("kostyor", str(inventory), strategy).plan
        with_targets = {s["id"]: s["targets"] for s in plan["steps"] if "targets" in s}
        step = "nova-api@node-a" if strategy == "node-by-node" else "nova-api"
        assert with_targets == {step: {"node-a": ["node-a-nova-api-container-1"]}}
        for fmt in ("yaml", "json"):
            read = parse_plan_text(dump_plan(plan, fmt))
            assert read["steps"] == json_module.loads(json_module.dumps(plan["steps"]))


def _upgrade(host: str, **rest) -> dict:
    step = {
        "id": f"nova-compute@{host}",
        "kind": "upgrade",
        "project": "nova",
        "service": "nova-compute",
        "hosts": [host],
        "source": "openstack.kostyor:70",
    }
    return {**step, **rest}


ODD_STEPS = [
    _upgrade("a"),
    _upgrade("b", targets={"b": ["nova_compute"]}),
    _upgrade("c", group="computes", batch=2, targets={"c": ["x", "y"], "d": ["z"]}),
    _upgrade("d", wave=3, targets={}),
    _upgrade("e", batch=True, targets={"e": []}),
    _upgrade("e1", group="computes", batch=1, targets={"e1": ["nova_compute"]}),
    _upgrade("e2", group="computes", batch=True, targets={"e2": ["nova_compute"]}),
    _upgrade("e3", group="computes", batch=1.0, targets={"e3": ["a", "b"]}),
    _upgrade("e4", wave=2, targets={"e4": ["x"]}),
    _upgrade("e5", group=["not", "hashable"], batch=1, targets={"e5": ["x"]}),
    _upgrade("e6", targets={"other": ["x"]}),
    _upgrade("f", targets={"f": [1, "x"]}),
    _upgrade("g", targets={"g": {"nested": ["n"]}}),
    _upgrade("h", targets=None, extra=1.5),
    _upgrade('ü"\\\n', targets={"ü": ["\u2028", "\x00"]}),
    _upgrade("i", hosts=[]),
    _upgrade("j", hosts=["j", "k"], source=7),
    {
        "id": "hook",
        "kind": "hook",
        "when": "before",
        "action": "evacuate",
        "parameters": {"wait": 30, "force": False, "tags": ["a"], "none": None},
        "hosts": ["a"],
        "source": "s",
        "group": "g",
        "batch": 1,
    },
    *(
        {
            "id": f"before:evacuate:{host}",
            "kind": "hook",
            "when": "before",
            "action": "evacuate",
            "parameters": {},
            "hosts": [host],
            "source": "s:1",
            "group": "computes",
            "batch": batch,
        }
        for host, batch in (("h1", 1), ("h2", 1), ("h3", True), ("h4", 2.0), (5, 1), ("h6", None))
    ),
    {"id": "gate", "kind": "gate", "message": "look", "group": "g", "batch": 1, "source": "s"},
    {"id": "bad", "kind": "upgrade", 3: "a key that is no string"},
    {},
    [],
    "a string",
]


def test_the_json_writer_is_byte_for_byte_json_dumps_indent_2():
    """The templates for steps (targets and rollout keys included) write what
    json.dumps(indent=2, ensure_ascii=False) writes, odd values and all."""
    from kostyor_dsl.plan.seal import SEAL_KEY
    from kostyor_dsl.plan.write import iter_plan_json

    plan = {"format": "kostyor-plan/1", "steps": ODD_STEPS * 2, SEAL_KEY: {"steps": "x"}}
    expected = json.dumps(plan, indent=2, ensure_ascii=False) + "\n"
    assert "".join(iter_plan_json(plan)) == expected
    streamed = {**plan, "steps": iter(ODD_STEPS * 2)}
    assert "".join(iter_plan_json(streamed)) == expected
