from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from review_support import ROOT, compiled

from kostyor_dsl.plan import read as planfile
from kostyor_dsl.plan.read import PlanFileError, check_plan, placement_ok, step_ok

SCHEMA = json.loads((ROOT / "kostyor_dsl" / "schemas" / "plan.schema.json").read_text("utf-8"))
STEP = jsonschema.Draft202012Validator({"$ref": "#/$defs/step", "$defs": SCHEMA["$defs"]})
PLACEMENT = jsonschema.Draft202012Validator(
    {"$ref": "#/$defs/host_placement", "$defs": SCHEMA["$defs"]}
)


def test_mirror_is_for_this_schema():
    """The fast step checks mirror these `$defs`; when the schema changes, update
    planfile's checks and MIRRORED_DEFS_SHA256 (until then jsonschema does it all)."""
    assert planfile.defs_digest(SCHEMA) == planfile.MIRRORED_DEFS_SHA256


def _variants(item: dict):
    """The item, and copies broken (or not) in every way we can think of."""
    yield item
    for key in list(item):
        broken = dict(item)
        del broken[key]
        yield broken
        for value in (None, "", "x", 0, -1, 1, True, 2.5, [], ["a"], [""], {}, {"a": {}}, "a:1"):
            changed = dict(item)
            changed[key] = value
            yield changed
    for extra in ("group", "batch", "bogus", "hosts"):
        for value in ("g", 1, 0, True, ["h"]):
            yield {**item, extra: value}


def _sample_steps():
    plans = [
        compiled("design-doc.yaml"),
        compiled("design-doc.yaml", "service-by-service"),
        compiled("small-cloud.yaml", "rolling-computes"),
    ]
    steps, placements = [], []
    for plan in plans:
        seen = set()
        for step in plan["steps"]:
            if step["kind"] not in seen:
                seen.add(step["kind"])
                steps.append(step)
        placements.extend(plan.get("host_order", [])[:1])
    steps.append(
        {
            "id": "pre-upgrade:x",
            "kind": "pre-upgrade",
            "action": "x",
            "parameters": {"t": "1"},
            "source": "a:1",
        }
    )
    steps.append(
        {
            "id": "post-upgrade:x",
            "kind": "post-upgrade",
            "action": "x",
            "parameters": {},
            "source": "a:1",
        }
    )
    return steps, placements


def test_fast_checks_agree_with_the_schema():
    steps, placements = _sample_steps()
    assert {s["kind"] for s in steps} == set(planfile.KNOWN_KINDS)
    checked = 0
    for step in steps:
        for variant in _variants(copy.deepcopy(step)):
            # never accepts what the schema refuses (it may refuse more: jsonschema then decides)
            if step_ok(variant):
                assert STEP.is_valid(variant), variant
            elif STEP.is_valid(variant):
                assert any(isinstance(v, float) for v in variant.values()), variant
            checked += 1
    for placement in placements:
        for variant in _variants(copy.deepcopy(placement)):
            if placement_ok(variant):
                assert PLACEMENT.is_valid(variant), variant
    assert checked > 500


def test_problem_in_a_late_step_is_located():
    plan = compiled("small-cloud.yaml", "rolling-computes")
    plan["steps"][60]["batch"] = 0
    with pytest.raises(PlanFileError) as info:
        check_plan(plan, "p.yaml")
    assert (
        str(info.value)
        == "p.yaml: not a valid plan: at steps[60]: not a pre-upgrade or an upgrade step (fields: batch, group, hosts, id, kind, project, service, source)"
        or "steps[60]" in str(info.value)
    )


def test_a_float_batch_number_goes_to_jsonschema_and_checking_goes_on():
    plan = compiled("small-cloud.yaml", "rolling-computes")
    plan["steps"][3]["batch"] = 1.0  # an integer to JSON Schema, not to the fast check
    plan["steps"][70]["hosts"] = []
    with pytest.raises(PlanFileError, match=r"at steps\[70\]\.hosts"):
        check_plan(plan, "p.yaml")


def test_duplicate_step_ids_are_refused():
    plan = compiled("design-doc.yaml")
    plan["steps"].append(copy.deepcopy(plan["steps"][0]))
    with pytest.raises(PlanFileError, match="appears twice"):
        check_plan(plan, "p.yaml")


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        (
            "format: kostyor-plan/1\nsteps: []\nstrategy: x\nsteps: []\n",
            ":4:1:",
            "key 'steps' appears twice in one mapping (the second would silently replace "
            "the first); first given here at 2:1",
        ),
        ('{"steps": [],\n "steps": []}', ":2:2:", "key 'steps' appears twice"),
        ("steps: &s []\nmore: *s\n", ":1:8:", "YAML anchor '&s': anchors and aliases"),
        ("steps: !!set {a}\n", ":1:8:", "YAML tag '!!set' is not allowed"),
        ("steps: []\n1: x\n", ":2:1:", "key '1' is read as !!int"),
        ("steps: " + "[" * 300 + "]" * 300 + "\n", ":1:107:", "nested more than 100 levels"),
    ],
)
def test_plan_documents_refused_with_their_place(text, where, fragment):
    with pytest.raises(PlanFileError) as caught:
        planfile.parse_plan_text(text, "plan.yaml")
    message = str(caught.value)
    assert message.startswith(f"plan.yaml{where} not a YAML or JSON plan: "), message
    assert fragment in message and "\n" not in message


def test_a_plan_with_a_byte_order_mark_is_read():
    plan = compiled("design-doc.yaml")
    from kostyor_dsl.compiler import dump_plan

    for fmt in ("yaml", "json"):
        read = planfile.parse_plan_text("\ufeff" + dump_plan(plan, fmt))
        assert read.pop("seal")  # dump_plan seals what compile made
        assert read == plan
