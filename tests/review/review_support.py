"""Helpers of the review tests: plans compiled from the shipped spec, and goldens.

Goldens live in tests/review/golden/<case>/<file>.  Regenerate them all with

    KOSTYOR_UPDATE_GOLDEN=1 .venv/bin/pytest tests/review

and review the `git diff` of tests/review/golden before committing.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from kostyor_dsl.compiler import compile_plan

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DATA = HERE / "data"
GOLDEN = HERE / "golden"
KOSTYOR_SPEC = ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor"
UPDATE = os.environ.get("KOSTYOR_UPDATE_GOLDEN") == "1"


def compiled(inventory: str, strategy: str | None = None) -> dict:
    """A plan of the shipped spec and DATA/inventory, with relative, stable input names."""
    return compile_plan(str(KOSTYOR_SPEC), str(DATA / inventory), strategy=strategy).plan


def check_golden(case: str, name: str, text: str) -> None:
    """Compare `text` with golden/<case>/<name>; write it instead when updating.

    Generated Python is kept as `*.py.golden`, so linters and formatters leave the
    goldens as the generator wrote them."""
    path = GOLDEN / case / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(
            f"no golden {path.relative_to(ROOT)}; run KOSTYOR_UPDATE_GOLDEN=1 pytest tests/review"
        )
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"output differs from {path.relative_to(ROOT)}"


def mutated(plan: dict, change) -> dict:
    """A deep copy of `plan` with `change(copy)` applied."""
    out = copy.deepcopy(plan)
    change(out)
    return out


def as_json(text: str) -> dict:
    return json.loads(text)
