"""The run page of `kostyorc serve` for a large run: first paint and update latency.

    .venv/bin/python bench/serve_bench.py                  # 2,000 steps, the file store
    .venv/bin/python bench/serve_bench.py --steps 5000 --updates 50
    .venv/bin/python bench/serve_bench.py --redis redis://127.0.0.1:6379/0

A run of N steps (rollout batches of 10 hosts, 4 steps each) is written
straight into a run store (no workers), `kostyorc serve` serves it, and
headless Chromium (Debian's, through playwright) opens its page:

- first paint: from the request to the browser's first contentful paint, and
  to the page being live (its event stream open);
- update latency: a step record is written to the store, and the time until
  the page shows the step's new state is taken, for each of `--updates`
  writes (median and worst).

It needs the web extra, playwright and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kostyor_dsl.runtime.records import RunRecord, StepRecord
from kostyor_dsl.runtime.settings import resolve_settings
from kostyor_dsl.runtime.store_factory import open_store

CHROMIUM = os.environ.get("KOSTYOR_CHROMIUM", "/usr/bin/chromium")


def big_plan(steps: int) -> dict:
    plan_steps = []
    host = 0
    while len(plan_steps) < steps:
        batch = host // 10 + 1
        name = f"cmp-{host + 1}"
        for service in ("drain", "nova-compute", "neutron-ovn-agent", "enable"):
            plan_steps.append(
                {
                    "id": f"{service}@{name}",
                    "kind": "upgrade",
                    "project": "nova",
                    "service": service,
                    "hosts": [name],
                    "group": "compute",
                    "batch": batch,
                    "source": "bench.kostyor:1",
                }
            )
        host += 1
    plan_steps = plan_steps[:steps]
    hosts = len({step["hosts"][0] for step in plan_steps})
    return {
        "format": "kostyor-plan/1",
        "strategy": "rolling-computes",
        "engine": "node-by-node",
        "driver": {"name": "noop", "parameters": {}},
        "inputs": {},
        "groups": [
            {
                "name": "compute",
                "selector": ["compute"],
                "hosts": hosts,
                "batches": [10],
                "max_failed_hosts": 0,
                "source": "bench.kostyor:2",
            }
        ],
        "steps": plan_steps,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--redis", metavar="URL", help="a Redis run store instead of files")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "KOSTYOR_HOME": str(Path(folder) / "state"),
            "KOSTYOR_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}",
        }
        env.pop("KOSTYOR_BROKER_URL", None)
        env.pop("KOSTYOR_BACKEND_URL", None)
        if args.redis:
            env["KOSTYOR_BROKER_URL"] = args.redis
        store = open_store(resolve_settings(env))
        plan = big_plan(args.steps)
        now = time.time()
        run_id = "20260101-000000-bench0"
        store.create_run(
            RunRecord(run_id, "running", "noop", {}, "run", len(plan["steps"]), now, now), plan
        )
        half = len(plan["steps"]) // 2
        for index in range(half):
            store.put_step(run_id, StepRecord(index, "succeeded", now - 60, now - 30, 1, None, {}))
        output = Path(folder) / "serve.out"
        server = subprocess.Popen(
            [sys.executable, "-m", "kostyor_dsl", "serve", "--bind", "127.0.0.1:0"],
            env=env,
            stdout=output.open("w"),
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            found = None
            while found is None and time.monotonic() < deadline:
                found = re.search(r"open (http://\S+/)\?token=(\S+)", output.read_text())
                time.sleep(0.05)
            if found is None:
                print("kostyorc serve printed no address", file=sys.stderr)
                return 1
            url = f"{found[1]}runs/{run_id}?token={found[2]}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_page()
                started = time.perf_counter()
                page.goto(url)
                page.wait_for_selector("#connection[data-state=live]", timeout=60_000)
                live = time.perf_counter() - started
                paint = page.evaluate(
                    "performance.getEntriesByName('first-contentful-paint')[0]?.startTime"
                )
                loaded = page.evaluate(
                    "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
                )
                response = page.evaluate(
                    "performance.getEntriesByType('navigation')[0].responseEnd"
                )
                latencies = []
                for number in range(args.updates):
                    index = half + number
                    store.put_step(
                        run_id, StepRecord(index, "running", time.time(), None, 1, None, {})
                    )
                    written = time.perf_counter()
                    page.wait_for_selector(f"#step-{index}[data-state=running]", timeout=30_000)
                    latencies.append(time.perf_counter() - written)
                browser.close()
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=10)
        where = "Redis" if args.redis else "files"
        print(f"run page of {len(plan['steps'])} steps ({where}):")
        print(f"  page received           {response / 1000:.3f} s (from navigation start)")
        print(f"  first contentful paint  {paint / 1000:.3f} s")
        print(f"  script done             {loaded / 1000:.3f} s (DOMContentLoaded handlers)")
        print(f"  live (events open)      {live:.3f} s")
        print(
            f"  update latency          median {statistics.median(latencies):.3f} s, "
            f"worst {max(latencies):.3f} s ({len(latencies)} step changes)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
