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
    assert killed["result"]["stopped_from_earlier_attempt"] == len(left_running)
    assert marked_processes(str(tmp_path / "work")) == []


KOLLA_STANDIN = """#!/bin/sh
printf '%s\\n' "$*" >> "$TOOL_RECORD"
"""


def test_rolling_computes_of_the_shipped_spec_through_kolla_ansible(ansible_runtime, tmp_path):
    require("openstack", "openstack")
    from openstack_standin import StandIn

    runtime = ansible_runtime
    plan_file = tmp_path / "plan.json"
    subprocess.run(
        [
            sys.executable, "-m", "kostyor_dsl", "compile", "kostyor",
            "--inventory", str(ROOT / "examples" / "small-cloud.yaml"),
            "--strategy", "rolling-computes", "--format", "json", "-o", str(plan_file),
        ],
        check=True,
        env=runtime.env,
    )  # fmt: skip
    plan = json.loads(plan_file.read_text())
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    tool = bin_folder / "kolla-ansible"
    tool.write_text(KOLLA_STANDIN)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    record = tmp_path / "kolla-calls.txt"
    inventory = tmp_path / "multinode"
    inventory.write_text("[control]\nctl-[1:3]\n\n[compute]\ncmp-[1:4]\n\n[storage]\nsto-[1:2]\n")

    with StandIn() as standin:
        cloud = standin.cloud
        for number in range(1, 5):
            cloud.add_compute(f"cmp-{number}")
            cloud.add_server(f"vm-{number}", f"cmp-{number}")
        cloud.add_server("db-1", "cmp-1", kind="cold-only")
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
            "-p", "cloud=standin", "-p", "poll_interval=0.02",
            "-p", f"workdir={tmp_path / 'work'}",
        )  # fmt: skip
        run_id = done.stdout.strip().splitlines()[-1]
        runtime.wait_state(run_id, "paused", 120)
        # The canary gate: cmp-1 is done, no other compute started.
        at_gate = _lines(record)
        assert at_gate[-1] == f"upgrade -i {inventory} -t neutron --limit cmp-1"
        assert not any("cmp-2" in line or "cmp-3" in line for line in at_gate)
        assert [s.name for s in cloud.on("cmp-1")] == []
        runtime.kostyorc("resume", run_id)
        runtime.wait_state(run_id, "succeeded", 120)

    expected = []
    for step in plan["steps"]:
        if step["kind"] == "upgrade":
            line = f"upgrade -i {inventory} -t {step['project']} --limit {step['hosts'][0]}"
            if line not in expected:
                expected.append(line)
    calls = _lines(record)
    # The hosts of a batch run in parallel lanes: each host's calls are in plan order,
    # and a batch starts after the one before it ends.
    assert sorted(calls) == sorted(expected) and len(calls) == len(expected)
    hosts = [line.rsplit(" ", 1)[1] for line in expected]
    for host in set(hosts):
        assert [c for c in calls if c.endswith(f" {host}")] == [
            e for e in expected if e.endswith(f" {host}")
        ]
    stage_of = {"cmp-1": 1, "cmp-2": 2, "cmp-3": 2, "cmp-4": 2, "sto-1": 3, "sto-2": 4}
    order = [stage_of.get(line.rsplit(" ", 1)[1], 0) for line in calls]
    assert order == sorted(order)
    assert calls[: len(at_gate)] == at_gate
    assert expected[0] == f"upgrade -i {inventory} -t keystone --limit ctl-1"
    assert f"upgrade -i {inventory} -t nova --limit cmp-4" in expected

    status = runtime.status(run_id)
    by_id = {step["id"]: step for step in status["steps"]}
    assert by_id["before:evacuate:cmp-1"]["result"]["did"] == (
        "host cmp-1 is empty: live-migrated 1, cold-migrated 1"
    )
    assert by_id["before:disable-scheduling:cmp-3"]["result"]["did"] == (
        "disabled nova-compute on cmp-3"
    )
    assert by_id["after:enable-scheduling:cmp-4"]["result"]["did"] == (
        "enabled nova-compute on cmp-4"
    )
    assert by_id["nova-api@ctl-1"]["result"]["did"].startswith(
        "nothing: kolla-ansible upgrade for nova@ctl-1 already ran in step "
    )
    assert {service["status"] for service in cloud.services} == {"enabled"}
    assert len(cloud.service_updates()) == 8
