"""Where diagnostics name their files (issue 21, item 13): relative to the working
directory in text, JSON and SARIF alike, and `--diagnostics-output FILE`."""

from __future__ import annotations

import json

import pytest

SPEC = (
    "import kostyor\n\nstrategy s extends node-by-node {\n  hosts compute {\n    batch 0\n  }\n}\n"
)
INVENTORY = "hosts:\n  - name: cmp-1\n    services: [nova-compute, nova-computer]\n"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "upgrade.kostyor").write_text(SPEC)
    (tmp_path / "inventories").mkdir()
    (tmp_path / "inventories" / "prod.yaml").write_text(INVENTORY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


ARGS = ("deploy/upgrade.kostyor", "-i", "inventories/prod.yaml")


def test_text_names_the_paths_ci_can_open(cli, repo):
    code, out, err = cli("check", *ARGS, "--color", "never")
    assert code == 1 and out == ""
    assert "deploy/upgrade.kostyor:5:11: error[K030]" in err
    (repo / "deploy" / "upgrade.kostyor").write_text(SPEC.replace("batch 0", "batch 1"))
    code, _, err = cli("check", *ARGS, "--color", "never")
    assert "inventories/prod.yaml:3:30: host 'cmp-1', service 'nova-computer'" in err


def test_json_and_sarif_name_the_same_paths(cli, repo):
    code, out, _ = cli("check", *ARGS, "--diagnostics-format", "json")
    assert code == 1
    (found,) = json.loads(out)["diagnostics"]
    assert found["range"]["filename"] == "deploy/upgrade.kostyor"
    code, out, _ = cli("check", *ARGS, "--diagnostics-format", "sarif")
    (result,) = json.loads(out)["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "deploy/upgrade.kostyor"


def test_diagnostics_output_file_for_check_and_compile(cli, repo):
    code, out, err = cli(
        "check", *ARGS, "--diagnostics-format", "sarif", "--diagnostics-output", "d.sarif"
    )
    assert code == 1 and out == "" and err == ""
    assert json.loads((repo / "d.sarif").read_text())["runs"][0]["results"]
    code, out, err = cli("compile", *ARGS, "-o", "plan.yaml", "--diagnostics-output", "d.txt")
    assert code == 1 and out == "" and err == ""
    assert (repo / "d.txt").read_text().startswith("deploy/upgrade.kostyor:5:11: error[K030]")
    assert not (repo / "plan.yaml").exists()


def test_the_plan_names_no_path_of_the_working_directory(cli, repo):
    (repo / "deploy" / "upgrade.kostyor").write_text(SPEC.replace("batch 0", "batch 1"))
    (repo / "inventories" / "prod.yaml").write_text(INVENTORY.replace(", nova-computer", ""))
    code, _, err = cli("compile", *ARGS, "-o", "plan.yaml", "--diagnostics-output", "d.txt")
    assert code == 0, err
    plan = (repo / "plan.yaml").read_text()
    assert "deploy/" not in plan and "inventories/" not in plan and str(repo) not in plan
    assert (repo / "d.txt").read_text() == ""


def test_help_says_where_diagnostics_go(cli):
    _, out, _ = cli("compile", "--help")
    assert "stderr (stdout may be the plan)" in out
    _, out, _ = cli("check", "--help")
    assert "stderr (text) or stdout (json, sarif)" in out
