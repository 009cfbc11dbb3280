"""The compile benchmark still runs (bench/compile_bench.py --smoke, a few hundred hosts).

No assertion on time or memory: the benchmark reports and the numbers are
reviewed (bench/README.md).  This only keeps the script from rotting.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import ROOT

BENCH = ROOT / "bench" / "compile_bench.py"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    out = folder / "bench.json"
    args = [sys.executable, str(BENCH), "--smoke", "--json", str(out)]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        args.append("--no-plot")
    else:
        args += ["--plot", str(folder / "plot.png")]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(out.read_text(encoding="utf-8")), folder


def test_smoke_run_reports_every_figure(smoke):
    proc, result, folder = smoke
    assert result["mode"] == "smoke"
    sizes = result["sizes"]
    assert [r["hosts"] for r in sizes] == [200, 500]
    for row in sizes:
        assert row["steps"] > row["hosts"]
        for key in (
            "json_load_s",
            "json_dumps_s",
            "compile_json_s",
            "json_ratio",
            "yaml_ratio",
            "cli_compile_wall_s",
        ):
            assert row[key] > 0, key
    # Memory is measured at the largest size only, in smoke mode.
    assert sizes[-1]["memory_ratio"] > 0
    assert sizes[-1]["memory_ratio_stream"] > 0
    assert "compile_json_s" in result["growth"]
    assert result["startup"]["check_imports_celery_or_kombu"] == []
    assert result["big_spec"]["services"] > 0
    assert {g["goal"].split()[0] for g in result["goals"]}
    assert "Goals:" in proc.stdout
    if "plot" in result:
        assert (folder / "plot.png").stat().st_size > 0


def test_generated_inventories_are_valid_and_deterministic(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import inventory_gen
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from kostyor_dsl.compiler import check

    a, b = inventory_gen.inventory(300), inventory_gen.inventory(300)
    assert a == b
    assert len(a["hosts"]) == 300
    path = tmp_path / "inv.json"
    inventory_gen.write_json(a, str(path))
    report = check("kostyor", str(path))
    assert report.ok, [d.message for d in report.diagnostics]
    steps = sum(len(h["services"]) for h in a["hosts"])
    assert 1.9 < steps / 300 < 2.4


def test_the_shipped_spec_bench_reports_compile_reference_and_consumers(tmp_path):
    """bench/shipped_bench.py --smoke (issue 24): every figure is there; no timing judged."""
    out = tmp_path / "shipped.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "shipped_bench.py"), "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    [row] = result["rows"]
    assert (row["shape"], row["hosts"], row["strategy"]) == ("kolla", 300, "node-by-node")
    assert row["steps"] > row["hosts"]
    for figure in ("compile", "reference", "inv_load"):
        assert row[figure]["cpu"] > 0 and row[figure]["peak_mb"] > 0, figure
    assert row["library"]["compile"] > 0 and row["library"]["reference"] > 0
    [consumers] = result["consumers"]
    for figure in ("run", "status", "diff", "simulate", "load_plan", "load_both"):
        assert consumers[figure]["cpu"] > 0, figure
    assert "consumers of node-by-node" in proc.stdout
