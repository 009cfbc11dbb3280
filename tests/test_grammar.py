"""The grammar itself: conflict-free, and every labelled bad snippet keeps its label."""

from __future__ import annotations

import pytest
from lark import Lark

from kostyor_dsl.compiler import parse
from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import CompileError
from kostyor_dsl.language.parser import SYNTAX_ERRORS


def test_grammar_is_strict_lalr():
    # strict=True rejects shift/reduce conflicts and colliding terminals.
    Lark.open_from_package("kostyor_dsl", "kostyor.lark", ("grammar",), parser="lalr", strict=True)


@pytest.mark.parametrize(
    ("label", "snippet"),
    [(label, snippet) for label, snippets in SYNTAX_ERRORS.items() for snippet in snippets],
)
def test_labelled_snippet_keeps_its_label(label, snippet):
    with pytest.raises(CompileError) as info:
        parse(snippet, "snippet.kostyor")
    first = info.value.diagnostics[0]
    assert first.code == "K002"
    assert label in first.message


def test_ast_ignores_positions_and_keeps_comments():
    a = parse("# lead\norder o {\n  project p {\n    x on controller  # why\n  }\n}\n")
    b = parse("\n\norder o {\n project p {\n x on controller\n }\n}\n")
    assert a == b
    assert [(c.text, c.span.line, c.span.column) for c in a.comments] == [
        ("# lead", 1, 1),
        ("# why", 4, 22),
    ]
    service = a.items[0].projects[0].services[0]
    assert (service.name.span.line, service.name.span.column) == (4, 5)


def test_names_values_and_keywords_as_words():
    spec = parse(
        "default strategy s extends base {\n  order openstack\n  batch 1, 5, 20%\n"
        '  timeout 1.5\n  wait 30m\n  driver shell {\n    command "a \\"quoted\\" # not a comment"\n  }\n}\n'
    )
    (strategy,) = spec.items
    assert strategy.is_default and strategy.extends.value == "base"
    kinds = {s.key.value: [(v.kind, v.text) for v in s.values] for s in strategy.settings}
    assert kinds == {
        "order": [("name", "openstack")],
        "batch": [("number", "1"), ("number", "5"), ("percent", "20%")],
        "timeout": [("number", "1.5")],
        "wait": [("duration", "30m")],
        "driver": [("name", "shell")],
    }
    command = strategy.settings[-1].block[0]
    assert command.values[0].text == 'a "quoted" # not a comment'
    assert spec.comments == ()


def test_imports_and_tiers():
    spec = parse('import openstack\nimport "../team/common.kostyor"\ntiers a, b\n')
    assert spec.items == (
        ast.Import("openstack", is_path=False),
        ast.Import("../team/common.kostyor", is_path=True),
        ast.Tiers((ast.Name("a"), ast.Name("b"))),
    )


def test_file_without_trailing_newline_and_crlf():
    assert parse("tiers a, b") == parse("tiers a, b\r\n")
