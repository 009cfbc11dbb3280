"""The run record in Redis, for deployments whose result backend is Redis.

Same contract as `FileRunStore`.  Unit locks are keys with a short expiry
that a heartbeat thread renews while the unit runs, so a SIGKILLed holder's
lock lapses after `lock_ttl` seconds (`KOSTYOR_LOCK_TTL`, 10 by default).

A lock can also lapse under a live holder: a Redis outage longer than the
lease stops the heartbeat, and the key expires while Redis is away.  So the
lock key only keeps two attempts from starting at once; what decides whose
outcome counts is `owner:<index>`, a fencing token that changes only when a
new holder takes the unit over:

- a new holder that takes the lock key and finds another holder's token in
  `owner` waits one lease for that holder's heartbeat (`alive:<token>`); if
  it comes back the holder is running, cut off a moment, and the new one
  gives up without touching `owner`; if not, it swaps `owner` to its own
  token (compare-and-set: only if it is still the one it found);
- the heartbeat renews `alive:<token>` and the lock key, takes the lock key
  back when it lapsed, and knows the unit lost only when `owner` names
  another holder;
- the outcome is written in one script that checks `owner` is still the
  writer's token (`put_step`): the lock key having expired during an
  outage does not matter, a takeover does.  So a finished step's outcome is
  recorded exactly once: by its holder if nobody took over, else by the one
  who did (the holder records nothing).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

from kostyor_dsl.runtime.errors import CorruptRecord, UnknownRun
from kostyor_dsl.runtime.records import LIVE_STATES, RunRecord, StepRecord
from kostyor_dsl.runtime.run_store import read_plan, read_record

LOCK_TTL = 10.0
# How long a finished unit keeps trying to record its outcome while Redis is away.
RECORD_PATIENCE = 120.0

# KEYS: lock, owner, alive; ARGV: token
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
if redis.call('get', KEYS[2]) == ARGV[1] then redis.call('del', KEYS[2]) end
redis.call('del', KEYS[3])
return 1
"""
# KEYS: owner, steps, lock; ARGV: token, field, record, ttl in ms.  Written only by
# the unit's owner (the fencing token), whatever became of the lock key.
_PUT_IF_OWNER = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('hset', KEYS[2], ARGV[2], ARGV[3])
if not redis.call('get', KEYS[3]) then redis.call('set', KEYS[3], ARGV[1], 'PX', ARGV[4]) end
return 1
"""
# KEYS: lock, alive, owner; ARGV: token, ttl in ms.  1: still the owner; 0: taken over.
_BEAT = """
if redis.call('get', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('set', KEYS[2], '1', 'PX', ARGV[2])
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) end
if not holder then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
"""
# KEYS: owner; ARGV: the owner found (or ''), token.  1: the unit is the token's.
_TAKE_OVER = """
local found = redis.call('get', KEYS[1]) or ''
if found ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[2])
return 1
"""


class RedisLock:
    """A held unit lock in Redis, renewed by a heartbeat thread."""

    def __init__(self, store: RedisRunStore, lock: str, owner: str, token: str) -> None:
        self.store = store
        self.keys = (lock, owner, store.alive_key(token))
        self.token = token
        self.lost = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="kostyor-lock", daemon=True)

    def beat_once(self) -> None:
        ttl_ms = int(self.store.lock_ttl * 1000)
        lock, owner, alive = self.keys
        if not self.store.client.eval(_BEAT, 3, lock, alive, owner, self.token, ttl_ms):
            self.lost = True

    def _beat(self) -> None:
        while not self.stop.wait(self.store.lock_ttl / 3) and not self.lost:
            # Redis may be away for a while: the next beat tries again.
            with contextlib.suppress(Exception):
                self.beat_once()

    def held(self) -> bool:
        """Whether the unit is still this holder's (nobody took it over)."""
        if self.lost:
            return False
        return self.store.client.get(self.keys[1]) == self.token

    def put_step(self, run_id: str, record: StepRecord) -> bool:
        """Record the unit's outcome if the unit is still this holder's (`owner` is
        its token), in one script: the check and the write cannot be split by a
        takeover.

        Redis being away does not lose the outcome: the write is tried again for a
        while, and succeeds once Redis is back unless another holder took the unit
        over meanwhile (the lock key lapsing alone does not count)."""
        import redis

        text = json.dumps(record.to_dict(), sort_keys=True)
        steps = self.store._key(run_id, "steps")
        deadline = time.monotonic() + max(RECORD_PATIENCE, 6 * self.store.lock_ttl)
        while not self.lost:
            try:
                lock, owner, _ = self.keys
                ttl_ms = int(self.store.lock_ttl * 1000)
                args = (self.token, str(record.index), text, ttl_ms)
                if self.store.client.eval(_PUT_IF_OWNER, 3, owner, steps, lock, *args):
                    return True
                self.lost = True
                return False
            except (redis.ConnectionError, redis.TimeoutError):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)
        return False

    def release(self) -> None:
        self.stop.set()
        if self.thread.ident is not None:  # started: the unit was taken
            self.thread.join(timeout=self.store.lock_ttl)
        self.store.client.eval(_RELEASE, 3, *self.keys, self.token)


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

    def alive_key(self, token: str) -> str:
        return f"{self.prefix}:alive:{token}"

    def persistence_problem(self) -> str | None:
        """Why a restart of this Redis would lose the runs, or None if it keeps them on disk."""
        import redis

        where = self.describe()
        try:
            config = self.client.config_get("appendonly")
            config.update(self.client.config_get("save"))
        except redis.ResponseError:
            # CONFIG may be renamed away; INFO still tells whether AOF is on.
            info = self.client.info("persistence")
            if info.get("aof_enabled"):
                return None
            return (
                f"cannot tell whether {where} keeps its data on disk (CONFIG is disabled and "
                "AOF is off)"
            )
        if config.get("appendonly") == "yes":
            return None
        if config.get("save", "").strip():
            # RDB snapshots only: a crash loses what changed since the last one.
            return None
        return (
            f'{where} keeps nothing on disk (appendonly no, save ""): a restart of it '
            "loses every run's state"
        )

    def create_run(self, record: RunRecord, plan: dict) -> None:
        pipe = self.client.pipeline()
        pipe.set(self._key(record.run_id, "plan"), json.dumps(plan, sort_keys=True))
        pipe.set(self._key(record.run_id), json.dumps(record.to_dict(), sort_keys=True))
        pipe.zadd(f"{self.prefix}:runs", {record.run_id: record.created})
        if record.state in LIVE_STATES:
            pipe.sadd(f"{self.prefix}:live", record.run_id)
        pipe.execute()

    def run(self, run_id: str) -> RunRecord:
        key = self._key(run_id)
        text = self.client.get(key)
        if text is None:
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}")
        return read_record(text, f"{self.describe()}, key {key}", RunRecord)

    def plan(self, run_id: str) -> dict:
        key = self._key(run_id, "plan")
        text = self.client.get(key)
        if text is None:
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}")
        return read_plan(text, f"{self.describe()}, key {key}")

    def runs(self) -> list[RunRecord]:
        return self.list_runs()[0]

    def list_runs(self) -> tuple[list[RunRecord], dict[str, str]]:
        """The readable runs, and for each run whose record cannot be read, why."""
        ids = self.client.zrange(f"{self.prefix}:runs", 0, -1)
        if not ids:
            return [], {}
        keys = [self._key(run_id) for run_id in ids]
        records, unreadable = [], {}
        for run_id, key, text in zip(ids, keys, self.client.mget(keys), strict=True):
            if not text:
                continue
            try:
                records.append(read_record(text, f"{self.describe()}, key {key}", RunRecord))
            except CorruptRecord as exc:
                unreadable[run_id] = exc.message
        return records, unreadable

    def live_runs(self) -> list[RunRecord]:
        """The running and paused runs."""
        ids = sorted(self.client.smembers(f"{self.prefix}:live"))
        if not ids:
            return []
        texts = self.client.mget([self._key(run_id) for run_id in ids])
        records = []
        for text in texts:
            # A live run whose record is unreadable is reported by `runs` and `status`.
            with contextlib.suppress(CorruptRecord):
                if text:
                    records.append(read_record(text, "", RunRecord))
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
        key = self._key(run_id, "steps")
        text = self.client.hget(key, str(index))
        if not text:
            return StepRecord(index)
        return read_record(text, f"{self.describe()}, key {key} field {index}", StepRecord)

    def steps(self, run_id: str, count: int) -> list[StepRecord]:
        key = self._key(run_id, "steps")
        stored = self.client.hgetall(key)
        return [
            read_record(
                stored[str(index)], f"{self.describe()}, key {key} field {index}", StepRecord
            )
            if str(index) in stored
            else StepRecord(index)
            for index in range(count)
        ]

    def steps_at(self, run_id: str, indexes: list[int]) -> dict[int, StepRecord]:
        if not indexes:
            return {}
        key = self._key(run_id, "steps")
        texts = self.client.hmget(key, [str(index) for index in indexes])
        return {
            index: read_record(text, f"{self.describe()}, key {key} field {index}", StepRecord)
            if text
            else StepRecord(index)
            for index, text in zip(indexes, texts, strict=True)
        }

    def fingerprint(self, run_id: str) -> tuple:
        """A value that changes whenever the run's record or a step record does:
        their stored text, unparsed (for watchers, `kostyorc serve`)."""
        pipe = self.client.pipeline()
        pipe.get(self._key(run_id))
        pipe.hgetall(self._key(run_id, "steps"))
        run, steps = pipe.execute()
        if run is None:
            raise UnknownRun(f"no run {run_id!r} in {self.describe()}")
        return (hash(run), hash(frozenset(steps.items())))

    def put_step(self, run_id: str, record: StepRecord) -> None:
        self.client.hset(
            self._key(run_id, "steps"),
            str(record.index),
            json.dumps(record.to_dict(), sort_keys=True),
        )

    @contextlib.contextmanager
    def unit_lock(self, run_id: str, index: int) -> Iterator[RedisLock | None]:
        """Hold the unit's lock for the block; yields None if another holds it,
        or if the last holder that did not release it is still alive."""
        lock_key = self._key(run_id, "lock", str(index))
        owner_key = self._key(run_id, "owner", str(index))
        token = uuid.uuid4().hex
        if not self.client.set(lock_key, token, nx=True, px=int(self.lock_ttl * 1000)):
            yield None
            return
        lock = RedisLock(self, lock_key, owner_key, token)
        try:
            previous = self.client.get(owner_key) or ""
            if previous and self._still_alive(previous):
                # Its lock lapsed (Redis was away) while it ran: it goes on, and
                # its outcome counts.
                yield None
                return
            if not self.client.eval(_TAKE_OVER, 1, owner_key, previous, token):
                yield None  # another attempt took it over first
                return
            lock.beat_once()
            lock.thread.start()
            yield lock
        finally:
            lock.release()

    def _still_alive(self, token: str) -> bool:
        """Whether the holder `token` shows a heartbeat within one lease."""
        deadline = time.monotonic() + self.lock_ttl
        while True:
            if self.client.exists(self.alive_key(token)):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.1, self.lock_ttl / 10))

    def unit_locked(self, run_id: str, index: int) -> bool:
        if self.client.exists(self._key(run_id, "lock", str(index))):
            return True
        owner = self.client.get(self._key(run_id, "owner", str(index)))
        return bool(owner and self.client.exists(self.alive_key(owner)))
