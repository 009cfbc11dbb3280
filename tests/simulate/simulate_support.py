"""Plans for the simulation tests, built by hand so every figure can be worked out."""

from __future__ import annotations

from kostyor_dsl.compiler import compile_plan

ZERO = "0" * 64


def compiled(inventory: str, strategy: str | None = None) -> dict:
    from support import EXAMPLES

    return compile_plan("kostyor", str(EXAMPLES / inventory), strategy=strategy).plan


def upgrade(service: str, host: str, **tags) -> dict:
    return {
        "id": f"{service}@{host}",
        "kind": "upgrade",
        "project": service.split("-")[0],
        "service": service,
        "hosts": [host],
        "source": "test.kostyor:2",
        **tags,
    }


def hook(when: str, action: str, host: str, **tags) -> dict:
    return {
        "id": f"{when}:{action}:{host}",
        "kind": "hook",
        "when": when,
        "action": action,
        "parameters": {},
        "hosts": [host],
        "source": "test.kostyor:3",
        **tags,
    }


def gate(group: str, batch: int) -> dict:
    return {
        "id": f"gate:{group}#{batch}",
        "kind": "gate",
        "message": "check it",
        "group": group,
        "batch": batch,
        "source": "test.kostyor:4",
    }


def plan_of(steps: list[dict], groups: list[dict] | None = None, **extra) -> dict:
    plan = {
        "format": "kostyor-plan/1",
        "strategy": "test",
        "engine": "node-by-node",
        "driver": {"name": "noop", "parameters": {}},
        "inputs": {
            "spec": [{"file": "test.kostyor", "sha256": ZERO}],
            "inventory": {"file": "inv.yaml", "sha256": ZERO},
        },
        "steps": steps,
        **extra,
    }
    if groups is not None:
        plan["groups"] = groups
    return plan


def group(name: str, hosts: int, selector: list[str] | None = None) -> dict:
    return {
        "name": name,
        "selector": selector if selector is not None else [name],
        "hosts": hosts,
        "batches": [hosts],
        "max_failed_hosts": 0,
        "source": "test.kostyor:5",
    }


def batch_plan(hosts: list[str], services: tuple[str, ...], *, name: str = "compute") -> dict:
    """One batch of `hosts`, each upgrading `services` in order."""
    steps = [upgrade(service, host, group=name, batch=1) for host in hosts for service in services]
    return plan_of(steps, [group(name, len(hosts))])
