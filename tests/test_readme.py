"""The README's spec example compiles and is in the canonical layout."""

from __future__ import annotations

from support import EXAMPLES, ROOT


def test_readme_spec_example_compiles_and_is_formatted(cli, tmp_path):
    readme = (ROOT / "README.md").read_text()
    example = readme.split("## A spec", 1)[1].split("```", 2)[1].lstrip("\n")
    spec = tmp_path / "team.kostyor"
    spec.write_text(example)
    inventory = EXAMPLES / "kolla-multinode" / "inventory.yaml"  # current service names
    code, out, err = cli("compile", spec, "-i", inventory, "--format", "json")
    assert code == 0, err
    assert '"strategy": "careful"' in out
    code, _, err = cli("fmt", "--check", spec)
    assert code == 0, err


def test_readme_budget_example_compiles_on_the_example_cloud(cli, tmp_path):
    readme = (ROOT / "README.md").read_text()
    example = readme.split("## A spec", 1)[1].split("```")[3].lstrip("\n")
    assert example.startswith("strategy careful extends rolling-computes {")
    spec = tmp_path / "careful.kostyor"
    spec.write_text("import openstack\n\n" + example)
    inventory = EXAMPLES / "kolla-multinode" / "inventory.yaml"
    code, out, err = cli("compile", spec, "-i", inventory, "--format", "json")
    assert code == 0, err
    assert '"rule": "min-available"' in out


def test_quick_start_writes_only_under_build_and_prints_a_summary(cli, tmp_path, monkeypatch):
    """Issue 21 item 17: it left an untracked inventory.yaml in the clone and printed
    a 1,800-line plan on the terminal."""
    readme = (ROOT / "README.md").read_text()
    command = readme.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    (tmp_path / "examples").symlink_to(EXAMPLES)
    monkeypatch.chdir(tmp_path)
    outputs = []
    for part in command.split(" && "):
        words = part.split()
        if words[0] == "mkdir":
            (tmp_path / words[-1]).mkdir(parents=True, exist_ok=True)
        elif words[0] == ".venv/bin/kostyorc":
            code, out, err = cli(*words[1:])
            assert code == 0, (part, err)
            outputs.append(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build", "examples"]
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["inventory.yaml", "plan.yaml"]
    assert "build/" in (ROOT / ".gitignore").read_text().split()
    compile_out, summary = outputs[-2], outputs[-1]
    assert compile_out == ""
    assert summary.startswith("simulation:") and len(summary.splitlines()) < 60


def test_simulate_docs_do_not_say_a_hosts_block_replaces_the_inherited_one():
    text = (ROOT / "docs" / "simulate.md").read_text()
    assert "replaces the inherited one" not in text
