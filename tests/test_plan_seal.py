"""The plan's seal (compiler/plan_seal.py): written by compile, the same for YAML
and JSON, streamed like the plan, and naming what a hand edit changed."""

from __future__ import annotations

import copy
import io
import json
from importlib.resources import files

import jsonschema
import pytest
from support import KOSTYOR_SPEC

from kostyor_dsl.compiler import compile_plan, compile_to, dump_plan, load_plan
from kostyor_dsl.plan.seal import (
    plan_seal,
    seal_plan,
    seal_problems,
    step_id_problems,
)

SPEC = str(KOSTYOR_SPEC)
INVENTORY = """\
cluster: seal-test
hosts:
- name: ctl-1
  services: [keystone-wsgi-admin, nova-api, nova-scheduler, nova-conductor]
- name: cmp-1
  services: [nova-compute]
- name: cmp-2
  services: [nova-compute]
- name: cmp-3
  services: [nova-compute]
"""
HOOKS_SPEC = """\
import kostyor

actions drain-x, undrain-x

strategy hooked extends node-by-node {
  hosts compute {
    batch              1, 50%
    pause-after-batch  1
    before             evacuate
  }
  service nova-compute {
    before  drain-x
    after   undrain-x
  }
}

strategy hooked-sbs extends service-by-service {
  hosts compute {
    batch  1, 50%
  }
  service nova-compute {
    before  drain-x
  }
}
"""
SCHEMA = json.loads((files("kostyor_dsl") / "schemas" / "plan.schema.json").read_text())


@pytest.fixture
def inventory(write):
    return str(write("inv.yaml", INVENTORY))


@pytest.fixture
def hooks_spec(write):
    return str(write("hooks.kostyor", HOOKS_SPEC))


def test_yaml_and_json_of_one_plan_carry_one_seal_that_matches(cli, inventory, tmp_path):
    plans = {}
    for fmt in ("yaml", "json"):
        out = tmp_path / f"plan.{fmt}"
        code, _, err = cli("compile", SPEC, "-i", inventory, "--format", fmt, "-o", out)
        assert code == 0, err
        plans[fmt] = load_plan(out.read_text())
    assert plans["yaml"]["seal"] == plans["json"]["seal"]
    assert list(plans["json"])[-1] == "seal"  # written last
    seal = plans["json"]["seal"]
    assert seal["step_count"] == len(plans["json"]["steps"])
    assert set(seal["parts"]) == set(plans["json"]) - {"seal"}
    for plan in plans.values():
        assert seal_problems(plan) == []
        jsonschema.validate(plan, SCHEMA)


@pytest.mark.parametrize("strategy", ["node-by-node", "service-by-service", "rolling-computes"])
def test_the_streamed_plan_is_sealed_exactly_as_the_whole_plan(strategy, inventory):
    whole = dump_plan(compile_plan(SPEC, inventory, strategy).plan, "json")
    stream = io.StringIO()
    compile_to(stream, SPEC, inventory, "json", strategy)
    assert stream.getvalue() == whole
    plan = json.loads(whole)
    assert plan["seal"] == plan_seal(plan)


def _plan(inventory: str, strategy: str = "node-by-node") -> dict:
    return load_plan(dump_plan(compile_plan(SPEC, inventory, strategy).plan, "json"))


def _step(plan: dict, step_id: str) -> dict:
    return next(step for step in plan["steps"] if step["id"] == step_id)


def _host_changed(plan):
    _step(plan, "nova-compute@cmp-2")["hosts"] = ["cmp-9"]


def _service_changed(plan):
    _step(plan, "nova-api@ctl-1")["service"] = "nova-conductor"


def _steps_swapped(plan):
    steps = plan["steps"]
    steps[0], steps[1] = steps[1], steps[0]


def _step_removed(plan):
    plan["steps"].remove(_step(plan, "nova-compute@cmp-2"))


def _id_changed(plan):
    _step(plan, "nova-compute@cmp-2")["id"] = "nova-compute@cmp-3x"


def _inventory_digest_changed(plan):
    plan["inputs"]["inventory"]["sha256"] = "0" * 64


EDITS = {
    "host changed": (
        _host_changed,
        [
            "steps changed: the same 7 steps by count, with other content or order",
            "step 'nova-compute@cmp-2' (upgrade nova-compute on cmp-9): its id does not "
            "match its content; compile names it 'nova-compute@cmp-9'",
        ],
    ),
    "service changed": (
        _service_changed,
        [
            "steps changed: the same 7 steps by count, with other content or order",
            "step 'nova-api@ctl-1' (upgrade nova-conductor on ctl-1): its id does not "
            "match its content; compile names it 'nova-conductor@ctl-1'",
        ],
    ),
    "two steps swapped": (
        _steps_swapped,
        ["steps changed: the same 7 steps by count, with other content or order"],
    ),
    "a step removed": (_step_removed, ["steps changed: 6 steps, 7 were sealed"]),
    "an id not matching its content": (
        _id_changed,
        [
            "steps changed: the same 7 steps by count, with other content or order",
            "step 'nova-compute@cmp-3x' (upgrade nova-compute on cmp-2): its id does not "
            "match its content; compile names it 'nova-compute@cmp-2'",
        ],
    ),
    "the inventory digest changed": (
        _inventory_digest_changed,
        ["inputs changed: the spec or inventory files or digests it was compiled from"],
    ),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_each_hand_edit_is_named(edit, inventory):
    plan = _plan(inventory)
    assert seal_problems(plan) + step_id_problems(plan) == []
    change, expected = EDITS[edit]
    change(plan)
    assert seal_problems(plan) + step_id_problems(plan) == expected


def test_an_edited_seal_and_a_missing_one_are_named(inventory):
    plan = _plan(inventory)
    plan["seal"]["sha256"] = "f" * 64
    assert seal_problems(plan) == [
        "the seal itself was edited (its sha256 does not match its parts)"
    ]
    del plan["seal"]
    assert seal_problems(plan)[0].startswith("the plan has no seal")
    plan["limit"] = ["compute"]
    plan = seal_plan(plan)
    assert seal_problems(plan) == []
    del plan["limit"]
    assert seal_problems(plan) == ["`limit` was removed"]


def test_writing_a_loaded_plan_keeps_its_seal_and_never_reseals_an_edit(inventory):
    plan = _plan(inventory)
    _host_changed(plan)
    for fmt in ("yaml", "json"):
        again = load_plan(dump_plan(plan, fmt))
        assert again["seal"] == plan["seal"]
        assert seal_problems(again) != []


@pytest.mark.parametrize(
    ("spec", "strategy"),
    [
        ("kostyor", "node-by-node"),
        ("kostyor", "service-by-service"),
        ("kostyor", "rolling-computes"),
        ("hooks", "hooked"),
        ("hooks", "hooked-sbs"),
    ],
)
def test_step_ids_of_compiled_plans_follow_the_rules(spec, strategy, inventory, hooks_spec):
    plan = compile_plan(SPEC if spec == "kostyor" else hooks_spec, inventory, strategy).plan
    kinds = {step["kind"] for step in plan["steps"]}
    assert step_id_problems(plan) == []
    if strategy.startswith("hooked"):
        assert "hook" in kinds
        # A service hook named after a step it does not wrap is caught.
        hook = next(s for s in plan["steps"] if s["id"].startswith("before:drain-x:"))
        edited = copy.deepcopy(plan)
        _step(edited, hook["id"])["hosts"] = ["ctl-1"]
        assert len(step_id_problems(edited)) == 1


def test_diff_does_not_report_a_seal_as_a_change(cli, inventory, tmp_path):
    plan = _plan(inventory)
    old = tmp_path / "old.json"
    old.write_text(dump_plan(plan, "json"))
    plan["seal"]["sha256"] = "f" * 64
    new = tmp_path / "new.yaml"
    new.write_text(dump_plan(plan, "yaml"))
    code, out, err = cli("diff", old, new)
    assert code == 0, out + err
    unsealed = tmp_path / "unsealed.json"
    unsealed.write_text(json.dumps({k: v for k, v in plan.items() if k != "seal"}))
    code, out, err = cli("diff", old, unsealed)
    assert code == 0, out + err


@pytest.mark.parametrize("edit", list(EDITS))
def test_the_file_text_of_an_edited_plan_gives_the_same_problems(edit, inventory):
    """Checking the seal against the file's text (what `kostyorc run` does) says
    exactly what checking the loaded plan says, edited or not."""
    from kostyor_dsl.plan.seal import _file_matches_seal

    plan = _plan(inventory)
    text = dump_plan(plan, "json")
    assert _file_matches_seal(text, json.loads(text), plan["seal"])
    assert seal_problems(json.loads(text), text) == []
    change, expected = EDITS[edit]
    change(plan)
    edited = json.dumps(plan, indent=2, ensure_ascii=False) + "\n"  # an editor keeps the layout
    loaded = json.loads(edited)
    assert not _file_matches_seal(edited, loaded, loaded["seal"])
    assert seal_problems(loaded, edited) + step_id_problems(loaded) == expected


def test_a_plan_file_in_another_layout_is_compared_by_content(inventory):
    """Re-indented, reordered within the seal, or YAML: the file's text is not the
    sealed text, so the plan is written again and compared; it still matches."""
    from kostyor_dsl.plan.seal import _file_matches_seal

    plan = _plan(inventory)
    for text in (
        json.dumps(plan, indent=4, ensure_ascii=False) + "\n",
        json.dumps(plan) + "\n",
        dump_plan(plan, "yaml"),
    ):
        assert not _file_matches_seal(text, plan, plan["seal"])
        assert seal_problems(plan, text) == []


def test_text_after_the_seal_is_not_taken_for_the_sealed_plan(inventory):
    """A file whose seal's text hides more (here a second `steps`) is not the sealed file."""
    from kostyor_dsl.plan.seal import _file_matches_seal

    plan = _plan(inventory)
    text = dump_plan(plan, "json")
    hidden = text[: -len("\n}\n")] + ', "steps": []\n}\n'
    assert not _file_matches_seal(hidden, plan, plan["seal"])
    assert not _file_matches_seal(text, {**plan, "extra": 1}, plan["seal"])
