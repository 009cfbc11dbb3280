"""Helpers of the language server tests: open and change documents, wait for diagnostics."""

from __future__ import annotations

import asyncio
import os
import sys

from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

# Long enough for a slow machine to get there, never waited out when all is well.
PATIENCE = 60

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

    def register(c: LanguageClient, params: types.RegistrationParams) -> None:
        c.registrations.extend(params.registrations)  # as an editor does: noted, accepted

    client.registrations = []
    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = publish
    features[types.CLIENT_REGISTER_CAPABILITY] = register
    register_lsp_features(client, features)
    return client


CONFIG = ClientServerConfig(
    server_command=SERVER, server_env=dict(os.environ), client_factory=make_client
)


async def initialize(client: LanguageClient, root, debounce_ms: int = 0) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            initialization_options={"debounce_ms": debounce_ms},
        )
    )


async def diagnostics_for(client: LanguageClient, uri: str, version: int | None = None):
    """Wait for the next diagnostics of `uri` (of that document version, when given) not
    yet returned by an earlier call; returns them."""
    seen = client.seen  # uri -> index in `published` after the last one returned

    async def wait():
        while True:
            start = seen.get(uri, 0)
            for i, params in enumerate(client.published[start:], start=start):
                if params.uri == uri and (version is None or params.version == version):
                    seen[uri] = i + 1
                    return list(params.diagnostics)
            client.arrived.clear()
            await client.arrived.wait()

    return await asyncio.wait_for(wait(), PATIENCE)


async def open_spec(client: LanguageClient, path, text: str | None = None, version: int = 1):
    """didOpen a spec (its file's text by default); returns (uri, its diagnostics)."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="kostyor", version=version, text=text)
        )
    )
    return uri, await diagnostics_for(client, uri, version)


async def change_spec(client: LanguageClient, uri: str, text: str, version: int):
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    return await diagnostics_for(client, uri, version)
