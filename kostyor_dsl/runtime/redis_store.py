"""The run record in Redis, for deployments whose result backend is Redis.

Same contract as `FileRunStore`.  Unit locks are keys with a short expiry
that a heartbeat thread renews while the unit runs, so a SIGKILLed holder's
lock lapses after `lock_ttl` seconds (`KOSTYOR_LOCK_TTL`, 10 by default).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

from kostyor_dsl.runtime.errors import UnknownRun
from kostyor_dsl.runtime.run_store import LIVE_STATES, RunRecord, StepRecord

LOCK_TTL = 10.0

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class RedisRunStore:
    def __init__(self, url: str, prefix: str = "kostyor", lock_ttl: float = LOCK_TTL) -> None:
        import redis

        self.url = url
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self.client = redis.Redis.from_url(url, decode_responses=True)

    def describe(self) -> str:
        from kostyor_dsl.runtime.settings import redact

        return f"Redis at {redact(self.url)}"

    def _key(self, run_id: str, *parts: str) -> str:
        return ":".join((self.prefix, "run", run_id, *parts))

    def create_run(self, record: RunRecord, plan: dict) -> None:
        pipe = self.client.pipeline()
        pipe.set(self._key(record.run_id, "plan"), json.dumps(plan, sort_keys=True))
        pipe.set(self._key(record.run_id), json.dumps(record.to_dict(), sort_keys=True))
        pipe.zadd(f"{self.prefix}:runs", {record.run_id: record.created})
        if record.state in LIVE_STATES:
            pipe.sadd(f"{self.prefix}:live", record.run_id)
        pipe.execute()

    def run(self, run_id: str) -> RunRecord:
        text = self.client.get(self._key(run_id))
        if text is None:
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}")
        return RunRecord.from_dict(json.loads(text))

    def plan(self, run_id: str) -> dict:
        text = self.client.get(self._key(run_id, "plan"))
        if text is None:
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}")
        return json.loads(text)

    def runs(self) -> list[RunRecord]:
        ids = self.client.zrange(f"{self.prefix}:runs", 0, -1)
        if not ids:
            return []
        texts = self.client.mget([self._key(run_id) for run_id in ids])
        return [RunRecord.from_dict(json.loads(text)) for text in texts if text]

    def live_runs(self) -> list[RunRecord]:
        """The running and paused runs."""
        ids = sorted(self.client.smembers(f"{self.prefix}:live"))
        if not ids:
            return []
        texts = self.client.mget([self._key(run_id) for run_id in ids])
        records = [RunRecord.from_dict(json.loads(text)) for text in texts if text]
        live = [record for record in records if record.state in LIVE_STATES]
        return sorted(live, key=lambda record: (record.created, record.run_id))

    def update_run(self, run_id: str, change: Callable[[RunRecord], RunRecord]) -> RunRecord:
        import redis

        key = self._key(run_id)
        while True:
            with self.client.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    text = pipe.get(key)
                    if text is None:
                        raise UnknownRun(f"no run {run_id!r} in {self.describe()}")
                    current = RunRecord.from_dict(json.loads(text))
                    changed = change(current)
                    if changed is current or changed == current:
                        return current
                    changed = replace(changed, updated=time.time())
                    pipe.multi()
                    pipe.set(key, json.dumps(changed.to_dict(), sort_keys=True))
                    if changed.state in LIVE_STATES:
                        pipe.sadd(f"{self.prefix}:live", run_id)
                    else:
                        pipe.srem(f"{self.prefix}:live", run_id)
                    pipe.execute()
                    return changed
                except redis.WatchError:
                    continue

    def step(self, run_id: str, index: int) -> StepRecord:
        text = self.client.hget(self._key(run_id, "steps"), str(index))
        return StepRecord.from_dict(json.loads(text)) if text else StepRecord(index)

    def steps(self, run_id: str, count: int) -> list[StepRecord]:
        stored = self.client.hgetall(self._key(run_id, "steps"))
        return [
            StepRecord.from_dict(json.loads(stored[str(index)]))
            if str(index) in stored
            else StepRecord(index)
            for index in range(count)
        ]

    def steps_at(self, run_id: str, indexes: list[int]) -> dict[int, StepRecord]:
        if not indexes:
            return {}
        texts = self.client.hmget(self._key(run_id, "steps"), [str(index) for index in indexes])
        return {
            index: StepRecord.from_dict(json.loads(text)) if text else StepRecord(index)
            for index, text in zip(indexes, texts, strict=True)
        }

    def put_step(self, run_id: str, record: StepRecord) -> None:
        self.client.hset(
            self._key(run_id, "steps"),
            str(record.index),
            json.dumps(record.to_dict(), sort_keys=True),
        )

    @contextlib.contextmanager
    def unit_lock(self, run_id: str, index: int) -> Iterator[bool]:
        key = self._key(run_id, "lock", str(index))
        token = uuid.uuid4().hex
        ttl_ms = int(self.lock_ttl * 1000)
        if not self.client.set(key, token, nx=True, px=ttl_ms):
            yield False
            return
        stop = threading.Event()

        def heartbeat() -> None:
            while not stop.wait(self.lock_ttl / 3):
                with contextlib.suppress(Exception):
                    self.client.eval(_RENEW, 1, key, token, ttl_ms)

        beat = threading.Thread(target=heartbeat, name=f"kostyor-lock-{index}", daemon=True)
        beat.start()
        try:
            yield True
        finally:
            stop.set()
            beat.join(timeout=self.lock_ttl)
            self.client.eval(_RELEASE, 1, key, token)

    def unit_locked(self, run_id: str, index: int) -> bool:
        return bool(self.client.exists(self._key(run_id, "lock", str(index))))
