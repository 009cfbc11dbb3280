"""`kolla-ansible` and `openstack-ansible`: the commands they build, exactly, and one
run through ansible-runner with a stand-in executable on PATH that records its
arguments."""

from __future__ import annotations

import os
import stat

import pytest

from kostyor_dsl.runtime.drivers import load_driver
from kostyor_dsl.runtime.errors import StepFailed
from kostyor_dsl.runtime.step_context import StepContext, entered

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "multinode"
    path.write_text("[control]\nctl-1\n\n[compute]\ncmp-1\ncmp-2\n")
    return path


def kolla(inventory, **extra):
    return load_driver("kolla-ansible", {"inventory": str(inventory), **extra})


def osa(tmp_path, **extra):
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir(exist_ok=True)
    return load_driver("openstack-ansible", {"playbooks": str(playbooks), **extra})


def request_of(signature) -> dict:
    (request,) = signature.args
    return request


def upgrade(driver, step: dict, hosts: list[str]) -> dict:
    with entered(StepContext("run-1", step["id"], 0, step, tuple(hosts))):
        return request_of(driver.start(step["service"], hosts))


def step(service: str, project: str, host: str, **extra) -> dict:
    return {
        "id": f"{service}@{host}",
        "kind": "upgrade",
        "service": service,
        "project": project,
        "hosts": [host],
        **extra,
    }


def test_kolla_ansible_upgrades_a_project_on_the_steps_hosts(inventory):
    driver = kolla(inventory)
    inv = str(inventory)
    assert upgrade(driver, step("nova-api", "nova", "ctl-1"), ["ctl-1"])["command"] == [
        "kolla-ansible", "upgrade", "-i", inv, "-t", "nova", "--limit", "ctl-1",
    ]  # fmt: skip
    assert upgrade(driver, step("nova-compute", "nova", "cmp-1"), ["cmp-1", "cmp-2"])[
        "command"
    ] == ["kolla-ansible", "upgrade", "-i", inv, "-t", "nova", "--limit", "cmp-1,cmp-2"]
    neutron = upgrade(driver, step("neutron-openvswitch-agent", "neutron", "cmp-1"), ["cmp-1"])
    assert neutron["command"] == [
        "kolla-ansible", "upgrade", "-i", inv, "-t", "neutron", "--limit", "cmp-1",
    ]  # fmt: skip
    # Kolla-Ansible's tags are its roles; an imported inventory's container names are
    # not Ansible hosts.
    assert upgrade(driver, step("mariadb", "database", "ctl-1"), ["ctl-1"])["command"][-3:] == [
        "mariadb", "--limit", "ctl-1",
    ]  # fmt: skip
    proxysql = step("proxysql", "loadbalancer", "ctl-1", targets={"proxysql": ["proxysql"]})
    assert upgrade(driver, proxysql, ["ctl-1"])["command"][-3:] == [
        "loadbalancer", "--limit", "ctl-1",
    ]  # fmt: skip
    # Once per project and hosts in a run: the project command upgrades all its services.
    assert neutron["once"] == "neutron@cmp-1"
    assert neutron["label"] == "kolla-ansible upgrade"


def test_kolla_ansible_project_actions_map_to_its_own_commands(inventory):
    driver = kolla(inventory)
    inv = str(inventory)
    assert request_of(driver.pre_upgrade("prechecks", {}))["command"] == [
        "kolla-ansible", "prechecks", "-i", inv,
    ]  # fmt: skip
    assert request_of(driver.pre_upgrade("upgrade-check", {"project": "nova"}))["command"] == [
        "kolla-ansible", "prechecks", "-i", inv, "-t", "nova",
    ]  # fmt: skip
    assert request_of(driver.pre_upgrade("pull-images", {"project": "keystone"}))["command"] == [
        "kolla-ansible", "pull", "-i", inv, "-t", "keystone",
    ]  # fmt: skip
    assert request_of(driver.post_upgrade("check", {"timeout": "10m"})) == {
        "command": ["kolla-ansible", "check", "-i", inv],
        "label": "kolla-ansible check",
        "limit": [],
        "timeout": 600.0,
        "workdir": "",
        "once": "",
    }


def covered(signature) -> dict:
    return signature.apply(throw=True).result


def test_kolla_ansible_refuses_by_name_what_it_has_no_command_for(inventory):
    driver = kolla(inventory)
    assert driver.unsupported("pre-upgrade", "backup-everything") == (
        "kolla-ansible has no command for pre-upgrade action 'backup-everything' "
        "(its actions: backup-databases, check, health-check, prechecks, pull-images, upgrade-check)"
    )
    assert driver.unsupported("hook", "evacuate") == (
        "kolla-ansible has no command for hook action 'evacuate' "
        "(its actions: backup-databases, check, health-check, prechecks, pull-images, upgrade-check); "
        "'evacuate' is an OpenStack action: give -p cloud=NAME (a cloud of clouds.yaml)"
    )
    assert driver.unsupported("hook", "drain-l3") == (
        "kolla-ansible has no command for hook action 'drain-l3' "
        "(its actions: backup-databases, check, health-check, prechecks, pull-images, upgrade-check); "
        "give -p action_playbook=FILE to run your own playbook for it"
    )
    # What `kolla-ansible upgrade -t PROJECT` does itself: the step runs nothing and says so.
    # The shipped `openstack` spec names these actions per project.
    for action, project in (
        ("db-contract", "PROJECT"),
        ("keystone-db-expand", "keystone"),
        ("nova-api-db-sync", "nova"),
        ("nova-status-upgrade-check", "nova"),
        ("cinder-online-data-migrations", "cinder"),
        ("nova-reload-services", "nova"),
    ):
        assert driver.unsupported("post-upgrade", action) is None
        assert covered(driver.post_upgrade(action, {})) == {
            "did": f"nothing here: `kolla-ansible upgrade -t {project}` runs it itself",
            "action": action,
            "kind": "post-upgrade",
        }
    assert covered(driver.pre_upgrade("keystone-db-expand", {}))["kind"] == "pre-upgrade"
    assert request_of(driver.pre_upgrade("backup-databases", {}))["command"] == [
        "kolla-ansible", "mariadb_backup", "-i", str(inventory),
    ]  # fmt: skip
    assert driver.unsupported("upgrade", "nova-api") is None
    assert driver.unsupported("pre-upgrade", "prechecks") is None
    with pytest.raises(StepFailed, match="no command for pre-upgrade action 'backup-all'"):
        driver.pre_upgrade("backup-all", {})
    with_cloud = kolla(inventory, cloud="prod")
    assert with_cloud.unsupported("hook", "evacuate") is None
    assert with_cloud.unsupported("hook", "drain-l3") is not None


def test_openstack_ansible_runs_the_projects_playbook_on_the_host_and_its_containers(tmp_path):
    driver = osa(tmp_path)
    books = tmp_path / "playbooks"
    assert upgrade(driver, step("nova-api", "nova", "infra1"), ["infra1"])["command"] == [
        "openstack-ansible", f"{books}/os-nova-install.yml",
        "--limit", "infra1,infra1-host_containers",
    ]  # fmt: skip
    assert upgrade(driver, step("mariadb", "mariadb", "infra1"), ["infra1"])["command"] == [
        "openstack-ansible", f"{books}/galera-install.yml",
        "--limit", "infra1,infra1-host_containers",
    ]  # fmt: skip
    recorded = step(
        "nova-api",
        "nova",
        "infra1",
        targets={"infra1": ["infra1-nova-api-container-4a917c47"]},
    )
    assert upgrade(driver, recorded, ["infra1"])["command"] == [
        "openstack-ansible", f"{books}/os-nova-install.yml",
        "--limit", "infra1-nova-api-container-4a917c47",
    ]  # fmt: skip
    assert request_of(driver.post_upgrade("healthcheck", {}))["command"] == [
        "openstack-ansible", f"{books}/healthcheck-openstack.yml",
    ]  # fmt: skip
    assert covered(driver.post_upgrade("glance-db-contract", {}))["did"] == (
        "nothing here: `openstack-ansible os-glance-install.yml` runs it itself"
    )
    assert driver.unsupported("post-upgrade", "online-data-migrations") is None
    assert driver.unsupported("post-upgrade", "backup-databases") == (
        "openstack-ansible has no command for post-upgrade action 'backup-databases' "
        "(its actions: health-check, healthcheck, healthcheck-hosts, healthcheck-infrastructure, "
        "setup-hosts, setup-infrastructure, upgrade-check)"
    )
    # The shipped `openstack` spec's infrastructure projects.
    for project, playbook in (
        ("database", "galera-install.yml"),
        ("loadbalancer", "haproxy-install.yml"),
        ("ovn", "os-neutron-install.yml"),
    ):
        assert upgrade(driver, step("x", project, "infra1"), ["infra1"])["command"][1] == (
            f"{books}/{playbook}"
        )


def test_openstack_ansible_checks_its_playbooks_folder(tmp_path):
    from kostyor_dsl.runtime.errors import ParameterError

    with pytest.raises(ParameterError) as failure:
        load_driver("openstack-ansible", {"playbooks": str(tmp_path / "nowhere")})
    assert str(failure.value) == (
        "driver 'openstack-ansible': parameter 'playbooks': no such file or folder "
        f"{tmp_path / 'nowhere'}"
    )


STANDIN = """#!/bin/sh
# A stand-in for the tool: records its arguments, one line per call.
printf '%s\\n' "$*" >> "$TOOL_RECORD"
case "$*" in *--limit*broken*) echo "fatal: [broken]: FAILED! => upgrade of nova failed"; exit 2;; esac
exit 0
"""


def write_standin(folder, name: str, record) -> None:
    folder.mkdir(exist_ok=True)
    tool = folder / name
    tool.write_text(STANDIN)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)


def test_the_tool_runs_through_ansible_runner_once_per_project_and_hosts(
    tmp_path, inventory, monkeypatch, ansible_home
):
    record = tmp_path / "calls.txt"
    write_standin(tmp_path / "bin", "kolla-ansible", record)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TOOL_RECORD", str(record))
    driver = kolla(inventory, workdir=str(tmp_path / "work"))

    def run(plan_step, index):
        hosts = plan_step["hosts"]
        with entered(StepContext("run-1", plan_step["id"], index, plan_step, tuple(hosts))):
            return driver.start(plan_step["service"], hosts).apply(throw=True).result

    first = run(step("nova-conductor", "nova", "ctl-1"), 0)
    second = run(step("nova-api", "nova", "ctl-1"), 1)
    compute = run(step("nova-compute", "nova", "cmp-1"), 2)
    assert record.read_text().splitlines() == [
        f"upgrade -i {inventory} -t nova --limit ctl-1",
        f"upgrade -i {inventory} -t nova --limit cmp-1",
    ]
    assert first["did"] == "ran kolla-ansible upgrade on ctl-1"
    assert first["status"] == "successful"
    assert second["did"] == (
        "nothing: kolla-ansible upgrade for nova@ctl-1 already ran in step nova-conductor@ctl-1 "
        "of this run"
    )
    assert compute["command"][-1] == "cmp-1"

    with pytest.raises(StepFailed) as failure:
        run(step("nova-compute", "nova", "broken"), 3)
    assert str(failure.value).startswith("kolla-ansible upgrade failed: exit code 2: ")
    assert "fatal: [broken]: FAILED! => upgrade of nova failed" in str(failure.value)


def test_limit_names_what_the_plan_step_recorded_for_the_service_on_each_host():
    from kostyor_dsl.runtime.drivers.ansible import limit_for

    container = "infra1-nova-api-container-4a917c47"
    nova_api = {"service": "nova-api"}
    assert limit_for({**nova_api, "targets": {"infra1": [container]}}, ["infra1"]) == [container]
    assert limit_for(
        {**nova_api, "targets": {"infra1": {"nova-api": [container], "keystone": ["k"]}}},
        ["infra1", "infra2"],
    ) == [container, "infra2"]
    assert limit_for({**nova_api, "targets": {"nova-api": [container]}}, ["infra1"]) == [container]
    assert limit_for(nova_api, ["infra1", "infra2"]) == ["infra1", "infra2"]
    assert limit_for(None, ["infra1"]) == ["infra1"]
