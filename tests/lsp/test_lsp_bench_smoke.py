"""bench/lsp_bench.py still runs (--smoke).  No assertion on time: the figures are reviewed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_run_reports_every_figure(tmp_path: Path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "lsp_bench.py"), "--smoke", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    for key in ("lsp_initialize_s", "python_pass_s", "import_pygls_s", "kostyorc_check_s"):
        assert result["startup"][key] > 0, key
    for section in ("diagnostics", "diagnostics_default_debounce", "diagnostics_inventory"):
        row = result[section]
        assert row["changes"] == 4
        assert 0 < row["median_s"] <= row["p90_s"] <= row["max_s"]
        assert row["check_text_median_s"] > 0
    assert [g["goal"] for g in result["goals"]] == ["start-up < 0.5 s", "diagnostics < 100 ms"]
    assert "Goals:" in proc.stdout
