"""SARIF output, validated against the official SARIF 2.1.0 JSON schema.

tests/data/sarif-schema-2.1.0.json is the final 2.1.0 schema (2.1.0-rtm.5, as
schemastore publishes it), taken from the npm package @microsoft/jest-sarif
1.0.0-beta.0 (lib/schemas/sarif-2.1.0-rtm.5.json, MIT licence).
"""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from review_support import DATA, ROOT

from kostyor_dsl.compiler import check
from kostyor_dsl.language.diagnostics import Diagnostic, Label, Severity, Span, error, warning
from kostyor_dsl.language.sarif import RULE_TITLES, render_sarif

SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text("utf-8"))
BAD_SPEC = """tiers controller

order o {
  project p {
    nova-api on controler
    nova-api on controller
  }
}
strategy s {
  engine node-by-node
  order o
}
"""


def _validate(text: str) -> dict:
    log = json.loads(text)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    return log


def test_schema_is_the_sarif_2_1_0_schema():
    assert SCHEMA["properties"]["version"]["enum"] == ["2.1.0"]
    # and it does reject what is not SARIF
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate({"version": "2.1.0", "runs": [{"results": []}]})


def test_checked_spec_diagnostics_validate(tmp_path):
    spec = tmp_path / "bad.kostyor"
    spec.write_text(BAD_SPEC)
    report = check(str(spec))
    assert {d.code for d in report.diagnostics} == {"K010", "K012"}
    log = _validate(render_sarif(report.diagnostics, report.sources))
    (run,) = log["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["K010", "K012"]
    first, second = run["results"]
    assert first["ruleId"] == "K010" and first["level"] == "error"
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "bad.kostyor"},
        "region": {"startLine": 5, "startColumn": 17, "endLine": 5, "endColumn": 26},
    }
    assert "hint: did you mean 'controller'?" in first["message"]["text"]
    related = second["relatedLocations"][0]
    assert related["message"]["text"] == "first listed here"
    assert related["physicalLocation"]["region"]["startLine"] == 5


def test_syntax_errors_and_warnings_validate(tmp_path):
    spec = tmp_path / "syntax.kostyor"
    spec.write_text("order o {\n  project p {\n    nova-api\n  }\n}\n")
    report = check(str(spec))
    assert report.diagnostics and not report.ok
    diagnostics = [
        *report.diagnostics,
        warning("K044", "host h runs no service", subject="inv.yaml"),
    ]
    log = _validate(render_sarif(diagnostics, report.sources))
    levels = [r["level"] for r in log["runs"][0]["results"]]
    assert "error" in levels and "warning" in levels


def test_spanless_diagnostics():
    diagnostics = [
        error("K020", "unknown strategy 'x'", subject="--strategy"),
        error("K026", "the spec defines no strategy", subject="team.kostyor"),
    ]
    log = _validate(render_sarif(diagnostics, {"team.kostyor": "tiers a\n"}))
    flag, spec = log["runs"][0]["results"]
    assert "locations" not in flag and flag["message"]["text"].startswith("--strategy: ")
    assert spec["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "team.kostyor"


def test_uris_are_encoded_and_prefixed():
    span = Span("<shipped>/open stack.kostyor", 2, 1, 3, 4)
    d = Diagnostic("K011", Severity.ERROR, "x", span, labels=(Label(span, "here"),))
    log = _validate(render_sarif([d], {}, uri_prefix="deploy/"))
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "deploy/%3Cshipped%3E/open%20stack.kostyor"
    assert location["region"] == {"startLine": 2, "startColumn": 1, "endLine": 3, "endColumn": 4}


def test_no_diagnostics_is_an_empty_run():
    log = _validate(render_sarif([], {}))
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_every_documented_code_has_a_rule_title():
    documented = re.findall(
        r"^\| (K\d{3}) \|", (ROOT / "docs" / "diagnostics.md").read_text(), re.M
    )
    assert documented and set(documented) <= set(RULE_TITLES)


def test_check_cli_prints_valid_sarif(cli, tmp_path):
    spec = tmp_path / "bad.kostyor"
    spec.write_text(BAD_SPEC)
    code, out, _ = cli("check", spec, "--diagnostics-format", "sarif")
    assert code == 1
    _validate(out)
    code, out, _ = cli(
        "check",
        ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor",
        "-i",
        DATA / "design-doc.yaml",
        "--diagnostics-format",
        "sarif",
    )
    assert code == 0 and _validate(out)["runs"][0]["results"] == []


@pytest.mark.parametrize("char", ["\x0c", "\x0b", "\x85", "\u2028", "\u2029"], ids=repr)
def test_text_json_and_sarif_count_lines_alike(tmp_path, char):
    """A line ends at \\n only, in spans, carets and SARIF alike (issue 9 item 12)."""
    from kostyor_dsl.language.diagnostics import render_json, render_text

    spec = tmp_path / "bad.kostyor"
    spec.write_text(f"# a{char}b\n# c{char}d\n" + BAD_SPEC, encoding="utf-8")
    report = check(str(spec))
    (d,) = [d for d in report.diagnostics if d.code == "K010"]
    assert (d.span.line, d.span.column) == (7, 17)
    assert "   7 |     nova-api on controler\n     |                 ^^^^^^^^^" in render_text(
        [d], report.sources
    )
    (as_json,) = json.loads(render_json([d]))["diagnostics"]
    assert as_json["range"]["start"] == {"line": 7, "column": 17}
    (result,) = _validate(render_sarif([d], report.sources))["runs"][0]["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (7, 17)
