from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from review_support import check_golden, compiled, mutated

from kostyor_dsl.review.graph import layout, mermaid_text, to_dot, to_mermaid

EVIL = 'x"; evil [label="pwned"] } digraph { \\" \n'


def _dot() -> str:
    path = shutil.which("dot")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz `dot` is missing in CI: apt-get install -y graphviz")
        pytest.skip("Graphviz `dot` not installed")
    return path


def _render_svg(dot_text: str) -> str:
    result = subprocess.run(
        [_dot(), "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr  # not even a warning
    return result.stdout


def test_graph_goldens(design_doc_plan, design_doc_sbs_plan):
    check_golden("graph-node-by-node", "plan.dot", to_dot(design_doc_plan))
    check_golden("graph-node-by-node", "plan.mmd", to_mermaid(design_doc_plan))
    check_golden("graph-service-by-service", "plan.dot", to_dot(design_doc_sbs_plan))
    check_golden("graph-service-by-service", "plan.mmd", to_mermaid(design_doc_sbs_plan))


def test_hosts_are_clusters_and_steps_a_chain(design_doc_plan):
    graph = layout(design_doc_plan)
    assert [name for name, _ in graph.clusters] == ["node-c", "node-a", "node-b"]
    # node-by-node: one node per step, each linked to the next
    assert len(graph.nodes) == len(design_doc_plan["steps"])
    assert graph.edges == [(f"s{i}", f"s{i + 1}") for i in range(1, len(graph.nodes))]


def test_parallel_step_hosts_side_by_side(design_doc_sbs_plan):
    graph = layout(design_doc_sbs_plan)
    multi = [s for s in design_doc_sbs_plan["steps"] if len(s["hosts"]) > 1]
    assert len(graph.same_rank) == len(multi) == 1
    (group,) = graph.same_rank
    assert len(group) == len(multi[0]["hosts"])
    # each parallel node is entered from the step before and leaves through one join
    number = design_doc_sbs_plan["steps"].index(multi[0]) + 1
    assert {(a, b) for a, b in graph.edges if b == f"j{number}"} == {
        (n, f"j{number}") for n in group
    }
    assert (f"j{number}", f"s{number + 1}") in graph.edges


def test_dot_accepted_by_graphviz(design_doc_plan, design_doc_sbs_plan):
    for plan in (design_doc_plan, design_doc_sbs_plan):
        svg = _render_svg(to_dot(plan))
        assert svg.count('class="cluster"') == len(layout(plan).clusters)


def test_hostile_names_are_only_labels(design_doc_plan):
    def rename(p):
        for step in p["steps"]:
            step["hosts"] = [EVIL if h == "node-b" else h for h in step["hosts"]]

    plan = mutated(design_doc_plan, rename)
    dot = to_dot(plan)
    svg = _render_svg(dot)
    assert "pwned" not in svg.replace("evil [label=&quot;pwned&quot;]", "")
    assert svg.count('class="cluster"') == 3
    mermaid = to_mermaid(plan)
    assert '"' not in mermaid_text(EVIL) and "\n" not in mermaid_text(EVIL)
    # every line of the Mermaid is one of the shapes we write
    shape = re.compile(
        r'^(flowchart TB|  subgraph h\d+\["[^"\n]*"\]|    direction TB|    s\d+(h\d+)?\["[^"\n]*"\]'
        r'|  end|  j\d+\(\(" "\)\)|  [sj]\d+(h\d+)? --> [sj]\d+(h\d+)?|  classDef .*'
        r"|  class [a-z0-9,]+ parallel)$"
    )
    assert all(shape.match(line) for line in mermaid.splitlines())


def test_graph_cli(cli, plan_file, design_doc_plan, tmp_path):
    path = plan_file(design_doc_plan)
    code, out, _ = cli("graph", path, "--format", "mermaid")
    assert code == 0 and out == to_mermaid(design_doc_plan)
    code, _, _ = cli("graph", path, "-o", tmp_path / "plan.dot")
    assert code == 0 and (tmp_path / "plan.dot").read_text() == to_dot(design_doc_plan)


def test_batches_run_side_by_side_and_gates_stand_alone():
    plan = compiled("small-cloud.yaml", "rolling-computes")
    check_golden("graph-rolling-computes", "plan.dot", to_dot(plan))
    check_golden("graph-rolling-computes", "plan.mmd", to_mermaid(plan))
    graph = layout(plan)
    steps = plan["steps"]
    batch2 = [
        i + 1 for i, s in enumerate(steps) if s.get("group") == "compute" and s.get("batch") == 2
    ]
    hosts2 = {s["hosts"][0] for s in steps if s.get("group") == "compute" and s.get("batch") == 2}
    # the batch's hosts start side by side, each host's steps chained
    first_of_each = [f"s{n}" for n in batch2 if steps[n - 2].get("hosts") != steps[n - 1]["hosts"]]
    assert graph.same_rank[-1] == first_of_each and len(first_of_each) == len(hosts2) == 3
    gate = next(i + 1 for i, s in enumerate(steps) if s["kind"] == "gate")
    assert f"s{gate}" in graph.loose
    assert (f"s{gate}", first_of_each[0]) in graph.edges and (
        f"s{gate}",
        first_of_each[2],
    ) in graph.edges
    _render_svg(to_dot(plan))


def test_big_mermaid_gets_a_note(cli, plan_file, design_doc_plan):
    def grow(p):
        p.pop("host_order")
        p["steps"] = [
            {**p["steps"][0], "id": f"svc@host-{i}", "hosts": [f"host-{i}"]} for i in range(2000)
        ]

    code, out, err = cli("graph", plan_file(mutated(design_doc_plan, grow)), "--format", "mermaid")
    assert code == 0 and len(out) > 50_000 and "GitHub renders diagrams of at most 50000" in err
    code, _, err = cli("graph", plan_file(design_doc_plan), "--format", "mermaid")
    assert code == 0 and err == ""
