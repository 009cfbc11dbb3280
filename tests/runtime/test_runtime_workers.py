"""Real worker processes on the embedded broker, Redis and RabbitMQ.

The step log (written by the `steplog` test driver, loaded through its entry
point in the worker) is the proof: `end` lines show every step ran exactly
once and in plan order; `start` lines show when a step began.
"""

from __future__ import annotations

import json
import signal
import time
from importlib.resources import files

import jsonschema
import pytest
from runtime_harness import expected_log, make_plan

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

QUIET_SECONDS = 3.0
STATUS_SCHEMA = json.loads((files("kostyor_dsl") / "schemas" / "status.schema.json").read_text())


def assert_quiet(runtime, seconds: float = QUIET_SECONDS) -> None:
    """No step starts for `seconds`."""
    before = len(runtime.log.starts())
    time.sleep(seconds)
    assert len(runtime.log.starts()) == before, runtime.log.events()


def wait_idle(runtime, run_id: str) -> None:
    """Wait until the step that was running when a pause or cancel came has finished."""
    runtime.wait_for(
        lambda: (
            len(runtime.log.starts()) == len(runtime.log.ends())
            and all(step["state"] != "running" for step in runtime.status(run_id)["steps"])
        ),
        30,
        "the running step to finish",
    )


def test_run_completes_every_step_once_in_plan_order(runtime):
    plan = make_plan(hosts=2)
    runtime.start_worker()
    run_id = runtime.submit(plan, sleep=0.05)
    runtime.wait_state(run_id, "succeeded", 60)
    assert runtime.log.ends() == expected_log(plan)
    assert runtime.log.starts() == expected_log(plan)
    status = runtime.status(run_id)
    jsonschema.validate(status, STATUS_SCHEMA)
    assert status["state"] == "succeeded"
    assert [step["id"] for step in status["steps"]] == [step["id"] for step in plan["steps"]]
    assert [step["task_id"] for step in status["steps"]] == [
        f"{run_id}:{step['id']}" for step in plan["steps"]
    ]
    assert {step["state"] for step in status["steps"]} == {"succeeded"}


def test_pause_holds_and_resume_continues_exactly(runtime):
    plan = make_plan(hosts=2)
    runtime.start_worker()
    run_id = runtime.submit(plan, sleep=0.4)
    runtime.wait_for(lambda: len(runtime.log.ends()) >= 2, 30, "two steps done")
    runtime.kostyorc("pause", run_id)
    wait_idle(runtime, run_id)
    done_at_pause = len(runtime.log.ends())
    assert done_at_pause < len(plan["steps"])
    assert_quiet(runtime)
    assert runtime.status(run_id)["state"] == "paused"
    runtime.kostyorc("resume", run_id)
    runtime.wait_state(run_id, "succeeded", 60)
    assert runtime.log.ends() == expected_log(plan)
    assert runtime.log.starts() == expected_log(plan)


def test_pause_and_cancel_survive_worker_restarts(runtime):
    plan = make_plan(hosts=3)
    worker = runtime.start_worker()
    run_id = runtime.submit(plan, sleep=0.3)
    runtime.wait_for(lambda: len(runtime.log.ends()) >= 2, 30, "two steps done")
    runtime.kostyorc("pause", run_id)
    wait_idle(runtime, run_id)
    runtime.kill_worker(worker, signal.SIGTERM)
    worker = runtime.start_worker()
    assert_quiet(runtime)
    assert runtime.run_state(run_id) == "paused"

    runtime.kostyorc("resume", run_id)
    runtime.wait_for(lambda: len(runtime.log.ends()) >= 5, 30, "five steps done")
    done = runtime.kostyorc("cancel", run_id)
    assert "cancelled" in done.stdout
    wait_idle(runtime, run_id)
    stopped_at = len(runtime.log.ends())
    assert stopped_at < len(plan["steps"])
    runtime.kill_worker(worker, signal.SIGKILL)
    runtime.start_worker()
    assert_quiet(runtime)
    status = runtime.status(run_id)
    assert status["state"] == "cancelled"
    assert len(runtime.log.ends()) == stopped_at
    assert runtime.log.ends() == expected_log(plan)[:stopped_at]
    assert "revoked" in {step["state"] for step in status["steps"]}
    resumed = runtime.kostyorc("resume", run_id, check=False)
    assert resumed.returncode == 1 and "cancelled" in resumed.stderr


def test_sigkill_of_the_whole_worker_mid_step_loses_nothing(runtime):
    plan = make_plan(hosts=2)
    worker = runtime.start_worker()
    run_id = runtime.submit(plan, sleep=1.5)
    runtime.wait_for(
        lambda: len(runtime.log.starts()) == 3 and len(runtime.log.ends()) == 2,
        30,
        "the third step to be running",
    )
    runtime.kill_worker(worker, signal.SIGKILL)
    killed_in = runtime.log.starts()[-1]
    started = time.monotonic()
    runtime.start_worker()
    runtime.wait_state(run_id, "succeeded", 60)
    assert time.monotonic() - started < 60
    assert runtime.log.ends() == expected_log(plan)
    starts = runtime.log.starts()
    # Only the killed step started twice; it finished once.
    assert starts.count(killed_in) == 2
    assert sorted(set(starts)) == sorted(expected_log(plan))
    assert len(starts) == len(expected_log(plan)) + 1


def test_failing_step_fails_the_run_and_retry_completes_it(runtime):
    plan = make_plan(hosts=2)
    marker = runtime.tmp / "broken"
    marker.write_text("fix me")
    runtime.start_worker()
    run_id = runtime.submit(
        plan, "-p", "fail=nova-conductor", "-p", f"fail_marker={marker}", sleep=0.05
    )
    runtime.wait_state(run_id, "failed", 60)
    status = runtime.status(run_id)
    assert status["failed_step"] == "nova-conductor@node-1"
    assert "nova-conductor@node-1" in status["error"]
    assert "nova-conductor is broken" in status["error"]
    failed = [step for step in status["steps"] if step["state"] == "failed"]
    assert [step["id"] for step in failed] == ["nova-conductor@node-1"]
    assert_quiet(runtime, 1.0)
    assert runtime.log.ends() == expected_log(plan)[:2]
    text = runtime.kostyorc("status", run_id).stdout
    assert "failed" in text and "nova-conductor@node-1" in text

    marker.unlink()
    runtime.kostyorc("retry", run_id)
    runtime.wait_state(run_id, "succeeded", 60)
    assert runtime.log.ends() == expected_log(plan)


def test_per_host_route_with_two_workers_pause_resume_cancel(runtime):
    plan = make_plan(hosts=2, services=("api", "conductor", "scheduler", "compute"))
    runtime.start_worker(host="node-1")
    runtime.start_worker(host="node-2")
    run_id = runtime.submit(plan, "--route", "per-host", sleep=0.3)
    runtime.wait_for(lambda: len(runtime.log.ends()) >= 3, 30, "three steps done")
    runtime.kostyorc("pause", run_id)
    wait_idle(runtime, run_id)
    assert_quiet(runtime)
    runtime.kostyorc("resume", run_id)
    runtime.wait_state(run_id, "succeeded", 60)
    assert runtime.log.ends() == expected_log(plan)
    for event, label, where in runtime.log.events():
        hosts = label.split(" ")[2]
        if hosts != "-":
            assert hosts == where, (event, label, where)

    second = runtime.submit(plan, "--route", "per-host", sleep=0.3)
    runtime.wait_for(
        lambda: len(runtime.log.ends()) >= len(plan["steps"]) + 6, 30, "six steps of the second run"
    )
    runtime.kostyorc("cancel", second)
    wait_idle(runtime, second)
    stopped_at = len(runtime.log.ends())
    assert_quiet(runtime)
    assert len(runtime.log.ends()) == stopped_at < 2 * len(plan["steps"])
    assert runtime.status(second)["state"] == "cancelled"
