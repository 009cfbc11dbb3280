"""Budgets' cost at compile time (issue 11): compile with and without budgets, side by side.

    .venv/bin/python bench/budget_bench.py              # 50,000 hosts, best of 3
    .venv/bin/python bench/budget_bench.py --hosts 5000 --repeat 2
    .venv/bin/python bench/budget_bench.py --shipped    # the shipped `openstack` spec

For each shipped strategy it compiles the same inventory (bench/inventory_gen.py)
with the strategy as shipped and with a strategy extending it that adds the
budgets operators keep (API services one node at a time, computes at least 80%
available, storage at most 10% down), through compile_plan + dump_plan(json),
and prints the best time of each and their ratio.  The goal is a ratio of at
most 1.5; nothing here asserts.

With --shipped it compiles the shipped `openstack` spec's strategies, which
carry budgets, against a copy of the spec with its budget blocks taken out,
on a cloud shaped like examples/kolla-multinode (its controllers, network and
storage nodes, and N computes like its cmp01, targets included).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import inventory_gen  # noqa: E402

from kostyor_dsl.compiler import compile_plan, dump_plan  # noqa: E402

BUDGETS = """
  budget service=nova-api {
    max-unavailable  1
  }
  budget service=keystone-wsgi-public {
    max-unavailable  1
  }
  budget compute {
    min-available  80%
  }
  budget storage {
    max-unavailable  10%
  }
"""
STRATEGIES = ("node-by-node", "service-by-service", "rolling-computes")


def spec_text() -> str:
    parts = ["import kostyor\n"]
    for name in STRATEGIES:
        parts.append(f"strategy budgeted-{name} extends {name} {{{BUDGETS}}}\n")
    return "\n".join(parts)


def shipped_inventory(hosts: int) -> dict:
    return inventory_gen.kolla_shaped(hosts)


def without_budgets(text: str) -> str:
    return re.sub(r"\n  budget [^\n]*\{\n(?:    [^\n]*\n)*  \}", "", text)


def best(spec: str, inventory: str, strategy: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        dump_plan(compile_plan(spec, inventory, strategy).plan, "json")
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shipped", action="store_true", help="the shipped openstack spec")
    args = parser.parse_args(argv)
    if args.shipped:
        return shipped(args)
    with tempfile.TemporaryDirectory() as folder:
        inventory = str(Path(folder) / "inventory.json")
        inventory_gen.write_json(inventory_gen.inventory(args.hosts), inventory)
        spec = str(Path(folder) / "budgets.kostyor")
        Path(spec).write_text(spec_text())
        print(f"{args.hosts} hosts, best of {args.repeat}, compile_plan + dump_plan(json)")
        print(f"{'strategy':<20} {'without':>9} {'with':>9} {'ratio':>6}")
        for name in STRATEGIES:
            without = best(spec, inventory, name, args.repeat)
            with_budgets = best(spec, inventory, f"budgeted-{name}", args.repeat)
            print(
                f"{name:<20} {without:>8.2f}s {with_budgets:>8.2f}s {with_budgets / without:>5.2f}x"
            )
    return 0


def shipped(args) -> int:
    from kostyor_dsl.language.imports import shipped_specs

    with tempfile.TemporaryDirectory() as folder:
        inventory = str(Path(folder) / "inventory.json")
        Path(inventory).write_text(json.dumps(shipped_inventory(args.hosts)))
        text = (HERE.parent / "kostyor_dsl" / "specs" / "openstack.kostyor").read_text()
        plain = Path(folder) / "openstack-without-budgets.kostyor"
        plain.write_text(without_budgets(text))
        assert not re.search(r"^\s*budget ", plain.read_text(), re.M), "budgets left"
        assert "openstack" in shipped_specs()
        print(f"{args.hosts} hosts, shipped openstack spec, best of {args.repeat}")
        print(f"{'strategy':<20} {'without':>9} {'with':>9} {'ratio':>6}")
        for name in STRATEGIES:
            without = best(str(plain), inventory, name, args.repeat)
            with_budgets = best("openstack", inventory, name, args.repeat)
            print(
                f"{name:<20} {without:>8.2f}s {with_budgets:>8.2f}s {with_budgets / without:>5.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
