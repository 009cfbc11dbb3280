"""The VS Code extension's files (editors/vscode/) agree with the language."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kostyor_dsl.compiler.model import BUILTIN_ACTIONS
from kostyor_dsl.lsp.completion import SETTING_DOCS

ROOT = Path(__file__).resolve().parents[2]
VSCODE = ROOT / "editors" / "vscode"


def load(name: str) -> dict:
    return json.loads((VSCODE / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def grammar() -> dict:
    return load("syntaxes/kostyor.tmLanguage.json")


def test_the_extension_starts_kostyorc_lsp():
    package = load("package.json")
    (language,) = package["contributes"]["languages"]
    assert language["extensions"] == [".kostyor"]
    assert (VSCODE / language["configuration"]).is_file()
    (grammar,) = package["contributes"]["grammars"]
    assert (VSCODE / grammar["path"]).is_file() and grammar["language"] == language["id"]
    script = (VSCODE / package["main"]).read_text(encoding="utf-8")
    assert 'args: ["lsp"]' in script and 'config.get("server.path")' in script
    assert "kostyor.server.path" in package["contributes"]["configuration"]["properties"]
    load("language-configuration.json")


def _keywords() -> set[str]:
    lark = (ROOT / "kostyor_dsl" / "grammar" / "kostyor.lark").read_text(encoding="utf-8")
    return set(re.findall(r'^[A-Z]+: "([a-z]+)"$', lark, re.M))


def test_the_grammar_knows_every_keyword_setting_and_action(grammar):
    repo = grammar["repository"]
    patterns = repo["header"]["match"] + repo["statement"]["match"] + repo["service"]["match"]
    keywords = set(re.findall(r"[a-z]+", patterns))
    assert _keywords() == {
        "default",
        "order",
        "project",
        "on",
        "strategy",
        "extends",
        "import",
        "tiers",
        "actions",
        "ignore",
        "barrier",
        "before",
        "irreversible",
    }
    assert _keywords() <= keywords
    setting = re.compile(repo["setting"]["match"])
    for _, key in SETTING_DOCS:
        assert setting.match(f"    {key}  1"), key
        assert setting.match(f"    {key} {{"), key
    action = next(p for p in repo["value"]["patterns"] if "action" in p["name"])
    for name in BUILTIN_ACTIONS:
        assert re.fullmatch(action["match"], name), name
    assert not re.match(action["match"], "drain-l3")


def test_the_grammar_reads_the_shipped_spec(grammar):
    repo = grammar["repository"]
    header = re.compile(repo["header"]["match"])
    m = header.match("strategy rolling-computes extends node-by-node {")
    assert m.group(2, 3, 4, 5) == ("strategy", "rolling-computes", "extends", "node-by-node")
    m = header.match("default strategy node-by-node {")
    assert m.group(1, 2, 3) == ("default", "strategy", "node-by-node")
    service = re.compile(repo["service"]["match"])
    assert service.match("    neutron-l3-agent  on controller").group(1) == "neutron-l3-agent"
    number = next(p for p in repo["value"]["patterns"] if p["name"] == "constant.numeric.kostyor")
    assert [m.group() for m in re.finditer(number["match"], "batch 1, 5, 20% timeout 30m")] == [
        "1",
        "5",
        "20%",
        "30m",
    ]
    spec = (ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor").read_text(encoding="utf-8")
    headers = [line for line in spec.splitlines() if line.rstrip().endswith("{")]
    named = [h for h in headers if header.match(h)]
    setting = re.compile(repo["setting"]["match"])
    assert all(header.match(h) or setting.match(h) for h in headers)
    assert len(named) == 1 + 12 + 3  # the order, its projects, the strategies
