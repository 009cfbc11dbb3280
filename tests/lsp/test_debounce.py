"""Diagnostics wait for typing to pause (the debounce), and requests do not wait for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_support import diagnostics_for, initialize, open_spec
from lsprotocol import types
from pytest_lsp import LanguageClient

SPEC = """\
import kostyor

strategy careful extends rolling-computes {
  order  openstack
}
"""


@pytest.mark.asyncio
async def test_typing_is_checked_once_it_pauses(bare_client: LanguageClient, tmp_path: Path):
    """With a long debounce, two quick changes are checked once, as the last one; a
    request (hover) does not wait for the pause: it checks the text it answers on."""
    await initialize(bare_client, tmp_path, debounce_ms=60_000)
    client = bare_client
    spec = tmp_path / "team.kostyor"
    spec.write_text(SPEC, encoding="utf-8")
    uri, _ = await open_spec(client, spec)
    for version, text in (
        (2, SPEC.replace("openstack\n", "openstak\n")),
        (3, SPEC.replace("openstack\n", "openstac\n")),
    ):
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                [types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
    await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri=uri), types.Position(0, 0))
    )
    (d,) = await diagnostics_for(client, uri, 3)
    assert "unknown order 'openstac'" in d.message
    assert [p.version for p in client.published if p.uri == uri] == [1, 3]
