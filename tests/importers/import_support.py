"""Helpers of the importer tests: the fixtures' folder, running an import, and
the plan properties every imported cloud must have under the shipped order."""

from __future__ import annotations

import json
from pathlib import Path

from plan_checker import check_plan

from kostyor_dsl.compiler import check, compile_plan
from kostyor_dsl.importers import import_cloud
from kostyor_dsl.importers.document import write_inventory
from kostyor_dsl.language.diagnostics import render_text

DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

DATABASE_AND_QUEUE = {"mariadb", "mysql-innodb-cluster", "rabbitmq"}
CONTROL_OF_COMPUTE = (  # what a hypervisor's services need upgraded before them
    "keystone",
    "placement-api",
    "nova-conductor",
    "nova-scheduler",
    "nova-api",
)


def import_to(tmp_path: Path, source: str, inputs, **options) -> tuple[Path, object]:
    """Import, write the YAML inventory into tmp_path, return (path, result)."""
    result = import_cloud(source, [str(i) for i in inputs], **options)
    path = tmp_path / f"{source}.yaml"
    with open(path, "w", encoding="utf-8") as fh:
        write_inventory(result, "yaml", fh)
    return path, result


def checked_plan(inventory: Path, strategy: str | None = None) -> dict:
    """`kostyorc check openstack -i` passes with no unknown service; the compiled plan."""
    report = check("openstack", str(inventory), strategy)
    text = render_text(report.diagnostics, report.sources)
    assert report.ok, text
    assert not [d for d in report.diagnostics if d.code == "K042"], text
    return compile_plan("openstack", str(inventory), strategy).plan


def assert_current_order(plan: dict, inventory: Path) -> None:
    """Database and queue hosts first; keystone before placement before nova; nova's
    control services before any nova-compute; and every rule of the upgrade guides
    that tests/plan_checker.py checks (an independent reading of the plan)."""
    import yaml

    hosts = {h["name"]: set(h["services"]) for h in yaml.safe_load(inventory.read_text())["hosts"]}
    steps = [s for s in plan["steps"] if s["kind"] == "upgrade"]
    order_of_host = []
    for step in steps:
        for host in step["hosts"]:
            if host not in order_of_host:
                order_of_host.append(host)
    infra = [h for h in order_of_host if hosts[h] & DATABASE_AND_QUEUE]
    assert infra, "no database or queue host"
    assert order_of_host[: len(infra)] == infra, order_of_host

    def first(service):
        return min(i for i, s in enumerate(steps) if s["service"] == service)

    def last(service):
        return max(i for i, s in enumerate(steps) if s["service"] == service)

    services = {s["service"] for s in steps}
    nova = [i for i, s in enumerate(steps) if s["project"] == "nova"]
    if "placement-api" in services:
        assert first("keystone") < first("placement-api") < min(nova)
    else:
        assert first("keystone") < min(nova)
    if "nova-compute" in services:
        # Each of these on every host before any hypervisor's nova-compute (nova's
        # guide); the rest of the guides' cross-host rules by the independent checker.
        for service in CONTROL_OF_COMPUTE:
            if service in services:
                assert last(service) < first("nova-compute"), service
    violations = check_plan(json.loads(json.dumps(plan)), yaml.safe_load(inventory.read_text()))
    assert not violations, "\n".join(v.message for v in violations)


def plan_json(plan: dict) -> str:
    return json.dumps(plan, sort_keys=True)
