"""The library entry points the language server stands on (no server here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kostyor_dsl.compiler import check
from kostyor_dsl.compiler.strategy_blocks import BUDGET_KEYS, HOSTS_KEYS, SERVICE_KEYS
from kostyor_dsl.compiler.strategy_settings import STRATEGY_KEYS
from kostyor_dsl.language.suggest import did_you_mean, suggested_names
from kostyor_dsl.lsp.completion import SETTING_DOCS, completions, cursor_at
from kostyor_dsl.lsp.navigation import definition, symbol_at
from kostyor_dsl.lsp.workspace import check_text, shipped_spec_path

ROOT = Path(__file__).resolve().parents[2]
SPECS = [
    ROOT / "examples" / "team.kostyor",
    ROOT / "tests" / "golden" / "bad-spec" / "spec.kostyor",
    ROOT / "tests" / "review" / "data" / "messy.kostyor",
    ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor",
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_unsaved_text_gets_what_check_gets_for_the_file(spec: Path):
    text = spec.read_text(encoding="utf-8")
    assert check_text(text, str(spec)).report.diagnostics == check(str(spec)).diagnostics


def test_unsaved_text_with_an_inventory(tmp_path: Path):
    inventory = ROOT / "examples" / "design-doc.yaml"
    spec = ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor"
    text = spec.read_text(encoding="utf-8").replace("nova-conductor ", "nova-conductorr ")
    got = check_text(text, str(tmp_path / "k.kostyor"), str(inventory)).report
    saved = tmp_path / "k.kostyor"
    saved.write_text(text, encoding="utf-8")
    want = check(str(saved), str(inventory))
    assert got.diagnostics == want.diagnostics
    assert any(d.code == "K042" for d in got.diagnostics)


def test_the_model_is_kept_when_the_spec_has_errors(tmp_path: Path):
    text = "import kostyor\nstrategy s extends node-by-node {\n  order  nope\n}\n"
    result = check_text(text, str(tmp_path / "s.kostyor"))
    assert not result.report.ok and result.report.spec is None
    assert "openstack" in result.partial.orders


def test_paths_behind_display_names(tmp_path: Path):
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "common.kostyor").write_text("import kostyor\n", encoding="utf-8")
    text = 'import "team/common.kostyor"\n'
    result = check_text(text, str(tmp_path / "root.kostyor"))
    assert [u.display for u in result.units] == [
        "root.kostyor",
        "team/common.kostyor",
        "<shipped>/kostyor.kostyor",
    ]
    assert result.path_of("team/common.kostyor") == str(tmp_path / "team" / "common.kostyor")
    assert result.path_of("<shipped>/kostyor.kostyor") == shipped_spec_path("kostyor")
    assert Path(shipped_spec_path("kostyor")).read_text(encoding="utf-8").startswith("#")
    root, common, shipped = result.units
    (item,) = root.tree.items
    assert result.imported_unit(root, item) is common
    assert result.imported_unit(common, common.tree.items[0]) is shipped


def test_suggested_names_read_did_you_mean_back():
    (hint,) = did_you_mean("evacuat", ["evacuate", "evacuated", "drain"])
    assert suggested_names(hint) == ("evacuate", "evacuated")
    assert suggested_names("known tiers: a, b") == ()
    assert suggested_names("did you mean it?") == ()


def test_every_setting_key_has_its_documentation():
    keys = {("strategy", k) for k in STRATEGY_KEYS}
    keys |= {("hosts", k) for k in HOSTS_KEYS} | {("service", k) for k in SERVICE_KEYS}
    keys |= {("budget", k) for k in BUDGET_KEYS}
    assert set(SETTING_DOCS) == keys


SPEC = """\
tiers controller, compute

actions drain-l3

order mine {
  project p {
    a  on controller
    b  on compute
  }
}

strategy s {
  order  mine
  service b {
    before  drain-l3
  }
  hosts compute {
    batch  1
  }
}
"""


def test_symbols_and_their_definitions(tmp_path: Path):
    result = check_text(SPEC, str(tmp_path / "s.kostyor"))
    assert result.report.ok
    tree = result.root.tree
    trees = [tree]

    def where(line: int, column: int):
        sym = symbol_at(tree, line, column)
        span = definition(trees, result.partial, sym)
        return sym.kind, sym.name, (span.line, span.column) if span else None

    assert where(13, 10) == ("order", "mine", (5, 7))
    assert where(14, 11) == ("service", "b", (8, 5))
    assert where(15, 15) == ("action", "drain-l3", (3, 9))
    assert where(8, 12) == ("tier", "compute", (1, 19))
    assert where(14, 4) == ("setting", "service", None)
    assert where(17, 10) == ("selector", "compute", (1, 19))
    # the end of a name is still on it (a cursor after typing it)
    assert symbol_at(tree, 13, 14).name == "mine"
    assert symbol_at(tree, 2, 1) is None


def labels(text: str, line: int, column: int, spec=None, drivers=()) -> list[str]:
    return [c.label for c in completions(text, line, column, spec, drivers)]


def test_completion_in_place(tmp_path: Path):
    model = check_text(SPEC, str(tmp_path / "s.kostyor")).partial
    assert labels(SPEC, 2, 1, model)[:3] == ["import", "tiers", "actions"]
    assert labels("strategy s ", 1, 12, model) == ["extends"]
    assert labels("default strategy s extends ", 1, 28, model) == ["s"]
    assert labels(SPEC, 6, 3, model) == ["project"]
    assert labels("order o {\n  project p {\n    a ", 3, 7, model) == ["on"]
    assert labels("order o {\n  project p {\n    a on ", 3, 10, model) == ["controller", "compute"]
    in_strategy = SPEC.replace("  order  mine\n", "  order  \n")
    assert labels(in_strategy, 13, 10, model) == ["mine"]
    assert "engine" in labels(in_strategy, 13, 3, model)
    assert labels(SPEC.replace("service b", "service "), 14, 11, model) == ["a", "b"]
    assert "drain-l3" in labels(SPEC, 15, 15, model)
    assert labels("strategy s {\n  driver ", 2, 10, model, ["noop", "shell"]) == ["noop", "shell"]
    assert labels("strategy s {\n  hosts compute {\n    ", 3, 5, model)[:2] == [
        "batch",
        "max-failed-hosts",
    ]
    assert "name=" in labels("strategy s {\n  hosts ", 2, 9, model)
    params = "strategy s {\n  pre-upgrade {\n    backup-databases {\n      "
    assert labels(params, 4, 7, model) == ["timeout"]
    assert labels("strategy s {\n  driver shell {\n    ", 3, 5, model) == []
    # nothing inside a comment
    assert labels("# strategy ", 1, 12, model) == []


def test_cursor_knows_the_word_being_typed():
    cursor = cursor_at('strategy s {\n  driver shell {\n    command "a # b" # c\n', 3, 15)
    assert cursor.blocks == (("strategy", "s"), ("driver", "shell"))
    assert cursor.words == ("command",) and cursor.prefix == '"a'
    assert not cursor.in_comment
    assert cursor_at('x "a # b" # c', 1, 13).in_comment
