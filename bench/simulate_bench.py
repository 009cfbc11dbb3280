"""How fast `kostyorc simulate` is (issue 12: a 100,000-step plan in under 2 s).

For each size, a plan is compiled once (the shipped `kostyor` spec, the
`rolling-computes` strategy, the synthetic inventory of bench/inventory_gen.py
with enough hosts, cut to exactly that many steps), then timed side by side
in one process, best of K:

* **schedule**: `runtime.canvas.schedule(plan)`, the runtime's own cutting of
  the plan into units, stages and lanes (what every run and every simulation
  starts with), with the cyclic GC paused as `simulate_plan` runs it;
* **simulate**: `simulate_plan(plan, Timings(), concurrency)`: the cutting,
  the durations, the event simulation, the critical path, the hosts down
  per tier and group;
* **ratio** simulate / schedule: what the simulation adds to the cutting.

The growth exponent is the least-squares slope of log(simulate) on
log(steps): about 1 for O(steps log steps).

    .venv/bin/python bench/simulate_bench.py            # 25,000, 50,000, 100,000 steps
    .venv/bin/python bench/simulate_bench.py --smoke    # 2,000 and 5,000 steps (a test)
    #   --json FILE  the figures as JSON   --repeat K   --concurrency N
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from inventory_gen import inventory  # noqa: E402

from kostyor_dsl.compiler import compile_plan  # noqa: E402
from kostyor_dsl.runtime.canvas import schedule  # noqa: E402
from kostyor_dsl.simulate import Timings, simulate_plan  # noqa: E402

LIMIT_SECONDS = 2.0
LIMIT_STEPS = 100_000
STEPS_PER_HOST = 4.6  # rolling-computes on the synthetic inventory, about


def plan_with(steps: int, folder: Path) -> dict:
    hosts = max(10, math.ceil(steps / STEPS_PER_HOST))
    while True:
        path = folder / f"inventory-{hosts}.json"
        path.write_text(json.dumps(inventory(hosts)), encoding="utf-8")
        plan = compile_plan("kostyor", str(path), strategy="rolling-computes").plan
        if len(plan["steps"]) >= steps:
            plan["steps"] = plan["steps"][:steps]
            return plan
        hosts = math.ceil(hosts * 1.05) + 1


def best_of(repeat: int, call) -> float:
    """Best of `repeat`, the cyclic GC paused (as `simulate_plan` runs)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            begin = time.perf_counter()
            call()
            times.append(time.perf_counter() - begin)
        finally:
            gc.enable()
    return min(times)


def slope(xs: list[float], ys: list[float]) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2,000 and 5,000 steps")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    sizes = [2_000, 5_000] if args.smoke else [25_000, 50_000, LIMIT_STEPS]
    rows = []
    print(f"{'steps':>8} {'schedule s':>11} {'simulate s':>11} {'ratio':>6} {'us/step':>8}  window")
    with tempfile.TemporaryDirectory() as folder:
        for steps in sizes:
            plan = plan_with(steps, Path(folder))
            cut = best_of(args.repeat, lambda plan=plan: schedule(plan, "bench"))
            result = None

            def simulate(plan=plan):
                nonlocal result
                result = simulate_plan(plan, Timings(), args.concurrency)

            seconds = best_of(args.repeat, simulate)
            rows.append(
                {
                    "steps": steps,
                    "schedule_seconds": round(cut, 4),
                    "simulate_seconds": round(seconds, 4),
                    "ratio": round(seconds / cut, 2),
                    "window_seconds": result.duration,
                }
            )
            print(
                f"{steps:>8} {cut:>11.3f} {seconds:>11.3f} {seconds / cut:>6.2f} "
                f"{1e6 * seconds / steps:>8.1f}  {result.duration:g} s"
            )
    exponent = slope([r["steps"] for r in rows], [r["simulate_seconds"] for r in rows])
    print(f"growth exponent of simulate: {exponent:.2f} (1 = linear)")
    verdict = None
    if not args.smoke:
        figure = rows[-1]["simulate_seconds"]
        verdict = figure < LIMIT_SECONDS
        print(
            f"{LIMIT_STEPS:,} steps simulated in {figure:.2f} s: "
            f"{'under' if verdict else 'OVER'} the {LIMIT_SECONDS:g} s of issue 12"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "mode": "smoke" if args.smoke else "full",
                    "sizes": rows,
                    "exponent": round(exponent, 3),
                    "under_limit": verdict,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
