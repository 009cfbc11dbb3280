"""A real `kostyorc lsp` process per test, driven over stdio by pytest-lsp's client."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pygls.protocol import default_converter  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features  # noqa: E402

SERVER = [sys.executable, "-m", "kostyor_dsl", "lsp"]


def make_client() -> LanguageClient:
    """pytest-lsp's client, also keeping every publishDiagnostics in order (`published`)."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = []
    client.seen = {}
    client.arrived = asyncio.Event()

    def publish(c: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        c.diagnostics[params.uri] = params.diagnostics
        c.published.append(params)
        c.arrived.set()

    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    register_lsp_features(client, features)
    return client


CONFIG = ClientServerConfig(
    server_command=SERVER, server_env=dict(os.environ), client_factory=make_client
)


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient, tmp_path):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=tmp_path.as_uri(),
            initialization_options={"debounce_ms": 0},
        )
    )
    yield
    await lsp_client.shutdown_session()
