"""Messages and hints the newcomer tripped on (issue 21, item 14)."""

from __future__ import annotations

from support import EXAMPLES

from kostyor_dsl.compiler.api import check, compile_plan
from kostyor_dsl.language.diagnostics import render_text

INVENTORY = str(EXAMPLES / "small-cloud.yaml")


def diagnostics(write, body: str, *, top: str = ""):
    path = write(
        "s.kostyor", f"import kostyor\n{top}\nstrategy s extends node-by-node {{\n{body}}}\n"
    )
    report = check(str(path), INVENTORY)
    return report, path


def shown(report, code: str) -> str:
    (found,) = [d for d in report.diagnostics if d.code == code]
    return render_text([found], report.sources)


def test_a_service_block_no_host_runs_warns(write):
    report, _ = diagnostics(write, "  service ironic-conductor {\n    before  drain\n  }\n")
    (warn,) = [d for d in report.diagnostics if d.code == "K101"]
    assert not warn.is_error
    assert str(warn.span) == "s.kostyor:4:11"
    assert warn.message.startswith("service ironic-conductor: no host of the inventory runs it")


def test_a_service_block_some_host_runs_is_quiet(write):
    report, _ = diagnostics(write, "  service nova-compute {\n    before  drain\n  }\n")
    assert [d.code for d in report.diagnostics] == []


def test_a_hint_with_a_block_prints_its_lines_not_backslash_n(write):
    report, _ = diagnostics(write, "  pre-upgrade backup\n")
    text = shown(report, "K025")
    assert "\\n" not in text
    assert text.splitlines()[-5:-1] == [
        "  hint: write:",
        "        pre-upgrade {",
        "          backup-databases",
        "        }",
    ]


def test_batch_max_without_a_budget_suggests_a_budget_for_that_group(write):
    path = write(
        "s.kostyor",
        "import kostyor\n\nstrategy s extends node-by-node {\n"
        "  hosts compute, name=cmp-* {\n    batch max\n  }\n}\n",
    )
    compiled = compile_plan(str(path), INVENTORY)
    (warn,) = [d for d in compiled.warnings if d.code == "K063"]
    assert warn.hints == (
        "add a budget for its hosts:\nbudget compute,name=cmp-* {\n  min-available 80%\n}",
    )


def test_an_unknown_action_is_told_to_be_declared(write):
    report, _ = diagnostics(write, "  pre-upgrade {\n    snapshot-volumes\n  }\n")
    (unknown,) = [d for d in report.diagnostics if d.code == "K032"]
    assert unknown.hints[0] == (
        "a driver's own action: declare it with `actions snapshot-volumes` at the top of the spec"
    )
    report, _ = diagnostics(
        write, "  pre-upgrade {\n    backup-databasez\n  }\n", top="actions backup-databases\n"
    )
    (close,) = [d for d in report.diagnostics if d.code == "K032"]
    assert close.hints[:2] == (
        "did you mean 'backup-databases'?",
        "a driver's own action: declare it with `actions backup-databasez` at the top of the spec",
    )
