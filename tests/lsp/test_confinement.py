"""What a spec comment can make the language server read (issue 21, item 3).

A spec from someone else's repository names its inventory in a comment; the
server must not read (and quote back) files outside the workspace, nor block
on a FIFO or /dev/stdin, nor read /dev/zero for ever."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lsp_support import diagnostics_for, open_spec
from lsprotocol import types
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

SPEC = "import kostyor\n"
SECRET = "root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
INVENTORY = "hosts:\n  - name: cmp-1\n    services: [nova-compute]\n"


def refused(found: list[types.Diagnostic]) -> types.Diagnostic:
    (only,) = [d for d in found if d.code == "K100"]
    assert only.severity == types.DiagnosticSeverity.Error
    return only


async def open_with(client: LanguageClient, folder: Path, inventory: str):
    spec = folder / "team.kostyor"
    spec.write_text(f"# kostyor: inventory={inventory}\n{SPEC}", encoding="utf-8")
    return await open_spec(client, spec)


async def still_answers(client: LanguageClient, uri: str) -> None:
    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(types.TextDocumentIdentifier(uri=uri))
    )
    assert symbols is not None


async def test_a_file_outside_the_workspace_is_not_read(
    client: LanguageClient, tmp_path_factory, tmp_path: Path
):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "shadow"
    elsewhere.write_text(SECRET, encoding="utf-8")
    _, found = await open_with(client, tmp_path, str(elsewhere))
    problem = refused(found)
    assert "outside the workspace folder" in problem.message
    assert problem.range.start == types.Position(0, 21)
    everything = "".join(d.message for ds in client.diagnostics.values() for d in ds)
    assert "hashhash" not in everything and "daemon" not in everything
    assert elsewhere.as_uri() not in client.diagnostics


async def test_a_relative_path_out_of_the_folder_is_refused(
    client: LanguageClient, tmp_path_factory, tmp_path: Path
):
    inner = tmp_path / "repo"
    inner.mkdir()
    (tmp_path / "shadow").write_text(SECRET, encoding="utf-8")
    _, found = await open_with(client, inner, "../shadow")
    assert "outside the workspace folder" in refused(found).message


async def test_a_symlink_out_of_the_folder_is_refused(
    client: LanguageClient, tmp_path_factory, tmp_path: Path
):
    target = tmp_path_factory.mktemp("elsewhere") / "shadow"
    target.write_text(SECRET, encoding="utf-8")
    (tmp_path / "inv.yaml").symlink_to(target)
    _, found = await open_with(client, tmp_path, "inv.yaml")
    assert "outside the workspace folder" in refused(found).message


@pytest.mark.parametrize("device", ["/dev/stdin", "/dev/zero"])
async def test_devices_are_refused(client: LanguageClient, tmp_path: Path, device: str):
    uri, found = await open_with(client, tmp_path, device)
    refused(found)
    await still_answers(client, uri)


async def test_a_fifo_in_the_folder_does_not_block_the_server(
    client: LanguageClient, tmp_path: Path
):
    fifo = tmp_path / "inv.yaml"
    os.mkfifo(fifo)
    uri, found = await open_with(client, tmp_path, "inv.yaml")
    assert "not a regular file" in refused(found).message
    await still_answers(client, uri)


async def test_a_file_that_is_not_an_inventory_is_not_quoted(
    client: LanguageClient, tmp_path: Path
):
    (tmp_path / "notes.yaml").write_text(SECRET, encoding="utf-8")
    _, found = await open_with(client, tmp_path, "notes.yaml")
    assert "not an inventory" in refused(found).message
    everything = "".join(d.message for ds in client.diagnostics.values() for d in ds)
    assert "hashhash" not in everything and "daemon" not in everything


async def test_an_inventory_in_the_folder_is_read(client: LanguageClient, tmp_path: Path):
    (tmp_path / "inv.yaml").write_text(
        INVENTORY.replace("[nova-compute]", "[nova-compute, nova-apii]")
    )
    uri, found = await open_with(client, tmp_path, "inv.yaml")
    assert [d.message for d in found] == ["inv.yaml: 1 error"]
    typo = (tmp_path / "inv.yaml").as_uri()
    assert [d.code for d in client.diagnostics[typo]] == ["K042"]
    (tmp_path / "inv.yaml").write_text(INVENTORY)
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams([types.FileEvent(typo, types.FileChangeType.Changed)])
    )
    assert await diagnostics_for(client, uri, 1) == []
