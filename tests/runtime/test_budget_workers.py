"""Availability budgets at run time, with real workers: a host that failed (and
was tolerated) stays down, so a later batch that would break a budget pauses
the run, naming the budget and the failed host; `retry` goes on."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import pytest
from runtime_harness import expected_log, rollout_plan
from test_rollout_workers import _runtime

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

STATUS_SCHEMA = json.loads((files("kostyor_dsl") / "schemas" / "status.schema.json").read_text())
HOSTS = [f"node-{i}" for i in range(1, 6)]


@pytest.fixture(params=["embedded", "redis"])
def runtime(request, tmp_path):
    yield from _runtime(request, tmp_path)


def budget_plan() -> dict:
    plan = rollout_plan(
        [
            ("batch", "compute", 1, ["node-1"]),
            ("batch", "compute", 2, ["node-2", "node-3"]),
            ("batch", "compute", 3, ["node-4", "node-5"]),
        ],
        groups=[
            {
                "name": "compute",
                "selector": ["compute"],
                "hosts": 5,
                "batches": [1, 2],
                "max_failed_hosts": 1,
                "source": "test.kostyor:5",
            }
        ],
        services={"node-1": ("api", "bad", "compute")},
    )
    plan["budgets"] = [
        {
            "name": "compute",
            "selector": ["compute"],
            "rule": "max-unavailable",
            "amount": 2,
            "selected": 5,
            "allowed": 2,
            "most_down": 2,
            "source": "test.kostyor:7",
            "hosts": HOSTS,
        }
    ]
    return plan


def test_a_tolerated_failure_that_would_break_a_budget_pauses_then_retry_finishes(runtime):
    plan = budget_plan()
    marker = runtime.tmp / "broken"
    marker.write_text("fix me")
    runtime.start_worker(concurrency=2)
    run_id = runtime.submit(plan, "-p", "fail=nova-bad", "-p", f"fail_marker={marker}", sleep=0.05)
    runtime.wait_state(run_id, "paused", 90)
    status = runtime.status(run_id)
    jsonschema.validate(status, STATUS_SCHEMA)
    reason = status["pause_reason"]
    assert reason.startswith("availability budget: budget compute allows 2 of its 5 hosts down")
    assert "1 failed (node-1)" in reason and "takes down 2 more" in reason
    states = {step["id"]: step["state"] for step in status["steps"]}
    assert states["nova-bad@node-1"] == "failed"
    # Batch 2 never started: the budget held it.
    assert all(states[s] == "pending" for s in states if s.endswith(("node-2", "node-3")))
    assert not [label for label in runtime.log.starts() if "node-2" in label or "node-3" in label]
    assert status["budgets"] == [
        {
            "name": "compute",
            "rule": "max-unavailable",
            "amount": 2,
            "selected": 5,
            "allowed": 2,
            "failed_hosts": ["node-1"],
        }
    ]
    text = runtime.kostyorc("status", run_id).stdout
    assert "budget compute: 1 of 5 hosts down (failed), allows 2" in text

    # The operator fixes node-1; retry runs it again first, then the run goes on.
    marker.unlink()
    runtime.kostyorc("retry", run_id)
    runtime.wait_state(run_id, "succeeded", 90)
    status = runtime.status(run_id)
    assert {step["state"] for step in status["steps"]} == {"succeeded"}
    assert status["budgets"][0]["failed_hosts"] == []
    assert sorted(runtime.log.ends()) == sorted(expected_log(plan))
