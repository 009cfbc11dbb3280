"""The Redis unit lock's fences, on the shared Redis (keys under a namespace of the test's own)."""

from __future__ import annotations

import time
import uuid

import pytest
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
        # Another holder has the lock (the first one's heartbeat stalled past
        # the lease and it was declared dead).
        store.client.set(store._key("r1", "lock", "0"), "someone-else")
        assert not first.held()
        assert not first.put_step("r1", StepRecord(0, "succeeded"))
        first.beat_once()
        assert first.lost
    assert store.step("r1", 0).state == "pending"
    assert store.client.get(store._key("r1", "lock", "0")) == "someone-else"
