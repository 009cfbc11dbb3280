from __future__ import annotations

import json
import random
import re
import subprocess
import sys

import pytest
from review_support import ROOT, check_golden, compiled, mutated

from kostyor_dsl.review.diff import diff_plans, longest_increasing, summary
from kostyor_dsl.review.diff_render import render_json, render_markdown, render_text


def _big_plan(n_hosts: int, insert_at: int | None = None) -> dict:
    """A node-by-node plan shaped like the compiler's, built directly (fast)."""
    names = [f"compute-{i:05d}" for i in range(n_hosts)]
    if insert_at is not None:
        names.insert(insert_at, "compute-new")
    steps, order = [], []
    for name in names:
        order.append(
            {
                "name": name,
                "key_service": "nova-compute",
                "rank": 18,
                "tier": "compute",
                "source": "kostyor.kostyor:36",
            }
        )
        for service, line in (("nova-compute", 36), ("neutron-openvswitch-agent", 41)):
            steps.append(
                {
                    "id": f"{service}@{name}",
                    "kind": "upgrade",
                    "project": service.split("-")[0],
                    "service": service,
                    "hosts": [name],
                    "source": f"kostyor.kostyor:{line}",
                }
            )
    return {
        "format": "kostyor-plan/1",
        "strategy": "node-by-node",
        "engine": "node-by-node",
        "driver": {"name": "noop", "parameters": {}},
        "inputs": {
            "spec": [{"file": "kostyor.kostyor", "sha256": "0" * 64}],
            "inventory": {"file": "big.yaml", "sha256": ("1" if insert_at is None else "2") * 64},
        },
        "host_order": order,
        "steps": steps,
    }


def test_longest_increasing_is_longest_and_increasing():
    rng = random.Random(7)
    for _ in range(200):
        seq = rng.sample(range(40), rng.randint(0, 40))
        keep = sorted(longest_increasing(seq))
        values = [seq[i] for i in keep]
        assert values == sorted(values) and len(set(values)) == len(values)
        # brute-force length of the LIS
        best = [1] * len(seq)
        for i in range(len(seq)):
            for j in range(i):
                if seq[j] < seq[i]:
                    best[i] = max(best[i], best[j] + 1)
        assert len(keep) == max(best, default=0)


def test_same_plan_has_no_differences(design_doc_plan):
    result = diff_plans(design_doc_plan, design_doc_plan)
    assert result.same and summary(result) == "no differences"


def test_one_host_added_in_500_reads_as_exactly_that():
    old, new = _big_plan(500), _big_plan(500, insert_at=250)
    result = diff_plans(old, new)
    assert [h.name for h in result.hosts_added] == ["compute-new"]
    assert [s.id for s in result.added] == [
        "nova-compute@compute-new",
        "neutron-openvswitch-agent@compute-new",
    ]
    assert all(s.host == "compute-new" for s in result.added)
    assert not result.moved and not result.hosts_moved and not result.removed and not result.changed
    assert summary(result) == "1 host added, 2 steps added; inventory changed"


def test_a_host_upgraded_earlier_is_one_host_moved():
    old = _big_plan(50)
    new = mutated(old, lambda p: None)
    # move compute-00030 (and its steps) to the front
    order = new["host_order"]
    order.insert(0, order.pop(30))
    moved_steps = [s for s in new["steps"] if s["hosts"] == ["compute-00030"]]
    new["steps"] = moved_steps + [s for s in new["steps"] if s not in moved_steps]
    result = diff_plans(old, new)
    assert [(m.name, m.direction, m.old_position, m.new_position) for m in result.hosts_moved] == [
        ("compute-00030", "earlier", 30, 0)
    ]
    assert {m.id for m in result.moved} == {s["id"] for s in moved_steps}
    assert all(m.host == "compute-00030" and m.direction == "earlier" for m in result.moved)
    assert not result.added and not result.removed and not result.changed


def test_service_by_service_hosts_and_parameters_changes(design_doc_sbs_plan):
    def change(p):
        p["steps"][0]["hosts"].append("node-z")
        p["driver"]["parameters"]["timeout"] = 600
        p["strategy"] = "lab"

    new = mutated(design_doc_sbs_plan, change)
    result = diff_plans(design_doc_sbs_plan, new)
    assert [c.field for c in result.settings] == ["strategy", "driver.parameters.timeout"]
    assert [h.name for h in result.hosts_added] == ["node-z"]
    (step,) = result.changed
    assert step.id == design_doc_sbs_plan["steps"][0]["id"]
    assert [c.field for c in step.changes] == ["hosts"]
    text = render_text(result)
    assert "hosts +node-z" in text and "driver.parameters.timeout (none) -> 600" in text


def test_pre_upgrade_parameters_change_is_per_parameter(design_doc_plan):
    def with_pre(timeout):
        def change(p):
            p["steps"].insert(
                0,
                {
                    "id": "pre-upgrade:backup",
                    "kind": "pre-upgrade",
                    "action": "backup",
                    "parameters": {"timeout": timeout, "keep": True},
                    "source": "team.kostyor:9",
                },
            )

        return mutated(design_doc_plan, change)

    result = diff_plans(with_pre("30m"), with_pre("1h"))
    (step,) = result.changed
    assert [(c.field, c.old, c.new) for c in step.changes] == [("parameters.timeout", "30m", "1h")]


def test_source_only_changes_are_counted_apart(design_doc_plan):
    def shift(p):
        for s in p["steps"]:
            file, line = s["source"].rsplit(":", 1)
            s["source"] = f"{file}:{int(line) + 1}"

    result = diff_plans(design_doc_plan, mutated(design_doc_plan, shift))
    assert len(result.changed) == len(design_doc_plan["steps"])
    assert all(c.source_only for c in result.changed)
    assert "17 steps changed (17 only in their spec line)" in summary(result)


def test_markdown_is_bounded_and_says_how_many_more():
    old = _big_plan(10)
    new = _big_plan(3000)  # 2990 hosts and 5980 steps added
    result = diff_plans(old, new, "old.yaml", "new.yaml")
    md = render_markdown(result)
    assert len(md) < 65_535 and len(md) <= 60_000
    first = md.splitlines()[0]
    assert first.startswith("**kostyor plan diff**") and "2990 hosts added" in first
    assert "- … and 2890 more" in md  # 100 shown of 2990 hosts
    tight = render_markdown(result, max_items=10_000, max_chars=5_000)
    assert len(tight) <= 5_000
    more = [line for line in tight.splitlines() if "more" in line]
    assert more, "a cut must be announced"
    shown = tight.count("\n- `compute-")
    assert f"- … and {2990 - shown} more" in tight


def test_markdown_code_spans_cannot_be_broken_out_of(design_doc_plan):
    evil = "a`b</details><script>x</script>\n# heading"
    new = mutated(design_doc_plan, lambda p: p["steps"][0]["hosts"].append(evil))
    md = render_markdown(diff_plans(design_doc_plan, new))
    lines = md.splitlines()
    evil_lines = [line for line in lines if "<script>" in line]
    assert len(evil_lines) == 1  # the step's hosts changed
    for line in evil_lines:
        span = re.search(r"(`{2,}) (.*?) \1", line)
        assert span and "</details><script>" in span.group(2)
        assert "<" not in line.replace(span.group(0), "")  # no raw HTML outside the span
        assert "\\n# heading" in span.group(2)  # the line break is escaped, not a heading
    assert not any(line.startswith("# heading") for line in lines)
    assert lines.count("</details>") == md.count("<details>")


def test_100k_step_diff_finds_the_inserted_host():
    # How long it takes is bench/diff_bench.py's business, not a test's.
    old, new = _big_plan(50_000), _big_plan(50_000, insert_at=25_000)
    result = diff_plans(old, new)
    assert "compute-new" in render_markdown(result)
    assert [s.id for s in result.added] == [
        "nova-compute@compute-new",
        "neutron-openvswitch-agent@compute-new",
    ]
    assert not result.moved


HOSTILE = "<img src=x onerror=alert(1)>[click](https://evil.example)&amp;*b*"


def _outside_code_spans(line: str) -> str:
    return re.sub(r"(`+)(.*?)\1", "", line)


def test_markdown_escapes_group_and_spec_file_names():
    old = compiled("small-cloud.yaml", "rolling-computes")

    def hostile(plan):
        plan["groups"][1]["name"] = HOSTILE
        plan["inputs"]["spec"][0]["file"] = HOSTILE + ".kostyor"
        plan["driver"]["parameters"][HOSTILE] = "x"

    md = render_markdown(diff_plans(old, mutated(old, hostile), HOSTILE, "new.yaml"))
    assert md.count(HOSTILE) >= 3  # all there, as text
    for line in md.splitlines():
        rest = _outside_code_spans(line)
        for tag in ("<details>", "</details>", "<summary>", "</summary>"):
            rest = rest.replace(tag, "")
        assert "<" not in rest and "](" not in rest and "&amp;" not in rest, line


def test_text_diff_never_prints_control_characters(design_doc_plan):
    evil = "node-x\x1b]0;owned\x07\x1b[2J"

    def rename(plan):
        plan["steps"][0]["hosts"] = [evil]
        plan["inputs"]["spec"][0]["file"] = "spec\x1b[31m.kostyor"

    new = mutated(design_doc_plan, rename)
    for color in (False, True):
        text = render_text(diff_plans(design_doc_plan, new, "old\x9b1m", "new"), color=color)
        assert "\x07" not in text and "\x9b" not in text
        assert "\x1b]0;" not in text and "\x1b[2J" not in text and "\x1b[31m." not in text
        assert "node-x\\x1b]0;owned\\x07" in text


def test_goldens_add_host_node_by_node():
    old = compiled("design-doc.yaml")
    new = compiled("design-doc-plus-compute.yaml")
    result = diff_plans(old, new, "design-doc.plan.yaml", "plus-compute.plan.yaml")
    check_golden("diff-add-host", "diff.txt", render_text(result))
    check_golden("diff-add-host", "diff.md", render_markdown(result))
    check_golden("diff-add-host", "diff.json", render_json(result))
    assert [h.name for h in result.hosts_added] == ["node-d"]
    assert not result.moved and not result.removed


def test_goldens_moved_and_removed_hosts():
    old = compiled("design-doc.yaml")
    new = compiled("design-doc-keystone-on-a.yaml")
    result = diff_plans(old, new, "design-doc.plan.yaml", "keystone-on-a.plan.yaml")
    check_golden("diff-move-host", "diff.txt", render_text(result))
    check_golden("diff-move-host", "diff.md", render_markdown(result))
    check_golden("diff-move-host", "diff.json", render_json(result))
    assert [h.name for h in result.hosts_removed] == ["node-b"]
    assert result.hosts_moved and {m.name for m in result.hosts_moved} <= {"node-a", "node-c"}


def test_goldens_service_by_service():
    old = compiled("design-doc.yaml", "service-by-service")
    new = compiled("design-doc-plus-compute.yaml", "service-by-service")
    result = diff_plans(old, new, "sbs.plan.yaml", "sbs-plus-compute.plan.yaml")
    check_golden("diff-service-by-service", "diff.txt", render_text(result))
    check_golden("diff-service-by-service", "diff.md", render_markdown(result))
    check_golden("diff-service-by-service", "diff.json", render_json(result))


def test_cli_exit_codes_and_formats(cli, plan_file, design_doc_plan):
    a = plan_file(design_doc_plan)
    b = plan_file(compiled("design-doc-plus-compute.yaml"), "json")
    assert cli("diff", a, a)[0] == 0
    code, out, err = cli("diff", a, b)
    assert code == 1 and "1 host added" in out and "\x1b[" not in out and err == ""
    code, out, _ = cli("diff", a, b, "--color", "always")
    assert "\x1b[32m" in out
    code, out, _ = cli("diff", a, b, "--format", "json")
    assert code == 1 and json.loads(out)["hosts"]["added"][0]["name"] == "node-d"
    code, out, _ = cli("diff", a, b, "--format", "markdown")
    assert code == 1 and out.startswith("**kostyor plan diff**")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("steps: [\n", "not a YAML or JSON plan"),
        ("- 1\n", "not a plan (expected a mapping, found a list)"),
        ('{"format": "kostyor-plan/1"}', "not a valid plan: 'strategy' is a required property"),
    ],
)
def test_cli_bad_plan_is_one_line_exit_2(
    cli, tmp_path, plan_file, design_doc_plan, content, message
):
    good = plan_file(design_doc_plan)
    bad = tmp_path / "bad.yaml"
    if content is not None:
        bad.write_text(content)
    code, out, err = cli("diff", good, bad)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and str(bad) in err


def test_unknown_step_kind_is_named(cli, plan_file, design_doc_plan):
    gated = mutated(
        design_doc_plan, lambda p: p["steps"].insert(3, {"id": "barrier:1", "kind": "barrier"})
    )
    code, _, err = cli("diff", plan_file(design_doc_plan), plan_file(gated))
    assert code == 2 and "steps[3] has kind 'barrier'" in err


def test_diff_and_graph_never_import_celery(tmp_path, plan_file, design_doc_plan):
    path = plan_file(design_doc_plan)
    code = (
        "import sys\nfrom kostyor_dsl.cli import main\n"
        f"main(['diff', {str(path)!r}, {str(path)!r}])\n"
        f"main(['graph', {str(path)!r}])\nmain(['explain', {str(path)!r}, '--host', 'node-a'])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('celery', 'kombu'))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def _inventory(path, computes: list[str]) -> None:
    hosts = [
        {"name": f"ctl-{i}", "services": ["keystone-wsgi-admin", "nova-api", "neutron-server"]}
        for i in range(3)
    ]
    hosts += [
        {"name": n, "services": ["nova-compute", "neutron-openvswitch-agent"]} for n in computes
    ]
    path.write_text(json.dumps({"cluster": "big", "hosts": hosts}))


def test_compiled_500_hosts_plus_one_through_the_cli(cli, tmp_path):
    names = [f"cmp-{i:03d}" for i in range(500)]
    _inventory(tmp_path / "before.json", names)
    _inventory(tmp_path / "after.json", [*names[:250], "cmp-new", *names[250:]])
    for side in ("before", "after"):
        code, _, err = cli(
            "compile",
            ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor",
            "-i",
            tmp_path / f"{side}.json",
            "--format",
            "json",
            "-o",
            tmp_path / f"{side}.plan.json",
        )
        assert code == 0, err
    code, out, _ = cli("diff", tmp_path / "before.plan.json", tmp_path / "after.plan.json")
    assert code == 1
    assert out.splitlines()[1] == "1 host added, 2 steps added; inventory changed"
    assert "  + cmp-new  (host 254, after cmp-249;" in out
    assert "its steps: nova-compute, neutron-openvswitch-agent" in out
    code, out, _ = cli(
        "diff", tmp_path / "before.plan.json", tmp_path / "after.plan.json", "--format", "json"
    )
    doc = json.loads(out)
    assert [s["id"] for s in doc["steps"]["added"]] == [
        "nova-compute@cmp-new",
        "neutron-openvswitch-agent@cmp-new",
    ]
    assert (
        doc["steps"]["moved"] == []
        and doc["hosts"]["moved"] == []
        and doc["steps"]["changed"] == []
    )


def test_host_with_a_new_reason_at_the_same_place(design_doc_plan):
    def change(p):
        placement = next(h for h in p["host_order"] if h["name"] == "node-a")
        placement.update(key_service="glance-registry", rank=4, source="kostyor.kostyor:18")

    result = diff_plans(design_doc_plan, mutated(design_doc_plan, change))
    (host,) = result.hosts_changed
    assert host.name == "node-a" and host.position == 1
    assert [(c.field, c.old, c.new) for c in host.changes] == [
        ("key_service", "glance-api", "glance-registry"),
        ("rank", 3, 4),
        ("source", "kostyor.kostyor:17", "kostyor.kostyor:18"),
    ]
    assert summary(result) == "1 host placed for a new reason"
    assert (
        "~ node-a  (host 2, same place): key_service glance-api -> glance-registry"
        in render_text(result)
    )
    assert json.loads(render_json(result))["hosts"]["changed"][0]["changes"][1] == {
        "field": "rank",
        "old": 3,
        "new": 4,
    }


def test_a_moved_spec_line_alone_is_no_new_reason(design_doc_plan):
    def shift(p):
        for h in p["host_order"]:
            h["source"] = h["source"] + "0"

    assert not diff_plans(design_doc_plan, mutated(design_doc_plan, shift)).hosts_changed


def test_goldens_rollout_strategy():
    old = compiled("small-cloud.yaml")
    new = compiled("small-cloud.yaml", "rolling-computes")
    result = diff_plans(old, new, "node-by-node.plan.json", "rolling-computes.plan.json")
    check_golden("diff-rollout", "diff.txt", render_text(result))
    check_golden("diff-rollout", "diff.md", render_markdown(result))
    check_golden("diff-rollout", "diff.json", render_json(result))
    assert [c.field for c in result.settings] == ["strategy", "group controller", "group compute"]
    kinds = {e.step["kind"] for e in result.added}
    assert kinds == {"hook", "gate"}
    assert all({c.field for c in s.changes} == {"group", "batch"} for s in result.changed)


# Issue 21, item 16: less noise.
SPEC_WITH_MAX = (
    "import kostyor\n{above}\nstrategy s extends node-by-node {{\n"
    "  hosts compute {{\n    batch {sizes}\n  }}\n}}\n"
)


def _plan(write, name: str, inventory: str = "small-cloud.yaml", **values) -> dict:
    from kostyor_dsl.compiler.api import compile_plan

    text = SPEC_WITH_MAX.format(**{"above": "", "sizes": "1, max", **values})
    path = write(name, text)
    return compile_plan(str(path), str(ROOT / "examples" / inventory)).plan


def test_a_warning_whose_line_moved_is_one_moved_warning(write):
    old = _plan(write, "a/s.kostyor")
    new = _plan(write, "a/s.kostyor", above="# a comment\n# and another\n")
    result = diff_plans(old, new)
    assert not result.warnings_added and not result.warnings_removed
    (moved,) = result.warnings_moved
    assert moved.old.startswith("K063 s.kostyor:5: ") and moved.new.startswith("K063 s.kostyor:7: ")
    text = render_text(result)
    assert "> K063 s.kostyor:7: hosts compute: `batch max`" in text
    assert "(moved from s.kostyor:5)" in text
    assert "1 warning moved in the spec" in summary(result)
    assert json.loads(render_json(result))["warnings"]["moved"] == [
        {"old": moved.old, "new": moved.new}
    ]


def test_a_batch_size_change_is_one_line_per_host(write):
    old = _plan(write, "s.kostyor", sizes="1, 2")
    new = _plan(write, "s.kostyor", sizes="1, 3")
    result = diff_plans(old, new)
    assert result.changed == ()
    assert [(r.name, r.steps) for r in result.hosts_rebatched] == [("cmp-4", 2)]
    assert "  ~ cmp-4: batch 3 -> 2  (its 2 steps)" in render_text(result).splitlines()
    assert "- `cmp-4`: batch `3` → `2` (its 2 steps)" in render_markdown(result)


def test_an_added_host_says_which_batch_it_joined(write, tmp_path):
    old = _plan(write, "s.kostyor", sizes="1, 2")
    inventory = (ROOT / "examples" / "small-cloud.yaml").read_text()
    extra = "  - name: cmp-5\n    services: [nova-compute, neutron-openvswitch-agent]\n"
    bigger = write("inv.yaml", inventory.replace("  - name: sto-1", extra + "  - name: sto-1"))
    from kostyor_dsl.compiler.api import compile_plan

    new = compile_plan(str(tmp_path / "s.kostyor"), str(bigger)).plan
    result = diff_plans(old, new)
    (host,) = result.hosts_added
    assert host.batch == "compute#3"
    assert "+ cmp-5  (host 8, after cmp-4; joins batch compute#3;" in render_text(result)
