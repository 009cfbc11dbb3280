"""Skip a test whose optional extra is not installed, except when `CI` is set."""

from __future__ import annotations

import importlib.util
import os

import pytest


def require(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed (pip install 'kostyor-dsl[{extra}]')"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI is set: the driver tests must run")
        pytest.skip(message)
