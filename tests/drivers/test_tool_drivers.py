"""`kolla-ansible` and `openstack-ansible`: the commands they build, exactly, and one
run through ansible-runner with a stand-in executable on PATH that records its
arguments."""

from __future__ import annotations

import os
import stat

import pytest
from driver_extras import require

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


OSA_PLAYBOOKS = (
    "playbooks/os-nova-install.yml", "playbooks/os-keystone-install.yml",
    "playbooks/os-neutron-install.yml", "playbooks/galera-install.yml",
    "playbooks/rabbitmq-install.yml", "playbooks/haproxy-install.yml",
    "playbooks/healthcheck-openstack.yml", "playbooks/setup-hosts.yml",
    "playbooks/setup-infrastructure.yml",
    "scripts/upgrade-utilities/galera-cluster-rolling-restart.yml",
)  # fmt: skip


def osa(tmp_path, **extra):
    """The driver over an OSA checkout with the playbooks the tests name."""
    root = tmp_path / "openstack-ansible"
    for name in OSA_PLAYBOOKS:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()
    return load_driver("openstack-ansible", {"osa_root": str(root), **extra})


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
    inv = str(inventory)
    # operating-kolla.rst:256 "kolla-ansible upgrade -i INVENTORY"; :61 "using the ansible
    # --limit option is not recommended": a project on every host, by default.
    driver = kolla(inventory)
    assert upgrade(driver, step("nova-api", "nova", "ctl-1"), ["ctl-1"])["command"] == [
        "kolla-ansible", "upgrade", "-i", inv, "-t", "nova",
    ]  # fmt: skip
    assert upgrade(driver, step("nova-api", "nova", "ctl-1"), ["ctl-1"])["once"] == "nova@*"
    # -p limit_hosts=true: the step's hosts, against the guide's advice.
    driver = kolla(inventory, limit_hosts="true")
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


def _plan(*steps: dict) -> dict:
    return {"steps": list(steps)}


def test_kolla_ansible_refuses_a_plan_whose_order_its_upgrade_cannot_keep(inventory):
    host_by_host = _plan(
        step("nova-api", "nova", "ctl-1"),
        step("keystone", "keystone", "ctl-2"),
        step("nova-api", "nova", "ctl-2"),
    )
    inv = str(inventory)
    assert kolla(inventory).plan_problems(host_by_host) == [
        f"step 'nova-api@ctl-1': `kolla-ansible upgrade -i {inv} -t nova` upgrades every nova "
        "service of every host at once, but the plan upgrades them apart ('keystone@ctl-2' "
        "comes between 'nova-api@ctl-1' and 'nova-api@ctl-2'): use a strategy that upgrades "
        "each project on all its hosts in one go, or pass -p limit_hosts=true to limit each "
        "upgrade to the step's hosts (Kolla's guide does not recommend --limit: "
        "operating-kolla.rst, nova bug 2054348)"
    ]
    assert kolla(inventory, limit_hosts="true").plan_problems(host_by_host) == []
    # Service by service: a project's steps follow each other: one command, the rest
    # done elsewhere.
    together = _plan(step("nova-conductor", "nova", "ctl-1"), step("nova-api", "nova", "ctl-2"))
    assert kolla(inventory).plan_problems(together) == []
    # With limits, one host's project split by another project's step is refused too.
    split = _plan(
        step("nova-conductor", "nova", "ctl-1"),
        step("keystone", "keystone", "ctl-1"),
        step("nova-api", "nova", "ctl-1"),
    )
    assert (
        kolla(inventory, limit_hosts="true")
        .plan_problems(split)[0]
        .startswith(
            f"step 'nova-conductor@ctl-1': `kolla-ansible upgrade -i {inv} -t nova --limit HOSTS` "
            "upgrades every nova service of ctl-1 at once"
        )
    )
    # Parallel lanes of a batch, one command for every host: refused.
    batch = _plan(
        step("nova-compute", "nova", "cmp-1", group="compute", batch=1),
        step("nova-compute", "nova", "cmp-2", group="compute", batch=1),
    )
    assert "in rollout batches" in kolla(inventory).plan_problems(batch)[0]


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
        "(its actions: backup-databases, check, health-check, prechecks, pull-images, upgrade-check); "
        "give -p action_playbook=FILE to run your own playbook for it"
    )
    # Kolla's placement role runs no `placement-status upgrade check` (only nova's role
    # runs one, roles/nova/tasks/upgrade.yml:6): never reported done elsewhere.
    assert driver.unsupported("pre-upgrade", "placement-status-upgrade-check") == (
        "kolla-ansible has no command for pre-upgrade action 'placement-status-upgrade-check' "
        "and does not run it inside its upgrade (roles/placement/tasks/upgrade.yml runs no "
        "placement-status upgrade check; only nova's role runs an upgrade check) "
        "(its actions: backup-databases, check, health-check, prechecks, pull-images, upgrade-check); "
        "give -p action_playbook=FILE to run your own playbook for it"
    )
    with pytest.raises(StepFailed, match="does not run it inside its upgrade"):
        driver.pre_upgrade("placement-status-upgrade-check", {})
    assert driver.unsupported("pre-upgrade", "nova-status-upgrade-check") is None
    checks = inventory.parent / "checks.yml"
    checks.write_text("- hosts: localhost\n")
    own = kolla(inventory, action_playbook=str(checks))
    assert own.unsupported("pre-upgrade", "placement-status-upgrade-check") is None
    request = request_of(own.pre_upgrade("placement-status-upgrade-check", {}))
    assert request["playbook"] == str(checks)
    assert request["extravars"]["kostyor_action"] == "placement-status-upgrade-check"
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
        where = f"`kolla-ansible upgrade -t {project}` runs it itself"
        assert covered(driver.post_upgrade(action, {})) == {
            "did": f"nothing here: {where}",
            "done_elsewhere": where,
            "action": action,
            "kind": "post-upgrade",
        }
    assert covered(driver.pre_upgrade("keystone-db-expand", {}))["kind"] == "pre-upgrade"
    # kolla_ansible/cli/commands.py MariaDBBackup: `mariadb-backup` since 2025.1.
    assert request_of(driver.pre_upgrade("backup-databases", {}))["command"] == [
        "kolla-ansible", "mariadb-backup", "-i", str(inventory),
    ]  # fmt: skip
    old = kolla(inventory, release="2024.1")
    assert request_of(old.pre_upgrade("backup-databases", {}))["command"] == [
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
    root = tmp_path / "openstack-ansible"
    books = root / "playbooks"
    # major-upgrades.rst:252 "openstack.osa.setup_openstack -e package_state=latest", one
    # project at a time as minor-upgrades.rst:96 "openstack.osa.nova --limit <node-name>".
    assert upgrade(driver, step("nova-api", "nova", "infra1"), ["infra1"])["command"] == [
        "openstack-ansible", f"{books}/os-nova-install.yml", "-e", "package_state=latest",
        "--limit", "infra1,infra1-host_containers",
    ]  # fmt: skip
    # major-upgrades.rst:233 "setup_infrastructure -e 'galera_upgrade=true' -e
    # 'rabbitmq_upgrade=true' -e package_state=latest": without them, patch releases only.
    assert upgrade(driver, step("mariadb", "mariadb", "infra1"), ["infra1"])["command"] == [
        "openstack-ansible", f"{books}/galera-install.yml",
        "-e", "galera_upgrade=true", "-e", "package_state=latest",
        "--limit", "infra1,infra1-host_containers",
    ]  # fmt: skip
    assert upgrade(driver, step("rabbitmq", "rabbitmq", "infra1"), ["infra1"])["command"] == [
        "openstack-ansible", f"{books}/rabbitmq-install.yml",
        "-e", "rabbitmq_upgrade=true", "-e", "package_state=latest",
        "--limit", "infra1,infra1-host_containers",
    ]  # fmt: skip
    recorded = step(
        "nova-api",
        "nova",
        "infra1",
        targets={"infra1": ["infra1-nova-api-container-4a917c47"]},
    )
    assert upgrade(driver, recorded, ["infra1"])["command"][-2:] == [
        "--limit", "infra1-nova-api-container-4a917c47",
    ]  # fmt: skip
    # The preparation steps of run-upgrade.sh and the guide, as actions.
    for action, command in (
        # major-upgrades.rst:193
        ("setup-hosts", [f"{books}/setup-hosts.yml", "--limit", "!galera_all:!rabbitmq_all",
                         "-e", "package_state=latest"]),
        # major-upgrades.rst:208
        ("setup-hosts-galera-rabbitmq", [f"{books}/setup-hosts.yml", "-e",
                                         "lxc_container_allow_restarts=false", "--limit",
                                         "galera_all:rabbitmq_all"]),
        # major-upgrades.rst:233
        ("setup-infrastructure", [f"{books}/setup-infrastructure.yml", "-e", "galera_upgrade=true",
                                  "-e", "rabbitmq_upgrade=true", "-e", "package_state=latest"]),
        # major-upgrades.rst:243, run-upgrade.sh:203
        ("galera-rolling-restart",
         [f"{root}/scripts/upgrade-utilities/galera-cluster-rolling-restart.yml"]),
        # major-upgrades.rst:90
        ("healthcheck", [f"{books}/healthcheck-openstack.yml"]),
    ):  # fmt: skip
        assert request_of(driver.pre_upgrade(action, {}))["command"] == [
            "openstack-ansible", *command,
        ]  # fmt: skip
    assert covered(driver.post_upgrade("glance-db-contract", {}))["done_elsewhere"] == (
        "`openstack-ansible os-glance-install.yml` runs it itself"
    )
    assert driver.unsupported("post-upgrade", "online-data-migrations") is None
    assert driver.unsupported("post-upgrade", "backup-databases").startswith(
        "openstack-ansible has no command for post-upgrade action 'backup-databases'"
    )
    # os-neutron-install.yml upgrades OVN and the neutron agents: one run per host.
    ovn = upgrade(driver, step("ovn-controller", "ovn", "compute1"), ["compute1"])
    agent = upgrade(driver, step("neutron-ovn-metadata-agent", "neutron", "compute1"), ["compute1"])
    assert ovn["command"] == agent["command"] and ovn["once"] == agent["once"] == (
        "neutron@compute1,compute1-host_containers"
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


def test_openstack_ansible_refuses_a_step_whose_playbook_the_checkout_lacks(tmp_path):
    from kostyor_dsl.runtime.errors import ParameterError

    driver = osa(tmp_path)
    root = tmp_path / "openstack-ansible"
    plan = _plan(
        step("nova-api", "nova", "infra1"),
        step("freezer-api", "freezer", "infra1"),
        step("freezer-scheduler", "freezer", "infra1"),
        {"id": "pre-upgrade:repo-install", "kind": "pre-upgrade", "action": "repo-install"},
    )
    assert driver.plan_problems(plan) == [
        f"step 'freezer-api@infra1' and 1 more: no playbook {root}/playbooks/os-freezer-install.yml "
        f"in the OpenStack-Ansible checkout {root} (does this release still deploy it? check out "
        "the release you upgrade to, or give -p osa_root=...)",
        f"step 'pre-upgrade:repo-install': no playbook {root}/playbooks/repo-install.yml in the "
        f"OpenStack-Ansible checkout {root} (does this release still deploy it? check out the "
        "release you upgrade to, or give -p osa_root=...)",
    ]
    with pytest.raises(ParameterError) as failure:
        load_driver("openstack-ansible", {"osa_root": str(tmp_path / "nowhere")})
    assert str(failure.value) == (
        "driver 'openstack-ansible': parameter 'osa_root': no such file or folder "
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
    driver = kolla(inventory, workdir=str(tmp_path / "work"), limit_hosts="true")

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
    assert second["done_elsewhere"] == (
        "kolla-ansible upgrade for nova@ctl-1 already ran in step nova-conductor@ctl-1 of this run"
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


def test_run_refuses_a_kolla_plan_whose_order_the_tool_cannot_keep(tmp_path, inventory):
    """Node by node, nova of ctl-1 then nova of ctl-2 with keystone between: without
    --limit, `kolla-ansible upgrade -t nova` would upgrade both hosts at the first step."""
    require("ansible_runner", "ansible")
    from runtime_harness import Runtime, make_plan

    runtime = Runtime(tmp_path, "embedded")
    plan = make_plan(hosts=0, pre_upgrade=False, driver="kolla-ansible")
    plan["steps"] = [
        step("nova-api", "nova", "ctl-1", source="test.kostyor:2"),
        step("keystone", "keystone", "ctl-1", source="test.kostyor:3"),
        step("nova-api", "nova", "ctl-2", source="test.kostyor:2"),
    ]
    runtime.write_plan(plan)
    done = runtime.kostyorc(
        "run", "plan.json", "--driver", "kolla-ansible", "-p", f"inventory={inventory}",
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "kostyorc: error: plan.json: refused, nothing was submitted:\n"
        "  driver 'kolla-ansible', with these parameters, cannot perform these steps:\n"
        f"    - step 'nova-api@ctl-1': `kolla-ansible upgrade -i {inventory} -t nova` upgrades "
        "every nova service of every host at once, but the plan upgrades them apart "
        "('keystone@ctl-1' comes between 'nova-api@ctl-1' and 'nova-api@ctl-2'): use a "
        "strategy that upgrades each project on all its hosts in one go, or pass "
        "-p limit_hosts=true to limit each upgrade to the step's hosts (Kolla's guide does "
        "not recommend --limit: operating-kolla.rst, nova bug 2054348)\n"
        "    (choose another driver (--driver), give it what it lacks (-p), or change the "
        "strategy)\n"
    )
    assert runtime.kostyorc("runs").stdout.startswith("no runs in ")
