"""Diagnostics benchmark (issue 15 item 5): `check` with one diagnostic per host.

    .venv/bin/python bench/diagnostics_bench.py                 # 1,000 .. 16,000 hosts
    .venv/bin/python bench/diagnostics_bench.py --sizes 500,1000

For N hosts that all run a misspelt service (`neutron-openvswitch-agnt`), so
that `check` reports N errors (K042), it measures, side by side in this
process, the best of K runs (CPU time of this process, steadier than wall time
on a shared machine) of:

  the reference: yaml.load of the inventory (CSafeLoader when present);
  check(spec, inventory) through the library;
  render_text of its N diagnostics (each with its source line and caret).

It prints each figure per host and the growth exponent of each (log-log
least squares over N): linear is 1.0.  Before the renderer split each source
once per file and did_you_mean kept its answers, render_text was quadratic
(8,000 hosts: 102 s).  Nothing asserts on time: the numbers are reviewed.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import yaml

from kostyor_dsl.compiler import check
from kostyor_dsl.language.diagnostics import render_text

SIZES = (1000, 2000, 4000, 8000, 16000)
YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def write_inventory(folder: Path, hosts: int) -> Path:
    lines = ["hosts:"]
    for i in range(hosts):
        lines += [f"- name: cmp-{i}", "  services: [nova-compute, neutron-openvswitch-agnt]"]
    path = folder / f"inventory-{hosts}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def best(repeat: int, work) -> tuple[float, object]:
    times = []
    result = None
    for _ in range(repeat):
        start = time.process_time()
        result = work()
        times.append(time.process_time() - start)
    return min(times), result


def exponent(sizes, seconds) -> float:
    xs = [math.log(n) for n in sizes]
    ys = [math.log(max(s, 1e-9)) for s in seconds]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = write_inventory(Path(tmp), n)
            text = path.read_text(encoding="utf-8")
            load_s, _ = best(args.repeat, lambda text=text: yaml.load(text, Loader=YamlLoader))
            check_s, report = best(args.repeat, lambda path=path: check("kostyor", str(path)))
            errors = sum(d.is_error for d in report.diagnostics)
            assert errors == n, f"expected {n} diagnostics, got {errors}"
            render_s, _ = best(args.repeat, lambda r=report: render_text(r.diagnostics, r.sources))
            rows.append((n, load_s, check_s, render_s))
    print(f"{'hosts':>7} {'yaml.load':>11} {'check':>11} {'render':>11} {'check/load':>11}")
    for n, load_s, check_s, render_s in rows:
        print(
            f"{n:>7} {load_s * 1e6 / n:>9.1f}us {check_s * 1e6 / n:>9.1f}us "
            f"{render_s * 1e6 / n:>9.1f}us {check_s / load_s:>11.2f}"
        )
    print("per host; growth exponents over N (1.0 is linear):")
    for label, column in (("yaml.load", 1), ("check", 2), ("render", 3)):
        print(f"  {label:<10} {exponent(sizes, [r[column] for r in rows]):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
