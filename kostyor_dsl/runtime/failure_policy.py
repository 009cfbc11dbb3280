"""Rollout failure policy: how many failed hosts a group (and each batch) tolerates.

`max_failed_hosts N` means N failed hosts are tolerated and failure number
N+1 pauses the run.  A percentage is of the group's hosts (per batch: of the
batch's hosts) in the plan, rounded down.  Pure functions over the plan and
the run record; the step task applies them under the run record's lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from kostyor_dsl.runtime.run_store import RunRecord


def tolerated(limit: int | str | None, hosts: int) -> int | None:
    """Failed hosts tolerated by `limit` (a count or "P%") out of `hosts`; None: no limit."""
    if limit is None:
        return None
    if isinstance(limit, str) and limit.endswith("%"):
        return math.floor(float(limit[:-1]) * hosts / 100 + 1e-9)
    return int(limit)


def _describe_limit(limit: int | str) -> str:
    return str(limit)


@dataclass(frozen=True)
class GroupPolicy:
    name: str
    hosts: int
    max_failed_hosts: int | str
    max_failed_hosts_per_batch: int | str | None
    batch_hosts: dict[int, int]

    @property
    def group_limit(self) -> int:
        return tolerated(self.max_failed_hosts, self.hosts) or 0

    def batch_limit(self, batch: int) -> int | None:
        return tolerated(self.max_failed_hosts_per_batch, self.batch_hosts.get(batch, 0))


def policies_of(plan: dict[str, Any]) -> dict[str, GroupPolicy]:
    """Each group of the plan's steps with its limits; a group the plan's `groups`
    does not describe tolerates no failure."""
    hosts: dict[str, set[str]] = {}
    batch_hosts: dict[str, dict[int, set[str]]] = {}
    for step in plan["steps"]:
        group, batch = step.get("group"), step.get("batch")
        if group is None or batch is None:
            continue
        for host in step.get("hosts") or ():
            hosts.setdefault(group, set()).add(host)
            batch_hosts.setdefault(group, {}).setdefault(batch, set()).add(host)
    described = {group["name"]: group for group in plan.get("groups") or ()}
    result = {}
    for name, members in hosts.items():
        group = described.get(name, {})
        result[name] = GroupPolicy(
            name=name,
            hosts=len(members),
            max_failed_hosts=group.get("max_failed_hosts", 0),
            max_failed_hosts_per_batch=group.get("max_failed_hosts_per_batch"),
            batch_hosts={batch: len(batch_set) for batch, batch_set in batch_hosts[name].items()},
        )
    return result


def _listing(failed: dict[str, str]) -> str:
    return ", ".join(f"{host} ({unit})" for host, unit in sorted(failed.items()))


def record_failure(
    run: RunRecord, policy: GroupPolicy, batch: int, host: str, unit_id: str
) -> RunRecord:
    """The run with this host's failure counted; paused, with a reason, past a limit.

    Counting is by host: a host already counted (a retried host failing
    again) is not counted twice.
    """
    group_failed = dict(run.failed_hosts.get(policy.name, {}))
    group_failed.setdefault(host, unit_id)
    batch_key = f"{policy.name}#{batch}"
    batch_failed = dict(run.batch_failed_hosts.get(batch_key, {}))
    batch_failed.setdefault(host, unit_id)
    changed = replace(
        run,
        failed_hosts={**run.failed_hosts, policy.name: group_failed},
        batch_failed_hosts={**run.batch_failed_hosts, batch_key: batch_failed},
    )
    reasons = []
    if len(group_failed) > policy.group_limit:
        reasons.append(
            f"group {policy.name} has {_hosts(len(group_failed))} of {policy.hosts} and "
            f"tolerates {policy.group_limit} (max-failed-hosts "
            f"{_describe_limit(policy.max_failed_hosts)}): {_listing(group_failed)}"
        )
    batch_limit = policy.batch_limit(batch)
    if batch_limit is not None and len(batch_failed) > batch_limit:
        reasons.append(
            f"batch {batch_key} has {_hosts(len(batch_failed))} of "
            f"{policy.batch_hosts.get(batch, 0)} and tolerates {batch_limit} "
            f"(max-failed-hosts-per-batch "
            f"{_describe_limit(policy.max_failed_hosts_per_batch)}): {_listing(batch_failed)}"
        )
    if reasons and run.state in ("running", "paused"):
        changed = replace(
            changed,
            state="paused",
            pause_reason="failure threshold: " + "; ".join(reasons),
            failed_step=unit_id,
        )
    return changed


def forget_hosts(run: RunRecord, hosts: set[str]) -> RunRecord:
    """The run without these hosts' failures (before `retry` runs them again)."""

    def without(table: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        kept = {
            key: {host: unit for host, unit in failed.items() if host not in hosts}
            for key, failed in table.items()
        }
        return {key: failed for key, failed in kept.items() if failed}

    return replace(
        run,
        failed_hosts=without(run.failed_hosts),
        batch_failed_hosts=without(run.batch_failed_hosts),
    )


def _hosts(count: int) -> str:
    return f"{count} failed host{'' if count == 1 else 's'}"
