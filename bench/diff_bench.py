"""Plan diff time, side by side with reading the same plans (formerly a test's time limit).

    .venv/bin/python bench/diff_bench.py              # 10,000 and 100,000 steps
    .venv/bin/python bench/diff_bench.py --quick      # 10,000 steps

For each size, best of K runs in one process: `diff_plans` + `render_markdown`
of two node-by-node plans (the second with one host inserted in the middle),
and, as the reference, `json.loads(json.dumps(...))` of both plans. The ratio
is what to watch: it does not depend on how fast the machine is.
"""

from __future__ import annotations

import argparse
import json
import time

from kostyor_dsl.review.diff import diff_plans
from kostyor_dsl.review.diff_render import render_markdown


def big_plan(n_hosts: int, insert_at: int | None = None) -> dict:
    names = [f"compute-{i:05d}" for i in range(n_hosts)]
    if insert_at is not None:
        names.insert(insert_at, "compute-new")
    steps, order = [], []
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
            "inventory": {"file": "big.yaml", "sha256": ("1" if insert_at is None else "2") * 64},
        },
        "host_order": order,
        "steps": steps,
    }


def best_of(repeat: int, work) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [5_000] if args.quick else [5_000, 50_000]
    print(f"{'steps':>8} {'reference s':>12} {'diff s':>8} {'ratio':>7}")
    for hosts in sizes:
        old, new = big_plan(hosts), big_plan(hosts, insert_at=hosts // 2)
        plans = (old, new)
        reference = best_of(
            args.repeat, lambda plans=plans: [json.loads(json.dumps(p)) for p in plans]
        )
        diff = best_of(args.repeat, lambda plans=plans: render_markdown(diff_plans(*plans)))
        print(f"{2 * hosts:>8} {reference:>12.3f} {diff:>8.3f} {diff / reference:>7.1f}")


if __name__ == "__main__":
    main()
