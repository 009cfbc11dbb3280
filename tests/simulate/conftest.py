"""Fixtures of the simulation tests (plans: see simulate_support)."""

from __future__ import annotations

import json

import pytest
from simulate_support import compiled


@pytest.fixture(scope="session")
def design_doc_plan() -> dict:
    return compiled("design-doc.yaml")


@pytest.fixture(scope="session")
def rolling_plan() -> dict:
    return compiled("small-cloud.yaml", "rolling-computes")


@pytest.fixture
def plan_file(tmp_path):
    """Write a plan (a dict) as JSON and return its path."""
    counter = iter(range(1000))

    def _write(plan: dict) -> str:
        path = tmp_path / f"plan{next(counter)}.json"
        path.write_text(json.dumps(plan), encoding="utf-8")
        return str(path)

    return _write
