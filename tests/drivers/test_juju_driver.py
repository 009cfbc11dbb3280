"""`juju`: the commands it builds, exactly, against charmed-openstack-upgrader's
order (cou/apps/base.py, cou/apps/core.py), and the shipped `openstack` spec's
rolling-computes of an imported Juju model run through real workers with a
stand-in `juju` (tests/drivers/juju_standin.py) whose record is a golden file.

Regenerate the golden record, then review its diff:

    KOSTYOR_UPDATE_GOLDEN=1 .venv/bin/pytest tests/drivers/test_juju_driver.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from driver_extras import require
from runtime_harness import ROOT, Runtime

from kostyor_dsl.runtime.drivers import load_driver
from kostyor_dsl.runtime.drivers.juju import (
    AppState,
    Target,
    application_commands,
    parse_channels,
    unit_commands,
)
from kostyor_dsl.runtime.errors import ParameterError

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden" / "juju-rolling-computes.txt"
UPDATE = bool(os.environ.get("KOSTYOR_UPDATE_GOLDEN"))
STATUS = ROOT / "tests" / "importers" / "data" / "juju" / "status.json"
TARGET = Target("2024.2", "jammy", "2024.2/stable", {"vault": "1.8/stable"}, 1800)


def test_a_charm_upgraded_unit_by_unit_follows_charmed_openstack_upgrader():
    app = AppState("nova-compute", "nova-compute", "2024.1/stable", "cloud:jammy-caracal", False)
    # cou/apps/base.py upgrade_steps: action-managed-upgrade, the charm's channel, the
    # package source; then per unit (_get_unit_upgrade_steps): pause, openstack-upgrade, resume.
    assert application_commands(app, TARGET) == [
        ["config", "nova-compute", "action-managed-upgrade=true"],
        ["refresh", "nova-compute", "--channel", "2024.2/stable"],
        ["wait-for", "application", "nova-compute", '--query=status=="active"', "--timeout", "1800s"],
        ["config", "nova-compute", "openstack-origin=cloud:jammy-dalmatian"],
    ]  # fmt: skip
    assert unit_commands("nova-compute/3", TARGET) == [
        ["run", "nova-compute/3", "pause", "--wait=1800s"],
        ["run", "nova-compute/3", "openstack-upgrade", "--wait=1800s"],
        ["run", "nova-compute/3", "resume", "--wait=1800s"],
        ["wait-for", "unit", "nova-compute/3", '--query=workload-status=="active"', "--timeout", "1800s"],
    ]  # fmt: skip
    # Run again (or for the application's next unit): only what is left.
    done = AppState("nova-compute", "nova-compute", "2024.2/stable", "cloud:jammy-dalmatian", True)
    assert application_commands(done, TARGET) == []


def test_a_charm_without_upgrade_actions_changes_its_source_or_its_own_channel():
    rabbit = AppState(
        "rabbitmq-server", "rabbitmq-server", "3.9/stable", "cloud:jammy-caracal", False
    )
    # cou/apps/auxiliary.py: `source`, every unit at once; no action-managed-upgrade.
    assert application_commands(rabbit, TARGET) == [
        ["config", "rabbitmq-server", "source=cloud:jammy-dalmatian"],
        ["wait-for", "application", "rabbitmq-server", '--query=status=="active"', "--timeout", "1800s"],
    ]  # fmt: skip
    vault = AppState("vault", "vault", "1.7/stable", "", False)
    assert application_commands(vault, TARGET) == [
        ["refresh", "vault", "--channel", "1.8/stable"],
        ["wait-for", "application", "vault", '--query=status=="active"', "--timeout", "1800s"],
    ]  # fmt: skip
    router = AppState("keystone-mysql-router", "mysql-router", "8.0/stable", "", False)
    assert application_commands(router, TARGET) == []  # no channel given for it: nothing


def test_parameters_are_checked_before_anything_runs():
    assert parse_channels("vault=1.8/stable, ovn-central=24.03/stable") == {
        "vault": "1.8/stable",
        "ovn-central": "24.03/stable",
    }
    with pytest.raises(ParameterError, match="'vault' is not APPLICATION=CHANNEL"):
        parse_channels("vault")
    with pytest.raises(ParameterError, match=r"no Ubuntu Cloud Archive for '2030\.1'"):
        load_driver("juju", {"release": "2030.1"})
    driver = load_driver("juju", {"release": "2024.2"})
    assert driver.unsupported("upgrade", "nova-compute") is None
    assert driver.unsupported("hook", "disable-scheduling") is None
    assert driver.unsupported("pre-upgrade", "keystone-db-expand") is None
    assert driver.unsupported("post-upgrade", "backup-databases") == (
        "juju has no command for post-upgrade 'backup-databases' (its hook actions: "
        "disable-scheduling, enable-scheduling); the charms run their own database "
        "migrations and checks when they upgrade"
    )
    assert driver.unsupported("hook", "evacuate").startswith(
        "juju has no command for hook 'evacuate'"
    )
    assert driver.unsupported("project-step", "x") is not None


@pytest.fixture
def juju_runtime(tmp_path):
    instance = Runtime(tmp_path, "embedded")
    yield instance
    instance.stop_all()


def _standin(tmp_path: Path) -> tuple[Path, Path, Path]:
    folder = tmp_path / "bin"
    folder.mkdir()
    tool = folder / "juju"
    tool.write_text(f"#!{sys.executable}\n" + (HERE / "juju_standin.py").read_text())
    tool.chmod(0o755)
    state = tmp_path / "juju-state.json"
    status = json.loads(STATUS.read_text())
    config = {}
    for name, app in status["applications"].items():
        if app.get("charm-name") in ("rabbitmq-server", "ovn-central", "ceph-mon", "ceph-osd"):
            config[name] = {"source": "cloud:jammy-caracal"}
        else:
            config[name] = {
                "openstack-origin": "cloud:jammy-caracal",
                "action-managed-upgrade": "false",
            }
    state.write_text(json.dumps({**status, "config": config}))
    return folder, state, tmp_path / "juju-calls.jsonl"


def _record(path: Path) -> list[str]:
    """What changed the model, in order (the reads, `status` and `config APP KEY`, left out)."""
    lines = []
    for line in path.read_text().splitlines():
        argv = json.loads(line)
        if argv[0] == "status" or (argv[0] == "config" and "=" not in argv[-1]):
            continue
        lines.append("juju " + " ".join(argv))
    return lines


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_rolling_computes_of_an_imported_juju_model_through_workers(
    juju_runtime, tmp_path, request
):
    runtime = juju_runtime

    def request_cleanup(standin):
        request.addfinalizer(lambda: standin.__exit__(None, None, None))

    imported = tmp_path / "inventory.yaml"
    plan_file = tmp_path / "plan.json"
    env = runtime.env
    for command in (
        ["import", "juju", str(STATUS), "-o", str(imported)],
        ["compile", "openstack", "--inventory", str(imported), "--strategy", "rolling-computes",
         "--format", "json", "-o", str(plan_file)],
    ):  # fmt: skip
        subprocess.run([sys.executable, "-m", "kostyor_dsl", *command], check=True, env=env)
    bin_folder, state, record = _standin(tmp_path)
    env.update(
        {
            "PATH": os.pathsep.join([str(bin_folder), env["PATH"]]),
            "JUJU_STATE": str(state),
            "JUJU_RECORD": str(record),
        }
    )
    from openstack_standin import StandIn

    require("openstack", "openstack")
    standin = StandIn().__enter__()
    request_cleanup(standin)
    for number, host in enumerate(("cmp-1", "cmp-2"), 1):
        standin.cloud.add_compute(host)
        standin.cloud.add_server(f"vm-{number}", host)
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(standin.clouds_yaml())
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    runtime.start_worker()
    channels = (
        "vault=1.8/stable,mysql=8.0/stable,keystone-mysql-router=8.0/stable,"
        "ncc-mysql-router=8.0/stable,placement-mysql-router=8.0/stable,"
        "ovn-central=24.03/stable,ovn-chassis=24.03/stable"
    )
    done = runtime.kostyorc(
        "run", plan_file, "--driver", "juju", "-p", "release=2024.2", "-p", f"channels={channels}",
        "-p", "timeout=1800", "-p", "cloud=standin", "-p", "poll_interval=0.02",
    )  # fmt: skip
    run_id = done.stdout.strip().splitlines()[-1]
    runtime.wait_state(run_id, "paused", 400)
    runtime.kostyorc("resume", run_id)
    runtime.wait_state(run_id, "succeeded", 400)

    calls = _record(record)
    if UPDATE:
        GOLDEN.write_text("\n".join(calls) + "\n")
    assert calls == GOLDEN.read_text().splitlines()

    status = runtime.status(run_id)
    by_id = {step["id"]: step for step in status["steps"]}
    # The charm runs keystone's migrations itself: done elsewhere, never "succeeded".
    assert by_id["pre-upgrade:keystone:keystone-db-expand"]["state"] == "done-elsewhere"
    assert by_id["pre-upgrade:keystone:keystone-db-expand"]["result"]["done_elsewhere"] == (
        "the charm runs it itself when its units upgrade"
    )
    # nova-cloud-controller/0 upgraded in its first step; the others on ctl-1 did nothing.
    assert by_id["nova-conductor@ctl-1"]["state"] == "succeeded"
    assert by_id["nova-api@ctl-1"]["state"] == "done-elsewhere"
    text = runtime.kostyorc("status", run_id).stdout
    assert "done elsewhere" in text.splitlines()[0]
    assert (
        "nova-api@ctl-1  (done elsewhere: juju upgraded nova-cloud-controller/0 in step "
        "nova-conductor@ctl-1 earlier in this run)"
    ) in text
    # Already at the target before the run (the channel given is the one it has):
    # said as such, not as an upgrade this run did.
    assert by_id["vault@ctl-1"]["state"] == "done-elsewhere"
    assert by_id["vault@ctl-1"]["result"]["done_elsewhere"] == (
        "vault/0: vault was already at channel 1.8/stable before the run"
    )
    assert by_id["rabbitmq@ctl-2"]["result"]["done_elsewhere"] == (
        "juju upgraded rabbitmq-server/1 with its application rabbitmq-server in step "
        "rabbitmq@ctl-1 earlier in this run"
    )
    listing = runtime.kostyorc("runs").stdout.splitlines()
    summary = status["summary"]
    row = next(line for line in listing if line.startswith(run_id))
    assert row.split()[2] == (
        f"{summary['succeeded']}+{summary['done-elsewhere']}/{summary['total']}"
    )
    final = json.loads(state.read_text())
    assert final["config"]["nova-compute"] == {
        "openstack-origin": "cloud:jammy-dalmatian",
        "action-managed-upgrade": "true",
    }
    assert shutil.which("juju", path=str(bin_folder))


def _compute_plan() -> dict:
    """cmp-1's steps of rolling-computes, as compiled from the imported model."""
    from runtime_harness import make_plan

    plan = make_plan(hosts=0, pre_upgrade=False, driver="juju")
    tags = {"hosts": ["cmp-1"], "source": "test.kostyor:1"}
    plan["steps"] = [
        {"id": "before:disable-scheduling:cmp-1", "kind": "hook", "when": "before",
         "action": "disable-scheduling", "parameters": {}, **tags},
        {"id": "nova-compute@cmp-1", "kind": "upgrade", "project": "nova",
         "service": "nova-compute", "targets": {"cmp-1": ["nova-compute/0"]}, **tags},
        {"id": "after:enable-scheduling:cmp-1", "kind": "hook", "when": "after",
         "action": "enable-scheduling", "parameters": {}, **tags},
    ]  # fmt: skip
    return plan


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_status_lists_a_hypervisor_a_failed_juju_upgrade_left_disabled(juju_runtime, tmp_path):
    runtime = juju_runtime
    bin_folder, state, record = _standin(tmp_path)
    runtime.env.update(
        {
            "PATH": os.pathsep.join([str(bin_folder), runtime.env["PATH"]]),
            "JUJU_STATE": str(state),
            "JUJU_RECORD": str(record),
            "JUJU_FAIL": "nova-compute/0",
        }
    )
    runtime.start_worker()
    done = runtime.kostyorc(
        "run", runtime.write_plan(_compute_plan()), "--driver", "juju", "-p", "release=2024.2",
        "-p", "timeout=600",
    )  # fmt: skip
    run_id = done.stdout.strip().splitlines()[-1]
    runtime.wait_state(run_id, "failed", 120)

    enable = "juju run nova-compute/0 enable --wait=600s"
    status = runtime.status(run_id)
    assert status["hosts_left_disabled"] == [
        {
            "host": "cmp-1",
            "disabled_in": "before:disable-scheduling:cmp-1",
            "stopped_at": "nova-compute@cmp-1",
            "stopped_state": "failed",
            "enable": enable,
        }
    ]
    text = runtime.kostyorc("status", run_id, check=False).stdout
    assert (
        "host cmp-1 left with scheduling disabled (step nova-compute@cmp-1 failed after "
        f"before:disable-scheduling:cmp-1): enable it again with `{enable}`"
    ) in text
    # The charm's `disable` ran; `enable` never did: the operator's command is the one shown.
    calls = _record(record)
    assert "juju run nova-compute/0 disable --wait=600s" in calls
    assert not any(" enable " in call for call in calls)
