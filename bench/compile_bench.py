"""Compile benchmark (issue 5): the compiler next to the cost of its own I/O.

    .venv/bin/python bench/compile_bench.py            # full: 1,000 .. 50,000 hosts (~3 min)
    .venv/bin/python bench/compile_bench.py --quick    # CI: 1,000 .. 20,000 hosts (~20 s)
    .venv/bin/python bench/compile_bench.py --smoke    # a few hundred hosts (tests)
    options: --json FILE  --plot FILE  --sizes 1000,5000  --repeat K  --strategy NAME
             --keep  --no-cli  --no-memory  --no-plot

For each N it generates an inventory (bench/inventory_gen.py) in a temporary
folder (bench/out/ with --keep), then measures, side by side in this process
with the interpreter's default settings, the best of K runs of:

  json.load of the inventory, json.dumps of the resulting plan (the reference);
  compile_plan + dump_plan(json) through the library API;
  the same for YAML against yaml.load(CSafeLoader) + yaml.dump(CSafeDumper);
  `kostyorc compile ... --format json -o FILE` as a subprocess (wall time);
  peak memory of json.load alone, of compile_plan + dump_plan, and of
  compile_to (the streaming writer), each in a fresh subprocess (tracemalloc
  peak of the Python heap, and VmHWM, the peak resident set of the process;
  ru_maxrss is no good here: Linux carries the parent's over fork and exec).

It prints a table, the ratios of issue 5, the growth exponents (log-log
least-squares fit over N), a startup section (`kostyorc check`, imports,
the lark grammar cache) and a spec-scaling figure, and writes all of it as
JSON with --json.  Nothing here asserts on time: the numbers are reviewed.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import inventory_gen  # noqa: E402

SPEC = "kostyor"  # the shipped spec
STRATEGY: str | None = None  # --strategy; None: the spec's default (node-by-node)
FULL_SIZES = (1000, 2000, 5000, 10000, 20000, 50000)
QUICK_SIZES = (1000, 5000, 20000)
SMOKE_SIZES = (200, 500)
GOALS = {
    "json_ratio": 1.5,
    "yaml_ratio": 1.2,
    "exponent": 1.1,
    "memory_ratio": 2.0,
    "check_wall_s": 0.3,
    "big_spec_s": 0.2,
}


# --------------------------------------------------------------------------- helpers


def best_of(repeat: int, fn, *, collect: bool = True) -> tuple[float, object]:
    """The smallest wall time of REPEAT calls of fn(), and the last result."""
    best = math.inf
    result = None
    for _ in range(repeat):
        result = None
        if collect:
            gc.collect()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def without_gc(fn):
    def run():
        was = gc.isenabled()
        gc.disable()
        try:
            return fn()
        finally:
            if was:
                gc.enable()

    return run


def loglog_slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) against log(x): the growth exponent."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in pts)
    return sxy / sxx if sxx else None


def kostyorc_command() -> list[str]:
    script = Path(sys.executable).parent / "kostyorc"
    return [str(script)] if script.exists() else [sys.executable, "-m", "kostyor_dsl"]


def run_measured(cmd: list[str], env: dict | None = None) -> dict:
    """Run a command; its wall time and exit code, output discarded."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, _ = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return {
        "wall_s": wall,
        "exit_code": proc.returncode,
        "stderr": stderr[-2000:],
    }


def child(kind: str, path: str, strategy: str | None = None) -> None:
    """Run in a fresh interpreter (--child): one job, then its peak memory as JSON."""
    trace = kind.endswith("+trace")
    kind = kind.removesuffix("+trace")
    if kind.startswith("compile"):
        # Import first, so the traced peak is the work's, not the modules'.
        from kostyor_dsl.compiler import check, compile_plan
        from kostyor_dsl.compiler.api import compile_to

        check(SPEC)  # the grammar and the spec, loaded once as in any later call
    if trace:
        import tracemalloc

        tracemalloc.start()
    if kind == "json.load":
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        del doc
    elif kind == "compile":  # the library API: the plan in memory, then its text
        from kostyor_dsl.compiler import dump_plan

        compiled = compile_plan(SPEC, path, strategy)
        with open(os.devnull, "w", encoding="utf-8") as fh:
            fh.write(dump_plan(compiled.plan, "json"))
        del compiled
    elif kind == "compile-stream":  # compile_to: steps made and written in batches
        with open(os.devnull, "w", encoding="utf-8") as fh:
            compile_to(fh, SPEC, path, "json", strategy)
    else:
        raise SystemExit(f"unknown child job {kind}")
    peak = None
    if trace:
        import tracemalloc

        peak = tracemalloc.get_traced_memory()[1] / 1e6
    print(json.dumps({"traced_peak_mb": peak, "maxrss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss where there is no /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


# `kostyorc ARGS` as the installed script runs it, then its peak RSS into FILE.
CLI_PEAK = """
import sys
from kostyor_dsl.cli import main
out, args = sys.argv[1], sys.argv[2:]
code = main(args)
sys.path.insert(0, {here!r})
from compile_bench import peak_rss_mb
with open(out, "w") as fh:
    fh.write(str(peak_rss_mb()))
sys.exit(code)
"""


def memory_of(kind: str, path: Path) -> dict:
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    out = {}
    for variant in (kind + "+trace", kind):
        cmd = [*me, variant, str(path), *([STRATEGY] if STRATEGY else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"memory child {variant} failed:\n{proc.stderr}")
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        if variant.endswith("+trace"):
            out["traced_peak_mb"] = data["traced_peak_mb"]
        else:
            out["maxrss_mb"] = data["maxrss_mb"]
    return out


# --------------------------------------------------------------------------- measurements


def measure_size(n: int, folder: Path, args) -> dict:
    from kostyor_dsl.compiler import compile_plan, dump_plan

    yaml_mod = __import__("yaml")
    loader = getattr(yaml_mod, "CSafeLoader", yaml_mod.SafeLoader)
    dumper = getattr(yaml_mod, "CSafeDumper", yaml_mod.SafeDumper)
    doc = inventory_gen.inventory(n)
    inv_json = folder / f"inventory-{n}.json"
    inv_yaml = folder / f"inventory-{n}.yaml"
    inventory_gen.write_json(doc, str(inv_json))
    hosts = len(doc["hosts"])
    del doc
    row: dict = {"hosts": hosts, "inventory_json_bytes": inv_json.stat().st_size}
    rep = args.repeat

    # JSON: compile first (its plan feeds json.dumps), then the reference.
    def api_json():
        compiled = compile_plan(SPEC, str(inv_json), STRATEGY)
        t1 = time.perf_counter()
        text = dump_plan(compiled.plan, "json")
        return compiled.plan, time.perf_counter() - t1, len(text)

    def load_json():
        with open(inv_json, encoding="utf-8") as fh:
            return json.load(fh)

    best_api = math.inf
    best_dump_part = math.inf
    best_dumps = best_load = best_load_nogc = math.inf
    for _ in range(rep):
        gc.collect()
        t0 = time.perf_counter()
        plan, dump_part, plan_chars = api_json()
        total = time.perf_counter() - t0
        best_api = min(best_api, total)
        best_dump_part = min(best_dump_part, dump_part)
        gc.collect()
        t0 = time.perf_counter()
        json.dumps(plan)
        best_dumps = min(best_dumps, time.perf_counter() - t0)
        steps = len(plan["steps"])
        del plan
        gc.collect()
        t0 = time.perf_counter()
        loaded = load_json()
        best_load = min(best_load, time.perf_counter() - t0)
        del loaded
        gc.collect()
        t0 = time.perf_counter()
        loaded = without_gc(load_json)()
        best_load_nogc = min(best_load_nogc, time.perf_counter() - t0)
        del loaded
    row.update(
        steps=steps,
        plan_json_chars=plan_chars,
        json_load_s=best_load,
        json_load_nogc_s=best_load_nogc,
        json_dumps_s=best_dumps,
        compile_json_s=best_api,
        compile_json_dump_part_s=best_dump_part,
    )
    row["json_ratio"] = best_api / (best_load + best_dumps)
    row["json_ratio_strict"] = best_api / (best_load_nogc + best_dumps)

    # YAML, the same way, against PyYAML's C loader and dumper.
    if n <= args.yaml_max:
        inventory_gen.write_yaml(inventory_gen.inventory(n), str(inv_yaml))
        yrep = max(1, min(rep, args.yaml_repeat))

        def load_yaml():
            with open(inv_yaml, "rb") as fh:
                return yaml_mod.load(fh.read(), Loader=loader)

        def dump_yaml(plan):
            return yaml_mod.dump(
                plan,
                Dumper=dumper,
                sort_keys=False,
                default_flow_style=False,
                allow_unicode=True,
                width=1 << 16,
            )

        best = {"c": math.inf, "l": math.inf, "d": math.inf, "ln": math.inf, "dn": math.inf}
        for _ in range(yrep):
            gc.collect()
            t0 = time.perf_counter()
            plan = compile_plan(SPEC, str(inv_yaml), STRATEGY).plan
            dump_plan(plan, "yaml")
            best["c"] = min(best["c"], time.perf_counter() - t0)
            gc.collect()
            t0 = time.perf_counter()
            dump_yaml(plan)
            best["d"] = min(best["d"], time.perf_counter() - t0)
            gc.collect()
            t0 = time.perf_counter()
            without_gc(lambda plan=plan: dump_yaml(plan))()
            best["dn"] = min(best["dn"], time.perf_counter() - t0)
            del plan
            gc.collect()
            t0 = time.perf_counter()
            loaded = load_yaml()
            best["l"] = min(best["l"], time.perf_counter() - t0)
            del loaded
            gc.collect()
            t0 = time.perf_counter()
            loaded = without_gc(load_yaml)()
            best["ln"] = min(best["ln"], time.perf_counter() - t0)
            del loaded
        row.update(
            yaml_load_s=best["l"],
            yaml_dump_s=best["d"],
            yaml_load_nogc_s=best["ln"],
            yaml_dump_nogc_s=best["dn"],
            compile_yaml_s=best["c"],
            yaml_ratio=best["c"] / (best["l"] + best["d"]),
            yaml_ratio_strict=best["c"] / (best["ln"] + best["dn"]),
        )

    # The CLI, as CI runs it.
    if not args.no_cli:
        out = folder / f"plan-{n}.json"
        runs = [
            run_measured(
                [
                    *kostyorc_command(),
                    "compile",
                    SPEC,
                    "-i",
                    str(inv_json),
                    "--format",
                    "json",
                    "-o",
                    str(out),
                    *(["-s", STRATEGY] if STRATEGY else []),
                ]
            )
            for _ in range(max(1, min(rep, 3)))
        ]
        bad = [r for r in runs if r["exit_code"] != 0]
        if bad:
            raise SystemExit(f"kostyorc compile failed for N={n}:\n{bad[0]['stderr']}")
        row["cli_compile_wall_s"] = min(r["wall_s"] for r in runs)
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
            script = CLI_PEAK.format(here=str(HERE))
            cli_args = ["compile", SPEC, "-i", str(inv_json), "--format", "json", "-o", str(out)]
            cli_args += ["-s", STRATEGY] if STRATEGY else []
            peak = run_measured([sys.executable, "-c", script, rss.name, *cli_args])
            if peak["exit_code"] == 0:
                row["cli_compile_maxrss_mb"] = float(rss.read() or 0)
        # The same command's cost floor: a bare interpreter plus the reference work.
        row["cli_ratio"] = row["cli_compile_wall_s"] / (
            args.python_startup_s + best_load + best_dumps
        )

    # Peak memory, each in a fresh interpreter.
    if not args.no_memory and (not args.smoke or n == max(args.sizes_run)):
        ref = memory_of("json.load", inv_json)
        comp = memory_of("compile", inv_json)
        stream = memory_of("compile-stream", inv_json)
        row.update(
            mem_json_load_traced_mb=ref["traced_peak_mb"],
            mem_json_load_maxrss_mb=ref["maxrss_mb"],
            mem_compile_traced_mb=comp["traced_peak_mb"],
            mem_compile_maxrss_mb=comp["maxrss_mb"],
            mem_compile_stream_traced_mb=stream["traced_peak_mb"],
            mem_compile_stream_maxrss_mb=stream["maxrss_mb"],
            memory_ratio=comp["traced_peak_mb"] / ref["traced_peak_mb"],
            memory_ratio_stream=stream["traced_peak_mb"] / ref["traced_peak_mb"],
        )
    if not args.keep:
        for p in folder.glob(f"*-{n}.*"):
            p.unlink()
    return row


def measure_startup(args) -> dict:
    """`kostyorc check kostyor` wall time, what it imports, and the grammar cache
    (lark keeps it in tempfile.gettempdir(): a fresh TMPDIR is a cold cache)."""
    info: dict = {}
    cmd = [*kostyorc_command(), "check", SPEC]
    runs = [run_measured(cmd) for _ in range(2 if args.smoke else 5)]
    info["check_wall_s"] = min(r["wall_s"] for r in runs)
    info["check_wall_median_s"] = sorted(r["wall_s"] for r in runs)[len(runs) // 2]
    info["python_startup_s"] = args.python_startup_s
    # A cold grammar cache: lark writes its cache in tempfile.gettempdir(), so a fresh TMPDIR.
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TMPDIR": tmp}
        cold = run_measured(cmd, env)
        warm = run_measured(cmd, env)
        info["check_wall_cold_cache_s"] = cold["wall_s"]
        info["check_wall_warm_cache_s"] = warm["wall_s"]
        info["lark_cache_files"] = sorted(p.name for p in Path(tmp).glob(".lark*"))
    probe = (
        "import sys; from kostyor_dsl.cli import main; code = main(sys.argv[1:]); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('celery', 'kombu')); "
        "print(len(sys.modules), ' '.join(bad[:5]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, "check", SPEC], capture_output=True, text=True, timeout=60
    )
    modules, _, heavy = proc.stdout.strip().partition(" ")
    info["check_modules_loaded"] = int(modules) if modules.isdigit() else None
    info["check_imports_celery_or_kombu"] = heavy.split()
    return info


def measure_big_spec(args, folder: Path) -> dict:
    from kostyor_dsl.compiler import check, parse

    projects, per = (200, 10) if not args.smoke else (40, 10)
    text = inventory_gen.spec_text(projects, per)
    path = folder / "big.kostyor"
    path.write_text(text, encoding="utf-8")
    parse_s, _ = best_of(5, lambda: parse(text, "big.kostyor"))
    check_s, report = best_of(5, lambda: check(str(path)))
    assert report.ok, [d.message for d in report.diagnostics]
    cli = [
        run_measured([*kostyorc_command(), "check", str(path)])
        for _ in range(1 if args.smoke else 3)
    ]
    return {
        "services": projects * per,
        "projects": projects,
        "parse_s": parse_s,
        "check_s": check_s,
        "cli_check_wall_s": min(r["wall_s"] for r in cli),
    }


def python_startup(runs: int = 5) -> float:
    return min(run_measured([sys.executable, "-c", "pass"])["wall_s"] for _ in range(runs))


# --------------------------------------------------------------------------- output


def growth(rows: list[dict]) -> dict:
    big = [r for r in rows if r["hosts"] >= 1000]
    if len(big) < 2:  # --smoke: fit what there is
        big = rows
    xs = [r["hosts"] for r in big]
    out = {}
    for key in (
        "compile_json_s",
        "compile_yaml_s",
        "json_load_s",
        "json_dumps_s",
        "cli_compile_wall_s",
        "mem_compile_traced_mb",
        "mem_compile_stream_traced_mb",
        "mem_json_load_traced_mb",
        "mem_compile_maxrss_mb",
    ):
        pts = [(r["hosts"], r[key]) for r in big if r.get(key)]
        if len(pts) >= 2:
            out[key] = loglog_slope([p[0] for p in pts], [p[1] for p in pts])
    out["fitted_sizes"] = xs
    return out


def fmt_table(rows: list[dict]) -> str:
    cols = [
        ("N hosts", "hosts", "{:,}"),
        ("steps", "steps", "{:,}"),
        ("json.load", "json_load_s", "{:.3f}"),
        ("json.dumps", "json_dumps_s", "{:.3f}"),
        ("compile json", "compile_json_s", "{:.3f}"),
        ("ratio", "json_ratio", "{:.2f}"),
        ("strict", "json_ratio_strict", "{:.2f}"),
        ("CLI wall", "cli_compile_wall_s", "{:.3f}"),
        ("yaml load+dump", None, "{:.2f}"),
        ("compile yaml", "compile_yaml_s", "{:.2f}"),
        ("ratio", "yaml_ratio", "{:.2f}"),
        ("strict", "yaml_ratio_strict", "{:.2f}"),
        ("mem load MB", "mem_json_load_traced_mb", "{:.1f}"),
        ("mem compile", "mem_compile_traced_mb", "{:.1f}"),
        ("x", "memory_ratio", "{:.2f}"),
        ("streamed", "mem_compile_stream_traced_mb", "{:.1f}"),
        ("x", "memory_ratio_stream", "{:.2f}"),
        ("RSS load", "mem_json_load_maxrss_mb", "{:.0f}"),
        ("RSS CLI", "cli_compile_maxrss_mb", "{:.0f}"),
        ("RSS compile_to", "mem_compile_stream_maxrss_mb", "{:.0f}"),
    ]
    head = [c[0] for c in cols]
    body = []
    for r in rows:
        line = []
        for _, key, f in cols:
            if key is None:
                v = (
                    r["yaml_load_s"] + r["yaml_dump_s"]
                    if "yaml_load_s" in r and "yaml_dump_s" in r
                    else None
                )
            else:
                v = r.get(key)
            line.append("-" if v is None else f.format(v))
        body.append(line)
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    sep = " | "
    lines = [sep.join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [sep.join(v.rjust(w) for v, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines)


def verdicts(result: dict) -> list[tuple[str, str, bool | None]]:
    rows = result["sizes"]
    last = rows[-1]
    g = result["growth"]
    st = result.get("startup", {})
    spec = result.get("big_spec", {})

    def ok(value, limit):
        return None if value is None else value <= limit

    out = [
        (
            f"JSON compile / (json.load + json.dumps) at N={last['hosts']:,} <= 1.5",
            f"{last['json_ratio']:.2f} (strict, json.load without GC: {last['json_ratio_strict']:.2f})",
            ok(last["json_ratio"], GOALS["json_ratio"]),
        )
    ]
    if "yaml_ratio" in last:
        out.append(
            (
                f"YAML compile / (CSafeLoader + CSafeDumper) at N={last['hosts']:,} <= 1.2",
                f"{last['yaml_ratio']:.2f} (strict: {last['yaml_ratio_strict']:.2f})",
                ok(last["yaml_ratio"], GOALS["yaml_ratio"]),
            )
        )
    for key, label in (
        ("compile_json_s", "time exponent, compile JSON"),
        ("compile_yaml_s", "time exponent, compile YAML"),
        ("mem_compile_traced_mb", "memory exponent, compile"),
    ):
        if key in g:
            out.append((f"{label} <= 1.1", f"{g[key]:.3f}", ok(g[key], GOALS["exponent"])))
    if "memory_ratio" in last:
        out.append(
            (
                f"peak memory compile_to (streamed) / json.load at N={last['hosts']:,} <= 2",
                f"{last['memory_ratio_stream']:.2f}"
                f" ({last['mem_compile_stream_traced_mb']:.1f} MB / {last['mem_json_load_traced_mb']:.1f} MB)",
                ok(last["memory_ratio_stream"], GOALS["memory_ratio"]),
            )
        )
        out.append(
            (
                f"peak memory compile_plan + dump_plan / json.load at N={last['hosts']:,} <= 2",
                f"{last['memory_ratio']:.2f} ({last['mem_compile_traced_mb']:.1f} MB: the plan's"
                " dicts and its text are all held)",
                ok(last["memory_ratio"], GOALS["memory_ratio"]),
            )
        )
    if st:
        out.append(
            (
                "`kostyorc check kostyor` wall < 0.3 s",
                f"{st['check_wall_s']:.3f} s (first run, grammar cache cold:"
                f" {st['check_wall_cold_cache_s']:.3f} s; bare python -c pass:"
                f" {st['python_startup_s']:.3f} s)",
                ok(st["check_wall_s"], GOALS["check_wall_s"]),
            )
        )
        out.append(
            (
                "check/compile never import celery or kombu",
                ", ".join(st["check_imports_celery_or_kombu"]) or "none imported",
                not st["check_imports_celery_or_kombu"],
            )
        )
    if spec:
        out.append(
            (
                f"spec of {spec['services']:,} services / {spec['projects']} projects: check < 0.2 s",
                f"parse {spec['parse_s']:.3f} s, check {spec['check_s']:.3f} s,"
                f" CLI check wall {spec['cli_check_wall_s']:.3f} s",
                ok(spec["check_s"], GOALS["big_spec_s"]),
            )
        )
    return out


def plot(rows: list[dict], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot; pip install matplotlib)", file=sys.stderr)
        return False
    xs = [r["hosts"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    series = [
        ("compile (API): JSON in, JSON out", "compile_json_s", "o-"),
        ("kostyorc compile (CLI, wall incl. startup)", "cli_compile_wall_s", "s--"),
        ("json.load + json.dumps (reference)", None, "^-"),
        ("json.load of the inventory", "json_load_s", "v-"),
        ("json.load, cyclic GC paused", "json_load_nogc_s", "v:"),
    ]
    for label, key, style in series:
        if key is None:
            ys = [(r["json_load_s"] + r["json_dumps_s"]) / r["hosts"] * 1e6 for r in rows]
        else:
            if not all(key in r for r in rows):
                continue
            ys = [r[key] / r["hosts"] * 1e6 for r in rows]
        ax.plot(xs, ys, style, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hosts in the inventory (N)")
    ax.set_ylabel("time per host (µs)")
    ax.set_title("kostyorc compile vs json.load: time per host")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CI sizes, under a minute")
    mode.add_argument("--smoke", action="store_true", help="a few hundred hosts (tests)")
    parser.add_argument("--sizes", help="comma-separated host counts (override the mode's)")
    parser.add_argument("--repeat", type=int, help="runs per measurement (best is kept)")
    parser.add_argument("--yaml-max", type=int, help="largest N measured with YAML")
    parser.add_argument("--yaml-repeat", type=int, default=2, help="runs per YAML measurement")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="FILE", help="PNG of time per host (default: full mode")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--no-cli", action="store_true", help="skip the subprocess runs")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--keep", action="store_true", help="keep inventories in bench/out/")
    parser.add_argument(
        "--strategy", metavar="NAME", help="strategy of the shipped spec (default: its default)"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    global STRATEGY
    STRATEGY = args.strategy
    if args.smoke:
        sizes, repeat, yaml_max = SMOKE_SIZES, 1, 500
    elif args.quick:
        sizes, repeat, yaml_max = QUICK_SIZES, 3, 5000
    else:
        sizes, repeat, yaml_max = FULL_SIZES, 5, 50000
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    args.repeat = args.repeat or repeat
    args.yaml_max = yaml_max if args.yaml_max is None else args.yaml_max
    if args.smoke:
        args.yaml_repeat = 1
    full = not (args.quick or args.smoke or args.sizes)
    plot_path = Path(args.plot) if args.plot else (HERE / "compile_time_per_host.png")
    want_plot = not args.no_plot and (bool(args.plot) or full)

    started = time.perf_counter()
    if args.keep:
        (HERE / "out").mkdir(exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="run-", dir=HERE / "out"))
    else:
        folder = Path(tempfile.mkdtemp(prefix="kostyor-bench-"))
    try:
        args.python_startup_s = python_startup(2 if args.smoke else 5)
        args.sizes_run = sizes
        from kostyor_dsl.compiler import check

        check(SPEC)  # warm: grammar and modules loaded, as in every later call
        rows = []
        for n in sizes:
            row = measure_size(n, folder, args)
            rows.append(row)
            print(
                f"  N={n:,}: compile {row['compile_json_s']:.3f} s, "
                f"ratio {row['json_ratio']:.2f}  ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        result = {
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "libyaml": bool(getattr(__import__("yaml"), "__with_libyaml__", False)),
            },
            "mode": "smoke"
            if args.smoke
            else "quick"
            if args.quick
            else "custom"
            if args.sizes
            else "full",
            "repeat": args.repeat,
            "strategy": STRATEGY or "(the spec's default)",
            "sizes": rows,
            "growth": growth(rows),
        }
        result["startup"] = measure_startup(args)
        result["big_spec"] = measure_big_spec(args, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    result["goals"] = [{"goal": g, "measured": m, "met": ok} for g, m, ok in verdicts(result)]
    result["elapsed_s"] = time.perf_counter() - started

    print()
    print("Times in seconds, best of", args.repeat, "runs; ratios of issue 5 (strict: the")
    print("reference json.load / yaml.load without the cyclic GC, as compile runs).")
    print("Memory: tracemalloc peaks in MB (mem ...), x = / json.load's; RSS = peak resident")
    print("set of the whole process in MB (interpreter and imports included).")
    print(fmt_table(rows))
    print()
    print("Growth exponents (log-log fit, N >= 1,000):")
    for key, value in result["growth"].items():
        if key != "fitted_sizes" and value is not None:
            print(f"  {key:32s} {value:.3f}")
    print()
    print("Goals:")
    for g in result["goals"]:
        mark = {True: "met", False: "NOT MET", None: "n/a"}[g["met"]]
        print(f"  [{mark:7s}] {g['goal']}: {g['measured']}")
    if want_plot and plot(rows, plot_path):
        result["plot"] = str(plot_path)
        print(f"\nplot: {plot_path}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"json: {args.json}")
    print(f"({result['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
