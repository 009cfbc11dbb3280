"""Fast tests of the runtime's pieces: no broker, no worker."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time
from importlib.resources import files

import jsonschema
import pytest
from runtime_harness import DRIVER_PKG, KOSTYORC, make_plan

from kostyor_dsl.plan.seal import seal_plan
from kostyor_dsl.runtime import canvas
from kostyor_dsl.runtime.drivers import (
    available_drivers,
    driver_class,
    load_driver,
    load_parameters_file,
    parse_assignments,
)
from kostyor_dsl.runtime.errors import DriverError, ParameterError, StepFailed, UnsupportedAction
from kostyor_dsl.runtime.run_store import FileRunStore, RunRecord, StepRecord
from kostyor_dsl.runtime.status import render_status, status_document


def test_runtime_package_and_cli_module_do_not_import_celery():
    code = (
        "import sys\n"
        "import kostyor_dsl.runtime, kostyor_dsl.runtime.canvas, kostyor_dsl.runtime.status\n"
        "import kostyor_dsl.cli.runtime_commands\n"
        "from kostyor_dsl.cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('celery', 'kombu')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_describe_is_pure_deterministic_and_segmented_per_host():
    plan = make_plan(hosts=3)
    first = canvas.describe(plan, "r1")
    assert first == canvas.describe(plan, "r1")
    assert [len(segment.calls) for segment in first] == [1, 3, 3, 3]
    calls = [call for segment in first for call in segment.calls]
    assert [call.task_id for call in calls] == [f"r1:{step['id']}" for step in plan["steps"]]
    assert {call.queue for call in calls} == {"kostyor.run.r1"}
    assert calls[1].args == ("r1", 1, "nova-api@node-1")
    assert all(call.task == canvas.STEP_TASK and call.kwargs == {} for call in calls)


def test_segments_stay_bounded_whatever_the_plan_length():
    plan = make_plan(hosts=1, services=tuple(f"svc{n}" for n in range(200)), pre_upgrade=False)
    segments = canvas.describe(plan, "r1")
    assert max(len(segment.calls) for segment in segments) == canvas.SEGMENT_LIMIT
    assert sum(len(segment.calls) for segment in segments) == 200
    assert canvas.tail_from(segments, 30).calls[0].index == 30
    assert canvas.segment_of(segments, 199).last == 199


def test_per_host_route_splits_multi_host_steps_and_routes_each_host():
    plan = make_plan(hosts=1, pre_upgrade=True)
    plan["steps"].append(
        {
            "id": "nova-compute",
            "kind": "upgrade",
            "project": "nova",
            "service": "nova-compute",
            "hosts": ["node-b", "a; rm -rf /"],
            "source": "t:1",
        }
    )
    units = canvas.units_of(plan, "r2", "per-host")
    assert [unit.id for unit in units][-2:] == ["nova-compute@node-b", "nova-compute@a; rm -rf /"]
    assert units[0].queue == "kostyor.run.r2"
    assert units[1].queue == "kostyor.run.r2.host.node-1"
    unsafe = units[-1].queue
    assert "/" not in unsafe and ";" not in unsafe and " " not in unsafe
    with pytest.raises(ValueError, match="unknown route"):
        canvas.units_of(plan, "r2", "sideways")


def test_signatures_match_the_description():
    from celery import Celery

    app = Celery("t", set_as_current=False)
    segments = canvas.describe(make_plan(hosts=2), "r3")
    chains = canvas.signatures(segments, app)
    assert len(chains) == len(segments)
    link = chains[1].tasks[0]
    assert link.task == canvas.STEP_TASK
    assert link.options["task_id"] == "r3:nova-api@node-1"
    assert link.options["queue"] == "kostyor.run.r3"
    assert link.immutable
    assert tuple(link.args) == ("r3", 1, "nova-api@node-1")


def test_shell_driver_quotes_every_placeholder():
    from kostyor_dsl.runtime.drivers.shell import run_commands

    driver = load_driver(
        "shell",
        {"command": f"{sys.executable} -c 'import sys; print(sys.argv[1:])' {{host}} {{service}}"},
    )
    signature = driver.start("nova api", ["a; rm -rf /", "$(touch /tmp/pwned)"])
    result = run_commands(*signature.args)
    outputs = [entry["output"].strip() for entry in result["hosts"]]
    assert outputs == ["['a; rm -rf /', 'nova api']", "['$(touch /tmp/pwned)', 'nova api']"]
    assert result["hosts"][0]["exit_code"] == 0


def test_shell_driver_fails_on_non_zero_exit_with_output():
    from kostyor_dsl.runtime.drivers.shell import run_commands

    driver = load_driver("shell", {"command": "echo restarting {service} on {host}; exit 3"})
    with pytest.raises(StepFailed, match=r"exit code 3 on node-1") as failure:
        run_commands(*driver.start("glance-api", ["node-1"]).args)
    assert "restarting glance-api on node-1" in failure.value.message


def test_shell_driver_times_out_a_step():
    from kostyor_dsl.runtime.drivers.shell import run_commands

    driver = load_driver("shell", {"command": "sleep 120 # {host}", "timeout": "0.3"})
    started = time.monotonic()
    with pytest.raises(StepFailed, match=r"timed out after 0\.3 s"):
        run_commands(*driver.start("x", ["node-1"]).args)
    # Not the command's two minutes, however busy the machine.
    assert time.monotonic() - started < 100


def test_an_actions_own_timeout_wins_over_the_drivers():
    from kostyor_dsl.runtime.drivers.shell import step_timeout

    driver = load_driver(
        "shell",
        {
            "command": "true {host}",
            "action_command": "echo {action} {host}",
            "pre_upgrade_command": "echo {action}",
        },
    )
    assert driver.action("evacuate", "node-1", {"timeout": "30m"}).args[1] == 1800
    assert driver.action("evacuate", "node-1", {}).args[1] == 600
    assert driver.pre_upgrade("backup", {"timeout": 90}).args[1] == 90
    assert step_timeout({"timeout": "500ms"}, 600) == 0.5
    with pytest.raises(ParameterError, match="duration like 30m"):
        step_timeout({"timeout": "soon"}, 600)


def test_shell_driver_pre_upgrade_and_actions():
    from kostyor_dsl.runtime.drivers.shell import run_commands

    driver = load_driver(
        "shell", {"command": "true {host}", "pre_upgrade_command": "echo {action}"}
    )
    assert run_commands(*driver.pre_upgrade("refresh-repos", {}).args)["hosts"][0]["output"] == (
        "refresh-repos\n"
    )
    with pytest.raises(UnsupportedAction, match="evacuate"):
        driver.action("evacuate", "node-1", {})


@pytest.mark.parametrize(
    ("name", "parameters", "message"),
    [
        # No `command` is no error (a command table may serve upgrade steps);
        # `run` refuses upgrade steps without either (test_command_table).
        ("shell", {"commands": "nope"}, "no command table 'nope'"),
        (
            "shell",
            {"command": "ssh {node}"},
            r"placeholder \{node\}; allowed: \{action\}, \{host\}",
        ),
        ("shell", {"command": "x {host", "timeout": "1"}, "not a valid template"),
        ("shell", {"command": "x", "timeout": "soon"}, "'timeout' must be a number"),
        ("noop", {"sleep": "abc"}, "'sleep' must be a number"),
        ("noop", {"slep": "1"}, r"no parameter 'slep' \(its parameters: log, sleep\)"),
        ("nope", {}, r"unknown driver 'nope' \(available: .*noop.*shell"),
    ],
)
def test_driver_parameters_are_validated_with_a_clear_error(name, parameters, message):
    with pytest.raises((ParameterError, DriverError), match=message):
        load_driver(name, parameters)


def test_parameter_assignments_and_files(tmp_path):
    assert parse_assignments(["command=ssh {host} a=b", "x="]) == {
        "command": "ssh {host} a=b",
        "x": "",
    }
    with pytest.raises(ParameterError, match="expected key=value"):
        parse_assignments(["oops"])
    (tmp_path / "p.yaml").write_text("sleep: 0.5\nlog: /tmp/x\n")
    assert load_parameters_file(tmp_path / "p.yaml") == {"sleep": 0.5, "log": "/tmp/x"}
    (tmp_path / "p.json").write_text('{"sleep": 1}')
    assert load_parameters_file(tmp_path / "p.json") == {"sleep": 1}
    (tmp_path / "bad.yaml").write_text("- a list\n")
    with pytest.raises(ParameterError, match="must be a mapping"):
        load_parameters_file(tmp_path / "bad.yaml")
    with pytest.raises(ParameterError, match="cannot read parameters file"):
        load_parameters_file(tmp_path / "missing.yaml")


def test_third_party_driver_is_found_through_its_entry_point(monkeypatch):
    assert "steplog" not in available_drivers()
    monkeypatch.syspath_prepend(str(DRIVER_PKG))
    assert {"noop", "shell", "steplog"} <= set(available_drivers())
    found = driver_class("steplog")
    assert found.__module__ == "kostyor_testdriver"
    driver = load_driver("steplog", {"log": "/tmp/x", "sleep": "0.1"})
    assert driver.parameters["sleep"] == 0.1
    signature = driver.start("nova-api", ["node-1"])
    assert signature.task == "kostyor_testdriver.step"


def test_errors_survive_pickling():
    failure = pickle.loads(pickle.dumps(StepFailed("step x failed: boom", "x", "r1")))
    assert (failure.message, failure.step_id, failure.run_id) == ("step x failed: boom", "x", "r1")
    assert str(pickle.loads(pickle.dumps(ParameterError("bad")))) == "bad"


def _store_with_run(tmp_path, state="running"):
    store = FileRunStore(tmp_path / "runs")
    plan = make_plan(hosts=1)
    now = time.time()
    record = RunRecord("r9", state, "noop", {}, "run", len(plan["steps"]), now, now, "plan.json")
    store.create_run(record, plan)
    return store, plan


def test_file_store_locks_are_exclusive_and_updates_durable(tmp_path):
    store, _ = _store_with_run(tmp_path)
    with store.unit_lock("r9", 1) as first:
        assert first
        assert store.unit_locked("r9", 1)
        with store.unit_lock("r9", 1) as second:
            assert not second
    assert not store.unit_locked("r9", 1)
    store.update_run("r9", lambda run: run.__class__(**{**run.to_dict(), "state": "paused"}))
    assert FileRunStore(tmp_path / "runs").run("r9").state == "paused"
    assert [run.run_id for run in store.live_runs()] == ["r9"]
    store.update_run("r9", lambda run: run.__class__(**{**run.to_dict(), "state": "cancelled"}))
    assert store.live_runs() == []
    assert [run.run_id for run in store.runs()] == ["r9"]


def test_status_document_matches_its_schema(tmp_path):
    store, _ = _store_with_run(tmp_path, "failed")
    now = time.time()
    store.put_step("r9", StepRecord(0, "succeeded", now - 2, now - 1, 1, None, {"did": "x"}))
    store.put_step("r9", StepRecord(1, "failed", now - 1, now, 1, "RuntimeError: boom"))
    document = status_document(store, "r9")
    schema = json.loads((files("kostyor_dsl") / "schemas" / "status.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema)
    assert document["state"] == "failed"
    assert [step["state"] for step in document["steps"]][:3] == ["succeeded", "failed", "pending"]
    text = render_status(document, tty=True)
    assert text.splitlines()[0].startswith("run r9: failed, 1/4 steps succeeded")
    assert text.splitlines()[1] == "[" + "#" * 7 + "." * 23 + "]"
    assert "RuntimeError: boom" in text


def test_text_status_shows_the_failing_commands_last_lines(tmp_path):
    """Issue 21 item 15: the output was only in `--format json`."""
    store, _ = _store_with_run(tmp_path, "failed")
    now = time.time()
    output = "\n".join(f"TASK [line {n}]" for n in range(1, 31))
    error = f"exit code 2 on node-1: ansible-playbook upgrade.yml\n{output}\n\n"
    store.put_step("r9", StepRecord(1, "failed", now - 1, now, 1, error))
    text = render_status(status_document(store, "r9"), tty=False)
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "(exit code 2 on node-1" in line)
    assert lines[at + 1 : at + 12] == [
        "      | ... (20 earlier lines: --format json has them)",
        *(f"      | TASK [line {n}]" for n in range(21, 31)),
    ]
    assert lines[at + 12].startswith("  3 pending")


def _cli(tmp_path, *args):
    env = {"KOSTYOR_HOME": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*KOSTYORC, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


def test_cli_user_mistakes_are_one_message_not_a_traceback(tmp_path):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(seal_plan(make_plan(hosts=1, driver="noop"))))
    cases = [
        (("run", plan, "--driver", "nope"), "unknown driver 'nope'"),
        (("run", plan, "-p", "sleep=abc"), "'sleep' must be a number"),
        (
            ("run", plan, "--broker", "redis://127.0.0.1:1/0"),
            "cannot reach the broker at redis://127.0.0.1:1/0",
        ),
        (("run", tmp_path / "missing.json"), "cannot read plan"),
        (
            ("worker", "--broker", "amqp://guest:guest@127.0.0.1:1//"),
            "cannot reach the broker at amqp://guest:***@127.0.0.1:1//",
        ),
        (
            ("status", "x", "--backend", "redis://127.0.0.1:1/0"),
            "cannot reach redis://127.0.0.1:1/0",
        ),
        (("status", "no-such-run"), "no run 'no-such-run'"),
        (("pause", "no-such-run"), "no run 'no-such-run'"),
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "kostyor-plan/1", "steps": []}))
    cases.append((("run", bad), "is not a valid kostyor plan"))
    for args, message in cases:
        done = _cli(tmp_path, *args)
        assert done.returncode == 1, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr, (args, done.stderr)


@pytest.mark.slow
def test_redis_store_locks_expire_and_live_runs_follow_the_state():
    import os
    import uuid

    from runtime_harness import service_up

    from kostyor_dsl.runtime.redis_store import RedisRunStore

    if not service_up("127.0.0.1", 6379):
        if os.environ.get("CI"):
            pytest.fail("redis is not running on 127.0.0.1:6379 (CI is set)")
        pytest.skip("redis is not running on 127.0.0.1:6379")
    prefix = f"kt-{uuid.uuid4().hex[:10]}"
    store = RedisRunStore("redis://127.0.0.1:6379/0", prefix=prefix, lock_ttl=0.6)
    try:
        plan = make_plan(hosts=1)
        now = time.time()
        store.create_run(RunRecord("r1", "running", "noop", {}, "run", 4, now, now), plan)
        assert [run.run_id for run in store.live_runs()] == ["r1"]
        with store.unit_lock("r1", 0) as first:
            assert first
            time.sleep(1.0)  # longer than the TTL: the heartbeat keeps it
            with store.unit_lock("r1", 0) as second:
                assert not second
        assert not store.unit_locked("r1", 0)
        store.put_step("r1", StepRecord(0, "succeeded", now, now, 1))
        assert [record.state for record in store.steps("r1", 4)] == ["succeeded"] + ["pending"] * 3
        store.update_run("r1", lambda run: run.__class__(**{**run.to_dict(), "state": "succeeded"}))
        assert store.live_runs() == []
        assert store.plan("r1") == plan
    finally:
        keys = list(store.client.scan_iter(f"{prefix}:*"))
        if keys:
            store.client.delete(*keys)
