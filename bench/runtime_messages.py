"""Broker message size and submit time per step: one plain Celery chain vs kostyor's segments.

    .venv/bin/python bench/runtime_messages.py            # 100, 1,000 and 20,000 steps
    .venv/bin/python bench/runtime_messages.py --quick    # 100, 1,000 and 3,000 steps
    .venv/bin/python bench/runtime_messages.py --broker redis://127.0.0.1:6379/0

Each measurement runs in a fresh process (so its peak RSS is its own) against
the same broker (kombu's in-memory transport unless --broker is given; its
queues are purged afterwards).  A plain chain carries the rest of the plan in
every message and every step re-sends it; kostyor sends one segment (one
host's steps, at most 25) per message, and a segment's last step sends the
next.  "run bytes" is what crosses the broker over the whole run: exact for
kostyor (every segment is published and measured), computed for the plain
chain from its measured per-step growth (message k carries the n-k-1 steps
after it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time

SERVICES_PER_HOST = 13


def make_plan(steps: int) -> dict:
    plan_steps = []
    host = 0
    while len(plan_steps) < steps:
        host += 1
        for number in range(SERVICES_PER_HOST):
            if len(plan_steps) == steps:
                break
            plan_steps.append(
                {
                    "id": f"service-{number}@node-{host}",
                    "kind": "upgrade",
                    "project": "nova",
                    "service": f"service-{number}",
                    "hosts": [f"node-{host}"],
                    "source": "bench.kostyor:1",
                }
            )
    return {"steps": plan_steps}


def peak_rss_mib() -> float:
    # ru_maxrss survives exec (Linux keeps the pre-exec high-water mark), so it
    # would report the parent's size; VmHWM is this process's own.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, steps: int, broker: str) -> dict:
    from celery import Celery
    from celery.signals import before_task_publish

    from kostyor_dsl.runtime import canvas

    app = Celery("bench", broker=broker, set_as_current=True)
    app.conf.task_serializer = "json"
    sizes: list[int] = []

    @before_task_publish.connect(weak=False)
    def record(body=None, headers=None, **_):
        sizes.append(len(json.dumps(body)) + len(json.dumps(headers, default=str)))

    plan = make_plan(steps)
    run_id = f"bench-{kind}-{steps}"
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
    started = time.perf_counter()
    if kind == "chain":
        from celery import chain

        segments = canvas.describe(plan, run_id)
        calls = [call for segment in segments for call in segment.calls]
        chain(*(canvas.signature_of(call, app) for call in calls)).apply_async()
        submit = time.perf_counter() - started
        first = sizes[0]
        sizes.clear()
        canvas.signature_of(calls[-1], app).apply_async()
        last = sizes[0]
        growth = (first - last) / max(steps - 1, 1)
        run_bytes = sum(last + growth * rest for rest in range(steps))
        result = {"first": first, "max": first, "submit": submit, "run_bytes": run_bytes}
        run_publish = None
    else:
        segments = canvas.describe(plan, run_id)
        canvas.signatures(segments[:1], app)[0].apply_async()
        submit = time.perf_counter() - started
        first = sizes[0]
        # The run sends every later segment from a worker; publish them all here
        # to measure each message and the total publishing cost.
        published = time.perf_counter()
        for chain in canvas.signatures(segments[1:], app):
            chain.apply_async()
        run_publish = time.perf_counter() - published + submit
        # Inside a segment, each step's message carries the rest of its segment.
        run_bytes = 0.0
        for segment, size in zip(segments, sizes, strict=True):
            length = len(segment.calls)
            per_call = size / length
            run_bytes += sum(per_call * (length - position) for position in range(length))
        result = {"first": first, "max": max(sizes), "submit": submit, "run_bytes": run_bytes}
    queues = {call.queue for segment in canvas.describe(plan, run_id)[:1] for call in segment.calls}
    with app.connection_for_write() as connection:
        for queue in queues:
            with contextlib.suppress(Exception):
                connection.default_channel.queue_purge(queue)
    result["run_publish"] = run_publish
    result["peak_mib"] = peak_rss_mib()
    result["steps"] = steps
    return result


def run_one(kind: str, steps: int, broker: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--one", kind, str(steps), "--broker", broker],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"measuring {kind} with {steps} steps failed:\n{done.stderr}")
    return json.loads(done.stdout)


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100, 1,000 and 3,000 steps")
    parser.add_argument("--broker", default="memory://", help="broker URL (default memory://)")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.broker)))
        return 0
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sizes = (100, 1000, 3000) if args.quick else (100, 1000, 20000)
    print(f"broker: {args.broker}; plan: node-by-node, {SERVICES_PER_HOST} steps per host")
    header = (
        f"{'steps':>6} | {'':<7} {'first msg':>10} {'max msg':>10} {'run B/step':>10} "
        f"{'submit ms':>10} {'submit ms/step':>14} {'run bytes':>11} {'peak MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    for steps in sizes:
        rows = {kind: run_one(kind, steps, args.broker) for kind in ("chain", "kostyor")}
        for kind, label in (("chain", "chain"), ("kostyor", "kostyor")):
            row = rows[kind]
            print(
                f"{steps:>6} | {label:<7} {human(row['first']):>10} {human(row['max']):>10} "
                f"{row['run_bytes'] / steps:>10.0f} {row['submit'] * 1000:>10.1f} "
                f"{row['submit'] * 1000 / steps:>14.4f} {human(row['run_bytes']):>11} "
                f"{row['peak_mib']:>8.1f}"
            )
        chain, ours = rows["chain"], rows["kostyor"]
        print(
            f"{'':>6} | ratio   largest message x{chain['max'] / ours['max']:.1f}, "
            f"submit time x{chain['submit'] / ours['submit']:.1f}, "
            f"run bytes x{chain['run_bytes'] / ours['run_bytes']:.1f} "
            f"(kostyor publishes all {steps} steps' segments in "
            f"{ours['run_publish'] * 1000:.0f} ms over the run)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
