"""Inputs of the fault hunt (issue 21, item 10): each a clear error and a non-zero
exit, never a traceback.  Values at the edge of what floats and ints hold,
records of the wrong type, options that name nothing."""

from __future__ import annotations

import json

import pytest
from support import EXAMPLES

from kostyor_dsl.compiler.api import compile_to
from kostyor_dsl.runtime.records import RunRecord
from kostyor_dsl.runtime.run_store import FileRunStore

HUGE = "1" + "0" * 400


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    with open(path, "w", encoding="utf-8") as stream:
        compile_to(
            stream, str(EXAMPLES / "team.kostyor"), str(EXAMPLES / "small-cloud.yaml"), "json"
        )
    return path


def no_traceback(err: str) -> None:
    assert "Traceback" not in err and "Error:" not in err.split("error:")[0]


@pytest.mark.parametrize("default", ["1.0e+308", HUGE, "-1e308", ".nan", "1e400"])
def test_simulate_refuses_seconds_no_clock_holds(cli, plan, write, default):
    timings = write("timings.yaml", f"default: {default}\n")
    code, out, err = cli("simulate", plan, "--timings", timings)
    assert code == 1, out
    assert f"{timings}:1:10: default: expected a number of seconds" in err
    no_traceback(err)


@pytest.mark.parametrize("seconds", ["1e308", HUGE])
def test_simulate_refuses_step_seconds_no_clock_holds(cli, plan, seconds):
    code, _, err = cli("simulate", plan, "--step-seconds", seconds)
    assert code == 2
    assert "--step-seconds: expected 0 to 31536000 seconds" in err
    no_traceback(err)


def test_diff_timings_refuses_them_too(cli, plan, write):
    timings = write("timings.yaml", f"default: {HUGE}\n")
    code, _, err = cli("diff", plan, plan, "--timings", timings)
    assert code == 2  # diff: 1 means the plans differ
    assert "default: expected a number of seconds" in err
    no_traceback(err)


def make_run(tmp_path, monkeypatch, source, *, run=None, step=None, stored_plan=None) -> str:
    """A failed run of the example plan in a state folder under tmp_path, its records
    then damaged as asked."""
    monkeypatch.setenv("KOSTYOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KOSTYOR_BROKER_URL", raising=False)
    monkeypatch.delenv("KOSTYOR_BACKEND_URL", raising=False)
    store = FileRunStore(tmp_path / "home" / "runs")
    document = json.loads(source.read_text())
    count = len(document["steps"])
    record = RunRecord("r1", "failed", "noop", {}, "run", count, 1.7e9, 1.7e9)
    store.create_run(record, document)
    folder = tmp_path / "home" / "runs" / "r1"
    if run is not None:
        data = json.loads((folder / "run.json").read_text())
        data.update(run)
        (folder / "run.json").write_text(json.dumps(data))
    if step is not None:
        (folder / "steps").mkdir(exist_ok=True)
        (folder / "steps" / "0.json").write_text(json.dumps({"index": 0, **step}))
    if stored_plan is not None:
        (folder / "plan.json").write_text(stored_plan)
    return "r1"


BAD_STEPS = [
    {"state": "succeeded", "started": "yesterday", "finished": 1.7e9},
    {"state": "succeeded", "started": 1.7e9, "finished": float("nan")},
    {"state": "succeeded", "started": -1e308, "finished": 1e308},
    {"state": 3},
    {"state": "succeeded", "attempts": "two"},
]


@pytest.mark.parametrize("step", BAD_STEPS)
def test_status_names_the_bad_field_of_a_step(cli, tmp_path, monkeypatch, plan, step):
    run_id = make_run(tmp_path, monkeypatch, plan, step=step)
    for command in (("status", run_id), ("status", run_id, "--format", "json")):
        code, _, err = cli(*command)
        assert code == 1
        assert "0.json: the step record is damaged: field" in err
        no_traceback(err)


@pytest.mark.parametrize(
    "run", [{"created": "x"}, {"updated": float("nan")}, {"unit_count": 1e308}, {"state": "odd"}]
)
def test_status_and_runs_name_the_bad_field_of_a_run(cli, tmp_path, monkeypatch, plan, run):
    run_id = make_run(tmp_path, monkeypatch, plan, run=run)
    code, _, err = cli("status", run_id)
    assert code == 1
    assert "run.json: the run record is damaged: field" in err
    no_traceback(err)
    code, out, err = cli("runs")
    assert "run.json: the run record is damaged: field" in out + err
    no_traceback(err)


def test_simulate_from_a_run_whose_plan_is_a_list(cli, tmp_path, monkeypatch, plan):
    run_id = make_run(tmp_path, monkeypatch, plan, stored_plan="[]")
    code, _, err = cli("simulate", plan, "--from-run", run_id)
    assert code == 1
    no_traceback(err)
    code, _, err = cli("status", run_id)
    assert code == 1
    assert "plan.json: the run's plan is not a plan" in err
    no_traceback(err)


@pytest.mark.parametrize("step", BAD_STEPS[:3])
def test_simulate_from_a_run_with_bad_times(cli, tmp_path, monkeypatch, plan, step):
    run_id = make_run(tmp_path, monkeypatch, plan, step=step)
    code, _, err = cli("simulate", plan, "--from-run", run_id)
    assert code == 1
    assert "the step record is damaged" in err
    no_traceback(err)


def test_run_parameters_not_utf8(cli, tmp_path, monkeypatch, plan):
    monkeypatch.setenv("KOSTYOR_HOME", str(tmp_path / "home"))
    params = tmp_path / "params.json"
    params.write_bytes(b'{"a": "\xff\xfe"}')
    code, _, err = cli("run", plan, "--parameters", params)
    assert code == 1
    assert f"{params}: not UTF-8" in err
    no_traceback(err)


@pytest.mark.parametrize("broker", ["nosuch://x", "redis://[::1/0"])
def test_a_broker_url_that_names_nothing(cli, tmp_path, monkeypatch, plan, broker):
    monkeypatch.setenv("KOSTYOR_HOME", str(tmp_path / "home"))
    for command in (("runs",), ("status", "r1"), ("simulate", plan, "--from-run", "r1")):
        code, _, err = cli(*command, "--broker", broker)
        assert code == 1, command
        assert "--broker" in err and broker in err
        no_traceback(err)


def test_worker_concurrency_below_one(cli):
    code, _, err = cli("worker", "--concurrency", "-1")
    assert code == 2
    assert "--concurrency: expected 1 or more" in err
    no_traceback(err)


@pytest.mark.parametrize("timeout", ["2200000", "1e32"])
def test_a_shell_timeout_no_wait_can_take_is_refused(cli, tmp_path, monkeypatch, plan, timeout):
    monkeypatch.setenv("KOSTYOR_HOME", str(tmp_path / "home"))
    code, _, err = cli(
        "run", plan, "--driver", "shell", "-p", "command=true", "-p", f"timeout={timeout}"
    )
    assert code == 1
    assert "parameter 'timeout' must be at most 2147483" in err
    no_traceback(err)


@pytest.mark.parametrize("timeout", ["600h", 1e32, float("nan")])
def test_an_action_timeout_no_wait_can_take_is_refused(timeout):
    from kostyor_dsl.runtime.drivers.shell import step_timeout
    from kostyor_dsl.runtime.errors import ParameterError

    with pytest.raises(ParameterError, match="at most 2147483 s"):
        step_timeout({"timeout": timeout}, 600)
