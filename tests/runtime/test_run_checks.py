"""What `kostyorc run` refuses before it submits anything (runtime/run_checks.py),
what the drivers say they can do, and the run-time guards behind those checks.

Refusals run `kostyorc` in-process (they stop before any broker is touched);
a run that is accepted is submitted to the embedded broker of a temporary
state folder, with no worker: the run record is what is checked.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from runtime_harness import KOSTYORC, ROOT, make_plan

from kostyor_dsl.compiler import compile_plan, dump_plan
from kostyor_dsl.plan.seal import seal_plan
from kostyor_dsl.runtime.canvas import units_of
from kostyor_dsl.runtime.drivers import load_driver
from kostyor_dsl.runtime.errors import ParameterError, StepFailed, UnsupportedAction
from kostyor_dsl.runtime.run_checks import driver_problems, host_problems, stale_problems
from kostyor_dsl.runtime.run_context import driver_signature

SPEC = str(ROOT / "specs" / "kostyor.kostyor")
# Service names of the shipped order; unknown ones (if the openstack order is
# rewritten) are allowed, the plan still has the spec's pre-upgrade and hooks.
INVENTORY = """\
hosts:
- name: ctl-1
  services: [keystone-wsgi-admin, nova-api, nova-scheduler, nova-conductor]
- name: cmp-1
  services: [nova-compute]
- name: cmp-2
  services: [nova-compute]
"""


def _readme_spec() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## A spec", 1)[1].split("```", 2)[1].lstrip("\n")


def _cli_env(tmp_path) -> dict:
    return {
        "KOSTYOR_HOME": str(tmp_path / "state"),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
    }


def _kostyorc(tmp_path, *args):
    """`kostyorc` in a subprocess with its own state folder (for runs that submit)."""
    return subprocess.run(
        [*KOSTYORC, *map(str, args)],
        capture_output=True,
        text=True,
        env=_cli_env(tmp_path),
        cwd=tmp_path,
        timeout=60,
    )


@pytest.fixture
def readme_plan(cli, tmp_path):
    spec = tmp_path / "team.kostyor"
    spec.write_text(_readme_spec())
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(INVENTORY)
    plan = tmp_path / "plan.yaml"
    code, _, err = cli("compile", spec, "-i", inventory, "--allow-unknown-services", "-o", plan)
    assert code == 0, err
    return plan


def test_the_readme_spec_is_refused_naming_its_backup_step(cli, readme_plan, tmp_path):
    code, out, err = cli("run", readme_plan)
    assert code == 1 and out == ""
    assert f"{readme_plan}: refused, nothing was submitted" in err
    assert "driver 'shell', with these parameters, cannot perform these steps" in err
    assert (
        "step 'pre-upgrade:backup-databases' (pre-upgrade backup-databases): driver 'shell' "
        "has no pre_upgrade_command, so it cannot run action 'backup-databases'"
    ) in err
    # Its hooks are named too, all in one message: nothing half-way.
    assert "step 'before:evacuate:cmp-1' and 1 more (hook evacuate)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "state").exists() and not (tmp_path / ".kostyor").exists()


def test_the_readme_plan_runs_once_the_driver_can_do_every_step(readme_plan, tmp_path):
    done = _kostyorc(
        tmp_path,
        "run",
        readme_plan,
        "-p",
        "pre_upgrade_command=/srv/hooks/{action}",
        "-p",
        "post_upgrade_command=/srv/hooks/{action}",
        "-p",
        "action_command=/srv/hooks/{action} {host}",
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    status = json.loads(_kostyorc(tmp_path, "status", run_id, "--format", "json").stdout)
    assert status["state"] == "running" and status["edited"] is None
    seal = json.loads(json.dumps(_load(readme_plan)))["seal"]
    assert status["seal"] == seal["sha256"]


def _load(path):
    from kostyor_dsl.compiler import load_plan

    return load_plan(path.read_text())


def test_shell_driver_answers_from_the_templates_it_has():
    bare = load_driver("shell", {"command": "ssh -- {host} true"})
    assert bare.unsupported("upgrade", "nova-api") is None
    assert "no pre_upgrade_command" in bare.unsupported("pre-upgrade", "backup")
    assert "no post_upgrade_command" in bare.unsupported("post-upgrade", "check")
    assert "no action_command, so it cannot run action 'evacuate'" in bare.unsupported(
        "hook", "evacuate"
    )
    full = load_driver(
        "shell",
        {
            "command": "true {host}",
            "pre_upgrade_command": "true {action}",
            "post_upgrade_command": "true {action}",
            "action_command": "true {action} {host}",
        },
    )
    for kind in ("upgrade", "pre-upgrade", "post-upgrade", "hook"):
        assert full.unsupported(kind, "x") is None
    noop = load_driver("noop", {})
    assert all(noop.unsupported(k, "x") is None for k in ("upgrade", "pre-upgrade", "hook"))


def test_driver_problems_name_each_kind_and_action_once_with_its_first_step():
    plan = make_plan(hosts=2, driver="shell")
    plan["steps"].append(
        {
            "id": "gate:compute#1",
            "kind": "gate",
            "message": "look",
            "group": "compute",
            "batch": 1,
            "source": "t:1",
        }
    )
    shell = load_driver("shell", {"command": "true {host}"})
    assert driver_problems(plan, shell) == [
        "step 'pre-upgrade:refresh-repos' (pre-upgrade refresh-repos): driver 'shell' has no "
        "pre_upgrade_command, so it cannot run action 'refresh-repos' "
        "(pass -p pre_upgrade_command='...' or -p commands=TABLE)"
    ]
    assert driver_problems(plan, load_driver("noop", {})) == []


def test_a_step_with_nothing_to_do_fails_never_succeeds():
    from kostyor_dsl.runtime.drivers.shell import run_commands

    shell = load_driver("shell", {"command": "true {host}"})
    with pytest.raises(UnsupportedAction, match="no pre_upgrade_command"):
        shell.pre_upgrade("backup-databases", {})
    with pytest.raises(StepFailed, match="nothing to run"):
        run_commands(*shell.start("nova-api", []).args)


HOSTILE = "-oProxyCommand=touch /tmp/PWN"


def _hostile_plan() -> dict:
    plan = make_plan(hosts=1, services=("api",), pre_upgrade=False, driver="noop")
    plan["steps"][0]["hosts"] = [HOSTILE]
    plan["steps"][0]["id"] = f"nova-api@{HOSTILE}"
    return seal_plan(plan)


def test_run_refuses_a_host_that_is_not_a_host_name(cli, tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(_hostile_plan()))
    code, _, err = cli("run", path)
    assert code == 1
    assert "steps name hosts that are not host names" in err
    assert (
        f"step 'nova-api@{HOSTILE}': host '{HOSTILE}': a host name must not start with '-'"
    ) in err
    assert host_problems(make_plan(hosts=2)) == []


def test_the_step_task_refuses_a_bad_host_before_the_driver_sees_it():
    plan = _hostile_plan()
    unit = units_of(plan, "r1")[0]
    seen = []

    class Recording:
        def start(self, service, hosts):
            seen.append(hosts)

    with pytest.raises(StepFailed, match="refused before the driver saw it"):
        driver_signature(Recording(), plan["steps"][0], unit)
    assert seen == []


@pytest.mark.parametrize(
    ("driver", "parameter", "value", "message"),
    [
        ("noop", "sleep", "nan", "'sleep' must be a finite number, not nan"),
        ("noop", "sleep", "inf", "'sleep' must be a finite number, not inf"),
        ("noop", "sleep", "-1", "'sleep' must be at least 0, not -1"),
        ("shell", "timeout", "nan", "'timeout' must be a finite number, not nan"),
        ("shell", "timeout", "inf", "'timeout' must be a finite number, not inf"),
        ("shell", "timeout", "-5", "'timeout' must be greater than 0, not -5"),
        ("shell", "timeout", "0", "'timeout' must be greater than 0, not 0"),
    ],
)
def test_numbers_that_would_fail_at_run_time_are_refused_at_submit(
    cli, tmp_path, driver, parameter, value, message
):
    required = {"command": "true {host}"} if driver == "shell" else {}
    with pytest.raises(ParameterError, match=message):
        load_driver(driver, {parameter: value, **required})
    path = tmp_path / "plan.json"
    plan = make_plan(hosts=1, pre_upgrade=False, driver=driver)
    path.write_text(json.dumps(seal_plan(plan)))
    args = ["run", path, "-p", f"{parameter}={value}"]
    if driver == "shell":
        args += ["-p", "command=true {host}"]
    code, _, err = cli(*args)
    assert code == 1 and message in err, err


def test_shell_output_that_is_not_utf8_is_kept_not_a_failure():
    from kostyor_dsl.runtime.drivers.shell import run_commands

    shell = load_driver("shell", {"command": "printf 'ok \\377\\376 {host}'"})
    result = run_commands(*shell.start("nova-api", ["node-1"]).args)
    assert result["hosts"][0]["output"] == "ok \ufffd\ufffd node-1"
    failing = load_driver("shell", {"command": "printf '\\377'; exit 4 # {host}"})
    with pytest.raises(StepFailed, match="exit code 4 on node-1"):
        run_commands(*failing.start("nova-api", ["node-1"]).args)


# Hand edits of a compiled plan, each refused by `run` with what changed.
def _compiled(tmp_path) -> dict:
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(INVENTORY)
    return json.loads(dump_plan(compile_plan(SPEC, str(inventory)).plan, "json"))


def _by_id(plan, step_id):
    return next(step for step in plan["steps"] if step["id"] == step_id)


EDITS = {
    "host": (
        lambda plan: _by_id(plan, "nova-compute@cmp-2").update(hosts=["cmp-9"]),
        "step 'nova-compute@cmp-2' (upgrade nova-compute on cmp-9): its id does not match "
        "its content; compile names it 'nova-compute@cmp-9'",
    ),
    "service": (
        lambda plan: _by_id(plan, "nova-api@ctl-1").update(service="nova-conductor"),
        "compile names it 'nova-conductor@ctl-1'",
    ),
    "swap": (
        lambda plan: plan["steps"].insert(0, plan["steps"].pop(1)),
        "steps changed: the same 6 steps by count, with other content or order",
    ),
    "remove": (
        lambda plan: plan["steps"].pop(),
        "steps changed: 5 steps, 6 were sealed",
    ),
    "id": (
        lambda plan: _by_id(plan, "nova-compute@cmp-1").update(id="nova-compute@cmp-7"),
        "step 'nova-compute@cmp-7' (upgrade nova-compute on cmp-1): its id does not match",
    ),
    "inventory digest": (
        lambda plan: plan["inputs"]["inventory"].update(sha256="1" * 64),
        "inputs changed: the spec or inventory files or digests it was compiled from",
    ),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_run_refuses_each_hand_edit_naming_it(cli, tmp_path, edit):
    plan = _compiled(tmp_path)
    change, message = EDITS[edit]
    change(plan)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan, indent=2))
    code, out, err = cli("run", path, "--driver", "noop")
    assert code == 1 and out == ""
    assert "the plan was changed after `kostyorc compile` sealed it" in err
    assert message in err
    assert "pass --allow-edited to run it as it is" in err


def test_allow_edited_runs_an_edited_plan_and_the_run_record_says_so(tmp_path):
    plan = _compiled(tmp_path)
    EDITS["host"][0](plan)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    done = _kostyorc(tmp_path, "run", path, "--driver", "noop", "--allow-edited")
    assert done.returncode == 0, done.stderr
    assert "was changed after `kostyorc compile` sealed it; running it as it is" in done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    status = json.loads(_kostyorc(tmp_path, "status", run_id, "--format", "json").stdout)
    assert "its id does not match its content" in status["edited"]
    assert status["seal"] == plan["seal"]["sha256"]
    text = _kostyorc(tmp_path, "status", run_id).stdout
    assert "plan edited after compile, run with --allow-edited: steps changed" in text


def test_against_refuses_a_stale_plan_and_accepts_a_fresh_one(cli, tmp_path):
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(INVENTORY)
    path = tmp_path / "plan.json"
    code, _, err = cli("compile", SPEC, "-i", inventory, "--format", "json", "-o", path)
    assert code == 0, err
    inventory.write_text(INVENTORY.replace("- name: cmp-2", "- name: cmp-0"))
    code, _, err = cli("run", path, "--driver", "noop", "--against", SPEC, "-i", inventory)
    assert code == 1
    assert "the plan is stale" in err
    problems = [line for line in err.splitlines() if line.startswith("  - ")]
    assert problems[0].startswith("  - inventory inv.yaml: sha256 ")
    assert problems[2] == "  - `host_order` differs from what compile writes now"
    assert (
        "step 6: the plan has 'nova-compute@cmp-2' (upgrade nova-compute on cmp-2), "
        "compile now gives 'nova-compute@cmp-0' (upgrade nova-compute on cmp-0)"
    ) in err
    inventory.write_text(INVENTORY)
    done = _kostyorc(tmp_path, "run", path, "--driver", "noop", "--against", SPEC, "-i", inventory)
    assert done.returncode == 0, done.stderr
    code, _, err = cli("run", path, "--against", SPEC)
    assert code == 2 and "--against SPEC and --inventory INV go together" in err


def test_against_names_a_spec_given_under_another_name(tmp_path):
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(INVENTORY)
    plan = json.loads(dump_plan(compile_plan("kostyor", str(inventory)).plan, "json"))
    assert stale_problems(plan, "kostyor", str(inventory)) == []
    problems = stale_problems(plan, SPEC, str(inventory))
    assert problems[0] == (
        "spec files: the same contents under other names (<shipped>/kostyor.kostyor in the "
        "plan, kostyor.kostyor now): give --against the spec as compile was given it"
    )
    assert problems[1].startswith(
        "step 1 'keystone-wsgi-admin@ctl-1' (upgrade keystone-wsgi-admin on ctl-1): its "
        "source is '<shipped>/kostyor.kostyor:12' in the plan, 'kostyor.kostyor:12' now"
    )


def test_many_bad_hosts_are_counted_past_the_first_twenty():
    plan = make_plan(hosts=0, pre_upgrade=False)
    plan["steps"] = [
        {
            "id": f"nova-api@-h{n}",
            "kind": "upgrade",
            "project": "nova",
            "service": "nova-api",
            "hosts": [f"-h{n}"],
            "source": "t:1",
        }
        for n in range(25)
    ]
    problems = host_problems(plan)
    assert len(problems) == 21 and problems[0].startswith("step 'nova-api@-h0': host '-h0'")
    assert problems[-1] == "... and 5 more hosts that are not host names"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_step_printing_invalid_utf8_succeeds_through_a_worker(embedded):
    plan = make_plan(hosts=1, services=("api",), pre_upgrade=False, driver="shell")
    embedded.start_worker()
    path = embedded.write_plan(plan)
    done = embedded.kostyorc(
        "run", path, "--wait", "-p", "command=printf 'restarted \\377 {host}'", "-p", "timeout=60"
    )
    run_id = done.stdout.strip().splitlines()[-1]
    (step,) = embedded.status(run_id)["steps"]
    assert step["state"] == "succeeded" and step["attempts"] == 1
    assert step["result"]["hosts"][0]["output"] == "restarted \ufffd node-1"
