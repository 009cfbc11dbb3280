"""`kostyorc lsp` end to end: a real server process over stdio, a spec in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsp_support import change_spec, diagnostics_for, open_spec
from lsprotocol import types
from pytest_lsp import LanguageClient

from kostyor_dsl.lsp.workspace import shipped_spec_path
from kostyor_dsl.review.fmt import format_spec

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEAM = """\
import kostyor

actions backup-databases

strategy careful extends rolling-computes {
  order  openstack
  pre-upgrade {
    backup-databases
  }
  service nova-compute {
    before  drain
  }
}
"""

TYPO = TEAM.replace("openstack\n", "openstak\n")


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


def at(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def position_of(text: str, needle: str, offset: int = 0) -> types.Position:
    """The 0-based LSP position of the first `needle` in `text` (plus `offset` characters)."""
    before = text[: text.index(needle)]
    return at(before.count("\n"), len(before) - (before.rfind("\n") + 1) + offset)


async def test_a_typo_is_reported_at_its_line_and_column_then_clears(
    client: LanguageClient, tmp_path: Path
):
    spec = tmp_path / "team.kostyor"
    spec.write_text(TYPO, encoding="utf-8")
    uri, found = await open_spec(client, spec)
    assert [d.code for d in found] == ["K021"]
    (typo,) = found
    assert typo.range == types.Range(at(5, 9), at(5, 17))
    assert typo.severity == types.DiagnosticSeverity.Error
    assert typo.message.startswith("unknown order 'openstak'")
    assert "hint: did you mean 'openstack'?" in typo.message
    assert typo.source == "kostyorc"

    assert await change_spec(client, uri, TEAM, version=2) == []


async def test_a_change_is_checked_as_typed(client: LanguageClient, tmp_path: Path):
    spec = tmp_path / "team.kostyor"
    fixed = TEAM
    spec.write_text(fixed, encoding="utf-8")
    uri, found = await open_spec(client, spec)
    assert found == []
    # unsaved text, never written to the file
    broken = fixed.replace("before  drain", "before  drian")
    (d,) = await change_spec(client, uri, broken, version=2)
    assert (d.code, d.range.start.line, d.range.start.character) == ("K032", 10, 12)
    unclosed = fixed.replace("  }\n}\n", "  }\n")
    (d,) = await change_spec(client, uri, unclosed, version=3)
    assert d.code == "K002" and "is never closed: a '}' is missing" in d.message


async def test_problems_in_an_imported_file_show_there_and_on_the_import(
    client: LanguageClient, tmp_path: Path
):
    common = tmp_path / "common" / "base.kostyor"
    common.parent.mkdir()
    common.write_text(
        "import kostyor\n\nstrategy base extends node-by-node {\n  driver  shell\n  ordr  openstack\n}\n",
        encoding="utf-8",
    )
    spec = tmp_path / "team.kostyor"
    spec.write_text(
        'import "common/base.kostyor"\n\ndefault strategy mine extends base {\n}\n',
        encoding="utf-8",
    )
    _, found = await open_spec(client, spec)
    (summary,) = found
    assert summary.range.start == at(0, 7)
    assert summary.message == "common/base.kostyor: 1 error"
    (related,) = summary.related_information
    assert related.location.uri == common.as_uri()
    assert related.location.range.start == at(4, 2)

    there = client.diagnostics[common.as_uri()]
    assert [(d.code, d.range.start.line, d.range.start.character) for d in there] == [
        ("K023", 4, 2)
    ]
    assert "did you mean 'order'?" in there[0].message


async def test_related_locations_are_the_labels(client: LanguageClient, tmp_path: Path):
    spec = tmp_path / "twice.kostyor"
    text = "order o {\n  project p {\n    a  on controller\n    a  on controller\n  }\n}\n"
    spec.write_text(text, encoding="utf-8")
    _, found = await open_spec(client, spec)
    (d,) = found
    assert d.code == "K012" and d.range.start == at(3, 4)
    (label,) = d.related_information
    assert label.message == "first listed here"
    assert label.location.uri == spec.as_uri() and label.location.range.start == at(2, 4)


async def test_hover(client: LanguageClient, tmp_path: Path):
    spec = tmp_path / "team.kostyor"
    text = TEAM
    spec.write_text(text, encoding="utf-8")
    uri, _ = await open_spec(client, spec)

    service = await client.text_document_hover_async(
        types.HoverParams(doc(uri), position_of(text, "nova-compute", 3))
    )
    assert "**service nova-compute** (project nova)" in service.contents.value
    assert "tiers: compute" in service.contents.value
    # 49 services rank before it (their first tier is controller), 17 after (storage)
    assert "rank 50 of 67" in service.contents.value
    # keystone 2, glance 2, then the 15th of nova; on line 36 of the shipped file
    assert "line 19 of 67 in order openstack (`<shipped>/kostyor.kostyor:36`)" in (
        service.contents.value
    )

    strategy = await client.text_document_hover_async(
        types.HoverParams(doc(uri), position_of(text, "careful"))
    )
    value = strategy.contents.value
    assert "- extends: rolling-computes -> node-by-node" in value
    assert "engine: node-by-node" in value and "driver: noop" in value
    assert "pre-upgrade: backup-databases" in value
    # inherited from rolling-computes
    assert "hosts compute: batch 1, 5, 20%" in value
    assert "before disable-scheduling, evacuate {timeout 30m}" in value

    action = await client.text_document_hover_async(
        types.HoverParams(doc(uri), position_of(text, "    backup-databases", 6))
    )
    assert "declared at `team.kostyor:3:9`" in action.contents.value
    builtin = await client.text_document_hover_async(
        types.HoverParams(doc(uri), position_of(text, "drain"))
    )
    assert "built in" in builtin.contents.value

    imported = await client.text_document_hover_async(
        types.HoverParams(doc(uri), position_of(text, "kostyor", 1))
    )
    assert imported.contents.value == (
        "**import** `<shipped>/kostyor.kostyor`\n\n- orders: openstack\n"
        "- strategies: node-by-node, service-by-service, rolling-computes"
    )

    setting = await client.text_document_hover_async(
        types.HoverParams(doc(uri), position_of(text, "pre-upgrade"))
    )
    assert "before any service is upgraded" in setting.contents.value


async def test_go_to_definition(client: LanguageClient, tmp_path: Path):
    common = tmp_path / "common.kostyor"
    common.write_text("actions backup-databases\n", encoding="utf-8")
    spec = tmp_path / "team.kostyor"
    text = 'import "common.kostyor"\n' + TEAM.replace("actions backup-databases\n", "")
    spec.write_text(text, encoding="utf-8")
    uri, found = await open_spec(client, spec)
    assert found == []
    shipped = Path(shipped_spec_path("kostyor")).as_uri()

    async def definition(needle: str, offset: int = 1) -> types.Location:
        return await client.text_document_definition_async(
            types.DefinitionParams(doc(uri), position_of(text, needle, offset))
        )

    to_file = await definition('"common.kostyor"')
    assert to_file.uri == common.as_uri()
    to_shipped = await definition("kostyor\n")
    assert to_shipped.uri == shipped

    extends = await definition("rolling-computes")
    shipped_lines = Path(shipped_spec_path("kostyor")).read_text().split("\n")
    assert extends.uri == shipped
    assert shipped_lines[extends.range.start.line].startswith("strategy rolling-computes")
    assert extends.range.start.character == len("strategy ")

    action = await definition("    backup-databases", 6)
    assert action.uri == common.as_uri() and action.range.start == at(0, 8)

    service = await definition("nova-compute")
    assert service.uri == shipped
    assert shipped_lines[service.range.start.line].strip().startswith("nova-compute  ")


async def test_go_to_an_order(client: LanguageClient, tmp_path: Path):
    spec = tmp_path / "o.kostyor"
    text = (
        "order mine {\n  project p {\n    a  on controller\n  }\n}\n\n"
        "strategy s {\n  order  mine\n}\n"
    )
    spec.write_text(text, encoding="utf-8")
    uri, _ = await open_spec(client, spec)
    where = await client.text_document_definition_async(
        types.DefinitionParams(doc(uri), position_of(text, "  mine", 3))
    )
    assert where.uri == uri and where.range == types.Range(at(0, 6), at(0, 10))


async def _labels(client, uri, text, needle, offset) -> dict[str, types.CompletionItem]:
    result = await client.text_document_completion_async(
        types.CompletionParams(doc(uri), position_of(text, needle, offset))
    )
    return {item.label: item for item in result.items}


async def test_completion(client: LanguageClient, tmp_path: Path):
    spec = tmp_path / "team.kostyor"
    text = TEAM
    spec.write_text(text, encoding="utf-8")
    uri, _ = await open_spec(client, spec)

    keys = await _labels(client, uri, text, "  order", 2)
    assert {"engine", "order", "driver", "hosts", "service", "pre-upgrade"} <= set(keys)
    assert "how hosts and services are ordered" in keys["engine"].documentation.value.lower()

    orders = await _labels(client, uri, text, "openstack\n", 0)
    assert set(orders) == {"openstack"}

    # a half-typed line: the file does not parse, the names still come
    typing = text.replace(
        "  service nova-compute {", "  engine \n  service nova-\n  service nova-compute {"
    )
    await change_spec(client, uri, typing, version=2)
    engines = await _labels(client, uri, typing, "engine \n", 7)
    assert {"node-by-node", "service-by-service"} <= set(engines)
    services = await _labels(client, uri, typing, "nova-\n", 5)
    assert "nova-compute" in services and "keystone-wsgi-admin" in services
    assert services["nova-compute"].detail == "nova, rank 50 in openstack"
    # the edit replaces what was typed, `-` and all
    replaced = services["nova-compute"].text_edit
    assert replaced.range == types.Range(
        position_of(typing, "nova-\n"), position_of(typing, "nova-\n", 5)
    )
    assert replaced.new_text == "nova-compute"

    actions = await _labels(client, uri, typing, "  drain", 2)
    assert {"drain", "evacuate", "backup-databases"} <= set(actions)

    top = await _labels(client, uri, typing, "import", 0)
    assert set(top) == {"import", "tiers", "actions", "order", "strategy", "default"}


async def test_formatting(client: LanguageClient, tmp_path: Path):
    spec = tmp_path / "messy.kostyor"
    messy = "tiers   controller,compute\norder o {\nproject p {\n  a on controller\n bb on compute # b\n}\n}\n"
    spec.write_text(messy, encoding="utf-8")
    uri, _ = await open_spec(client, spec)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(doc(uri), types.FormattingOptions(2, True))
    )
    (edit,) = edits
    assert edit.range == types.Range(at(0, 0), at(7, 0))  # the whole document
    assert edit.new_text == format_spec(messy)
    await change_spec(client, uri, edit.new_text, version=2)
    again = await client.text_document_formatting_async(
        types.DocumentFormattingParams(doc(uri), types.FormattingOptions(2, True))
    )
    assert again is not None and len(again) == 0


async def test_a_code_action_for_each_did_you_mean(client: LanguageClient, tmp_path: Path):
    spec = tmp_path / "team.kostyor"
    text = TYPO.replace("before  drain", "before  evacuat")
    spec.write_text(text, encoding="utf-8")
    uri, found = await open_spec(client, spec)
    assert [d.code for d in found] == ["K021", "K032"]
    result = await client.text_document_code_action_async(
        types.CodeActionParams(doc(uri), found[0].range, types.CodeActionContext(diagnostics=found))
    )
    by_title = {a.title: a for a in result}
    assert set(by_title) == {
        "Change 'openstak' to 'openstack'",
        "Change 'evacuat' to 'evacuate'",
    }
    fix = by_title["Change 'evacuat' to 'evacuate'"]
    assert fix.kind == types.CodeActionKind.QuickFix
    (edit,) = fix.edit.changes[uri]
    assert edit.new_text == "evacuate" and edit.range == found[1].range


async def test_document_symbols(client: LanguageClient, tmp_path: Path):
    spec = tmp_path / "s.kostyor"
    text = (
        "order mine {\n  project p {\n    a  on controller\n  }\n  project q {\n"
        "    b  on compute\n  }\n}\n\ndefault strategy s {\n  hosts compute {\n    batch  2\n  }\n}\n"
    )
    spec.write_text(text, encoding="utf-8")
    uri, _ = await open_spec(client, spec)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(doc(uri)))
    order, strategy = symbols
    assert (order.name, order.detail) == ("mine", "order")
    assert [p.name for p in order.children] == ["p", "q"]
    assert [s.name for s in order.children[1].children] == ["b"]
    assert (strategy.name, strategy.detail) == ("s", "default strategy")
    assert [c.name for c in strategy.children] == ["hosts compute"]
    assert order.range.end.line == 5  # to its last service


INVENTORY = """\
hosts:
  - name: ctl-1
    services: [keystone-wsgi-admin, nova-api]
  - name: cmp-1
    services: [nova-compute]
  - name: cmp-2
    services: [nova-compute, nova-apii]
"""


async def test_inventory_from_a_comment(client: LanguageClient, tmp_path: Path):
    inventory = tmp_path / "inv" / "prod.yaml"
    inventory.parent.mkdir()
    inventory.write_text(INVENTORY, encoding="utf-8")
    spec = tmp_path / "team.kostyor"
    text = "# kostyor: inventory=inv/prod.yaml\n" + TEAM
    spec.write_text(text, encoding="utf-8")
    uri, found = await open_spec(client, spec)
    (summary,) = found
    assert summary.message == "prod.yaml: 1 error"
    assert summary.range.start == at(0, 21)
    in_inventory = client.diagnostics[inventory.as_uri()]
    assert [(d.code, d.range.start.line) for d in in_inventory] == [("K042", 6)]
    assert "did you mean 'nova-api'?" in in_inventory[0].message

    hover = await client.text_document_hover_async(
        types.HoverParams(doc(uri), position_of(text, "nova-compute", 1))
    )
    assert "project nova" in hover.contents.value


async def test_selector_hover_lists_the_hosts(client: LanguageClient, tmp_path: Path):
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(INVENTORY.replace(", nova-apii", ""), encoding="utf-8")
    spec = tmp_path / "team.kostyor"
    text = (
        "# kostyor: inventory=inv.yaml\nimport kostyor\n\n"
        "strategy mine extends node-by-node {\n  hosts compute, name=cmp-2 {\n    batch  1\n  }\n}\n"
    )
    spec.write_text(text, encoding="utf-8")
    uri, found = await open_spec(client, spec)
    assert found == []
    tier = await client.text_document_hover_async(
        types.HoverParams(doc(uri), position_of(text, "compute,"))
    )
    assert "matches 2 hosts: cmp-1, cmp-2 of 3 in inv.yaml" in tier.contents.value
    assert "1 host: cmp-2" in tier.contents.value  # the group: both selectors


async def test_imported_file_open_and_edited(client: LanguageClient, tmp_path: Path):
    """An open imported file shows its own (unsaved) state, not its importer's view of it."""
    common = tmp_path / "common.kostyor"
    common.write_text("actions backup-databases\n", encoding="utf-8")
    spec = tmp_path / "team.kostyor"
    spec.write_text('import "common.kostyor"\n', encoding="utf-8")
    await open_spec(client, spec)
    common_uri, found = await open_spec(client, common)
    assert found == []
    broken = await change_spec(client, common_uri, "actions backup-databases,\n", version=2)
    assert [d.code for d in broken] == ["K002"]
    await change_spec(client, common_uri, "actions backup-databases\n", version=3)
    client.text_document_did_close(types.DidCloseTextDocumentParams(doc(common_uri)))
    assert await diagnostics_for(client, common_uri) == []


async def test_the_inventory_from_the_editors_settings(client: LanguageClient, tmp_path: Path):
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(INVENTORY, encoding="utf-8")
    spec = tmp_path / "team.kostyor"
    spec.write_text(TEAM, encoding="utf-8")
    uri, found = await open_spec(client, spec)
    assert found == []
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"kostyor": {"inventory": str(inventory)}})
    )
    (summary,) = await diagnostics_for(client, uri, 1)
    assert summary.message == "inv.yaml: 1 error"
    # Every open spec is checked again (other tests' too): a request answered after
    # the notification means all of its diagnostics have arrived.
    await client.text_document_hover_async(types.HoverParams(doc(uri), at(0, 0)))
    # (the other tests' open specs are checked against it too: their problems are there)
    there = client.diagnostics[inventory.as_uri()]
    assert "runs unknown service 'nova-apii' (not in order 'openstack')" in "".join(
        d.message for d in there if d.code == "K042"
    )
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"kostyor": {"inventory": None}})
    )
    assert await diagnostics_for(client, uri, 1) == []
    await client.text_document_hover_async(types.HoverParams(doc(uri), at(0, 0)))
    assert len(client.diagnostics[inventory.as_uri()]) == 0  # cleared there too


async def test_saving_an_imported_file_checks_its_importers(client: LanguageClient, tmp_path):
    common = tmp_path / "common.kostyor"
    common.write_text("actions backup-databases\n", encoding="utf-8")
    spec = tmp_path / "team.kostyor"
    spec.write_text('import "common.kostyor"\n', encoding="utf-8")
    uri, _ = await open_spec(client, spec)
    common_uri, _ = await open_spec(client, common)
    common.write_text("actions backup-databases,\n", encoding="utf-8")
    await change_spec(client, common_uri, "actions backup-databases,\n", version=2)
    client.text_document_did_save(types.DidSaveTextDocumentParams(doc(common_uri)))
    (summary,) = await diagnostics_for(client, uri, 1)
    assert summary.message == "common.kostyor: 1 error"
    assert summary.range.start == at(0, 7)


async def test_an_inventory_changed_on_disk_is_read_again(client: LanguageClient, tmp_path):
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(INVENTORY, encoding="utf-8")
    spec = tmp_path / "team.kostyor"
    text = "# kostyor: inventory=inv.yaml\n" + TEAM
    spec.write_text(text, encoding="utf-8")
    uri, found = await open_spec(client, spec)
    assert [d.message for d in found] == ["inv.yaml: 1 error"]
    (watch,) = client.registrations  # the server asked to hear of files changed on disk
    assert watch.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    inventory.write_text(INVENTORY.replace(", nova-apii", ""), encoding="utf-8")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            [types.FileEvent(inventory.as_uri(), types.FileChangeType.Changed)]
        )
    )
    assert await diagnostics_for(client, uri, 1) == []


async def test_positions_are_in_the_editors_units(client: LanguageClient, tmp_path):
    """LSP counts UTF-16 code units; the compiler counts characters."""
    prefix = '    services: ["\u00e9\U0001f600", '
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(f"hosts:\n  - name: a\n{prefix}nova-apii]\n", encoding="utf-8")
    spec = tmp_path / "team.kostyor"
    spec.write_text("# kostyor: inventory=inv.yaml\n" + TEAM, encoding="utf-8")
    await open_spec(client, spec)
    found = {d.message.split(":")[0]: d for d in client.diagnostics[inventory.as_uri()]}
    typo = found["host 'a', service 'nova-apii'"]
    utf16 = len(prefix.encode("utf-16-le")) // 2
    assert utf16 == len(prefix) + 1  # the emoji is two code units
    assert typo.range == types.Range(at(2, utf16), at(2, utf16 + len("nova-apii")))
