"""A real `kostyorc lsp` process per test, driven over stdio by pytest-lsp's client."""

from __future__ import annotations

import pytest_lsp
from lsp_support import CONFIG, initialize
from pytest_lsp import LanguageClient


@pytest_lsp.fixture(config=CONFIG)
async def bare_client(lsp_client: LanguageClient):
    """A server started, not initialized (the test chooses its options)."""
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, tmp_path_factory):
    """One server for a test module (its tests mark `loop_scope="module"`), initialized
    with a temporary workspace folder, no debounce.  Each test opens its own files."""
    await initialize(lsp_client, tmp_path_factory.mktemp("workspace"))
    yield
    await lsp_client.shutdown_session()
