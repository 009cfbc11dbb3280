"""A broken file never crashes the server: mutated specs, bounded and deterministic.

Each input goes to the server as an unsaved change; the server must publish
its diagnostics, and answer hover, definition, completion, symbols,
formatting and code actions on it without an error response.  A last, valid
text must still come back clean: the server is alive and its state is sane.

Where the library itself fails on an input (today: blocks nested some
thousand deep, a number of more than 4300 digits in a hosts block), the
server must say so on the file, as an error diagnostic, not go quiet.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lsp_support import change_spec, open_spec
from lsprotocol import types
from pytest_lsp import LanguageClient

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [
    (ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor").read_text(encoding="utf-8"),
    (ROOT / "examples" / "team.kostyor").read_text(encoding="utf-8"),
]
FRAGMENTS = [
    "{",
    "}",
    '"',
    '"unterminated',
    "\x00",
    "\f",
    "\r",
    "\t",
    "#",
    ",",
    "=",
    "%",
    "9" * 5000,
    "1e999",
    "99999999999999999999%",
    " extends ",
    "strategy",
    "order",
    "hosts",
    "import kostyor\n",
    'import "missing.kostyor"\n',
    "import team\n",
    "\u00e9\U0001f600",
    "\n",
]
SPECIAL = [
    "",
    "\n" * 50,
    "strategy s {\n" + "a {\n" * 2000 + "}\n" * 2000 + "}\n",
    "order o {\n" * 500,
    "strategy s {\n  hosts compute {\n    batch " + "9" * 5000 + "\n  }\n}\n",
    "strategy s {\n  hosts compute {\n    pause-after-batch " + "9" * 5000 + "\n  }\n}\n",
    "tiers a\f, b\n\f\norder o {\n  project p {\n    x on a\n  }\n}\n",
    'strategy s {\n  driver shell {\n    command "never closed\n  }\n}\n',
    "\x00" * 100,
    "import kostyor\n" * 50,
]
MUTATIONS = 60


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(text) + 1)
        choice = rng.random()
        if choice < 0.35:
            text = text[:at] + rng.choice(FRAGMENTS) + text[at:]
        elif choice < 0.6:
            text = text[:at] + text[at + rng.randint(1, 40) :]
        elif choice < 0.75:
            lines = text.split("\n")
            i = rng.randrange(len(lines))
            lines.insert(i, lines[rng.randrange(len(lines))])
            text = "\n".join(lines)
        elif choice < 0.85:
            text = text[:at]
        else:
            lines = text.split("\n")
            rng.shuffle(lines)
            text = "\n".join(lines)
    return text


def inputs() -> list[str]:
    rng = random.Random(14)
    return SPECIAL + [mutate(rng, rng.choice(SEEDS)) for _ in range(MUTATIONS)]


@pytest.mark.asyncio(loop_scope="module")
async def test_broken_files_never_crash_the_server(client: LanguageClient, tmp_path: Path):
    spec = tmp_path / "fuzz.kostyor"
    spec.write_text(SEEDS[1], encoding="utf-8")
    (tmp_path / "team.kostyor").write_text(SEEDS[1], encoding="utf-8")
    uri, _ = await open_spec(client, spec)
    ident = types.TextDocumentIdentifier(uri=uri)
    rng = random.Random(41)
    for version, text in enumerate(inputs(), start=2):
        found = await change_spec(client, uri, text, version)
        for d in found:
            if "could not check" in d.message:
                assert d.severity == types.DiagnosticSeverity.Error
                assert "this is a bug of kostyorc" in d.message
        lines = text.split("\n")
        line = rng.randrange(len(lines))
        where = types.Position(line, rng.randint(0, len(lines[line]) + 2))
        # An error response raises here.
        await client.text_document_hover_async(types.HoverParams(ident, where))
        await client.text_document_definition_async(types.DefinitionParams(ident, where))
        await client.text_document_completion_async(types.CompletionParams(ident, where))
        await client.text_document_document_symbol_async(types.DocumentSymbolParams(ident))
        await client.text_document_formatting_async(
            types.DocumentFormattingParams(ident, types.FormattingOptions(2, True))
        )
        if found:
            await client.text_document_code_action_async(
                types.CodeActionParams(
                    ident, found[0].range, types.CodeActionContext(diagnostics=found)
                )
            )
    assert await change_spec(client, uri, SEEDS[0], version=1000) == []
    # pygls shows a message when a notification handler raises: none did.
    assert [m.message for m in client.messages] == []


def test_the_editor_functions_take_any_text(tmp_path: Path):
    """In process and many more inputs: names, definitions, hover and completion
    never raise on what the check of a broken file leaves."""
    from kostyor_dsl.lsp.completion import completions
    from kostyor_dsl.lsp.hover import hover_text
    from kostyor_dsl.lsp.navigation import definition, symbol_at, symbols
    from kostyor_dsl.lsp.workspace import check_text

    (tmp_path / "team.kostyor").write_text(SEEDS[1], encoding="utf-8")
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(
        "hosts:\n  - name: a\n    services: [nova-compute]\n    labels: {rack: r1}\n",
        encoding="utf-8",
    )
    rng = random.Random(7)
    checked = 0
    texts = [mutate(rng, rng.choice(SEEDS)) for _ in range(400)]
    for text in texts:
        try:
            result = check_text(text, str(tmp_path / "fuzz.kostyor"), str(inventory))
        except (RecursionError, ValueError):
            continue  # the library's own bugs (see the module's docstring)
        checked += 1
        trees = [u.tree for u in result.units if u.tree is not None]
        for tree in trees:
            for sym in symbols(tree):
                definition(trees, result.partial, sym)
                hover_text(result, sym)
        lines = text.split("\n")
        for _ in range(5):
            line = rng.randrange(len(lines)) + 1
            column = rng.randint(1, len(lines[line - 1]) + 2)
            completions(text, line, column, result.partial, ("noop",))
            if result.root is not None and result.root.tree is not None:
                symbol_at(result.root.tree, line, column)
    assert checked > 350  # the inputs did reach the editor functions
