"""The `ansible` driver with real ansible-core through ansible-runner, against localhost.

The inventory's hosts all use `ansible_connection=local`; the playbook
appends what it was asked (the step's extra vars, `ansible_limit`, the host)
to a file, one JSON line per host.  Each call below runs the driver's
signature the way the step task does: inside a `StepContext`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from kostyor_dsl.runtime.drivers import load_driver
from kostyor_dsl.runtime.errors import ParameterError, StepFailed
from kostyor_dsl.runtime.step_context import StepContext, entered

pytestmark = pytest.mark.timeout(120)

INVENTORY = """\
[controller]
ctl-1
ctl-1-nova-api-container-1a2b

[compute]
cmp-1
cmp-2

[all:vars]
ansible_connection=local
ansible_python_interpreter={{ ansible_playbook_python }}
record_file=RECORD
"""

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: record what was asked
      ansible.builtin.shell: >-
        printf '%s\\n' {{ asked | to_json | quote }} >> {{ record_file | quote }}
      vars:
        asked:
          host: "{{ inventory_hostname }}"
          limit: "{{ ansible_limit | default('') }}"
          step: "{{ kostyor_step_id }}"
          unit: "{{ kostyor_unit_id }}"
          run: "{{ kostyor_run_id }}"
          kind: "{{ kostyor_kind }}"
          service: "{{ kostyor_service }}"
          project: "{{ kostyor_project }}"
          action: "{{ kostyor_action }}"
          when: "{{ kostyor_when }}"
          parameters: "{{ kostyor_parameters }}"
          hosts: "{{ kostyor_hosts }}"
    - name: refuse a broken service
      ansible.builtin.fail:
        msg: "nova-compute on {{ inventory_hostname }} did not come back"
      when: kostyor_service == 'nova-broken'
    - name: wait for release
      ansible.builtin.wait_for:
        path: "{{ record_file }}.never"
        timeout: 300
      when: kostyor_service == 'nova-slow'
"""


@pytest.fixture
def files(tmp_path, ansible_home):
    record = tmp_path / "record.jsonl"
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(INVENTORY.replace("RECORD", str(record)))
    playbook = tmp_path / "upgrade.yml"
    playbook.write_text(PLAYBOOK)
    hooks = tmp_path / "hooks.yml"
    hooks.write_text(PLAYBOOK)
    return {"record": record, "inventory": inventory, "playbook": playbook, "hooks": hooks}


def driver_for(files, tmp_path, **extra):
    return load_driver(
        "ansible",
        {
            "inventory": str(files["inventory"]),
            "playbook": str(files["playbook"]),
            "workdir": str(tmp_path / "work"),
            **extra,
        },
    )


def run_step(driver, step: dict, hosts: list[str], reports: list | None = None, index: int = 0):
    context = StepContext(
        "run-1",
        step["id"],
        index,
        step,
        tuple(hosts),
        reports.append if reports is not None else None,
    )
    with entered(context):
        if step["kind"] == "upgrade":
            signature = driver.start(step["service"], hosts)
        elif step["kind"] == "hook":
            signature = driver.action(step["action"], hosts[0], step.get("parameters", {}))
        else:
            signature = driver.pre_upgrade(step["action"], step.get("parameters", {}))
        return signature.apply(throw=True).result


def records(files) -> list[dict]:
    return [json.loads(line) for line in files["record"].read_text().splitlines()]


def test_steps_run_the_playbook_limited_to_their_hosts_with_the_step_in_extra_vars(files, tmp_path):
    driver = driver_for(files, tmp_path, action_playbook=str(files["hooks"]))
    reports: list[dict] = []
    upgrade = {
        "id": "nova-api@ctl-1",
        "kind": "upgrade",
        "project": "nova",
        "service": "nova-api",
        "hosts": ["ctl-1"],
        # What an imported OpenStack-Ansible inventory records: the service's container.
        "targets": {"ctl-1": ["ctl-1-nova-api-container-1a2b"]},
    }
    hook = {
        "id": "before:drain:cmp-1",
        "kind": "hook",
        "when": "before",
        "action": "drain",
        "parameters": {"timeout": "30s", "mode": "soft"},
        "hosts": ["cmp-1"],
        "group": "compute",
        "batch": 1,
    }
    result = run_step(driver, upgrade, ["ctl-1"], reports, index=3)
    run_step(driver, hook, ["cmp-1"], index=4)

    assert records(files) == [
        {
            "host": "ctl-1-nova-api-container-1a2b",
            "limit": "ctl-1-nova-api-container-1a2b",
            "step": "nova-api@ctl-1",
            "unit": "nova-api@ctl-1",
            "run": "run-1",
            "kind": "upgrade",
            "service": "nova-api",
            "project": "nova",
            "action": "",
            "when": "",
            "parameters": {},
            "hosts": ["ctl-1"],
        },
        {
            "host": "cmp-1",
            "limit": "cmp-1",
            "step": "before:drain:cmp-1",
            "unit": "before:drain:cmp-1",
            "run": "run-1",
            "kind": "hook",
            "service": "",
            "project": "",
            "action": "drain",
            "when": "before",
            "parameters": {"timeout": "30s", "mode": "soft"},
            "hosts": ["cmp-1"],
        },
    ]
    assert result["status"] == "successful"
    assert result["limit"] == ["ctl-1-nova-api-container-1a2b"]
    assert result["did"] == "ran upgrade.yml on ctl-1-nova-api-container-1a2b"
    assert result["hosts"] == {
        "ctl-1-nova-api-container-1a2b": {
            "ok": 1,
            "changed": 1,
            "failed": 0,
            "unreachable": 0,
            "skipped": 2,
        }
    }
    # The step's record followed the playbook task by task.
    assert [report["task"] for report in reports] == [
        "record what was asked",
        "refuse a broken service",
        "wait for release",
    ]
    assert reports[-1]["summary"] == "upgrade.yml: task 3 'wait for release', 1 changed"
    assert reports[1]["hosts"]["ctl-1-nova-api-container-1a2b"]["changed"] == 1


def test_a_failed_host_fails_the_step_with_the_tasks_message(files, tmp_path):
    driver = driver_for(files, tmp_path)
    reports: list[dict] = []
    step = {"id": "nova-broken", "kind": "upgrade", "project": "nova", "service": "nova-broken"}
    with pytest.raises(StepFailed) as failure:
        run_step(driver, step, ["cmp-1", "cmp-2"], reports)
    assert str(failure.value) == (
        "upgrade.yml failed: "
        "failed on cmp-1 at task 'refuse a broken service': nova-compute on cmp-1 did not come back; "
        "failed on cmp-2 at task 'refuse a broken service': nova-compute on cmp-2 did not come back"
    )
    assert [r["limit"] for r in records(files)] == ["cmp-1,cmp-2", "cmp-1,cmp-2"]
    assert reports[-1]["summary"].endswith("failed on cmp-1, cmp-2")


def _processes_running(path: Path) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if str(path).encode() in command:
            found.append(int(entry))
    return found


def test_the_step_timeout_stops_the_playbook(files, tmp_path):
    driver = driver_for(files, tmp_path, timeout=3)
    step = {"id": "nova-slow@cmp-1", "kind": "upgrade", "project": "nova", "service": "nova-slow"}
    with pytest.raises(StepFailed) as failure:
        run_step(driver, step, ["cmp-1"])
    # Which task it was at depends on how far it got in 3 s (a busy machine is slower).
    assert re.fullmatch(
        r"upgrade\.yml timed out after 3 s( at task '[a-z ]+')?: stopped", str(failure.value)
    ), failure.value
    assert _processes_running(files["playbook"]) == []
    assert _processes_running(tmp_path / "work") == []


def test_what_the_driver_cannot_run_is_said_before_the_run(files, tmp_path):
    only_upgrades = driver_for(files, tmp_path, playbook="")
    assert only_upgrades.unsupported("upgrade", "nova-api") == (
        "driver 'ansible' has no playbook for upgrade steps: give -p playbook=FILE"
    )
    assert only_upgrades.unsupported("hook", "evacuate") == (
        "driver 'ansible' has no playbook for hook action 'evacuate': 'evacuate' is an "
        "OpenStack action: give -p cloud=NAME (a cloud of clouds.yaml)"
    )
    assert only_upgrades.unsupported("pre-upgrade", "backup") == (
        "driver 'ansible' has no playbook for pre-upgrade action 'backup': "
        "give -p pre_upgrade_playbook=FILE (or -p playbook=FILE)"
    )
    full = driver_for(files, tmp_path)
    assert full.unsupported("hook", "anything") is None
    assert full.unsupported("pre-upgrade", "backup") is None
    with_cloud = driver_for(files, tmp_path, playbook="", cloud="mycloud")
    assert with_cloud.unsupported("hook", "evacuate") is None
    assert with_cloud.unsupported("hook", "drain") is not None


def test_bad_parameters_name_the_parameter(files, tmp_path):
    with pytest.raises(ParameterError, match="needs parameter 'inventory'"):
        load_driver("ansible", {"playbook": str(files["playbook"])})
    with pytest.raises(ParameterError) as missing:
        driver_for(files, tmp_path, playbook=str(tmp_path / "nope.yml"))
    assert str(missing.value) == (
        f"driver 'ansible': parameter 'playbook': no such file or folder {tmp_path / 'nope.yml'}"
    )
    with pytest.raises(ParameterError, match="'timeout' must be positive"):
        driver_for(files, tmp_path, timeout=0)
    with pytest.raises(ParameterError, match="'poll_interval' must be positive"):
        driver_for(files, tmp_path, poll_interval=-1)


def test_relative_paths_are_kept_absolute_for_workers_elsewhere(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    driver = load_driver("ansible", {"inventory": "inventory.ini", "playbook": "upgrade.yml"})
    assert driver.parameters["inventory"] == str(files["inventory"])
    assert driver.parameters["playbook"] == str(files["playbook"])


def test_without_ansible_runner_the_driver_says_which_extra_to_install(files, monkeypatch):
    import importlib.util

    from kostyor_dsl.runtime.errors import DriverError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "ansible_runner" else real(name, *args),
    )
    with pytest.raises(DriverError) as failure:
        load_driver("kolla-ansible", {"inventory": str(files["inventory"])})
    assert str(failure.value) == (
        "driver 'kolla-ansible' needs ansible-runner: pip install 'kostyor-dsl[ansible]'"
    )
