"""Diff benchmark: `kostyorc diff` of two 100k-step plans next to reading them.

    .venv/bin/python bench/diff_bench.py            # 50,000 hosts, 100,000 steps
    .venv/bin/python bench/diff_bench.py --hosts 5000

The timing that tests/review/test_diff.py asserted before (a test must not
depend on the machine's speed): two node-by-node plans of N hosts (two steps
each), the second with one host inserted in the middle, written as JSON.
Side by side, best of K: `json.loads` of both texts (the reference), reading
both through the plan reader (`planfile.parse_plan_text`: strict document
rules and the plan schema), `diff_plans`, and `render_markdown`.  Prints the
seconds and each figure's ratio to the reference; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import time

from kostyor_dsl.compiler import dump_plan
from kostyor_dsl.plan.read import parse_plan_text
from kostyor_dsl.review.diff import diff_plans
from kostyor_dsl.review.diff_render import render_markdown


def plan(n_hosts: int, insert_at: int | None = None) -> dict:
    names = [f"compute-{i:05d}" for i in range(n_hosts)]
    if insert_at is not None:
        names.insert(insert_at, "compute-new")
    order, steps = [], []
    for name in names:
        order.append(
            {
                "name": name,
                "key_service": "nova-compute",
                "rank": 18,
                "tier": "compute",
                "source": "kostyor.kostyor:36",
            }
        )
        for service, line in (("nova-compute", 36), ("neutron-openvswitch-agent", 41)):
            steps.append(
                {
                    "id": f"{service}@{name}",
                    "kind": "upgrade",
                    "project": service.split("-")[0],
                    "service": service,
                    "hosts": [name],
                    "source": f"kostyor.kostyor:{line}",
                }
            )
    return {
        "format": "kostyor-plan/1",
        "strategy": "node-by-node",
        "engine": "node-by-node",
        "driver": {"name": "noop", "parameters": {}},
        "inputs": {
            "spec": [{"file": "kostyor.kostyor", "sha256": "0" * 64}],
            "inventory": {"file": "inv.yaml", "sha256": "1" * 64},
        },
        "host_order": order,
        "steps": steps,
    }


def best_of(repeat: int, fn) -> float:
    best = math.inf
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    old_text = dump_plan(plan(args.hosts), "json")
    new_text = dump_plan(plan(args.hosts, insert_at=args.hosts // 2), "json")
    old, new = parse_plan_text(old_text), parse_plan_text(new_text)
    result = diff_plans(old, new)
    assert len(result.added) == 2 and not result.moved
    figures = {
        "json.loads of both (reference)": best_of(
            args.repeat, lambda: (json.loads(old_text), json.loads(new_text))
        ),
        "plan reader, both": best_of(
            args.repeat, lambda: (parse_plan_text(old_text), parse_plan_text(new_text))
        ),
        "diff_plans": best_of(args.repeat, lambda: diff_plans(old, new)),
        "render_markdown": best_of(args.repeat, lambda: render_markdown(result)),
    }
    reference = figures["json.loads of both (reference)"]
    print(f"{len(old['steps']):,} and {len(new['steps']):,} steps, best of {args.repeat}:")
    for name, seconds in figures.items():
        print(f"  {name:<32} {seconds:8.3f} s  {seconds / reference:6.2f}x")


if __name__ == "__main__":
    main()
