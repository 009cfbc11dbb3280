"""`kostyorc simulate` and `kostyorc diff --step-seconds/--timings` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files

import jsonschema
import pytest
from simulate_support import batch_plan, plan_of, upgrade

from kostyor_dsl.runtime.canvas import units_of
from kostyor_dsl.runtime.run_store import FileRunStore, RunRecord, StepRecord

SCHEMA = json.loads((files("kostyor_dsl") / "schemas" / "simulation.schema.json").read_text())


def test_text_names_the_window_stages_path_hosts_down_and_capacity(cli, plan_file, rolling_plan):
    code, out, err = cli("simulate", plan_file(rolling_plan), "--step-seconds", "60")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:4] == [
        "simulation: strategy rolling-computes, engine node-by-node, 74 steps in 7 stages",
        "timings: 60 s a step, gates 0 s; from --step-seconds",
        "workers: concurrency 2 (at most 2 steps at once, a batch's lanes served first come, "
        "first served)",
        "window: 1:06:00 (3960 s)",
    ]
    assert (
        "  6  0:50:00 - 0:58:00   0:08:00  batch compute#2: 3 hosts in parallel "
        "(cmp-2, cmp-3, cmp-4), 15 steps"
    ) in lines
    assert "  5  0:50:00 - 0:50:00   0:00:00  gate gate:compute#1" in lines
    assert "  tier compute: 3 of 4 at 0:51:00" in lines
    assert "  group controller: 1 of 3 at 0:00:00" in lines
    assert "lowest compute capacity: 1 of 4 hosts up (25%) from 0:51:00, for 6 min in all" in lines
    assert any(line.startswith("  0:00:00-0:15:00  stage 1 on ctl-1:") for line in lines)


def test_json_follows_its_schema_and_is_deterministic(cli, plan_file, rolling_plan):
    path = plan_file(rolling_plan)
    code, out, _ = cli("simulate", path, "--format", "json", "--concurrency", "4")
    assert code == 0
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert document["concurrency"] == 4 and document["duration"] == 3780
    assert cli("simulate", path, "--format", "json", "--concurrency", "4")[1] == out


def test_output_file(cli, plan_file, design_doc_plan, tmp_path):
    target = tmp_path / "sim.json"
    code, out, _ = cli("simulate", plan_file(design_doc_plan), "--format", "json", "-o", target)
    assert (code, out) == (0, "")
    assert json.loads(target.read_text())["duration"] == 1020


def test_a_timings_file_mistake_is_one_clear_error(cli, plan_file, design_doc_plan, write):
    timings = write("t.yaml", "default: 60\nservices:\n  nova-api: soon\n")
    code, out, err = cli("simulate", plan_file(design_doc_plan), "--timings", timings)
    assert code == 1 and out == ""
    assert err == (
        f"kostyorc: error: {timings}:3:13: services.nova-api: expected a number of seconds "
        "(0 to 31536000, a year), found str 'soon'\n"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--plot", "x.pdf"), 2, "the file must end in .png or .svg"),
        (("--concurrency", "0"), 2, "expected 1 or more"),
        (("--step-seconds", "-3"), 2, "expected 0 to 31536000 seconds"),
        (("--timings", "t.yaml", "--from-run", "r1"), 2, "not allowed with argument"),
        (("--from-run", "no-such-run"), 1, "no run 'no-such-run'"),
    ],
)
def test_usage_mistakes(
    cli, plan_file, design_doc_plan, tmp_path, monkeypatch, args, code, message
):
    monkeypatch.setenv("KOSTYOR_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("KOSTYOR_BROKER_URL", raising=False)
    monkeypatch.delenv("KOSTYOR_BACKEND_URL", raising=False)
    got, _, err = cli("simulate", plan_file(design_doc_plan), *args)
    assert got == code and message in err and "Traceback" not in err


def test_a_bad_plan_is_one_line(cli, write):
    code, _, err = cli("simulate", write("p.json", '{"steps": 3}'))
    assert code == 1 and err.startswith("kostyorc: error: ") and "not a" in err


def _recorded_run(tmp_path, plan: dict, seconds: dict[str, float], gap: float) -> str:
    """A finished run in a file run store, each unit lasting `seconds[service]`."""
    store = FileRunStore(tmp_path / "state" / "runs")
    run_id = "20261202-120000-abcdef"
    units = units_of(plan, run_id)
    store.create_run(
        RunRecord(run_id, "succeeded", "noop", {}, "run", len(units), 1000.0, 1000.0), plan
    )
    steps = {step["id"]: step for step in plan["steps"]}
    moment = 1000.0
    for unit in units:
        moment += gap
        took = seconds[steps[unit.step_id]["service"]]
        store.put_step(run_id, StepRecord(unit.index, "succeeded", moment, moment + took, 1))
        moment += took
    return run_id


def test_from_run_learns_medians_per_service_and_the_hand_over(
    cli, plan_file, tmp_path, monkeypatch
):
    plan = plan_of([upgrade(s, h) for h in ("a", "b", "c") for s in ("nova-api", "nova-compute")])
    run_id = _recorded_run(tmp_path, plan, {"nova-api": 2.0, "nova-compute": 5.0}, gap=0.25)
    monkeypatch.setenv("KOSTYOR_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("KOSTYOR_BROKER_URL", raising=False)
    monkeypatch.delenv("KOSTYOR_BACKEND_URL", raising=False)
    # The next window: another plan with the same services, and one the run never timed.
    other = batch_plan(["d", "e"], ("nova-api", "nova-compute", "glance-api"))
    code, out, err = cli(
        "simulate",
        plan_file(other),
        "--from-run",
        run_id,
        "--format",
        "json",
        "--step-seconds",
        "1",
    )
    assert (code, err) == (0, "")
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert document["timings"]["services"] == {"nova-api": 2.0, "nova-compute": 5.0}
    assert document["timings"]["dispatch"] == 0.25
    # Two lanes on two workers: 0.25 + 2 + 0.25 + 5 + 0.25 + 1.
    assert document["duration"] == 8.75
    assert document["notes"] == [
        f"timings from run {run_id} (succeeded): 6 of 6 steps timed, it took 0:00:22 "
        "(22.25 s) from first start to last end"
    ]


FORBIDDEN_CHECK = """
import sys
from kostyor_dsl.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("celery", "kombu", "matplotlib"))
print(" ".join(loaded), file=sys.stderr)
sys.exit(99 if loaded else code)
"""


def test_simulate_imports_no_celery_even_from_a_run(plan_file, rolling_plan, tmp_path):
    plan = plan_of([upgrade("nova-api", "a")])
    run_id = _recorded_run(tmp_path, plan, {"nova-api": 1.0}, gap=0.0)
    env = {"KOSTYOR_HOME": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    for extra in ((), ("--from-run", run_id)):
        done = subprocess.run(
            [sys.executable, "-c", FORBIDDEN_CHECK, "simulate", plan_file(rolling_plan), *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "window: 1:06:00" in done.stdout or extra


def test_diff_says_how_the_window_changes(cli, plan_file):
    old = plan_file(batch_plan(["a", "b", "c", "d"], ("nova-api", "nova-compute")))
    new = plan_file(batch_plan(["a", "b", "c", "d", "e", "f"], ("nova-api", "nova-compute")))
    code, out, _ = cli("diff", old, new, "--step-seconds", "630")
    assert code == 1
    assert out.splitlines()[2:4] == [
        "window 0:42:00 -> 1:03:00 (+21 min)",
        "  (simulated: 630 s a step, gates 0 s; from --step-seconds; concurrency 2)",
    ]
    code, out, _ = cli("diff", old, new, "--concurrency", "4", "--format", "json")
    assert json.loads(out)["window"] == {
        "old": 120.0,
        "new": 180.0,
        "delta": 60.0,
        "concurrency": 4,
        "timings": "60 s a step, gates 0 s; from --step-seconds",
        "summary": "window 0:02:00 -> 0:03:00 (+1 min)",
    }
    code, out, _ = cli("diff", old, new, "--step-seconds", "60", "--format", "markdown")
    assert "**Window:** 0:04:00 -> 0:06:00 (+2 min)" in out
    # Without a timing option the diff is what it was.
    code, out, _ = cli("diff", old, new, "--format", "json")
    assert "window" not in json.loads(out)
    assert not [line for line in cli("diff", old, new)[1].splitlines() if "window 0:" in line]


def test_a_plan_without_steps_has_an_empty_window(cli, plan_file, tmp_path):
    code, out, _ = cli("simulate", plan_file(plan_of([])), "--plot", tmp_path / "empty.svg")
    assert code == 0
    assert "window: 0:00:00 (0 s)" in out and "(none: the plan has no steps)" in out
    assert (tmp_path / "empty.svg").read_text().lstrip().startswith("<?xml")


def test_plot_without_matplotlib_says_how_to_get_it(
    cli, plan_file, design_doc_plan, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    target = tmp_path / "w.png"
    code, _, err = cli("simulate", plan_file(design_doc_plan), "--plot", target)
    assert code == 1 and "pip install 'kostyor-dsl[plot]'" in err
    assert not target.exists()


def test_capacity_of_another_tier(cli, plan_file, rolling_plan):
    code, out, _ = cli("simulate", plan_file(rolling_plan), "--capacity-tier", "storage")
    assert code == 0
    assert "lowest storage capacity: 1 of 2 hosts up (50%) from 0:58:00, for 8 min in all" in out
    code, out, _ = cli("simulate", plan_file(rolling_plan), "--capacity-tier", "edge")
    assert "lowest edge capacity: the plan has no host of the edge tier" in out
