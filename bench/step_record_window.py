"""The at-least-once window of a step: from the command's last output to its recorded outcome.

    .venv/bin/python bench/step_record_window.py                 # the file store
    .venv/bin/python bench/step_record_window.py --redis redis://127.0.0.1:6379/0
    .venv/bin/python bench/step_record_window.py --end-to-end    # the whole window

A worker killed inside this window runs the step again on restart (the
driver's work is done, its outcome not yet recorded). The last part of it is
one fenced write of the step record (`lock.put_step`): a file renamed into
place on the file store, one Lua call on Redis (check the unit's owner token,
write the record). Side by side, the reference: the same bytes written and
fsynced to a file, or a Redis PING. Median and 99th percentile of N writes.

`--end-to-end` measures the whole window as a kill sees it, in its parts:
the shell driver's real task (`run_commands`, through Celery's `apply` as the
step task calls it) running a command whose last output is its clock
(`date +%s%N`, or a Python one-liner: an interpreter's exit takes longer), then
the record written.  Parts: from the command's last output to the driver's
return (the command exiting, its pipes closing, subprocess reaping it), from
there to `apply` returning (Celery's tracer), and the record's write.
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


COMMANDS = {
    "sh + date": "date +%s%N",
    "python3 -c": "python3 -c 'import time; print(time.time_ns())'",
}


def end_to_end(count: int, folder: str) -> None:
    os.environ.setdefault("KOSTYOR_HOME", os.path.join(folder, "home"))
    from celery import shared_task

    from kostyor_dsl.runtime import app as _app  # noqa: F401 - binds shared tasks to the app
    from kostyor_dsl.runtime.drivers.shell import run_commands

    returned_at: list[int] = []

    @shared_task(name="bench.returns_now")
    def returns_now() -> dict:
        returned_at.append(time.time_ns())
        return {"did": "nothing"}

    renamed: list[float] = []
    replace = os.replace

    def timed_replace(source, target):
        replace(source, target)
        renamed.append(time.perf_counter())

    os.replace = timed_replace  # this process only: to see when the record lands
    store = FileRunStore(Path(folder) / "e2e")
    now = time.time()
    store.create_run(RunRecord("bench", "running", "noop", {}, "run", 1, now, now), PLAN)
    with store.unit_lock("bench", 0) as lock:
        for label, command in COMMANDS.items():
            exits, writes = [], []
            for _ in range(count):
                result = run_commands.si([["node-1", command]], 60).apply(throw=True).result
                returned = time.time_ns()
                last_output = int(result["hosts"][0]["output"].strip())
                start = time.perf_counter()
                lock.put_step("bench", outcome())
                # The window ends when the record is renamed into place (its fsync follows).
                writes.append((renamed[-1] - start) * 1e3)
                exits.append((returned - last_output) / 1e6)
            print(
                f"{label:<11} last output -> driver returned: median {statistics.median(exits):6.2f} ms"
                f"  p90 {sorted(exits)[int(count * 0.9) - 1]:6.2f} ms;"
                f"  then record in place: median {statistics.median(writes):5.2f} ms"
            )
        tracer = []
        for _ in range(count):
            returns_now.si().apply(throw=True)
            tracer.append((time.time_ns() - returned_at[-1]) / 1e6)
        print(
            f"Celery apply: task returned -> apply returned: median {statistics.median(tracer):5.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--redis", metavar="URL")
    parser.add_argument("--end-to-end", action="store_true")
    args = parser.parse_args()
    if args.end_to_end:
        with tempfile.TemporaryDirectory() as folder:
            end_to_end(args.count, folder)
        return
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
