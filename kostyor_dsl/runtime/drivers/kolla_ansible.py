"""`kolla-ansible`: upgrades each project with Kolla-Ansible, the way its guide does.

An upgrade step of project P runs `kolla-ansible upgrade -i INVENTORY -t P`
through ansible-runner (so its ansible-playbook's events stream into the
step's record), once per project in a run: Kolla's guide calls `--limit` "not
recommended" (operating-kolla.rst, with a known nova bug), so by default the
command covers every host of the project, and `run` refuses a plan that
upgrades a project host by host (`plan_problems`).  `-p limit_hosts=true`
limits each command to the step's hosts, against that advice, for
rolling upgrades; a plan that splits one project of one host into steps apart
is refused then too.  The commands are package data
(`commands/kolla-ansible.yaml`, with the guide line of each); the database
migrations and `nova-status upgrade check` run inside `kolla-ansible upgrade`:
such a step is done elsewhere.  `-p cloud=NAME`: the OpenStack actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from kostyor_dsl.runtime.drivers import Parameter
from kostyor_dsl.runtime.drivers.ansible import DeploymentToolDriver
from kostyor_dsl.runtime.drivers.command_tables import fill, load_table
from kostyor_dsl.runtime.errors import ParameterError

TABLE = load_table("kolla-ansible")
# The release whose CLI renamed `mariadb_backup` to `mariadb-backup`.
RENAMED_IN = (2025, 1)


def release_key(text: str) -> tuple[int, int]:
    year, _, number = text.partition(".")
    return int(year), int(number)


class KollaAnsibleDriver(DeploymentToolDriver):
    name = "kolla-ansible"
    TOOL = "kolla-ansible"
    PARAMETERS: ClassVar[Mapping[str, Parameter]] = {
        **DeploymentToolDriver.PARAMETERS,
        "limit_hosts": Parameter(
            bool,
            default=False,
            help="limit each upgrade to the step's hosts (--limit), which Kolla's guide "
            "does not recommend",
        ),
        "release": Parameter(
            str,
            default="",
            help="the Kolla-Ansible release in use, YYYY.N (its command names); "
            "default: 2025.1 or later",
        ),
    }
    ACTIONS: ClassVar[Mapping[str, tuple[str, ...]]] = {
        name: tuple(entry["command"]) for name, entry in TABLE["actions"].items()
    }
    INSIDE = TABLE["inside"]
    NOT_INSIDE: ClassVar[Mapping[str, str]] = TABLE["not_inside"]
    PROJECTS: ClassVar[Mapping[str, str]] = TABLE["projects"]

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        release = self.parameters["release"]
        if release:
            try:
                key = release_key(release)
            except ValueError:
                raise ParameterError(
                    f"driver {self.name!r}: parameter 'release' must be a release like "
                    f"2025.1, not {release!r}"
                ) from None
            if key < RENAMED_IN:
                self.ACTIONS = {
                    name: tuple(entry.get("before_2025_1") or entry["command"])
                    for name, entry in TABLE["actions"].items()
                }

    def limit(self, step: Mapping[str, Any], hosts: list[str]) -> list[str]:
        # An imported Kolla inventory's `targets` are container names; Ansible knows hosts.
        return list(hosts) if self.parameters["limit_hosts"] else []

    def project_command(self, project: str, limit: list[str]) -> list[str]:
        values = {**self.template_values(), "project": project}
        command = [self.TOOL, *fill(TABLE["upgrade"]["command"], values)]
        if limit:
            command += fill(TABLE["upgrade"]["limit"], {"hosts": ",".join(limit)})
        return command

    def split_hint(self) -> str:
        if self.parameters["limit_hosts"]:
            return "use a strategy that upgrades a host's services of a project one after another"
        return (
            "use a strategy that upgrades each project on all its hosts in one go, or pass "
            "-p limit_hosts=true to limit each upgrade to the step's hosts (Kolla's guide "
            "does not recommend --limit: operating-kolla.rst, nova bug 2054348)"
        )
