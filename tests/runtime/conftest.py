"""Fixtures for the runtime tests; the helpers live in `runtime_harness`.

A test needing Redis or RabbitMQ skips when the service is absent, except
when `CI` is set: then it fails.
"""

from __future__ import annotations

import pytest
from runtime_harness import BROKERS, Runtime, stop_everything
from runtime_harness import require_broker as _require


@pytest.fixture(scope="session", autouse=True)
def _no_process_left_behind():
    """Whatever ends the session, no worker (or anything it started) outlives it."""
    yield
    stop_everything()


@pytest.fixture(params=list(BROKERS))
def runtime(request, tmp_path):
    _require(request.param)
    instance = Runtime(tmp_path, request.param)
    yield instance
    instance.stop_all()


@pytest.fixture
def embedded(tmp_path):
    instance = Runtime(tmp_path, "embedded")
    yield instance
    instance.stop_all()
