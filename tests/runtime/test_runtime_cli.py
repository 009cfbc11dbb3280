"""The runtime CLI against real workers on the embedded default."""

from __future__ import annotations

import json
import signal
import sys
import time

import pytest
from runtime_harness import expected_log, make_plan, start_plain_celery_worker

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_run_wait_follows_to_the_end_and_prints_the_run_id_last(embedded):
    plan = make_plan(hosts=1)
    embedded.start_worker()
    path = embedded.write_plan(plan)
    done = embedded.kostyorc(
        "run", path, "--wait", "-p", f"log={embedded.log.path}", "-p", "sleep=0.05"
    )
    run_id = done.stdout.strip().splitlines()[-1]
    assert embedded.run_state(run_id) == "succeeded"
    assert f"run {run_id}: succeeded, 4/4 steps succeeded" in done.stderr
    assert "step 4/4 succeeded nova-scheduler@node-1" in done.stderr
    assert embedded.log.ends() == expected_log(plan)

    runs = embedded.kostyorc("runs").stdout
    assert run_id in runs and "succeeded" in runs
    listed = json.loads(embedded.kostyorc("runs", "--format", "json").stdout)
    assert [record["run_id"] for record in listed] == [run_id]

    marker = embedded.tmp / "broken"
    marker.write_text("x")
    failed = embedded.kostyorc(
        "run",
        path,
        "--wait",
        "-p",
        f"log={embedded.log.path}",
        "-p",
        "fail=nova-api",
        "-p",
        f"fail_marker={marker}",
        check=False,
    )
    assert failed.returncode == 1
    assert "step nova-api@node-1 failed" in failed.stderr


def test_plain_celery_worker_runs_a_plan_with_the_noop_driver(embedded):
    plan = make_plan(hosts=1, driver="noop")
    start_plain_celery_worker(embedded)
    path = embedded.write_plan(plan)
    log = embedded.tmp / "noop.log"
    run_id = embedded.kostyorc("run", path, "-p", f"log={log}").stdout.strip().splitlines()[-1]
    embedded.wait_state(run_id, "succeeded", 30)
    assert log.read_text().splitlines() == expected_log(plan)


def test_cancel_now_terminates_the_running_step(embedded):
    plan = make_plan(hosts=1)
    embedded.start_worker()
    run_id = embedded.submit(plan, sleep=20)
    embedded.wait_for(lambda: len(embedded.log.starts()) == 1, 30, "the first step to start")
    done = embedded.kostyorc("cancel", run_id, "--now")
    assert "terminated pre-upgrade:refresh-repos" in done.stdout
    embedded.wait_for(
        lambda: "Terminating" in embedded.worker_logs(), 10, "the worker to terminate the step"
    )
    status = embedded.status(run_id)
    assert status["state"] == "cancelled"
    assert [step["state"] for step in status["steps"]] == ["revoked"] * 4
    assert embedded.log.ends() == []
    started = time.monotonic()
    embedded.kill_worker(embedded.workers[0][0], signal.SIGTERM)
    # A warm shutdown would wait for a 20 s step still running.
    assert time.monotonic() - started < 10


def test_shell_driver_through_a_worker_keeps_a_hostile_service_one_argument(embedded):
    # A hostile host name never gets this far (run refuses it: test_run_checks).
    plan = make_plan(hosts=1, services=("api",), pre_upgrade=False, driver="shell")
    plan["steps"][0].update(service="a; rm -rf /", id="a; rm -rf /@node-1")
    embedded.start_worker()
    path = embedded.write_plan(plan)
    command = f"{sys.executable} -c 'import sys; print(sys.argv[1:])' {{host}} {{service}}"
    done = embedded.kostyorc("run", path, "--wait", "-p", f"command={command}", "-p", "timeout=30")
    run_id = done.stdout.strip().splitlines()[-1]
    step = embedded.status(run_id)["steps"][0]
    assert step["state"] == "succeeded"
    (host,) = step["result"]["hosts"]
    assert host["output"].strip() == "['node-1', 'a; rm -rf /']"
    assert host["exit_code"] == 0
