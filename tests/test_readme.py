"""The README's spec example compiles and is in the canonical layout."""

from __future__ import annotations

import json

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
    # Its own pre-upgrade step adds to the projects' steps, never loses them:
    # every database it contracts was expanded before.
    ids = [s["id"] for s in json.loads(out)["steps"]]
    assert ids[0] == "pre-upgrade:backup-databases"
    for project in ("keystone", "glance", "neutron"):
        expand = next(i for i in ids if i.startswith(f"pre-upgrade:{project}:") and "expand" in i)
        contract = next(i for i in ids if i.startswith(f"post-upgrade:{project}:"))
        assert ids.index(expand) < ids.index(contract)
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


def test_simulate_docs_do_not_say_a_hosts_block_replaces_the_inherited_one():
    text = (ROOT / "docs" / "simulate.md").read_text()
    assert "replaces the inherited one" not in text
