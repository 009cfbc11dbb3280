"""The shipped `openstack` spec on real-shaped clouds, against the JSON reference (issue 24).

    .venv/bin/python bench/shipped_bench.py                          # 1,000 / 10,000 / 50,000 hosts
    .venv/bin/python bench/shipped_bench.py --sizes 10000 --repeat 3
    .venv/bin/python bench/shipped_bench.py --smoke   # 300 Kolla hosts, node-by-node (tests)
    #   --shapes kolla,osa  --strategies node-by-node,...  --no-library  --no-consumers
    #   --consumers-only  --json FILE  --keep FOLDER

Clouds (bench/inventory_gen.py): *kolla*, examples/kolla-multinode's
controllers, network, storage and monitoring nodes plus computes like its
cmp01 (targets: the containers), N hosts in all; *osa*, the OpenStack-Ansible
inventory of bench/import_bench.py (infra hosts with LXC containers as
targets, computes on metal, storage hosts) imported by `kostyorc import
openstack-ansible --neutron-plugin ovn`.  Inventories and plans are JSON.

Everything heavy runs in a child process, measured from here: CPU time
(user + system, from wait4), wall time, and the child's own peak resident set
(VmHWM, read by the child as it ends: ru_maxrss of a child also counts the
pages of this process it was forked from).  Best of K of each, side by side in
one run, because the machine is shared and single figures move.

* **compile**: `kostyorc compile openstack -i INV --strategy S --format json -o PLAN`;
* **reference**: a bare Python that `json.load`s the inventory, `json.load`s
  the plan compile wrote and `json.dumps` it to a file;
* **inv load**: a bare Python that `json.load`s the inventory (the goal for
  service-by-service's small plan and for memory);
* **library** (in one child, CPU time): `compile_to` after a warm-up `check`,
  and the same reference in the same process;
* **consumers** (node-by-node and rolling-computes plans): `kostyorc run PLAN
  --broker memory://` (file run store in a temporary KOSTYOR_HOME: reading,
  checking and sealing the plan, cutting it into units, storing the run and
  sending its first stage), `kostyorc status RUN` of that run, `kostyorc diff`
  of the plan and the plan of the same cloud with one more compute in the
  middle, and `kostyorc simulate PLAN`; each against a bare Python that
  `json.load`s the plan (two plans for diff);
* **growth exponents**: least-squares slope of log(CPU time or peak RSS) on log(N).

Nothing here asserts (tests/test_bench_smoke.py runs --smoke so it keeps working).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import inventory_gen  # noqa: E402

STRATEGIES = ("node-by-node", "service-by-service", "rolling-computes")
CONSUMED = ("node-by-node", "rolling-computes")

# Run by each child: the job, then its peak resident set and CPU time on the last line.
CHILD = r"""
import json, os, sys, time
job, args = sys.argv[1], sys.argv[2:]

def peak_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

extra = {}
code = 0
if job == "kostyorc":
    from kostyor_dsl.cli import main
    code = main(args)
elif job == "reference":  # inventory, plan in, plan out
    inventory, plan, out = args
    with open(inventory, encoding="utf-8") as fh:
        json.load(fh)
    with open(plan, encoding="utf-8") as fh:
        doc = json.load(fh)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc))
elif job == "load":  # json.load of each file
    for path in args:
        with open(path, encoding="utf-8") as fh:
            json.load(fh)
elif job == "library":  # compile_to and the reference, side by side in one process
    inventory, strategy, out, repeat = args[0], args[1], args[2], int(args[3])
    from kostyor_dsl.compiler import check
    from kostyor_dsl.compiler.api import compile_to
    check("openstack")
    best = {}
    for _ in range(repeat):
        t = time.process_time()
        with open(out, "w", encoding="utf-8") as fh:
            compile_to(fh, "openstack", inventory, "json", strategy)
        best["compile"] = min(best.get("compile", 1e9), time.process_time() - t)
        t = time.process_time()
        with open(inventory, encoding="utf-8") as fh:
            json.load(fh)
        with open(out, encoding="utf-8") as fh:
            doc = json.load(fh)
        with open(out + ".ref", "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc))
        del doc
        best["reference"] = min(best.get("reference", 1e9), time.process_time() - t)
    extra = best
else:
    raise SystemExit(f"unknown job {job}")
sys.stdout.flush()
print("\n" + json.dumps({"peak_mb": peak_mb(), "code": code, **extra}))
"""


def run_child(job: str, *args: str, env: dict | None = None) -> dict:
    """One child: its wall and CPU seconds, peak RSS (MB), exit code, last output line."""
    cmd = [sys.executable, "-c", CHILD, job, *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        wall = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - wall
        out.seek(0)
        err.seek(0)
        lines = out.read().decode("utf-8", "replace").strip().splitlines()
        stderr = err.read().decode("utf-8", "replace")
    try:
        data = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise SystemExit(f"child {job} {args} failed:\n{stderr[-3000:]}") from None
    data.update(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        exit=os.waitstatus_to_exitcode(status),
        stdout=[line for line in lines[:-1] if line.strip()],
        stderr=stderr,
    )
    return data


def best_of(repeat: int, job: str, *args: str, env: dict | None = None, ok=(0,)) -> dict:
    runs = [run_child(job, *args, env=env) for _ in range(repeat)]
    for run in runs:
        if run["exit"] not in ok or run["code"] not in ok:
            raise SystemExit(
                f"{job} {' '.join(args)} exited {run['exit']} ({run['code']}):\n{run['stderr']}"
            )
    best = min(runs, key=lambda run: run["cpu"])
    return {
        "cpu": best["cpu"],
        "wall": min(run["wall"] for run in runs),
        "peak_mb": min(run["peak_mb"] for run in runs),
        "stdout": best["stdout"],
        **{k: min(run[k] for run in runs) for k in ("compile", "reference") if k in best},
    }


def slope(xs: list[float], ys: list[float]) -> float | None:
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(points) < 2:
        return None
    mx = sum(p[0] for p in points) / len(points)
    my = sum(p[1] for p in points) / len(points)
    sxx = sum((p[0] - mx) ** 2 for p in points)
    return sum((p[0] - mx) * (p[1] - my) for p in points) / sxx if sxx else None


def write_inventory(shape: str, n: int, path: Path, folder: Path, extra: bool = False) -> None:
    """The shape's inventory of n hosts (one more compute in the middle when `extra`)."""
    if shape == "kolla":
        doc = inventory_gen.kolla_shaped(n, extra_compute=extra)
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return
    source = folder / f"osa-{n}-{extra}.openstack_inventory.json"
    inventory_gen.write_osa_source(n, source, extra_compute=extra)
    subprocess.run(
        [
            *kostyorc(),
            *("import", "openstack-ansible", str(source), "--neutron-plugin", "ovn"),
            *("--format", "json", "-o", str(path)),
        ],
        check=True,
        capture_output=True,
    )
    source.unlink()


def kostyorc() -> list[str]:
    return [sys.executable, "-m", "kostyor_dsl"]


def measure(args, folder: Path) -> dict:
    rows, consumers = [], []
    for shape in args.shapes:
        for n in args.sizes:
            inventory = folder / f"{shape}-{n}.json"
            write_inventory(shape, n, inventory, folder)
            load = best_of(args.repeat, "load", str(inventory))
            for strategy in args.strategies:
                plan = folder / f"{shape}-{n}-{strategy}.plan.json"
                row = {"shape": shape, "hosts": n, "strategy": strategy, "inv_load": load}
                if not args.consumers_only:
                    row["compile"] = best_of(
                        args.repeat,
                        "kostyorc",
                        *("compile", "openstack", "-i", str(inventory), "--strategy", strategy),
                        *("--format", "json", "-o", str(plan)),
                        ok=(0,),
                    )
                    row["reference"] = best_of(
                        args.repeat, "reference", str(inventory), str(plan), str(plan) + ".ref"
                    )
                    if args.library:
                        row["library"] = best_of(
                            1, "library", str(inventory), strategy, str(plan), str(args.repeat)
                        )
                else:
                    compile_once(inventory, strategy, plan)
                row["steps"] = count_steps(plan)
                rows.append(row)
                report_row(row)
                if args.consumers and strategy in CONSUMED:
                    consumers.append(measure_consumers(args, folder, shape, n, strategy, plan))
                    report_consumers(consumers[-1])
            inventory.unlink()
    return {"rows": rows, "consumers": consumers}


def compile_once(inventory: Path, strategy: str, plan: Path) -> None:
    subprocess.run(
        [
            *kostyorc(),
            *("compile", "openstack", "-i", str(inventory), "--strategy", strategy),
            *("--format", "json", "-o", str(plan)),
        ],
        check=True,
        capture_output=True,
    )


def count_steps(plan: Path) -> int:
    with open(plan, "rb") as fh:
        return sum(1 for line in fh if line.startswith(b'      "id": '))


def measure_consumers(args, folder: Path, shape: str, n: int, strategy: str, plan: Path) -> dict:
    other_inventory = folder / f"{shape}-{n}-plus-one.json"
    write_inventory(shape, n, other_inventory, folder, extra=True)
    other = folder / f"{shape}-{n}-{strategy}-plus-one.plan.json"
    compile_once(other_inventory, strategy, other)
    other_inventory.unlink()
    home = folder / "home"
    env = {**os.environ, "KOSTYOR_HOME": str(home), "KOSTYOR_ALLOW_VOLATILE_STORE": "1"}
    env.pop("KOSTYOR_BROKER_URL", None)
    out = {"shape": shape, "hosts": n, "strategy": strategy, "steps": count_steps(plan)}
    out["load_plan"] = best_of(args.repeat, "load", str(plan))
    out["load_both"] = best_of(args.repeat, "load", str(plan), str(other))
    out["run"] = best_of(
        args.repeat, "kostyorc", "run", str(plan), "--broker", "memory://", env=env
    )
    run_id = out["run"]["stdout"][-1].strip()
    out["status"] = best_of(args.repeat, "kostyorc", "status", run_id, env=env)
    out["diff"] = best_of(
        args.repeat, "kostyorc", "diff", str(plan), str(other), "--format", "json", ok=(0, 1)
    )
    out["simulate"] = best_of(args.repeat, "kostyorc", "simulate", str(plan), "--format", "json")
    shutil.rmtree(home, ignore_errors=True)
    other.unlink()
    return out


def report_row(row: dict) -> None:
    head = f"{row['shape']:<5} {row['hosts']:>7,} {row['strategy']:<19} {row['steps']:>9,} steps"
    if "compile" not in row:
        print(head, flush=True)
        return
    c, r, load = row["compile"], row["reference"], row["inv_load"]
    text = (
        f"{head}  compile {c['cpu']:6.2f}s cpu ({c['wall']:5.2f}s wall, {c['peak_mb']:5.0f} MB)"
        f"  reference {r['cpu']:5.2f}s ({r['wall']:5.2f}s)  x{c['cpu'] / r['cpu']:.2f}"
        f"  inv load {load['cpu']:5.2f}s {load['peak_mb']:4.0f} MB"
        f"  x{c['cpu'] / load['cpu']:.2f} cpu  x{c['peak_mb'] / load['peak_mb']:.2f} mem"
    )
    if "library" in row:
        lib = row["library"]
        text += f"  library {lib['compile']:.2f}s/{lib['reference']:.2f}s"
        text += f" x{lib['compile'] / lib['reference']:.2f}"
    print(text, flush=True)


def report_consumers(c: dict) -> None:
    one, two = c["load_plan"]["cpu"], c["load_both"]["cpu"]
    print(
        f"  consumers of {c['strategy']} ({c['steps']:,} steps): json.load {one:.2f}s"
        f" | run {c['run']['cpu']:.2f}s x{c['run']['cpu'] / one:.2f}"
        f" | status {c['status']['cpu']:.2f}s x{c['status']['cpu'] / one:.2f}"
        f" | simulate {c['simulate']['cpu']:.2f}s x{c['simulate']['cpu'] / one:.2f}"
        f" | diff {c['diff']['cpu']:.2f}s x{c['diff']['cpu'] / two:.2f} (of two loads {two:.2f}s)",
        flush=True,
    )


def growth(result: dict) -> list[str]:
    lines = []
    keys = sorted({(r["shape"], r["strategy"]) for r in result["rows"] if "compile" in r})
    for shape, strategy in keys:
        rows = [r for r in result["rows"] if (r["shape"], r["strategy"]) == (shape, strategy)]
        ns = [r["hosts"] for r in rows]
        if len(ns) < 2:
            continue
        cpu = slope(ns, [r["compile"]["cpu"] for r in rows])
        ref = slope(ns, [r["reference"]["cpu"] for r in rows])
        mem = slope(ns, [r["compile"]["peak_mb"] for r in rows])
        lines.append(
            f"growth {shape} {strategy}: compile cpu {cpu:.2f}, reference {ref:.2f}, peak RSS {mem:.2f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--shapes", default="kolla,osa")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-library", dest="library", action="store_false")
    parser.add_argument("--no-consumers", dest="consumers", action="store_false")
    parser.add_argument("--consumers-only", action="store_true")
    parser.add_argument(
        "--smoke", action="store_true", help="300 Kolla hosts, node-by-node, once, all figures"
    )
    parser.add_argument("--json", metavar="FILE", help="all figures as JSON")
    parser.add_argument("--keep", metavar="FOLDER", help="work in FOLDER and keep the plans")
    args = parser.parse_args(argv)
    if args.smoke:  # every kind of figure, on the smallest case
        args.sizes, args.repeat = "300", 1
        args.shapes, args.strategies = "kolla", "node-by-node"
    args.sizes = [int(n) for n in args.sizes.split(",")]
    args.shapes = args.shapes.split(",")
    args.strategies = args.strategies.split(",")
    print(f"best of {args.repeat}; CPU seconds (wall in brackets); ratios of CPU time", flush=True)
    if args.keep:
        folder = Path(args.keep)
        folder.mkdir(parents=True, exist_ok=True)
        result = measure(args, folder)
    else:
        with tempfile.TemporaryDirectory(prefix="kostyor-shipped-bench-") as name:
            result = measure(args, Path(name))
    for line in growth(result):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
