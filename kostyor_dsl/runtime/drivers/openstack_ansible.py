"""`openstack-ansible`: upgrades each step's project on its hosts with OpenStack-Ansible.

An upgrade step of project P on hosts H runs P's playbook,
`openstack-ansible PLAYBOOKS/os-P-install.yml --limit ...` (the
infrastructure's own playbooks for galera, rabbitmq, memcached, haproxy),
through ansible-runner, once per project and hosts in a run.  `--limit`
names the containers the plan step recorded for each host (`targets`), or
else the host and its containers' group (`HOST,HOST-host_containers`, as
OpenStack-Ansible's guides limit a host).  Project-level checks map to OSA's
healthcheck playbooks; database migrations run inside the project playbooks:
such a step says so in its result and runs nothing.  `-p cloud=NAME`: the OpenStack actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from kostyor_dsl.runtime.drivers import Parameter
from kostyor_dsl.runtime.drivers.ansible import DeploymentToolDriver, limit_for

PLAYBOOKS = "/opt/openstack-ansible/playbooks"
# Projects whose playbook is not os-<project>-install.yml.
PROJECT_PLAYBOOKS = {
    "database": "galera-install.yml",
    "loadbalancer": "haproxy-install.yml",
    "ovn": "os-neutron-install.yml",
    "openvswitch": "os-neutron-install.yml",
    "mariadb": "galera-install.yml",
    "galera": "galera-install.yml",
    "rabbitmq": "rabbitmq-install.yml",
    "memcached": "memcached-install.yml",
    "haproxy": "haproxy-install.yml",
    "keepalived": "haproxy-install.yml",
}


class OpenStackAnsibleDriver(DeploymentToolDriver):
    name = "openstack-ansible"
    TOOL = "openstack-ansible"
    PARAMETERS: ClassVar[Mapping[str, Parameter]] = {
        **{
            key: value
            for key, value in DeploymentToolDriver.PARAMETERS.items()
            if key != "inventory"
        },
        "inventory": Parameter(
            str,
            default="/etc/openstack_deploy/openstack_inventory.json",
            help="OSA's inventory (the openstack-ansible wrapper reads it itself)",
        ),
        "playbooks": Parameter(str, default=PLAYBOOKS, help="the folder of OSA's playbooks"),
    }
    PATH_PARAMETERS: ClassVar[tuple[str, ...]] = ("action_playbook", "playbooks")
    ACTIONS: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "healthcheck": ("{playbooks}/healthcheck-openstack.yml",),
        "health-check": ("{playbooks}/healthcheck-openstack.yml",),
        "upgrade-check": ("{playbooks}/healthcheck-openstack.yml",),
        "healthcheck-hosts": ("{playbooks}/healthcheck-hosts.yml",),
        "healthcheck-infrastructure": ("{playbooks}/healthcheck-infrastructure.yml",),
        "setup-hosts": ("{playbooks}/setup-hosts.yml",),
        "setup-infrastructure": ("{playbooks}/setup-infrastructure.yml",),
    }
    INSIDE = "`openstack-ansible os-{project}-install.yml` runs it itself"

    def template_values(self) -> dict[str, str]:
        return {**super().template_values(), "playbooks": self.parameters["playbooks"]}

    def playbook(self, project: str) -> str:
        name = PROJECT_PLAYBOOKS.get(project, f"os-{project}-install.yml")
        return str(Path(self.parameters["playbooks"]) / name)

    def project_command(self, project: str, limit: list[str]) -> list[str]:
        command = [self.TOOL, self.playbook(project)]
        return [*command, "--limit", ",".join(limit)] if limit else command

    def limit(self, step: Mapping[str, Any], hosts: list[str]) -> list[str]:
        if step.get("targets"):
            return limit_for(step, hosts)
        names: list[str] = []
        for host in hosts:
            names += [host, f"{host}-host_containers"]
        return names
