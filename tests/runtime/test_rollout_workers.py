"""Rollout with real workers: parallel batches, hooks, gates and the failure policy.

The step log of the `steplog` driver carries a time on every `start` and
`end` line, so a test sees which steps overlapped and which waited.
"""

from __future__ import annotations

import json
import signal
from importlib.resources import files

import jsonschema
import pytest
from runtime_harness import Runtime, expected_log, require_broker, rollout_plan, step_label
from test_runtime_workers import assert_quiet

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

STATUS_SCHEMA = json.loads((files("kostyor_dsl") / "schemas" / "status.schema.json").read_text())
BATCH_HOSTS = ["node-1", "node-2", "node-3"]


def labels_of(plan: dict, hosts: list[str]) -> list[str]:
    return [
        step_label(step)
        for step in plan["steps"]
        if step["kind"] != "gate" and set(step.get("hosts") or ["-"]) & set(hosts)
    ]


def times(runtime, labels: list[str], event: str) -> list[float]:
    wanted = set(labels)
    return [
        moment
        for e, label, _, moment in runtime.log.timed_events()
        if e == event and label in wanted
    ]


def assert_each_ran_once(runtime, plan: dict) -> None:
    ends = runtime.log.ends()
    assert sorted(ends) == sorted(expected_log(plan)), runtime.log.events()


def _runtime(request, tmp_path):
    require_broker(request.param)
    instance = Runtime(tmp_path, request.param)
    yield instance
    # A prefork worker with several processes takes 5-15 s to stop warmly on
    # the embedded broker; these tests need nothing from a warm stop.
    for process, _ in instance.workers:
        instance.kill_worker(process, signal.SIGKILL)
    instance.stop_all()


@pytest.fixture(params=["embedded", "redis", "rabbitmq"])
def any_broker(request, tmp_path):
    yield from _runtime(request, tmp_path)


@pytest.fixture(params=["embedded", "redis"])
def two_brokers(request, tmp_path):
    yield from _runtime(request, tmp_path)


@pytest.fixture(params=["embedded"])
def embedded_only(request, tmp_path):
    yield from _runtime(request, tmp_path)


def test_batch_hosts_run_in_parallel_hooks_around_each_host_batches_in_order(any_broker):
    runtime = any_broker
    plan = rollout_plan(
        [
            ("batch", "compute", 1, BATCH_HOSTS),
            ("batch", "compute", 2, ["node-4", "node-5"]),
            ("host", "node-6"),
        ]
    )
    runtime.start_worker(concurrency=3)
    run_id = runtime.submit(plan, hold=True)
    runtime.release("pre-upgrade.refresh-repos.-")
    # The three hosts of batch 1 run at once: each one's first step has
    # started while none of them may finish.
    for host in BATCH_HOSTS:
        runtime.wait_started(f"action.drain.{host}")
    assert runtime.log.ends() == ["pre-upgrade refresh-repos -"]
    runtime.release()
    runtime.wait_state(run_id, "succeeded", 60)
    assert_each_ran_once(runtime, plan)

    # Each host's own steps in plan order: before-hook, services, after-hook.
    for number in range(1, 7):
        host = f"node-{number}"
        mine = [label for label in runtime.log.ends() if label.endswith(f" {host}")]
        assert mine == labels_of(plan, [host])
        if number < 6:
            assert mine[0] == f"action drain {host}" and mine[-1] == f"action enable {host}"

    first = labels_of(plan, BATCH_HOSTS)
    second = labels_of(plan, ["node-4", "node-5"])
    # No step of a batch starts before the one before it has finished.
    assert max(times(runtime, first, "end")) <= min(times(runtime, second, "start"))
    assert max(times(runtime, second, "end")) <= min(
        times(runtime, labels_of(plan, ["node-6"]), "start")
    )
    assert runtime.log.starts()[0] == "pre-upgrade refresh-repos -"
    assert runtime.log.ends()[-1] == "post-upgrade health-check -"

    status = runtime.status(run_id)
    jsonschema.validate(status, STATUS_SCHEMA)
    assert [(b["group"], b["batch"], b["hosts"], b["state"]) for b in status["batches"]] == [
        ("compute", 1, BATCH_HOSTS, "finished"),
        ("compute", 2, ["node-4", "node-5"], "finished"),
    ]
    text = runtime.kostyorc("status", run_id).stdout
    assert "batch compute#1: 3 hosts in parallel, finished" in text


def test_gate_pauses_the_run_until_resume(two_brokers):
    runtime = two_brokers
    plan = rollout_plan(
        [
            ("batch", "compute", 1, ["node-1"]),
            ("gate", "compute", 1),
            ("batch", "compute", 2, ["node-2", "node-3"]),
        ]
    )
    runtime.start_worker(concurrency=2)
    run_id = runtime.submit(plan, sleep=0.05)
    runtime.wait_state(run_id, "paused", 60)
    before_gate = ["pre-upgrade refresh-repos -", *labels_of(plan, ["node-1"])]
    assert runtime.log.ends() == before_gate
    assert_quiet(runtime, 3.0)
    status = runtime.status(run_id)
    jsonschema.validate(status, STATUS_SCHEMA)
    assert status["state"] == "paused"
    assert status["gate"] == {
        "step": "gate:compute#1",
        "message": "batch compute#1 is done: check it, then resume",
    }
    assert status["pause_reason"].startswith("gate gate:compute#1: batch compute#1 is done")
    gate = next(step for step in status["steps"] if step["id"] == "gate:compute#1")
    assert gate["state"] == "waiting"
    text = runtime.kostyorc("status", run_id).stdout
    assert "paused" in text and "gate gate:compute#1" in text and "kostyorc resume" in text

    resumed = runtime.kostyorc("resume", run_id).stdout
    assert "past gate gate:compute#1" in resumed
    runtime.wait_state(run_id, "succeeded", 60)
    assert_each_ran_once(runtime, plan)
    assert runtime.log.ends()[: len(before_gate)] == before_gate
    status = runtime.status(run_id)
    assert status["gate"] is None and status["pause_reason"] is None
    assert {step["state"] for step in status["steps"]} == {"succeeded"}


def failing_plan() -> dict:
    groups = [
        {
            "name": "compute",
            "selector": ["compute"],
            "hosts": 5,
            "batches": [3, 2],
            "max_failed_hosts": 1,
            "source": "test.kostyor:5",
        }
    ]
    broken = ("api", "bad", "compute")
    return rollout_plan(
        [
            ("batch", "compute", 1, BATCH_HOSTS),
            ("batch", "compute", 2, ["node-4", "node-5"]),
            ("host", "node-6"),
        ],
        groups=groups,
        services={"node-2": broken, "node-4": broken},
    )


def start_failing_run(runtime) -> tuple[dict, str, object]:
    plan = failing_plan()
    marker = runtime.tmp / "broken"
    marker.write_text("fix me")
    runtime.start_worker(concurrency=3)
    run_id = runtime.submit(plan, "-p", "fail=nova-bad", "-p", f"fail_marker={marker}", sleep=0.1)
    runtime.wait_state(run_id, "paused", 60)
    status = runtime.wait_for(
        lambda: (
            (document := runtime.status(run_id))
            and all(step["state"] != "running" for step in document["steps"])
            and document
        ),
        30,
        "no step running",
    )
    jsonschema.validate(status, STATUS_SCHEMA)
    states = {step["id"]: step["state"] for step in status["steps"]}
    reason = status["pause_reason"]
    # node-2 failed in batch 1: tolerated, its later steps skipped, the run went on.
    assert states["nova-bad@node-2"] == "failed"
    assert states["nova-compute@node-2"] == states["after:enable:node-2"] == "skipped"
    assert all(
        states[step] == "succeeded" for step in states if step.endswith(("node-1", "node-3"))
    )
    # node-4 is the second failure: past max_failed_hosts 1, the run paused.
    assert states["nova-bad@node-4"] == "failed"
    assert states["nova-compute@node-4"] == states["after:enable:node-4"] == "skipped"
    assert reason.startswith("failure threshold: group compute has 2 failed hosts of 5")
    assert "tolerates 1" in reason
    assert "node-2 (nova-bad@node-2)" in reason and "node-4 (nova-bad@node-4)" in reason
    assert (
        states["nova-api@node-6"] == "pending" and states["post-upgrade:health-check"] == "pending"
    )
    assert status["groups"][0]["failed_hosts"] == {
        "node-2": "nova-bad@node-2",
        "node-4": "nova-bad@node-4",
    }
    assert status["summary"]["skipped"] == 4
    text = runtime.kostyorc("status", run_id).stdout
    assert "paused" in text and "failure threshold" in text and "skipped" in text
    assert_quiet(runtime, 2.0)
    assert not any(label.endswith("node-6") for label in runtime.log.starts())
    return plan, run_id, marker


def test_failure_threshold_pauses_resume_goes_on_and_retry_reruns_failed_hosts(two_brokers):
    runtime = two_brokers
    plan, run_id, marker = start_failing_run(runtime)

    # resume: what comes next runs; the failed hosts stay failed and skipped.
    runtime.kostyorc("resume", run_id)
    runtime.wait_state(run_id, "succeeded", 60)
    status = runtime.status(run_id)
    states = {step["id"]: step["state"] for step in status["steps"]}
    assert states["nova-compute@node-2"] == "skipped" and states["nova-bad@node-4"] == "failed"
    assert states["nova-api@node-6"] == states["post-upgrade:health-check"] == "succeeded"
    assert "nova-compute node-2" not in " ".join(runtime.log.starts())
    summary = runtime.kostyorc("status", run_id).stdout.splitlines()[0]
    assert "succeeded" in summary and "2 failed, 4 skipped" in summary

    # retry: the failed hosts' failed and skipped steps run again.
    marker.unlink()
    runtime.kostyorc("retry", run_id)
    runtime.wait_for(
        lambda: (
            runtime.run_state(run_id) == "succeeded"
            and runtime.log.ends().count("action enable node-4") == 1
        ),
        60,
        "the retried hosts to finish",
    )
    status = runtime.status(run_id)
    assert {step["state"] for step in status["steps"]} == {"succeeded"}
    assert status["groups"][0]["failed_hosts"] == {}
    assert_each_ran_once(runtime, plan)


def test_retry_at_a_failure_threshold_reruns_failed_hosts_first(two_brokers):
    runtime = two_brokers
    plan, run_id, marker = start_failing_run(runtime)
    marker.unlink()
    runtime.kostyorc("retry", run_id)
    runtime.wait_state(run_id, "succeeded", 60)
    assert_each_ran_once(runtime, plan)
    ends = runtime.log.ends()
    # The failed hosts finished before the hosts after them started.
    retried = max(ends.index("action enable node-2"), ends.index("action enable node-4"))
    assert retried < ends.index("upgrade nova-api node-6")
    assert ends[-1] == "post-upgrade health-check -"


def test_sigkill_mid_batch_then_restart_completes_it_with_nothing_lost_or_twice(any_broker):
    runtime = any_broker
    plan = rollout_plan([("batch", "compute", 1, BATCH_HOSTS), ("host", "node-4")], hooks=False)
    worker = runtime.start_worker(concurrency=3)
    run_id = runtime.submit(plan, hold=True)
    runtime.release("pre-upgrade.refresh-repos.-")
    runtime.release("upgrade.nova-api.node-1")
    # node-1 is one step further: three hosts of the batch are running at once.
    for key in (
        "upgrade.nova-compute.node-1",
        "upgrade.nova-api.node-2",
        "upgrade.nova-api.node-3",
    ):
        runtime.wait_started(key)
    runtime.kill_worker(worker, signal.SIGKILL)
    started, ended = runtime.log.starts(), runtime.log.ends()
    killed = [label for label in started if label not in ended]
    assert sorted(killed) == [
        "upgrade nova-api node-2",
        "upgrade nova-api node-3",
        "upgrade nova-compute node-1",
    ]
    runtime.release()
    runtime.start_worker(concurrency=3)
    runtime.wait_state(run_id, "succeeded", 60)
    assert_each_ran_once(runtime, plan)
    starts = runtime.log.starts()
    for label in expected_log(plan):
        assert starts.count(label) == (2 if label in killed else 1), (label, starts)


def test_per_host_route_runs_a_batch_on_each_hosts_own_worker_in_parallel(embedded_only):
    plan = rollout_plan([("batch", "compute", 1, ["node-1", "node-2"]), ("host", "node-3")])
    for host in ("node-1", "node-2", "node-3"):
        embedded_only.start_worker(host=host)
    run_id = embedded_only.submit(plan, "--route", "per-host", hold=True)
    embedded_only.release("pre-upgrade.refresh-repos.-")
    # Both hosts of the batch run at once, each on its own worker.
    embedded_only.wait_started("action.drain.node-1")
    embedded_only.wait_started("action.drain.node-2")
    embedded_only.release()
    embedded_only.wait_state(run_id, "succeeded", 60)
    assert_each_ran_once(embedded_only, plan)
    for event, label, where in embedded_only.log.events():
        hosts = label.split(" ")[2]
        if hosts != "-":
            assert hosts == where, (event, label, where)
    one, two = labels_of(plan, ["node-1"]), labels_of(plan, ["node-2"])
    assert max(times(embedded_only, one + two, "end")) <= min(
        times(embedded_only, labels_of(plan, ["node-3"]), "start")
    )


def test_shell_driver_runs_hooks_and_post_upgrade_through_a_worker(embedded_only):
    plan = rollout_plan([("batch", "compute", 1, ["node-1", "node-2"])])
    plan["driver"] = {"name": "shell", "parameters": {}}
    out = embedded_only.tmp / "shell.log"
    embedded_only.start_worker(concurrency=2)
    path = embedded_only.write_plan(plan)
    done = embedded_only.kostyorc(
        "run",
        path,
        "--wait",
        "-p",
        f"command=echo upgrade {{service}} {{host}} >> {out}",
        "-p",
        f"action_command=echo {{action}} {{host}} >> {out}",
        "-p",
        f"pre_upgrade_command=echo pre {{action}} >> {out}",
        "-p",
        f"post_upgrade_command=echo post {{action}} >> {out}",
    )
    run_id = done.stdout.strip().splitlines()[-1]
    assert embedded_only.run_state(run_id) == "succeeded"
    lines = out.read_text().splitlines()
    assert lines[0] == "pre refresh-repos" and lines[-1] == "post health-check"
    for host in ("node-1", "node-2"):
        assert [line for line in lines if line.endswith(host)] == [
            f"drain {host}",
            f"upgrade nova-api {host}",
            f"upgrade nova-compute {host}",
            f"enable {host}",
        ]
