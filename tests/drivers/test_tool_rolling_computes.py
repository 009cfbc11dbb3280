"""`kolla-ansible` and `openstack-ansible` end to end: the shipped `openstack` spec's
rolling-computes of an imported inventory, run through real workers (Redis broker)
with a stand-in tool on PATH (tests/drivers/kolla_ansible_standin.py,
openstack_ansible_standin.py) and the OpenStack stand-in for the compute actions.

The record of each run is a golden file, one line per step of the plan in plan
order: the tool's command it ran, or `done elsewhere` and where, or the OpenStack
action, or the gate.  Regenerate them (the same command as the juju golden), then
review the diff against the tools' guides:

    KOSTYOR_UPDATE_GOLDEN=1 .venv/bin/pytest tests/drivers/test_tool_rolling_computes.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from driver_extras import require
from runtime_harness import ROOT, Runtime, require_broker

from kostyor_dsl.runtime.drivers.ansible import marked_processes

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
DATA = HERE / "data"
UPDATE = bool(os.environ.get("KOSTYOR_UPDATE_GOLDEN"))
KOLLA = ROOT / "examples" / "kolla-multinode"
OSA_INVENTORY = ROOT / "tests" / "importers" / "data" / "osa" / "openstack_inventory.json"
# What openstack-ansible master's checkout has (`git ls-tree HEAD playbooks/
# scripts/upgrade-utilities/`, ff08037), the files the driver looks for before
# it submits anything; freezer is gone.
OSA_PLAYBOOKS = (
    "galera-install.yml haproxy-install.yml healthcheck-hosts.yml "
    "healthcheck-infrastructure.yml healthcheck-openstack.yml memcached-install.yml "
    "os-aodh-install.yml os-barbican-install.yml os-ceilometer-install.yml "
    "os-cinder-install.yml os-designate-install.yml os-glance-install.yml "
    "os-gnocchi-install.yml os-heat-install.yml os-horizon-install.yml os-ironic-install.yml "
    "os-keystone-install.yml os-magnum-install.yml os-manila-install.yml "
    "os-neutron-install.yml os-nova-install.yml os-octavia-install.yml "
    "os-placement-install.yml os-swift-install.yml rabbitmq-install.yml repo-install.yml "
    "setup-hosts.yml setup-infrastructure.yml setup-openstack.yml utility-install.yml"
).split()
OSA_UTILITIES = ("deploy-config-changes.yml", "galera-cluster-rolling-restart.yml")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CHECKS_PLAYBOOK = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: "{{ kostyor_action }}"
      ansible.builtin.debug:
        msg: "the operator's check of {{ kostyor_action }}"
"""


@pytest.fixture
def tool_runtime(tmp_path):
    """Workers on Redis, ansible-runner's files and Ansible's home under tmp_path."""
    require("ansible_runner", "ansible")
    require("openstack", "openstack")
    require_broker("redis")
    instance = Runtime(tmp_path, "redis")
    home = tmp_path / "home"
    home.mkdir()
    instance.env.update(
        {
            "HOME": str(home),
            "ANSIBLE_REMOTE_TMP": str(home / "remote-tmp"),
            "TOOL_RECORD": str(tmp_path / "tool-calls.jsonl"),
        }
    )
    yield instance
    instance.stop_all()
    for pid in marked_processes(str(tmp_path / "work")):
        os.kill(pid, 9)


def install_standin(runtime: Runtime, name: str, script: str) -> None:
    folder = runtime.tmp / "bin"
    folder.mkdir(exist_ok=True)
    tool = folder / name
    tool.write_text(f"#!{sys.executable}\n" + (HERE / script).read_text())
    tool.chmod(0o755)
    path = os.pathsep.join([str(folder), str(Path(sys.executable).parent), runtime.env["PATH"]])
    runtime.env["PATH"] = path


def kostyorc(runtime: Runtime, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "kostyor_dsl", *args],
        check=True,
        env=runtime.env,
        capture_output=True,
    )


def compile_rolling_computes(runtime: Runtime, inventory: Path) -> tuple[Path, dict]:
    plan_file = runtime.tmp / "plan.json"
    kostyorc(
        runtime, "compile", "openstack", "--inventory", str(inventory),
        "--strategy", "rolling-computes", "--format", "json", "-o", str(plan_file),
    )  # fmt: skip
    return plan_file, json.loads(plan_file.read_text())


def computes_of(plan: dict) -> list[str]:
    return sorted(
        {step["hosts"][0] for step in plan["steps"] if step.get("service") == "nova-compute"}
    )


def run_through_workers(runtime: Runtime, plan_file: Path, plan: dict, *options: str) -> dict:
    """Run the plan with the OpenStack stand-in's computes (one instance each),
    resume at each gate; the status document of the finished run."""
    from openstack_standin import StandIn

    with StandIn() as standin:
        for number, host in enumerate(computes_of(plan), 1):
            standin.cloud.add_compute(host)
            standin.cloud.add_server(f"vm-{number}", host)
        clouds = runtime.tmp / "clouds.yaml"
        clouds.write_text(standin.clouds_yaml())
        runtime.env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
        runtime.start_worker()
        done = runtime.kostyorc(
            "run", plan_file, *options, "-p", "cloud=standin", "-p", "poll_interval=0.02",
            "-p", f"workdir={runtime.tmp / 'work'}",
        )  # fmt: skip
        run_id = done.stdout.strip().splitlines()[-1]
        gates = sum(step["kind"] == "gate" for step in plan["steps"])
        for _ in range(gates):
            runtime.wait_state(run_id, "paused", 400)
            runtime.kostyorc("resume", run_id)
        runtime.wait_state(run_id, "succeeded", 400)
        assert {service["status"] for service in standin.cloud.services} == {"enabled"}
    return runtime.status(run_id)


def record_of(runtime: Runtime, tool: str, status: dict, replace: dict[str, str]) -> list[str]:
    """One line per step, in plan order: what it ran, or why it ran nothing."""
    calls: dict[int, list[str]] = {}
    for line in (runtime.tmp / "tool-calls.jsonl").read_text().splitlines():
        call = json.loads(line)
        index = int(call["step"].split("-", 1)[0])
        text = " ".join([tool, *call["argv"]])
        for old, new in replace.items():
            text = text.replace(old, new)
        calls.setdefault(index, []).append(text)
    lines = []
    for step in status["steps"]:
        if step["kind"] == "gate":
            what = "gate: paused, resumed"
        elif step["state"] == "done-elsewhere":
            what = f"done elsewhere: {step['result']['done_elsewhere']}"
        elif step["index"] in calls:
            what = " && ".join(calls.pop(step["index"]))
        elif (step["result"] or {}).get("playbook"):
            what = f"ansible-playbook {Path(step['result']['playbook']).name}"
        elif step["kind"] == "hook":
            what = f"OpenStack API: {step['result']['action']}"
        else:
            what = f"{step['state']}, ran nothing"  # never expected: the golden shows it
        lines.append(f"{step['id']}: {what}")
    assert not calls, f"calls of no step: {calls}"
    return lines


def check_golden(name: str, lines: list[str]) -> None:
    golden = GOLDEN / name
    if UPDATE:
        golden.write_text("\n".join(lines) + "\n")
    assert lines == golden.read_text().splitlines()


def check_runs_listing(runtime: Runtime, status: dict) -> None:
    """`runs` shows RAN+ELSEWHERE/TOTAL, the status line counts them apart."""
    summary = status["summary"]
    ran, elsewhere = summary["succeeded"], summary["done-elsewhere"]
    assert elsewhere > 0
    listing = runtime.kostyorc("runs").stdout.splitlines()
    row = next(line for line in listing if line.startswith(status["run"]))
    assert row.split()[2] == f"{ran}+{elsewhere}/{summary['total']}"
    listed = json.loads(runtime.kostyorc("runs", "--format", "json").stdout)
    assert [(r["progress"], r["done_elsewhere"]) for r in listed] == [(ran + elsewhere, elsewhere)]
    first = runtime.kostyorc("status", status["run"]).stdout.splitlines()[0]
    assert first == (
        f"run {status['run']}: succeeded, {ran}/{summary['total']} steps succeeded, "
        f"{elsewhere} done elsewhere"
    )


def test_rolling_computes_of_an_imported_kolla_inventory_through_kolla_ansible(tool_runtime):
    runtime = tool_runtime
    imported = runtime.tmp / "inventory.yaml"
    kostyorc(
        runtime, "import", "kolla-ansible", str(KOLLA / "multinode"),
        "--globals", str(DATA / "kolla-globals-without-cinder.yml"), "-o", str(imported),
    )  # fmt: skip
    # Without cinder: with it the guides' cinder order splits the project across
    # hosts, which a per-host `kolla-ansible upgrade -t cinder` cannot keep (the
    # refusal is tested below; docs/drivers.md says what the operator does then).
    plan_file, plan = compile_rolling_computes(runtime, imported)
    install_standin(runtime, "kolla-ansible", "kolla_ansible_standin.py")

    # Kolla's roles run no `placement-status upgrade check`: the operator's playbook does.
    checks = runtime.tmp / "checks.yml"
    checks.write_text(CHECKS_PLAYBOOK)
    # Host by host is against Kolla's advice (operating-kolla.rst:61): only when asked.
    status = run_through_workers(
        runtime, plan_file, plan, "--driver", "kolla-ansible",
        "-p", f"inventory={KOLLA / 'multinode'}", "-p", "limit_hosts=true",
        "-p", f"action_playbook={checks}",
    )  # fmt: skip

    lines = record_of(runtime, "kolla-ansible", status, {f"{ROOT}/": ""})
    check_golden("kolla-ansible-rolling-computes.txt", lines)
    by_id = {step["id"]: step for step in status["steps"]}
    # What `kolla-ansible upgrade -t PROJECT` does itself is never reported as succeeded.
    for step in plan["steps"]:
        if step["kind"] in ("pre-upgrade", "post-upgrade"):
            ran = step["action"] == "placement-status-upgrade-check"
            expected = "succeeded" if ran else "done-elsewhere"
            assert by_id[step["id"]]["state"] == expected, step["id"]
    assert by_id["keystone-ssh@ctl01"]["result"]["done_elsewhere"] == (
        "kolla-ansible upgrade for keystone@ctl01 already ran in step keystone@ctl01 of this run"
    )
    check_runs_listing(runtime, status)


def osa_checkout(folder: Path) -> Path:
    for name in OSA_PLAYBOOKS:
        (folder / "playbooks").mkdir(parents=True, exist_ok=True)
        (folder / "playbooks" / name).write_text("- import_playbook: openstack.osa.x\n")
    for name in OSA_UTILITIES:
        (folder / "scripts" / "upgrade-utilities").mkdir(parents=True, exist_ok=True)
        (folder / "scripts" / "upgrade-utilities" / name).write_text("---\n")
    return folder


@pytest.mark.xfail(
    strict=True,
    reason="issue 22, left: the phased engine visits a network host's Open vSwitch and L3 "
    "agents in two phases (other hosts in between), which one os-neutron-install.yml per "
    "host cannot keep, so run refuses even the cinder-less OVS cloud; the golden is of the "
    "plan before the guides' barriers",
)
def test_rolling_computes_of_an_imported_osa_inventory_through_openstack_ansible(tool_runtime):
    runtime = tool_runtime
    imported = runtime.tmp / "inventory.yaml"
    kostyorc(
        runtime, "import", "openstack-ansible", str(DATA / "osa-without-cinder.json"),
        "--neutron-plugin", "ovs", "-o", str(imported),
    )  # fmt: skip
    # Without cinder and on Open vSwitch: the guides' cinder order and OVN's
    # (ovn-controller on every chassis before the central databases, the metadata
    # agent after neutron-server) split a project across hosts, which one
    # os-*-install.yml per host cannot keep (the refusal is tested below).
    plan_file, plan = compile_rolling_computes(runtime, imported)
    install_standin(runtime, "openstack-ansible", "openstack_ansible_standin.py")
    root = osa_checkout(runtime.tmp / "openstack-ansible")

    # os_placement runs no `placement-status upgrade check`: the operator's playbook does.
    checks = runtime.tmp / "checks.yml"
    checks.write_text(CHECKS_PLAYBOOK)
    (runtime.tmp / "inventory.ini").write_text("localhost ansible_connection=local\n")
    status = run_through_workers(
        runtime, plan_file, plan, "--driver", "openstack-ansible", "-p", f"osa_root={root}",
        "-p", f"action_playbook={checks}", "-p", f"inventory={runtime.tmp / 'inventory.ini'}",
    )  # fmt: skip

    lines = record_of(runtime, "openstack-ansible", status, {str(root): "/opt/openstack-ansible"})
    check_golden("openstack-ansible-rolling-computes.txt", lines)
    by_id = {step["id"]: step for step in status["steps"]}
    for step in plan["steps"]:
        if step["kind"] in ("pre-upgrade", "post-upgrade"):
            ran = step["action"] == "placement-status-upgrade-check"
            expected = "succeeded" if ran else "done-elsewhere"
            assert by_id[step["id"]]["state"] == expected, step["id"]
    check_runs_listing(runtime, status)


def _refused(runtime: Runtime, plan_file: Path, *options: str) -> str:
    done = runtime.kostyorc("run", plan_file, *options, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "refused, nothing was submitted" in done.stderr
    listed = runtime.kostyorc("runs", "--format", "json")
    assert json.loads(listed.stdout) == []
    return done.stderr


def test_kolla_ansible_refuses_the_guides_cinder_order_it_cannot_keep_per_host(tool_runtime):
    runtime = tool_runtime
    imported = runtime.tmp / "inventory.yaml"
    kostyorc(
        runtime, "import", "kolla-ansible", str(KOLLA / "multinode"),
        "--globals", str(KOLLA / "globals.yml"), "-o", str(imported),
    )  # fmt: skip
    plan_file, _ = compile_rolling_computes(runtime, imported)
    install_standin(runtime, "kolla-ansible", "kolla_ansible_standin.py")
    stderr = _refused(
        runtime, plan_file, "--driver", "kolla-ansible",
        "-p", f"inventory={KOLLA / 'multinode'}", "-p", "limit_hosts=true",
    )  # fmt: skip
    assert "driver 'kolla-ansible', with these parameters, cannot perform these steps:" in stderr
    assert (
        "'placement-api@ctl02' comes between 'cinder-scheduler@ctl01' and 'cinder-api@ctl01'"
        in (stderr)
    )


def test_openstack_ansible_refuses_the_orders_it_cannot_keep_per_host(tool_runtime):
    runtime = tool_runtime
    imported = runtime.tmp / "inventory.yaml"
    kostyorc(
        runtime, "import", "openstack-ansible", str(OSA_INVENTORY), "--neutron-plugin", "ovn",
        "-o", str(imported),
    )  # fmt: skip
    plan_file, _ = compile_rolling_computes(runtime, imported)
    install_standin(runtime, "openstack-ansible", "openstack_ansible_standin.py")
    root = osa_checkout(runtime.tmp / "openstack-ansible")
    (runtime.tmp / "inventory.ini").write_text("localhost ansible_connection=local\n")
    stderr = _refused(
        runtime, plan_file, "--driver", "openstack-ansible", "-p", f"osa_root={root}",
        "-p", f"inventory={runtime.tmp / 'inventory.ini'}",
    )  # fmt: skip
    assert (
        "driver 'openstack-ansible', with these parameters, cannot perform these steps:" in stderr
    )
    assert "cinder-scheduler@infra1" in stderr
    assert "ovn-controller@compute1" in stderr
