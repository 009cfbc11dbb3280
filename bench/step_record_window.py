"""The at-least-once window of a step: from the driver's return to its recorded outcome.

    .venv/bin/python bench/step_record_window.py                 # the file store
    .venv/bin/python bench/step_record_window.py --redis redis://127.0.0.1:6379/0

A worker killed inside this window runs the step again on restart (the
driver's work is done, its outcome not yet recorded). What is left in it is
one fenced write of the step record (`lock.put_step`): an fsynced file
replace on the file store, one Lua call on Redis (check the lock's token,
write the record). Side by side, the reference: the same bytes written and
fsynced to a file, or a Redis PING. Median and 99th percentile of N writes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from kostyor_dsl.runtime.redis_store import RedisRunStore
from kostyor_dsl.runtime.run_store import FileRunStore, RunRecord, StepRecord

PLAN = {"steps": [{"id": "a", "kind": "upgrade", "service": "nova-api", "hosts": ["node-1"]}]}


def sample(count: int, work) -> tuple[float, float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def outcome() -> StepRecord:
    return StepRecord(0, "succeeded", time.time(), time.time(), 1, result={"did": "x" * 200})


def bench_store(store, reference, count: int, label: str) -> None:
    now = time.time()
    store.create_run(RunRecord("bench", "running", "noop", {}, "run", 1, now, now), PLAN)
    with store.unit_lock("bench", 0) as lock:
        window = sample(count, lambda: lock.put_step("bench", outcome()))
    if isinstance(store, FileRunStore):
        # What the window was before the outcome was renamed into place first.
        before = sample(count, lambda: store.put_step("bench", outcome()))
        print(f"{'files':<6} fsync-then-rename median {before[0] * 1e6:8.0f} us (the old window)")
    base = sample(count, reference)
    print(
        f"{label:<6} window median {window[0] * 1e6:8.0f} us  p99 {window[1] * 1e6:8.0f} us   "
        f"reference median {base[0] * 1e6:8.0f} us   ratio {window[0] / base[0]:5.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--redis", metavar="URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder) / "reference.json"
        data = outcome().to_dict().__repr__().encode()

        def write_file() -> None:
            with open(scratch, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())

        bench_store(FileRunStore(Path(folder) / "runs"), write_file, args.count, "files")
    if args.redis:
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        store = RedisRunStore(args.redis, prefix=prefix)
        try:
            bench_store(store, store.client.ping, args.count, "redis")
        finally:
            keys = list(store.client.scan_iter(f"{prefix}:*"))
            if keys:
                store.client.delete(*keys)


if __name__ == "__main__":
    main()
