"""Faults with real workers: a step longer than the broker's delivery timeout, a
store outage mid-step, a worker's main process killed alone, SIGTERM to the
worker's process group, and the queues a run leaves behind.

Each step here is held (`-p hold=...`): it runs until the test releases it,
so what the test sees does not depend on how fast the machine is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
from own_services import RabbitNode, RedisServer
from runtime_harness import Runtime, expected_log, hold_keys, make_plan, wait_until
from runtime_harness import require_broker as _require

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def own_rabbit(tmp_path):
    node = RabbitNode(tmp_path / "rabbit", consumer_timeout_ms=1000)
    node.start()
    yield node
    node.kill()


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    yield server
    server.kill()


def _stop_workers(runtime: Runtime) -> None:
    runtime.stop_all()


def test_a_step_longer_than_rabbitmqs_consumer_timeout_keeps_the_worker_and_the_run(
    tmp_path, own_rabbit
):
    runtime = Runtime(tmp_path, "rabbitmq", broker_url=own_rabbit.url)
    try:
        plan = make_plan(hosts=1, services=("api", "conductor"), pre_upgrade=False)
        keys = hold_keys(plan)
        worker = runtime.start_worker()
        run_id = runtime.submit(plan, hold=True)
        runtime.wait_started(keys[0])
        # The node closes a channel whose delivery stays unacknowledged for 1 s,
        # checked every 250 ms; the step outlasts that several times over.
        time.sleep(5)
        runtime.release(keys[0])
        runtime.wait_started(keys[1])
        time.sleep(5)
        runtime.release()
        runtime.wait_state(run_id, "succeeded", 60)
        assert worker.poll() is None, runtime.worker_logs()[-3000:]
        assert "PRECONDITION_FAILED" not in runtime.worker_logs()
        assert runtime.log.ends() == expected_log(plan)
        assert runtime.log.starts() == expected_log(plan)
    finally:
        _stop_workers(runtime)


def test_a_redis_outage_mid_step_never_lets_a_second_worker_start_the_step(tmp_path, own_redis):
    runtime = Runtime(tmp_path, "redis", broker_url=own_redis.url)
    try:
        plan = make_plan(hosts=1, services=("api", "conductor"), pre_upgrade=False)
        keys = hold_keys(plan)
        runtime.start_worker()
        runtime.start_worker()
        run_id = runtime.submit(plan, hold=True)
        runtime.wait_started(keys[0])
        own_redis.stop()
        # Longer than the step lock's lease (KOSTYOR_LOCK_TTL 3 s): its key
        # expires while Redis is away.
        time.sleep(7)
        own_redis.start()
        # Reconciliation finds the run idle after KOSTYOR_STALL_SECONDS (4 s):
        # give both workers several rounds of it.
        time.sleep(10)
        assert runtime.started() == [f"{keys[0]}.1"], runtime.worker_logs()[-4000:]
        runtime.release()
        runtime.wait_state(run_id, "succeeded", 90)
        assert runtime.log.ends() == expected_log(plan)
        assert runtime.log.starts() == expected_log(plan)
        events = runtime.log.timed_events()
        first_end = next(t for e, label, _, t in events if e == "end")
        second_start = [t for e, label, _, t in events if e == "start"][1]
        assert first_end <= second_start
    finally:
        _stop_workers(runtime)


def test_a_step_finished_during_a_redis_outage_longer_than_the_lease_is_not_run_again(
    tmp_path, own_redis
):
    """Issue 21 item 4: the step ends while Redis is away, its lock key expires; when
    Redis is back the outcome is recorded once and the step never runs again."""
    runtime = Runtime(tmp_path, "redis", broker_url=own_redis.url)
    try:
        plan = make_plan(hosts=1, services=("api", "conductor"), pre_upgrade=False)
        keys = hold_keys(plan)
        runtime.start_worker()
        runtime.start_worker()
        run_id = runtime.submit(plan, hold=True)
        runtime.wait_started(keys[0])
        own_redis.stop()
        runtime.release(keys[0])
        wait_until(lambda: runtime.log.ends(), 60, "the step to end while Redis is away")
        # The outage itself: longer than the lock's lease (KOSTYOR_LOCK_TTL 3 s).
        time.sleep(7)
        own_redis.start()
        runtime.wait_started(keys[1])
        runtime.release()
        runtime.wait_state(run_id, "succeeded", 90)
        assert runtime.started() == [f"{keys[0]}.1", f"{keys[1]}.1"], runtime.worker_logs()[-4000:]
        assert runtime.log.starts() == expected_log(plan)
    finally:
        _stop_workers(runtime)


@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_kill_9_of_the_workers_main_process_stops_the_orphaned_command_before_the_step_runs_again(
    tmp_path, broker
):
    _require(broker)
    runtime = Runtime(tmp_path, broker)
    try:
        plan = make_plan(hosts=1, services=("api",), pre_upgrade=False)
        keys = hold_keys(plan)
        worker = runtime.start_worker()
        run_id = runtime.submit(plan, "-p", "child=true", hold=True)
        started = runtime.wait_started(keys[0])
        child = int(wait_until(lambda: started.read_text(), 30, "the step's command to start"))
        assert _alive(child)
        # What the OOM killer does: the main process only.
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        # The pool process died with it; the step's command did not.
        assert _alive(child)
        runtime.start_worker()
        runtime.wait_started(keys[0], attempt=2)
        # The second attempt started only once the orphaned command was gone.
        assert not _alive(child)
        runtime.release()
        runtime.wait_state(run_id, "succeeded", 60)
        assert runtime.log.ends() == expected_log(plan)
        assert runtime.log.starts() == expected_log(plan) * 2
    finally:
        _stop_workers(runtime)


def test_a_command_that_left_its_process_group_is_stopped_too_and_the_remote_side(tmp_path):
    """Issue 21 item 5: a `setsid` command escaped the group-based cleanup and
    overlapped the next attempt; the driver's remote side was not stopped."""
    _require("embedded")
    runtime = Runtime(tmp_path, "embedded")
    try:
        plan = make_plan(hosts=1, services=("api",), pre_upgrade=False)
        keys = hold_keys(plan)
        worker = runtime.start_worker()
        run_id = runtime.submit(
            plan, "-p", "child=true", "-p", "setsid=true", "-p", "remote=true", hold=True
        )
        started = runtime.wait_started(keys[0])
        child = int(wait_until(lambda: started.read_text(), 30, "the step's command to start"))
        assert os.getsid(child) == child  # it left the worker's session and group
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        assert _alive(child)
        runtime.start_worker()
        runtime.wait_started(keys[0], attempt=2)
        assert not _alive(child)
        assert (runtime.hold / f"stopped-remote.{keys[0]}").exists()
        runtime.release()
        runtime.wait_state(run_id, "succeeded", 60)
        assert runtime.log.ends() == expected_log(plan)
    finally:
        _stop_workers(runtime)


def test_sigterm_to_the_workers_process_group_lets_the_running_step_finish(embedded):
    runtime = embedded
    plan = make_plan(hosts=1, services=("api", "conductor"), pre_upgrade=False)
    keys = hold_keys(plan)
    worker = runtime.start_worker()
    run_id = runtime.submit(plan, "-p", "child=true", hold=True)
    started = runtime.wait_started(keys[0])
    child = int(wait_until(lambda: started.read_text(), 30, "the step's command to start"))
    # systemd's stop, or Ctrl-C in a terminal: the whole process group.
    os.killpg(worker.pid, signal.SIGTERM)
    runtime.wait_for(
        lambda: "worker: Warm shutdown" in runtime.worker_logs(), 30, "the warm shutdown"
    )
    assert worker.poll() is None and _alive(child)
    runtime.release()
    worker.wait(timeout=60)
    # The step finished and was recorded (a worker in its warm shutdown may
    # still take the next one, and finishes it too).
    assert runtime.status(run_id)["steps"][0]["state"] == "succeeded"
    assert runtime.log.ends()[:1] == expected_log(plan)[:1]
    runtime.start_worker()
    runtime.wait_state(run_id, "succeeded", 60)
    assert runtime.log.ends() == expected_log(plan)
    assert runtime.log.starts() == expected_log(plan)


def _queue_exists(url: str, name: str) -> bool:
    from kombu import Connection

    with Connection(url) as connection:
        channel = connection.channel()
        try:
            channel.queue_declare(queue=name, passive=True)
            return True
        except Exception as exc:
            if "NOT_FOUND" in str(exc) or getattr(exc, "code", None) == 404:
                return False
            raise
        finally:
            with contextlib.suppress(Exception):
                channel.close()


def test_a_run_that_ends_leaves_no_queue_behind_on_rabbitmq(tmp_path):
    _require("rabbitmq")
    runtime = Runtime(tmp_path, "rabbitmq")
    url = runtime.env["KOSTYOR_BROKER_URL"]
    try:
        plan = make_plan(hosts=2, services=("api",), pre_upgrade=False)
        runtime.start_worker(host="node-1")
        runtime.start_worker(host="node-2")
        finished = runtime.submit(plan, "--route", "per-host", sleep=0)
        runtime.wait_state(finished, "succeeded", 60)
        cancelled = runtime.submit(plan, hold=True)
        runtime.wait_started(hold_keys(plan)[0])
        runtime.kostyorc("cancel", cancelled)
        runtime.release()
        queues = [
            f"kostyor.run.{finished}",
            f"kostyor.run.{finished}.host.node-1",
            f"kostyor.run.{finished}.host.node-2",
            f"kostyor.run.{cancelled}",
        ]
        runtime.wait_for(
            lambda: not any(_queue_exists(url, name) for name in queues),
            60,
            "the ended runs' queues to be deleted",
            interval=0.5,
        )
        assert runtime.run_state(cancelled) == "cancelled"
    finally:
        _stop_workers(runtime)
