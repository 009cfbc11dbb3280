"""`openstack-ansible`: upgrades each step's project with OpenStack-Ansible's playbooks.

The commands follow OSA's major-upgrade procedure (`scripts/run-upgrade.sh`,
`admin/upgrades/major-upgrades.rst`) and are package data
(`commands/openstack-ansible.yaml`, with the guide line of each): an upgrade
step of project P on hosts H runs `openstack-ansible
OSA_ROOT/playbooks/os-P-install.yml -e package_state=latest --limit ...`;
galera and rabbitmq carry `-e galera_upgrade=true` / `-e rabbitmq_upgrade=true`
(without them the roles install patch releases only); the preparation steps
(`deploy-config-changes`, `setup-hosts`, `setup-hosts-galera-rabbitmq`,
`repo-install`, `setup-infrastructure`, `galera-rolling-restart`) are actions.
`--limit` names the containers the plan step recorded (`targets`), or else the
host and its containers' group.  `run` refuses a plan whose step needs a
playbook the checkout (`-p osa_root`) lacks, naming step and file.  Database
migrations run inside the project playbooks: such a step is done elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from kostyor_dsl.runtime.drivers import Parameter
from kostyor_dsl.runtime.drivers.ansible import DeploymentToolDriver, limit_for
from kostyor_dsl.runtime.drivers.command_tables import fill, load_table

TABLE = load_table("openstack-ansible")
OSA_ROOT = "/opt/openstack-ansible"


def canonical_project(project: str) -> str:
    """The project whose playbook upgrades `project`: `ovn` and `openvswitch` are
    upgraded by os-neutron-install.yml, `mariadb` by galera-install.yml (the table's
    aliases), so their steps on a host share one run of that playbook."""
    while isinstance(TABLE["upgrade"]["projects"].get(project), str):
        project = TABLE["upgrade"]["projects"][project]
    return project


def project_entry(project: str) -> Mapping[str, Any]:
    """The table's upgrade entry of a project (an alias names another project)."""
    entry = TABLE["upgrade"]["projects"].get(canonical_project(project))
    return entry or TABLE["upgrade"]["default"]


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
        "osa_root": Parameter(
            str, default=OSA_ROOT, help="the operator's OpenStack-Ansible checkout"
        ),
    }
    PATH_PARAMETERS: ClassVar[tuple[str, ...]] = ("action_playbook", "osa_root")
    ACTIONS: ClassVar[Mapping[str, tuple[str, ...]]] = {
        name: tuple(entry["command"]) for name, entry in TABLE["actions"].items()
    }
    INSIDE = TABLE["inside"]
    NOT_INSIDE: ClassVar[Mapping[str, str]] = TABLE["not_inside"]

    def project_of(self, step: Mapping[str, Any]) -> str:
        project = str(step.get("project") or "") or str(step.get("service") or "").split("-")[0]
        return canonical_project(project)

    def playbook(self, project: str) -> str:
        relative = project_entry(project)["playbook"].format(project=project)
        return str(Path(self.parameters["osa_root"]) / relative)

    def project_command(self, project: str, limit: list[str]) -> list[str]:
        command = [self.TOOL, self.playbook(project), *project_entry(project)["extra"]]
        return [*command, "--limit", ",".join(limit)] if limit else command

    def action_command(self, action: str, parameters: Mapping[str, Any]) -> list[str]:
        playbook, *rest = self.ACTIONS[action]
        return [self.TOOL, str(Path(self.parameters["osa_root"]) / playbook), *fill(rest, {})]

    def limit(self, step: Mapping[str, Any], hosts: list[str]) -> list[str]:
        if step.get("targets"):
            return limit_for(step, hosts)
        names: list[str] = []
        for host in hosts:
            names += [host, f"{host}-host_containers"]
        return names

    def plan_problems(self, plan: Mapping[str, Any]) -> list[str]:
        """Each step whose playbook the checkout lacks (freezer is gone from OSA
        master, say), then the order problems."""
        missing: dict[str, list[str]] = {}
        for step in plan.get("steps", ()):
            kind = step.get("kind")
            if kind == "upgrade":
                needed = self.playbook(self.project_of(step))
            elif kind in ("pre-upgrade", "post-upgrade", "hook") and step.get("action") in (
                self.ACTIONS
            ):
                needed = self.action_command(step["action"], {})[1]
            else:
                continue
            if not Path(needed).is_file():
                missing.setdefault(needed, []).append(step["id"])
        problems = [
            f"step {steps[0]!r}{f' and {len(steps) - 1} more' if len(steps) > 1 else ''}: "
            f"no playbook {path} in the OpenStack-Ansible checkout {self.parameters['osa_root']} "
            "(does this release still deploy it? check out the release you upgrade to, or "
            "give -p osa_root=...)"
            for path, steps in missing.items()
        ]
        return problems + super().plan_problems(plan)
