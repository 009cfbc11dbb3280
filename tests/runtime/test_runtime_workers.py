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
from runtime_harness import expected_log, hold_keys, make_plan

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

# A negative check ("no step starts"): a slow machine can only make it weaker, never fail it.
QUIET_SECONDS = 2.0
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
    run_id = runtime.submit(plan, sleep=0)
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
    keys = hold_keys(plan)
    runtime.start_worker()
    run_id = runtime.submit(plan, hold=True)
    runtime.release(keys[0])
    runtime.wait_started(keys[1])
    # Paused while step 2 runs: it finishes, and nothing after it starts.
    runtime.kostyorc("pause", run_id)
    runtime.release()
    wait_idle(runtime, run_id)
    assert runtime.log.ends() == expected_log(plan)[:2]
    assert_quiet(runtime)
    assert runtime.status(run_id)["state"] == "paused"
    runtime.kostyorc("resume", run_id)
    runtime.wait_state(run_id, "succeeded", 60)
    assert runtime.log.ends() == expected_log(plan)
    assert runtime.log.starts() == expected_log(plan)


def test_pause_and_cancel_survive_worker_restarts(runtime):
    plan = make_plan(hosts=3)
    keys = hold_keys(plan)
    worker = runtime.start_worker()
    run_id = runtime.submit(plan, hold=True)
    runtime.release(keys[0])
    runtime.wait_started(keys[1])
    runtime.kostyorc("pause", run_id)
    runtime.release(keys[1])
    wait_idle(runtime, run_id)
    runtime.kill_worker(worker, signal.SIGTERM)
    worker = runtime.start_worker()
    assert_quiet(runtime)
    assert runtime.run_state(run_id) == "paused"
    assert runtime.log.ends() == expected_log(plan)[:2]

    runtime.kostyorc("resume", run_id)
    for key in keys[2:4]:
        runtime.release(key)
    runtime.wait_started(keys[4])
    done = runtime.kostyorc("cancel", run_id)
    assert "cancelled; nova-api@node-2 finishes first" in done.stdout
    runtime.release()
    wait_idle(runtime, run_id)
    # The step running at the cancel finished; none after it started.
    assert runtime.log.ends() == expected_log(plan)[:5]
    runtime.kill_worker(worker, signal.SIGKILL)
    runtime.start_worker()
    assert_quiet(runtime)
    status = runtime.status(run_id)
    assert status["state"] == "cancelled"
    assert runtime.log.ends() == expected_log(plan)[:5]
    assert runtime.log.starts() == expected_log(plan)[:5]
    assert "revoked" in {step["state"] for step in status["steps"]}
    resumed = runtime.kostyorc("resume", run_id, check=False)
    assert resumed.returncode == 1 and "cancelled" in resumed.stderr


def test_sigkill_of_the_whole_worker_mid_step_loses_nothing(runtime):
    plan = make_plan(hosts=2)
    keys = hold_keys(plan)
    worker = runtime.start_worker()
    run_id = runtime.submit(plan, hold=True)
    runtime.release(keys[0])
    runtime.release(keys[1])
    runtime.wait_started(keys[2])
    runtime.kill_worker(worker, signal.SIGKILL)
    killed_in = runtime.log.starts()[-1]
    assert killed_in == expected_log(plan)[2]
    runtime.release()
    runtime.start_worker()
    runtime.wait_state(run_id, "succeeded", 60)
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
        plan, "-p", "fail=nova-conductor", "-p", f"fail_marker={marker}", sleep=0
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
    keys = hold_keys(plan)
    runtime.start_worker(host="node-1")
    runtime.start_worker(host="node-2")
    run_id = runtime.submit(plan, "--route", "per-host", hold=True)
    runtime.release(keys[0])
    runtime.release(keys[1])
    runtime.wait_started(keys[2])
    runtime.kostyorc("pause", run_id)
    runtime.release()
    wait_idle(runtime, run_id)
    assert runtime.log.ends() == expected_log(plan)[:3]
    assert_quiet(runtime)
    runtime.kostyorc("resume", run_id)
    runtime.wait_state(run_id, "succeeded", 60)
    assert runtime.log.ends() == expected_log(plan)
    for event, label, where in runtime.log.events():
        hosts = label.split(" ")[2]
        if hosts != "-":
            assert hosts == where, (event, label, where)

    # The second run's steps are held until released one by one.
    (runtime.hold / "release").unlink()
    for path in runtime.hold.glob("started.*"):
        path.unlink()
    for path in runtime.hold.glob("release.*"):
        path.unlink()
    second = runtime.submit(plan, "--route", "per-host", hold=True)
    for key in keys[:6]:
        runtime.release(key)
    runtime.wait_started(keys[6])
    runtime.kostyorc("cancel", second)
    runtime.release()
    wait_idle(runtime, second)
    assert runtime.log.ends()[len(plan["steps"]) :] == expected_log(plan)[:7]
    assert_quiet(runtime)
    assert runtime.log.ends()[len(plan["steps"]) :] == expected_log(plan)[:7]
    assert runtime.status(second)["state"] == "cancelled"
