"""Every kind of bad spec yields its diagnostic, at the right place.

A table of labelled bad snippets (as lark's own grammar loader keeps one):
each entry is a spec, then the (code, line, column) expected and a piece of
the message.  All diagnostics of a file are collected, so entries also check
that exactly the expected ones come out.
"""

from __future__ import annotations

import json

import pytest

from kostyor_dsl.compiler import check
from kostyor_dsl.language.diagnostics import render_text

GOOD_ORDER = """order o {
  project nova {
    nova-api      on controller
    nova-compute  on compute
  }
}
"""

CASES = {
    "missing tiers after service": (
        "order o {\n  project p {\n    nova-api\n  }\n}\n",
        [("K002", 3, 13, "a service needs its tiers")],
    ),
    "nothing after on": (
        "order o {\n  project p {\n    nova-api on\n  }\n}\n",
        [("K002", 3, 16, "expected a tier name after 'on'")],
    ),
    "bad character": (
        "order o {\n  project p {\n    nova-api on controller;\n  }\n}\n",
        [("K001", 3, 27, "unexpected character ';'")],
    ),
    "single quotes": (
        "strategy s {\n  driver shell {\n    command 'ssh'\n  }\n}\n",
        [("K001", 3, 13, "unexpected character")],
    ),
    "unclosed block": (
        "order o {\n  project p {\n    nova-api on controller\n  }\n",
        [("K002", 1, 1, "the block 'order o' is never closed")],
    ),
    "unclosed inner block at end of file": (
        GOOD_ORDER
        + "strategy s {\n  driver shell {\n    timeout 5\n  hosts compute {\n    batch 1\n  }\n}\n",
        [("K002", 8, 3, "the block 'driver shell' is never closed")],
    ),
    "unclosed block before the next one": (
        "order o {\n  project p {\n    a on controller\n  project q {\n    b on controller\n  }\n}\n",
        [("K002", 4, 3, "unexpected 'project'")],
    ),
    "unterminated string": (
        'strategy s {\n  driver shell {\n    command "ssh\n  }\n}\n',
        [("K001", 3, 13, "unterminated string")],
    ),
    "blocks nested too deep": (
        "strategy s {\n" + "a {\n" * 40 + "}\n" * 41,
        [("K005", 33, 3, "nested more than 32 levels deep")],
    ),
    "two syntax errors in one file": (
        "order o {\n  project p {\n    a on\n    b controller\n    c on controller\n  }\n}\n",
        [("K002", 3, 9, "tier name"), ("K002", 4, 7, "needs its tiers")],
    ),
    "unknown tier with hint": (
        "order o {\n  project p {\n    nova-api on controler\n  }\n}\n",
        [("K010", 3, 17, "unknown tier 'controler'")],
    ),
    "service listed twice": (
        "order o {\n  project p {\n    a on controller\n    a on compute\n  }\n}\n",
        [("K012", 4, 5, "listed twice in project 'p'")],
    ),
    "service in two projects": (
        "order o {\n  project p {\n    a on controller\n  }\n  project q {\n    a on controller\n  }\n}\n",
        [("K013", 6, 5, "in two projects: 'p' and 'q'")],
    ),
    "project twice": (
        "order o {\n  project p {\n    a on controller\n  }\n  project p {\n    b on controller\n  }\n}\n",
        [("K014", 5, 11, "project 'p' appears twice")],
    ),
    "unknown engine": (
        GOOD_ORDER + "strategy s {\n  engine node-by-nod\n}\n",
        [("K022", 8, 10, "unknown engine 'node-by-nod'")],
    ),
    "unknown order": (
        GOOD_ORDER + "strategy s {\n  order p\n}\n",
        [("K021", 8, 9, "unknown order 'p'")],
    ),
    "unknown setting": (
        GOOD_ORDER + "strategy s {\n  engin node-by-node\n}\n",
        [("K023", 8, 3, "unknown setting 'engin'")],
    ),
    "setting twice": (
        GOOD_ORDER + "strategy s {\n  engine node-by-node\n  engine node-by-node\n}\n",
        [("K025", 9, 3, "given twice")],
    ),
    "unknown-services value": (
        GOOD_ORDER + "strategy s {\n  unknown-services ignore\n}\n",
        [("K025", 8, 20, "unknown-services must be one of")],
    ),
    "strategy twice": (
        GOOD_ORDER + "strategy s {\n}\nstrategy s {\n}\n",
        [("K015", 9, 10, "strategy 's' is defined twice")],
    ),
    "extends unknown": (
        GOOD_ORDER + "strategy s extends nod {\n}\n",
        [("K020", 7, 20, "extends unknown strategy 'nod'")],
    ),
    "extends cycle": (
        GOOD_ORDER + "strategy a extends b {\n}\nstrategy b extends a {\n}\n",
        [("K027", 7, 10, "cycle"), ("K027", 9, 10, "cycle")],
    ),
    "two defaults": (
        GOOD_ORDER + "default strategy a {\n}\ndefault strategy b {\n}\n",
        [("K026", 9, 18, "more than one strategy is marked default")],
    ),
    "tier listed twice": (
        "tiers controller, compute, controller\n",
        [("K011", 1, 28, "tier 'controller' is listed twice")],
    ),
    "unknown shipped import": (
        "import openstak\n",
        [("K003", 1, 8, "no shipped spec named 'openstak'")],
    ),
    "missing file import": (
        'import "nope.kostyor"\n',
        [("K003", 1, 8, "cannot read imported file 'nope.kostyor'")],
    ),
    "strategy without order when several exist": (
        GOOD_ORDER + "order o2 {\n}\nstrategy s {\n}\n",
        [("K024", 9, 10, "strategy 's' needs an order")],
    ),
    "pre-upgrade without block": (
        GOOD_ORDER + "strategy s {\n  pre-upgrade backup\n}\n",
        [("K025", 8, 3, "'pre-upgrade' takes a block")],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_spec(name, write):
    text, expected = CASES[name]
    path = write("bad.kostyor", text)
    report = check(str(path))
    got = [(d.code, d.span.line, d.span.column) for d in report.diagnostics if d.is_error]
    assert got == [(c, line, col) for c, line, col, _ in expected], render_text(
        report.diagnostics, report.sources
    )
    for diagnostic, (_, _, _, fragment) in zip(
        [d for d in report.diagnostics if d.is_error], expected, strict=True
    ):
        assert fragment in diagnostic.message
        assert diagnostic.span.file == "bad.kostyor"


def test_did_you_mean_hints(write):
    path = write("bad.kostyor", CASES["unknown tier with hint"][0])
    (diagnostic,) = check(str(path)).diagnostics
    assert diagnostic.hints == ("did you mean 'controller'?",)
    path = write("bad2.kostyor", CASES["unknown engine"][0])
    (diagnostic,) = check(str(path)).diagnostics
    assert "did you mean 'node-by-node'?" in diagnostic.hints


def test_all_problems_across_files_are_collected(write):
    write("lib.kostyor", "order o {\n  project p {\n    a on controler\n  }\n}\n")
    root = write(
        "root.kostyor",
        'import "lib.kostyor"\nstrategy s {\n  engine nope\n}\nstrategy s {\n}\n',
    )
    report = check(str(root))
    assert sorted((d.span.file, d.code) for d in report.diagnostics) == [
        ("lib.kostyor", "K010"),
        ("root.kostyor", "K015"),
        ("root.kostyor", "K022"),
    ]


def test_text_rendering_points_at_the_column(write):
    path = write("bad.kostyor", CASES["unknown tier with hint"][0])
    report = check(str(path))
    text = render_text(report.diagnostics, report.sources)
    assert text.splitlines() == [
        "bad.kostyor:3:17: error[K010]: unknown tier 'controler' for service 'nova-api'",
        "   3 |     nova-api on controler",
        "     |                 ^^^^^^^^^",
        "  hint: did you mean 'controller'?",
        "1 error",
    ]


def test_labels_point_at_the_first_occurrence(write):
    path = write("bad.kostyor", CASES["service listed twice"][0])
    (diagnostic,) = check(str(path)).diagnostics
    (label,) = diagnostic.labels
    assert (label.span.line, label.span.column, label.message) == (3, 5, "first listed here")


def test_cli_check_exit_codes_and_json(cli, write):
    path = write("bad.kostyor", CASES["unknown engine"][0])
    code, out, err = cli("check", path)
    assert code == 1
    assert "bad.kostyor:8:10: error[K022]: unknown engine 'node-by-nod'" in err
    assert "Traceback" not in err
    code, out, err = cli("check", path, "--diagnostics-format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["valid"] is False and doc["error_count"] == 1
    (d,) = doc["diagnostics"]
    assert d["code"] == "K022" and d["severity"] == "error"
    assert d["range"] == {
        "filename": "bad.kostyor",
        "start": {"line": 8, "column": 10},
        "end": {"line": 8, "column": 21},
    }
    code, out, err = cli("check", "kostyor")
    assert code == 0


def test_import_cycle(write):
    write("a.kostyor", 'import "b.kostyor"\n')
    write("b.kostyor", 'import "a.kostyor"\n')
    report = check(str(write("root.kostyor", 'import "a.kostyor"\n')))
    (d,) = report.diagnostics
    assert d.code == "K004"
    assert d.message == "import cycle: a.kostyor -> b.kostyor -> a.kostyor"
    assert (d.span.file, d.span.line, d.span.column) == ("b.kostyor", 1, 8)


def test_team_spec_imports_shipped_order_and_adds_a_strategy(write, tmp_path):
    (tmp_path / "team").mkdir()
    write("team/common.kostyor", "import kostyor\n")
    root = write(
        "team/prod.kostyor",
        'import "common.kostyor"\nactions backup-databases, refresh-repos\n\ndefault strategy careful extends service-by-service {\n'
        '  driver shell {\n    command "ssh {host} sudo systemctl restart {service}"\n    timeout 600\n  }\n'
        "  pre-upgrade {\n    backup-databases {\n      timeout 30m\n    }\n    refresh-repos\n  }\n}\n",
    )
    inv = write("inv.yaml", "hosts:\n- {name: n1, services: [nova-compute]}\n")
    from kostyor_dsl.compiler import compile_plan

    plan = compile_plan(str(root), str(inv)).plan
    assert plan["strategy"] == "careful"
    assert plan["engine"] == "service-by-service"
    assert plan["driver"] == {
        "name": "shell",
        "parameters": {"command": "ssh {host} sudo systemctl restart {service}", "timeout": 600},
    }
    assert [f["file"] for f in plan["inputs"]["spec"]] == [
        "prod.kostyor",
        "common.kostyor",
        "<shipped>/kostyor.kostyor",
    ]
    assert [s["id"] for s in plan["steps"]] == [
        "pre-upgrade:backup-databases",
        "pre-upgrade:refresh-repos",
        "nova-compute",
    ]
    assert plan["steps"][0]["parameters"] == {"timeout": "30m"}
    assert plan["steps"][0]["source"] == "prod.kostyor:10"
    assert plan["steps"][2]["source"] == "<shipped>/kostyor.kostyor:36"


def test_sarif_uris_are_relative_to_the_working_folder(cli, write, tmp_path, monkeypatch):
    path = write("deploy/bad.kostyor", CASES["unknown engine"][0])
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("check", path, "--diagnostics-format", "sarif")
    assert code == 1
    (result,) = json.loads(out)["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "deploy/bad.kostyor"
    assert location["region"]["startLine"] == 8


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_spec_through_the_cli(name, write, cli):
    text, expected = CASES[name]
    path = write("bad.kostyor", text)
    code, out, err = cli("check", path, "--color", "never")
    assert code == 1 and out == ""
    assert "Traceback" not in err
    code_, line, col, _ = expected[0]
    assert f"bad.kostyor:{line}:{col}: error[{code_}]" in err


def test_a_missing_brace_names_the_block_left_open(write):
    report = check(str(write("bad.kostyor", CASES["unclosed block before the next one"][0])))
    (d,) = report.diagnostics
    (label,) = d.labels
    assert (label.span.line, label.span.column) == (2, 3)
    assert label.message == "the block 'project p' opened here is not closed"
    assert "is a '}' missing for 'project p' (line 2) before line 4?" in d.hints
    assert "'project' 'project'" not in d.message


def test_unterminated_string_has_a_hint(write):
    report = check(str(write("bad.kostyor", CASES["unterminated string"][0])))
    (d,) = report.diagnostics
    assert d.message == "unterminated string: no closing '\"' on this line"
    assert any("one line" in h for h in d.hints)


def test_unknown_driver_is_a_warning_with_did_you_mean(write, cli):
    path = write("s.kostyor", GOOD_ORDER + "strategy s {\n  driver shel {\n    timeout 5\n  }\n}\n")
    report = check(str(path))
    assert report.ok
    (d,) = report.diagnostics
    assert (d.code, d.severity.value, d.span.line, d.span.column) == ("K028", "warning", 8, 10)
    assert d.message == "driver 'shel' is not installed here"
    assert d.hints[0] == "did you mean 'shell'?"
    code, _, err = cli("check", path)
    assert code == 0 and "warning[K028]" in err
    quiet = write("ok.kostyor", GOOD_ORDER + "strategy s {\n  driver shell\n}\n")
    assert check(str(quiet)).diagnostics == ()


def test_engine_and_driver_names_are_checked_without_importing_them(write, monkeypatch):
    from importlib.metadata import EntryPoint

    from kostyor_dsl.compiler import entry_points

    def refuse(self):
        raise AssertionError(f"imported {self.value}")

    monkeypatch.setattr(EntryPoint, "load", refuse)
    real = entry_points.installed
    monkeypatch.setattr(
        entry_points,
        "installed",
        lambda group: (
            (*real(group), "rack-by-rack") if group == entry_points.ENGINE_GROUP else real(group)
        ),
    )
    path = write(
        "s.kostyor", GOOD_ORDER + "strategy s {\n  engine rack-by-rack\n  driver shell\n}\n"
    )
    report = check(str(path))
    assert report.ok, render_text(report.diagnostics, report.sources)
    path = write("t.kostyor", GOOD_ORDER + "strategy s {\n  engine rack-by-rak\n}\n")
    (d,) = check(str(path)).diagnostics
    assert d.code == "K022" and "did you mean 'rack-by-rack'?" in d.hints


def test_an_engine_that_fails_to_load_is_a_diagnostic(monkeypatch):
    from kostyor_dsl.compiler import engines
    from kostyor_dsl.language.diagnostics import CompileError

    class Broken:
        name = "broken"
        value = "broken_pkg:engine"

        def load(self):
            raise ImportError("No module named 'broken_pkg'")

    monkeypatch.setattr(engines, "_entry_points", lambda: [Broken()])
    with pytest.raises(CompileError) as info:
        engines.find_engine("broken")
    (d,) = info.value.diagnostics
    assert d.code == "K022" and "cannot be loaded (broken_pkg:engine)" in d.message


def test_k033_hint_shows_single_braces(write):
    path = write(
        "s.kostyor",
        "import kostyor\nstrategy s extends service-by-service {\n"
        "  hosts compute {\n    before evacuate\n  }\n}\n",
    )
    (d,) = check(str(path)).diagnostics
    assert d.code == "K033"
    assert "`service NAME { before ... }`" in d.hints[0] and "{{" not in d.hints[0]


# --- what an import may read (issue 15 item 2) ---------------------------------

SECRET = "order SECRET-LINE-42 {\n  project p {\n    oops\n"  # a bad spec: read, it is echoed


def _render_all(report) -> str:
    from kostyor_dsl.language.sarif import render_sarif

    return render_text(report.diagnostics, report.sources) + render_sarif(
        report.diagnostics, report.sources
    )


def _import_cases(tmp_path):
    import os

    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.kostyor").write_text(SECRET)
    (root / "notes.txt").write_text(SECRET)
    (root / "link.kostyor").symlink_to(tmp_path / "outside.kostyor")
    (root / "to-notes.kostyor").symlink_to(root / "notes.txt")
    (root / "zero.kostyor").symlink_to("/dev/zero")
    (root / "stdin.kostyor").symlink_to("/dev/stdin")
    os.mkfifo(root / "fifo.kostyor")
    (root / "big.kostyor").write_text("#" * (1024 * 1024) + "\n")
    return root, {
        "parent folder": ("../outside.kostyor", "K006", "outside the root spec's folder"),
        "absolute path": (str(tmp_path / "outside.kostyor"), "K006", "outside the root"),
        "system file": ("/etc/passwd", "K006", "an import names a .kostyor file"),
        "dotted system file": ("../../../../etc/passwd", "K006", "names a .kostyor file"),
        "not a spec file": ("notes.txt", "K006", "an import names a .kostyor file"),
        "symlink out of the folder": ("link.kostyor", "K006", "outside the root"),
        "symlink to a non-spec file": ("to-notes.kostyor", "K006", "not a .kostyor file"),
        "symlink to /dev/zero": ("zero.kostyor", "K006", "outside the root"),
        "symlink to /dev/stdin": ("stdin.kostyor", "K006", "outside the root"),
        "fifo": ("fifo.kostyor", "K006", "it is not a regular file"),
        "over 1 MiB": ("big.kostyor", "K006", "it is larger than 1 MiB"),
        "nul byte": ("a\0b.kostyor", "K006", "a path cannot hold a NUL character"),
        "name too long": ("a" * 300 + ".kostyor", "K006", "longer than a file system allows"),
        "missing": ("nope.kostyor", "K003", "no such file"),
    }


IMPORT_CASES = [
    "parent folder",
    "absolute path",
    "system file",
    "dotted system file",
    "not a spec file",
    "symlink out of the folder",
    "symlink to a non-spec file",
    "symlink to /dev/zero",
    "symlink to /dev/stdin",
    "fifo",
    "over 1 MiB",
    "nul byte",
    "name too long",
    "missing",
]


@pytest.mark.parametrize("case", IMPORT_CASES)
def test_imports_read_only_spec_files_in_the_root_folder(case, tmp_path):
    root, cases = _import_cases(tmp_path)
    target, code, fragment = cases[case]
    main = root / "main.kostyor"
    main.write_text(f'tiers a\nimport "{target}"\n', encoding="utf-8")
    report = check(str(main))
    (d,) = report.diagnostics
    assert (d.code, d.span.file, d.span.line, d.span.column) == (code, "main.kostyor", 2, 8)
    assert fragment in d.message
    assert set(report.sources) == {"main.kostyor"}
    assert "SECRET" not in _render_all(report)


def test_the_search_path_extends_where_imports_may_read(tmp_path, monkeypatch):
    root = tmp_path / "deploy"
    lib = tmp_path / "common"
    root.mkdir()
    lib.mkdir()
    (lib / "base.kostyor").write_text("import kostyor\n")
    main = root / "main.kostyor"
    main.write_text('import "base.kostyor"\nimport "../common/base.kostyor"\n')
    assert [d.code for d in check(str(main)).diagnostics] == ["K003", "K006"]
    monkeypatch.setenv("KOSTYOR_PATH", str(lib))
    report = check(str(main))
    assert report.ok, [d.message for d in report.diagnostics]
    assert [f.display for f in report.spec.files] == [
        "main.kostyor",
        "<KOSTYOR_PATH>/base.kostyor",
        "<shipped>/kostyor.kostyor",
    ]


def test_import_chains_of_hundreds_of_files(write):
    """Issue 15 item 8: a chain of 500 imports was a RecursionError."""
    for i in range(500):
        write(f"f{i}.kostyor", f'import "f{i + 1}.kostyor"\n')
    write("f500.kostyor", "import kostyor\n")
    report = check(str(write("root.kostyor", 'import "f0.kostyor"\n')))
    assert report.ok and len(report.spec.files) == 503
    write("f500.kostyor", 'import "f0.kostyor"\n')
    (d,) = check(str(write("root.kostyor", 'import "f0.kostyor"\n'))).diagnostics
    assert d.code == "K004" and (d.span.file, d.span.line) == ("f500.kostyor", 1)
    assert d.message.startswith("import cycle: f0.kostyor -> f1.kostyor -> ")


def test_a_byte_order_mark_is_accepted_and_positions_ignore_it(write):
    path = write("bom.kostyor", "\ufeff" + CASES["unknown engine"][0])
    (d,) = check(str(path)).diagnostics
    assert (d.code, d.span.line, d.span.column) == ("K022", 8, 10)
    path = write("bom1.kostyor", "\ufefftiers a, a\n")
    (d,) = check(str(path)).diagnostics
    assert (d.code, d.span.line, d.span.column) == ("K011", 1, 10)
    lib = write("lib.kostyor", "\ufeff" + GOOD_ORDER)
    root = write("root.kostyor", f'import "{lib.name}"\nstrategy s {{\n}}\n')
    report = check(str(root))
    assert report.ok
    assert all(not f.text.startswith("\ufeff") for f in report.spec.files)


def test_the_renderer_splits_each_source_once(monkeypatch):
    """Issue 15 item 5: the source was split per diagnostic (8,000 hosts: 102 s)."""
    from kostyor_dsl.language import diagnostics
    from kostyor_dsl.language.diagnostics import Span, error

    splits = []
    real = diagnostics.source_lines
    monkeypatch.setattr(diagnostics, "source_lines", lambda text: splits.append(text) or real(text))
    inventory = "".join(f"- host-{i}\n" for i in range(2000))
    found = [error("K042", "m", Span("inv.yaml", i, 3, i, 7)) for i in range(1, 2001)]
    found.append(error("K010", "n", Span("s.kostyor", 1, 1, 1, 2)))
    text = render_text(found, {"inv.yaml": inventory, "s.kostyor": "tiers a\n"})
    assert len(splits) == 2
    assert text.count("\n     |   ^^^^\n") == 2000 and "- host-1999" in text


def test_did_you_mean_is_worked_out_once_per_question(monkeypatch):
    import difflib

    from kostyor_dsl.language.suggest import did_you_mean

    calls = []
    real = difflib.get_close_matches
    monkeypatch.setattr(
        difflib, "get_close_matches", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    for _ in range(1000):
        assert did_you_mean("nova-computte-x", ["nova-compute-x", "glance"]) == (
            "did you mean 'nova-compute-x'?",
        )
    assert len(calls) == 1


def test_excerpts_never_pass_control_characters_to_the_terminal(write):
    path = write("bad.kostyor", "tiers a, a  # \x1b[2J\x07\u2028\n")
    report = check(str(path))
    text = render_text(report.diagnostics, report.sources)
    assert "\x1b" not in text and "\x07" not in text and "\u2028" not in text
    assert "   1 | tiers a, a  # \ufffd[2J\ufffd\ufffd\n     |          ^\n" in text


def test_a_long_source_line_is_shown_as_a_window_around_the_span(write):
    path = write("w.kostyor", "tiers " + "a" * 200 + ", b, c, b\n")
    report = check(str(path))
    lines = render_text(report.diagnostics, report.sources).splitlines()
    assert lines[0] == "w.kostyor:1:215: error[K011]: tier 'b' is listed twice"
    shown, caret = lines[1], lines[2]
    assert shown.startswith("   1 | ...") and shown.endswith("a, b, c, b")
    assert len(shown) < 140
    assert shown[caret.index("^")] == "b" and caret.count("^") == 1


def test_the_shipped_drivers_are_the_registered_ones():
    from kostyor_dsl.compiler.entry_points import DRIVER_GROUP, SHIPPED_DRIVERS, installed

    assert set(SHIPPED_DRIVERS) <= set(installed(DRIVER_GROUP))


def test_shipped_driver_and_engine_names_need_no_look_at_the_installed_packages(write, monkeypatch):
    from kostyor_dsl.compiler import entry_points

    def scan(group):
        raise AssertionError(f"scanned {group}")

    monkeypatch.setattr(entry_points, "installed", scan)
    assert check("kostyor").ok
    path = write(
        "s.kostyor", GOOD_ORDER + "strategy s {\n  engine service-by-service\n  driver shell\n}\n"
    )
    assert check(str(path)).ok
