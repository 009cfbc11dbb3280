"""Fixtures of the review tests (helpers and the golden rule: see review_support)."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_support import compiled

from kostyor_dsl.compiler import dump_plan


@pytest.fixture(scope="session")
def design_doc_plan() -> dict:
    return compiled("design-doc.yaml")


@pytest.fixture(scope="session")
def design_doc_sbs_plan() -> dict:
    return compiled("design-doc.yaml", "service-by-service")


@pytest.fixture
def plan_file(tmp_path):
    """Write a plan (a dict) as YAML or JSON and return its path."""
    counter = iter(range(1000))

    def _write(plan: dict, fmt: str = "yaml", name: str | None = None) -> Path:
        path = tmp_path / (name or f"plan{next(counter)}.{fmt}")
        path.write_text(dump_plan(plan, fmt), encoding="utf-8")
        return path

    return _write
