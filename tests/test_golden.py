"""Golden files per case: tests/golden/<case>/ holds `args` (the kostyorc
command line, paths relative to the repository root) and the expected
`stdout`, `stderr` and `exit_code`.

Regenerate after an intended change, then review the diff:

    KOSTYOR_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py
"""

from __future__ import annotations

import os
import shlex

import pytest
from support import ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = bool(os.environ.get("KOSTYOR_UPDATE_GOLDEN"))
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "args").is_file())


@pytest.mark.parametrize("case", CASES)
def test_golden(case, cli, monkeypatch):
    folder = GOLDEN / case
    monkeypatch.chdir(ROOT)
    args = shlex.split((folder / "args").read_text())
    code, out, err = cli(*args)
    got = {"stdout": out, "stderr": err, "exit_code": f"{code}\n"}
    if UPDATE:
        for name, text in got.items():
            (folder / name).write_text(text)
    for name, text in got.items():
        assert (folder / name).read_text() == text, f"{case}/{name} differs"
