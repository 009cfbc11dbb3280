"""The compiler never imports pygls; the server never imports Celery (issue 14).

The server check runs a whole session (open, completion, hover, formatting)
in a server process that writes, as it exits, which modules of the
forbidden packages it had loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lsp_support import make_client, open_spec
from lsprotocol import types
from pytest_lsp import ClientServerConfig, client_capabilities

ROOT = Path(__file__).resolve().parents[2]

COMPILER = """
import sys
from kostyor_dsl.cli import main
import kostyor_dsl.lsp.workspace, kostyor_dsl.lsp.navigation
import kostyor_dsl.lsp.completion
code = main(["check", sys.argv[1]])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pygls", "lsprotocol", "cattrs"))
print(" ".join(loaded))
sys.exit(code)
"""

SERVER = """
import atexit, os, sys

def report():
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("celery", "kombu", "billiard"))
    with open(os.environ["KOSTYOR_TEST_MODULES"], "w") as fh:
        fh.write(" ".join(loaded) + "\\n")

atexit.register(report)
from kostyor_dsl.cli import main
main(["lsp"])
"""


def test_the_compiler_does_not_import_pygls():
    spec = ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor"
    result = subprocess.run(
        [sys.executable, "-c", COMPILER, str(spec)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.asyncio
async def test_the_server_does_not_import_celery(tmp_path: Path):
    record = tmp_path / "modules.txt"
    env = {**os.environ, "KOSTYOR_TEST_MODULES": str(record)}
    config = ClientServerConfig(
        server_command=[sys.executable, "-c", SERVER], server_env=env, client_factory=make_client
    )
    client = await config.start()
    try:
        await client.initialize_session(
            types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
        )
        spec = tmp_path / "s.kostyor"
        text = "import kostyor\n\nstrategy s extends node-by-node {\n  driver \n}\n"
        uri, _ = await open_spec(client, spec, text)
        ident = types.TextDocumentIdentifier(uri=uri)
        found = await client.text_document_completion_async(
            types.CompletionParams(ident, types.Position(3, 9))
        )
        assert {"noop", "shell"} <= {i.label for i in found.items}
        await client.text_document_hover_async(types.HoverParams(ident, types.Position(2, 10)))
        await client.text_document_formatting_async(
            types.DocumentFormattingParams(ident, types.FormattingOptions(2, True))
        )
        await client.shutdown_session()
    finally:
        await client.stop()
    assert record.read_text(encoding="utf-8").strip() == ""


def test_without_the_lsp_extra_kostyorc_lsp_says_how_to_get_it():
    # pygls made unimportable, as in an install without the `lsp` extra
    code = "import sys; sys.modules['pygls'] = None\nfrom kostyor_dsl.cli import main\nsys.exit(main(['lsp']))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr == (
        "kostyorc: error: the language server needs pygls: pip install 'kostyor-dsl[lsp]'\n"
    )


def test_kostyorc_lsp_help():
    result = subprocess.run(
        [sys.executable, "-m", "kostyor_dsl", "lsp", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert "Language Server Protocol" in result.stdout and "docs/editors.md" in result.stdout
