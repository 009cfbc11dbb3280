"""The Redis unit lock's fences, on the shared Redis (keys under a namespace of the test's own)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from own_services import RedisServer
from runtime_harness import make_plan
from runtime_harness import require_broker as _require

from kostyor_dsl.runtime.redis_store import RedisRunStore
from kostyor_dsl.runtime.run_store import RunRecord, StepRecord

TTL = 0.6


@pytest.fixture
def store():
    _require("redis")
    prefix = f"kt-{uuid.uuid4().hex[:10]}"
    instance = RedisRunStore("redis://127.0.0.1:6379/0", prefix=prefix, lock_ttl=TTL)
    now = time.time()
    instance.create_run(RunRecord("r1", "running", "noop", {}, "run", 4, now, now), make_plan(1))
    yield instance
    keys = list(instance.client.scan_iter(f"{prefix}:*"))
    if keys:
        instance.client.delete(*keys)


def _lapse(store: RedisRunStore) -> None:
    """What a Redis outage longer than the lease does to the lock: its key expires."""
    store.client.delete(store._key("r1", "lock", "0"))


def test_a_holder_cut_off_past_its_lease_keeps_the_unit(store):
    with store.unit_lock("r1", 0) as first:
        assert first
        _lapse(store)
        assert store.unit_locked("r1", 0)  # its heartbeat says it is alive
        started = time.monotonic()
        with store.unit_lock("r1", 0) as second:
            # The new attempt waited up to one lease and saw the holder alive.
            assert second is None
        assert time.monotonic() - started < 30
        first.beat_once()  # the heartbeat takes the lock back
        assert first.held()
        assert first.put_step("r1", StepRecord(0, "succeeded"))
    assert store.step("r1", 0).state == "succeeded"
    assert not store.unit_locked("r1", 0)


def test_a_dead_holder_is_taken_over_after_one_lease(store):
    # A holder that never released its lock and whose heartbeat stopped.
    store.client.set(store._key("r1", "owner", "0"), "dead-holder")
    assert not store.unit_locked("r1", 0)
    with store.unit_lock("r1", 0) as lock:
        assert lock and lock.held()
        assert lock.put_step("r1", StepRecord(0, "succeeded"))


def test_a_holder_that_lost_its_lock_records_nothing(store):
    with store.unit_lock("r1", 0) as first:
        # Another holder took the unit over (the first one's heartbeat stalled past
        # the lease and it was declared dead).
        store.client.set(store._key("r1", "lock", "0"), "someone-else")
        store.client.set(store._key("r1", "owner", "0"), "someone-else")
        assert not first.held()
        assert not first.put_step("r1", StepRecord(0, "succeeded"))
        first.beat_once()
        assert first.lost
    assert store.step("r1", 0).state == "pending"
    assert store.client.get(store._key("r1", "lock", "0")) == "someone-else"


def test_a_lock_key_that_lapsed_alone_does_not_lose_the_outcome(store):
    """The key expired (an outage) and the heartbeat has not taken it back yet: the
    unit is still the holder's, so its outcome is recorded (the fence is `owner`)."""
    with store.unit_lock("r1", 0) as first:
        first.stop.set()  # the heartbeat is as stalled as during an outage
        _lapse(store)
        store.client.delete(store.alive_key(first.token))
        assert first.held()
        assert first.put_step("r1", StepRecord(0, "succeeded"))
        # and the write took the lock key back for it
        assert store.client.get(store._key("r1", "lock", "0")) == first.token
    assert store.step("r1", 0).state == "succeeded"


def test_an_outage_longer_than_the_lease_records_a_finished_step_once(tmp_path):
    """Issue 21 item 4, on a redis-server of the test's own: the unit's lock key and
    heartbeat expire while Redis is away, the step finishes meanwhile; when Redis is
    back its outcome is recorded (exactly once), not dropped as a lost lock (which
    made reconciliation run the finished step again)."""
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        own = RedisRunStore(server.url, prefix="kt", lock_ttl=TTL)
        now = time.time()
        own.create_run(RunRecord("r1", "running", "noop", {}, "run", 4, now, now), make_plan(1))
        with own.unit_lock("r1", 0) as lock:
            assert lock
            lock.stop.set()  # an outage: no beat gets through
            lock.thread.join()
            # Expired while Redis is away (redis-server keeps absolute expiry times).
            own.client.pexpire(own._key("r1", "lock", "0"), 1)
            own.client.pexpire(own.alive_key(lock.token), 1)
            server.stop()
            recorded = []
            writer = threading.Thread(
                target=lambda: recorded.append(lock.put_step("r1", StepRecord(0, "succeeded")))
            )
            writer.start()  # tries, and tries again while Redis is away
            server.start()
            writer.join(60)
            assert recorded == [True]
            assert not lock.lost
        assert own.step("r1", 0).state == "succeeded"
        assert not own.unit_locked("r1", 0)
        # A copy of the step delivered now finds it done (tasks.step reads this first).
        with own.unit_lock("r1", 0) as again:
            assert again
            assert own.step("r1", 0).state == "succeeded"
    finally:
        server.kill()
