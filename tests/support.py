"""Paths and helpers shared by the top-level tests (imported as `support`: every
test folder has its own conftest, so `from conftest import` would be ambiguous)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KOSTYOR_SPEC = ROOT / "specs" / "kostyor.kostyor"
EXAMPLES = ROOT / "examples"


def run_kostyorc(*args: str, cwd: str | os.PathLike | None = None, env: dict | None = None):
    """Run `kostyorc` in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kostyor_dsl", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=60,
    )
