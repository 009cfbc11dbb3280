"""The Ansible drivers in real workers (the embedded broker): a plan run through
`ansible` with a worker SIGKILLed mid-playbook, and the shipped spec's
rolling-computes run end to end through `kolla-ansible` with a stand-in tool on
PATH and the OpenStack stand-in for the compute actions.

Every wait is on a file a playbook or the stand-in writes, or on the run's state.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from driver_extras import require
from runtime_harness import ROOT, Runtime

from kostyor_dsl.runtime.drivers.ansible import marked_processes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

INVENTORY = """\
[compute]
node-1
node-2

[all:vars]
ansible_connection=local
ansible_python_interpreter={{ ansible_playbook_python }}
"""

# Idempotent but for the `attempt` and `passed` lines, which count runs.
PLAYBOOK = """\
- hosts: all
  gather_facts: false
  vars:
    here: "{{ kostyor_step_id }} {{ inventory_hostname }}"
  tasks:
    - name: attempt
      ansible.builtin.shell: echo "attempt {{ here }}" >> {{ (folder ~ '/attempts.log') | quote }}
    - name: wait for release
      ansible.builtin.wait_for:
        path: "{{ folder }}/release"
        timeout: 200
      when: kostyor_service == 'nova-compute'
    - name: record the step
      ansible.builtin.lineinfile:
        path: "{{ folder }}/record.jsonl"
        create: true
        line: >-
          {{ {'step': kostyor_step_id, 'kind': kostyor_kind, 'host': inventory_hostname,
              'limit': ansible_limit | default(''), 'service': kostyor_service,
              'action': kostyor_action} | to_json }}
    - name: passed
      ansible.builtin.shell: echo "passed {{ here }}" >> {{ (folder ~ '/attempts.log') | quote }}
"""


def _plan(steps: list[dict]) -> dict:
    zero = "0" * 64
    return {
        "format": "kostyor-plan/1",
        "strategy": "node-by-node",
        "engine": "node-by-node",
        "driver": {"name": "noop", "parameters": {}},
        "inputs": {
            "spec": [{"file": "test.kostyor", "sha256": zero}],
            "inventory": {"file": "inv.yaml", "sha256": zero},
        },
        "steps": steps,
    }


def _upgrade(service: str, host: str) -> dict:
    return {
        "id": f"{service}@{host}",
        "kind": "upgrade",
        "project": "nova",
        "service": service,
        "hosts": [host],
        "source": "test.kostyor:2",
    }


@pytest.fixture
def ansible_runtime(tmp_path):
    require("ansible_runner", "ansible")
    instance = Runtime(tmp_path, "embedded")
    home = tmp_path / "home"
    home.mkdir()
    instance.env.update(
        {
            "HOME": str(home),
            "ANSIBLE_REMOTE_TMP": str(home / "remote-tmp"),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        }
    )
    yield instance
    instance.stop_all()
    for pid in marked_processes(str(tmp_path / "work")):
        os.kill(pid, signal.SIGKILL)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_worker_killed_mid_playbook_runs_the_step_again_and_its_leftover_is_stopped(
    ansible_runtime, tmp_path
):
    runtime = ansible_runtime
    (tmp_path / "inventory.ini").write_text(INVENTORY + f"folder={tmp_path}\n")
    (tmp_path / "upgrade.yml").write_text(PLAYBOOK)
    attempts = tmp_path / "attempts.log"
    plan = _plan(
        [
            {
                "id": "pre-upgrade:refresh-repos",
                "kind": "pre-upgrade",
                "action": "refresh-repos",
                "parameters": {},
                "source": "test.kostyor:1",
            },
            _upgrade("nova-api", "node-1"),
            _upgrade("nova-compute", "node-1"),
            _upgrade("nova-api", "node-2"),
        ]
    )
    worker = runtime.start_worker()
    done = runtime.kostyorc(
        "run", runtime.write_plan(plan), "--driver", "ansible",
        "-p", "inventory=inventory.ini", "-p", "playbook=upgrade.yml",
        "-p", f"workdir={tmp_path / 'work'}",
    )  # fmt: skip
    run_id = done.stdout.strip().splitlines()[-1]
    blocked = "attempt nova-compute@node-1 node-1"
    runtime.wait_for(lambda: blocked in _lines(attempts), 90, "the playbook to block")

    # `status` shows where the playbook is.
    status = runtime.status(run_id)
    running = next(step for step in status["steps"] if step["state"] == "running")
    assert running["id"] == "nova-compute@node-1"
    runtime.wait_for(
        lambda: (
            (runtime.status(run_id)["steps"][2]["progress"] or {}).get("task") == "wait for release"
        ),
        30,
        "the step's progress",
    )
    text = runtime.kostyorc("status", run_id).stdout
    assert "nova-compute@node-1  (upgrade.yml: task 2 'wait for release', 1 changed)" in text

    runtime.kill_worker(worker, signal.SIGKILL)
    mark = str(tmp_path / "work" / run_id / "2-nova-compute@node-1")
    left_running = marked_processes(mark)
    # ansible-runner's child ignores SIGHUP and Ansible's workers detach: they outlive it.
    assert left_running, "the killed attempt's playbook should have outlived its worker"
    runtime.start_worker()
    runtime.wait_for(lambda: _lines(attempts).count(blocked) == 2, 90, "the second attempt")
    assert marked_processes(mark) != [] and not set(left_running) & set(marked_processes(mark))
    (tmp_path / "release").touch()
    runtime.wait_state(run_id, "succeeded", 90)

    passed = [line for line in _lines(attempts) if line.startswith("passed")]
    assert sorted(passed[:2]) == [
        "passed pre-upgrade:refresh-repos node-1",
        "passed pre-upgrade:refresh-repos node-2",
    ]
    # Each step passed once, in plan order: the killed attempt's leftover never went on.
    assert passed[2:] == [
        "passed nova-api@node-1 node-1",
        "passed nova-compute@node-1 node-1",
        "passed nova-api@node-2 node-2",
    ]
    records = [json.loads(line) for line in _lines(tmp_path / "record.jsonl")]
    assert [(r["step"], r["host"], r["limit"]) for r in records[2:]] == [
        ("nova-api@node-1", "node-1", "node-1"),
        ("nova-compute@node-1", "node-1", "node-1"),
        ("nova-api@node-2", "node-2", "node-2"),
    ]
    assert {r["limit"] for r in records[:2]} == {""}
    status = runtime.status(run_id)
    killed = status["steps"][2]
    assert killed["attempts"] == 2
    assert killed["result"]["status"] == "successful"
    # The leftover was stopped before the step ran again: by the runtime (its
    # attempt token marks Ansible's workers, which leave the process group) or,
    # when it got there first, by the driver, which then says how many.
    assert killed["result"].get("stopped_from_earlier_attempt", len(left_running)) == len(
        left_running
    )
    assert marked_processes(str(tmp_path / "work")) == []


KOLLA_STANDIN = """#!/bin/sh
printf '%s\\n' "$*" >> "$TOOL_RECORD"
"""


def _compile(runtime, plan_file: Path, spec: str, inventory: Path) -> dict:
    subprocess.run(
        [
            sys.executable, "-m", "kostyor_dsl", "compile", spec, "--inventory", str(inventory),
            "--strategy", "rolling-computes", "--format", "json", "-o", str(plan_file),
        ],
        check=True,
        env=runtime.env,
    )  # fmt: skip
    return json.loads(plan_file.read_text())


def _through_kolla(runtime, tmp_path, plan_file: Path, inventory: Path, computes: list[str]):
    """Run the plan through `kolla-ansible` (a stand-in on PATH that records its
    arguments) and the OpenStack stand-in, resuming at the canary gate; the tool's
    calls, those made by the gate, the steps by id and the cloud."""
    from openstack_standin import StandIn

    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    tool = bin_folder / "kolla-ansible"
    tool.write_text(KOLLA_STANDIN)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    record = tmp_path / "kolla-calls.txt"
    canary = computes[0]
    with StandIn() as standin:
        cloud = standin.cloud
        for number, host in enumerate(computes, 1):
            cloud.add_compute(host)
            cloud.add_server(f"vm-{number}", host)
        cloud.add_server("db-1", canary, kind="cold-only")
        clouds = tmp_path / "clouds.yaml"
        clouds.write_text(standin.clouds_yaml())
        runtime.env.update(
            {
                "PATH": os.pathsep.join([str(bin_folder), runtime.env["PATH"]]),
                "TOOL_RECORD": str(record),
                "OS_CLIENT_CONFIG_FILE": str(clouds),
            }
        )
        runtime.start_worker()
        done = runtime.kostyorc(
            "run", plan_file, "--driver", "kolla-ansible", "-p", f"inventory={inventory}",
            "-p", "cloud=standin", "-p", "poll_interval=0.02", "-p", "limit_hosts=true",
            "-p", f"workdir={tmp_path / 'work'}",
        )  # fmt: skip
        run_id = done.stdout.strip().splitlines()[-1]
        runtime.wait_state(run_id, "paused", 120)
        # The canary gate: the canary is done and empty, no other compute started.
        at_gate = _lines(record)
        assert not any(host in line for line in at_gate for host in computes[1:])
        assert cloud.on(canary) == []
        runtime.kostyorc("resume", run_id)
        runtime.wait_state(run_id, "succeeded", 150)
    by_id = {step["id"]: step for step in runtime.status(run_id)["steps"]}
    assert by_id[f"before:evacuate:{canary}"]["result"]["did"] == (
        f"host {canary} is empty: live-migrated 1, cold-migrated 1"
    )
    for host in computes:
        assert by_id[f"before:disable-scheduling:{host}"]["result"]["did"] == (
            f"disabled nova-compute on {host}"
        )
        assert by_id[f"after:enable-scheduling:{host}"]["result"]["did"] == (
            f"enabled nova-compute on {host}"
        )
    assert {service["status"] for service in cloud.services} == {"enabled"}
    assert len(cloud.service_updates()) == 2 * len(computes)
    return _lines(record), at_gate, by_id


def _expected_calls(plan: dict, inventory: Path, tags: dict | None = None) -> list[str]:
    """The first call for each project and host, in plan order."""
    expected = []
    for step in plan["steps"]:
        if step["kind"] == "upgrade":
            tag = (tags or {}).get(step["project"], step["project"])
            line = f"upgrade -i {inventory} -t {tag} --limit {step['hosts'][0]}"
            if line not in expected:
                expected.append(line)
    return expected


def _same_calls_per_host(calls: list[str], expected: list[str]) -> None:
    """The hosts of a batch run in parallel lanes: each host's calls are in plan order."""
    assert sorted(calls) == sorted(expected) and len(calls) == len(expected)
    for host in {line.rsplit(" ", 1)[1] for line in expected}:
        assert [c for c in calls if c.endswith(f" {host}")] == [
            e for e in expected if e.endswith(f" {host}")
        ]


def test_rolling_computes_of_the_shipped_spec_through_kolla_ansible(ansible_runtime, tmp_path):
    require("openstack", "openstack")
    runtime = ansible_runtime
    plan_file = tmp_path / "plan.json"
    plan = _compile(runtime, plan_file, "kostyor", ROOT / "examples" / "small-cloud.yaml")
    inventory = tmp_path / "multinode"
    inventory.write_text("[control]\nctl-[1:3]\n\n[compute]\ncmp-[1:4]\n\n[storage]\nsto-[1:2]\n")
    computes = ["cmp-1", "cmp-2", "cmp-3", "cmp-4"]

    calls, at_gate, by_id = _through_kolla(runtime, tmp_path, plan_file, inventory, computes)

    expected = _expected_calls(plan, inventory)
    _same_calls_per_host(calls, expected)
    assert at_gate[-1] == f"upgrade -i {inventory} -t neutron --limit cmp-1"
    assert calls[: len(at_gate)] == at_gate
    # A batch starts after the one before it ends.
    stage_of = {"cmp-1": 1, "cmp-2": 2, "cmp-3": 2, "cmp-4": 2, "sto-1": 3, "sto-2": 4}
    order = [stage_of.get(line.rsplit(" ", 1)[1], 0) for line in calls]
    assert order == sorted(order)
    assert expected[0] == f"upgrade -i {inventory} -t keystone --limit ctl-1"
    assert f"upgrade -i {inventory} -t nova --limit cmp-4" in expected
    assert by_id["nova-api@ctl-1"]["state"] == "done-elsewhere"
    assert by_id["nova-api@ctl-1"]["result"]["done_elsewhere"].startswith(
        "kolla-ansible upgrade for nova@ctl-1 already ran in step "
    )


# The `openstack` spec on an imported Kolla inventory through kolla-ansible, with its
# golden record: tests/drivers/test_tool_rolling_computes.py.
