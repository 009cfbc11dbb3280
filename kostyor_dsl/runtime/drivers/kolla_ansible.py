"""`kolla-ansible`: upgrades each step's project on its hosts with Kolla-Ansible.

An upgrade step of project P on hosts H runs what Kolla-Ansible's upgrade
guide says, `kolla-ansible upgrade -i INVENTORY -t P --limit H`, through
ansible-runner (so its ansible-playbook's events stream into the step's
record), once per project and hosts in a run.  Project-level actions map to
Kolla-Ansible's own commands (`prechecks`, `pull`, `check`,
`mariadb_backup`); the database migrations and `nova-status upgrade check`
have none, since `kolla-ansible upgrade` runs them itself: such a step says so
in its result and runs nothing.  With `-p cloud=NAME` the
OpenStack actions (`disable-scheduling`, `evacuate`, ...) run through the
API; `-p action_playbook=FILE` runs a playbook of yours for other hooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from kostyor_dsl.runtime.drivers.ansible import DeploymentToolDriver


class KollaAnsibleDriver(DeploymentToolDriver):
    name = "kolla-ansible"
    TOOL = "kolla-ansible"
    ACTIONS: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "prechecks": ("prechecks", "-i", "{inventory}", "-t", "{project}"),
        "upgrade-check": ("prechecks", "-i", "{inventory}", "-t", "{project}"),
        "pull-images": ("pull", "-i", "{inventory}", "-t", "{project}"),
        "backup-databases": ("mariadb_backup", "-i", "{inventory}"),
        "check": ("check", "-i", "{inventory}", "-t", "{project}"),
        "health-check": ("check", "-i", "{inventory}", "-t", "{project}"),
    }
    INSIDE = "`kolla-ansible upgrade -t {project}` runs it itself"
    # Kolla-Ansible's tags are its roles: the load balancer is one role.
    PROJECTS: ClassVar[Mapping[str, str]] = {
        "database": "mariadb",
        "galera": "mariadb",
        "haproxy": "loadbalancer",
        "keepalived": "loadbalancer",
        "proxysql": "loadbalancer",
    }

    def limit(self, step: Mapping[str, Any], hosts: list[str]) -> list[str]:
        # An imported Kolla inventory's `targets` are container names; Ansible knows hosts.
        return list(hosts)

    def project_command(self, project: str, limit: list[str]) -> list[str]:
        command = [self.TOOL, "upgrade", "-i", self.parameters["inventory"], "-t", project]
        return [*command, "--limit", ",".join(limit)] if limit else command
