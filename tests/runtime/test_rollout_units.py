"""Fast tests of rollout in the runtime: stages, lanes, failure policy, status. No worker."""

from __future__ import annotations

import json
import time
from importlib.resources import files

import jsonschema
import pytest
import yaml
from runtime_harness import ROOT, make_plan, rollout_plan

from kostyor_dsl.runtime import canvas
from kostyor_dsl.runtime.drivers import load_driver
from kostyor_dsl.runtime.errors import UnsupportedAction
from kostyor_dsl.runtime.failure_policy import (
    forget_hosts,
    policies_of,
    record_failure,
    tolerated,
)
from kostyor_dsl.runtime.plan_file import load_plan
from kostyor_dsl.runtime.run_store import FileRunStore, RunRecord, StepRecord
from kostyor_dsl.runtime.status import render_status, status_document

STATUS_SCHEMA = json.loads((files("kostyor_dsl") / "schemas" / "status.schema.json").read_text())


def shipped_rolling_plan() -> dict:
    from kostyor_dsl.compiler import compile_plan

    return compile_plan(
        "kostyor", str(ROOT / "examples" / "small-cloud.yaml"), "rolling-computes"
    ).plan


def test_a_batch_is_one_stage_with_a_lane_per_host():
    plan = shipped_rolling_plan()
    stages = canvas.stages_of(plan, "r1")
    described = [
        (stage.group, stage.batch, [lane.host for lane in stage.lanes]) for stage in stages
    ]
    assert described == [
        ("controller", 1, ["ctl-1"]),
        ("controller", 2, ["ctl-2"]),
        ("controller", 3, ["ctl-3"]),
        ("compute", 1, ["cmp-1"]),
        (None, None, [None]),  # the gate, alone
        ("compute", 2, ["cmp-2", "cmp-3", "cmp-4"]),
        (None, None, [None]),  # hosts in no group: one at a time
    ]
    units = canvas.units_of(plan, "r1")
    assert [unit.id for unit in units] == [step["id"] for step in plan["steps"]]
    for stage in stages:
        for lane in stage.lanes:
            assert {units[i].lane for i in range(lane.first, lane.last + 1)} == {lane.index}
    # Each lane of batch compute#2 is its own segment, so all three start together.
    segments = canvas.describe(plan, "r1")
    batch = [segment for segment in segments if segment.stage == 5]
    assert [(segment.lane, len(segment.calls)) for segment in batch] == [(0, 5), (1, 5), (2, 5)]
    # Per-host route: the same stages, on each host's queue.
    per_host = canvas.describe(plan, "r1", "per-host")
    assert [segment.queue for segment in per_host if segment.stage == 5] == [
        canvas.host_queue("r1", host) for host in ("cmp-2", "cmp-3", "cmp-4")
    ]


def test_plans_without_groups_keep_one_stage_and_their_segments():
    plan = make_plan(hosts=3)
    assert [
        (stage.first, stage.last, len(stage.lanes)) for stage in canvas.stages_of(plan, "r")
    ] == [(0, 9, 1)]
    assert [len(segment.calls) for segment in canvas.describe(plan, "r")] == [1, 3, 3, 3]


def test_multi_host_batch_steps_and_hooks_split_per_host_and_group_by_host():
    plan = make_plan(hosts=0, pre_upgrade=False)
    tags = {"group": "compute", "batch": 2}
    plan["steps"] = [
        {
            "id": "before:drain-l3:nova-compute#2",
            "kind": "hook",
            "when": "before",
            "action": "drain-l3",
            "parameters": {},
            "hosts": ["c2", "c3"],
            "source": "t:1",
            **tags,
        },
        {
            "id": "nova-compute#2",
            "kind": "upgrade",
            "project": "nova",
            "service": "nova-compute",
            "hosts": ["c2", "c3"],
            "source": "t:2",
            **tags,
        },
        {
            "id": "before:drain-l3:l3",
            "kind": "hook",
            "when": "before",
            "action": "drain-l3",
            "parameters": {},
            "hosts": ["n1", "n2"],
            "source": "t:3",
        },
    ]
    units = canvas.units_of(plan, "r")
    assert [(unit.id, unit.stage, unit.lane) for unit in units] == [
        ("before:drain-l3:nova-compute#2@c2", 0, 0),
        ("nova-compute#2@c2", 0, 0),
        ("before:drain-l3:nova-compute#2@c3", 0, 1),
        ("nova-compute#2@c3", 0, 1),
        # A hook in no group: one unit per host (an action takes one host), in sequence.
        ("before:drain-l3:l3@n1", 1, 0),
        ("before:drain-l3:l3@n2", 1, 0),
    ]


def test_failure_thresholds_count_hosts_and_round_percentages_down():
    assert tolerated("10%", 25) == 2
    assert tolerated("10%", 9) == 0
    assert tolerated("50%", 3) == 1
    assert tolerated(3, 100) == 3
    assert tolerated(None, 5) is None

    plan = rollout_plan(
        [("batch", "compute", 1, ["a", "b", "c", "d"]), ("batch", "compute", 2, ["e", "f"])],
        groups=[
            {
                "name": "compute",
                "selector": ["compute"],
                "hosts": 6,
                "batches": [4],
                "max_failed_hosts": "34%",
                "max_failed_hosts_per_batch": "25%",
                "source": "t:1",
            }
        ],
    )
    (policy,) = policies_of(plan).values()
    assert (policy.hosts, policy.group_limit, policy.batch_limit(1), policy.batch_limit(2)) == (
        6,
        2,
        1,
        0,
    )
    run = RunRecord("r", "running", "noop", {}, "run", 10, 0.0, 0.0)
    run = record_failure(run, policy, 1, "a", "x@a")
    assert run.state == "running" and run.failed_hosts == {"compute": {"a": "x@a"}}
    again = record_failure(run, policy, 1, "a", "y@a")  # the same host: counted once
    assert again.failed_hosts == run.failed_hosts and again.state == "running"
    second = record_failure(run, policy, 1, "b", "x@b")  # 2 in batch 1, which tolerates 1
    assert second.state == "paused" and second.failed_step == "x@b"
    assert second.pause_reason == (
        "failure threshold: batch compute#1 has 2 failed hosts of 4 and tolerates 1 "
        "(max-failed-hosts-per-batch 25%): a (x@a), b (x@b)"
    )
    in_batch_2 = record_failure(run, policy, 2, "e", "x@e")  # batch 2 of 2 tolerates 0
    assert in_batch_2.state == "paused" and "batch compute#2" in in_batch_2.pause_reason
    forgotten = forget_hosts(second, {"a", "b"})
    assert forgotten.failed_hosts == {} and forgotten.batch_failed_hosts == {}


def test_default_policy_pauses_at_the_first_failure():
    plan = rollout_plan([("batch", "compute", 1, ["a", "b"])])
    (policy,) = policies_of(plan).values()
    run = RunRecord("r", "running", "noop", {}, "run", 10, 0.0, 0.0)
    paused = record_failure(run, policy, 1, "a", "x@a")
    assert paused.state == "paused"
    assert paused.pause_reason == (
        "failure threshold: group compute has 1 failed host of 2 and tolerates 0 "
        "(max-failed-hosts 0): a (x@a)"
    )


def test_status_shows_batches_gate_skipped_steps_and_the_pause_reason(tmp_path):
    plan = rollout_plan(
        [
            ("batch", "compute", 1, ["a"]),
            ("gate", "compute", 1),
            ("batch", "compute", 2, ["b", "c"]),
        ]
    )
    store = FileRunStore(tmp_path / "runs")
    units = canvas.units_of(plan, "r9")
    gate = next(unit for unit in units if unit.kind == "gate")
    store.create_run(
        RunRecord(
            "r9",
            "paused",
            "noop",
            {},
            "run",
            len(units),
            time.time(),
            time.time(),
            stage=gate.stage,
            gate=gate.id,
            pause_reason=f"gate {gate.id}: check it",
            failed_hosts={"compute": {"a": "nova-compute@a"}},
        ),
        plan,
    )
    now = time.time()
    for unit in units[: gate.index]:
        store.put_step("r9", StepRecord(unit.index, "succeeded", now - 1, now, 1))
    store.put_step("r9", StepRecord(units[3].index, "failed", now - 1, now, 1, "boom"))
    store.put_step("r9", StepRecord(units[4].index, "skipped", None, now, 0, "skipped: x"))
    store.put_step("r9", StepRecord(gate.index, "waiting", now, None, 0))
    document = status_document(store, "r9")
    jsonschema.Draft202012Validator.check_schema(STATUS_SCHEMA)
    jsonschema.validate(document, STATUS_SCHEMA)
    assert document["gate"] == {
        "step": "gate:compute#1",
        "message": "batch compute#1 is done: check it, then resume",
    }
    assert [(b["group"], b["batch"], b["hosts"]) for b in document["batches"]] == [
        ("compute", 1, ["a"]),
        ("compute", 2, ["b", "c"]),
    ]
    assert document["groups"][0]["failed_hosts"] == {"a": "nova-compute@a"}
    text = render_status(document, tty=False)
    assert text.splitlines()[0].startswith("run r9: paused, ")
    assert "1 failed, 1 skipped" in text.splitlines()[0]
    assert text.splitlines()[0].endswith(" - gate gate:compute#1: check it")
    assert "batch compute#2: 2 hosts in parallel, pending" in text
    assert "waiting" in text and "`kostyorc resume` goes on" in text


def test_yaml_plans_load_through_the_compilers_loader(tmp_path, monkeypatch):
    plan = rollout_plan([("batch", "compute", 1, ["a"])])
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))

    def refuse(*args, **kwargs):
        raise AssertionError("the pure-Python loader was used")

    monkeypatch.setattr(yaml, "safe_load", refuse)
    assert load_plan(path) == plan


def test_noop_and_shell_drivers_run_post_upgrade_steps_and_hooks():
    from kostyor_dsl.runtime.drivers.shell import run_commands

    shell = load_driver(
        "shell",
        {
            "command": "true",
            "post_upgrade_command": "echo after {action}",
            "action_command": "echo {action} on {host}",
        },
    )
    done = run_commands(*shell.post_upgrade("health-check", {}).args)
    assert done["hosts"][0]["output"] == "after health-check\n"
    done = run_commands(*shell.action("evacuate", "cmp-1", {"timeout": "30m"}).args)
    assert done["hosts"][0]["output"] == "evacuate on cmp-1\n"
    # No template: the step is refused, never a success that did nothing.
    with pytest.raises(UnsupportedAction, match="no post_upgrade_command"):
        load_driver("shell", {"command": "x"}).post_upgrade("health-check", {})
    noop = load_driver("noop", {})
    assert noop.post_upgrade("health-check", {}).args[:3] == ("post-upgrade", "health-check", [])


@pytest.mark.parametrize("route", canvas.ROUTES)
def test_every_unit_is_in_exactly_one_lane_of_one_stage(route):
    plan = shipped_rolling_plan()
    units = canvas.units_of(plan, "r", route)
    covered = [
        index
        for stage in canvas.stages_of(plan, "r", route)
        for lane in stage.lanes
        for index in range(lane.first, lane.last + 1)
    ]
    assert covered == list(range(len(units)))


def test_a_big_batch_keeps_every_message_one_bounded_segment():
    hosts = [f"cmp-{number:03d}" for number in range(200)]
    plan = rollout_plan(
        [("batch", "compute", 1, hosts)],
        services={host: tuple(f"s{i}" for i in range(30)) for host in hosts[:2]},
    )
    segments = canvas.describe(plan, "r")
    assert max(len(segment.calls) for segment in segments) == canvas.SEGMENT_LIMIT
    (batch,) = [stage for stage in canvas.stages_of(plan, "r") if stage.parallel]
    assert len(batch.lanes) == 200
    # A 32-step lane is two segments of its own; the other lanes one each.
    assert [len(s.calls) for s in segments if s.stage == batch.index][:3] == [25, 7, 25]
    assert {s.lane for s in segments if s.stage == batch.index} == set(range(200))
