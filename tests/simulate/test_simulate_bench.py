"""bench/simulate_bench.py still runs (--smoke); the figures are reviewed, not asserted."""

from __future__ import annotations

import json
import subprocess
import sys

from support import ROOT


def test_smoke_run_reports_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "simulate_bench.py"),
            "--smoke",
            "--repeat",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["mode"] == "smoke"
    assert [row["steps"] for row in result["sizes"]] == [2000, 5000]
    for row in result["sizes"]:
        assert row["simulate_seconds"] > 0 and row["schedule_seconds"] > 0
        assert row["window_seconds"] > 0
    assert "growth exponent of simulate" in done.stdout
