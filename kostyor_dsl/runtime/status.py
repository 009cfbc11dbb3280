"""The status of a run: a document (schema `schemas/status.schema.json`) and its text."""

from __future__ import annotations

import datetime
from typing import Any

from kostyor_dsl.runtime.budget_guard import budget_use, failed_hosts
from kostyor_dsl.runtime.canvas import schedule, task_id
from kostyor_dsl.runtime.failure_policy import policies_of
from kostyor_dsl.runtime.records import COMPLETED_STATES, DONE_ELSEWHERE, LANE_DONE_STATES

ENABLE_COMMAND = "openstack compute service set --enable {host} nova-compute"
_STOPPED_STATES = frozenset({"failed", "skipped", "revoked"})


def iso_time(moment: float | None) -> str | None:
    if not moment:
        return None
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).isoformat(
        timespec="milliseconds"
    )


def _batch_state(states: list[str], lane_ends: list[str]) -> str:
    if all(state in LANE_DONE_STATES for state in lane_ends):
        return "finished"
    if all(state == "pending" for state in states):
        return "pending"
    return "running"


def status_document(store, run_id: str) -> dict[str, Any]:
    run = store.run(run_id)
    plan = store.plan(run_id)
    units, stages = schedule(plan, run_id, run.route)
    records = store.steps(run_id, len(units))
    steps = []
    counts: dict[str, int] = {}
    for unit, record in zip(units, records, strict=True):
        state = record.state
        if run.state == "cancelled" and state in ("pending", "running", "waiting"):
            state = "revoked"
        counts[state] = counts.get(state, 0) + 1
        duration = (
            round(record.finished - record.started, 3)
            if record.started and record.finished
            else None
        )
        steps.append(
            {
                "index": unit.index,
                "id": unit.id,
                "step": unit.step_id,
                "kind": unit.kind,
                "hosts": list(unit.hosts),
                "state": state,
                "task_id": task_id(run_id, unit.id),
                "queue": unit.queue,
                "started": iso_time(record.started),
                "finished": iso_time(record.finished),
                "duration": duration,
                "attempts": record.attempts,
                "error": record.error,
                "result": record.result,
                "progress": record.extra.get("progress") if state == "running" else None,
                "group": unit.group,
                "batch": unit.batch,
                "stage": unit.stage,
            }
        )
    batches = []
    for stage in stages:
        if not stage.parallel:
            continue
        states = [step["state"] for step in steps[stage.first : stage.last + 1]]
        ends = [steps[lane.last]["state"] for lane in stage.lanes]
        failed = sorted(
            {
                step["hosts"][0]
                for step in steps[stage.first : stage.last + 1]
                if step["state"] == "failed"
            }
        )
        batches.append(
            {
                "group": stage.group,
                "batch": stage.batch,
                "stage": stage.index,
                "first": stage.first,
                "last": stage.last,
                "hosts": [lane.host for lane in stage.lanes],
                "state": _batch_state(states, ends),
                "failed_hosts": failed,
            }
        )
    groups = []
    for name, policy in policies_of(plan).items():
        groups.append(
            {
                "name": name,
                "hosts": policy.hosts,
                "max_failed_hosts": policy.max_failed_hosts,
                "tolerates": policy.group_limit,
                "max_failed_hosts_per_batch": policy.max_failed_hosts_per_batch,
                "failed_hosts": dict(sorted(run.failed_hosts.get(name, {}).items())),
            }
        )
    left_disabled = hosts_left_disabled(steps, plan, run.state)
    gate = None
    if run.gate:
        unit = next((unit for unit in units if unit.id == run.gate), None)
        message = next(
            (step.get("message") for step in plan["steps"] if unit and step["id"] == unit.step_id),
            None,
        )
        gate = {"step": run.gate, "message": message or ""}
    return {
        "run": run.run_id,
        "state": run.state,
        "driver": run.driver,
        "route": run.route,
        "plan": run.plan_file,
        "seal": run.seal,
        "edited": run.edited,
        "created": iso_time(run.created),
        "updated": iso_time(run.updated),
        "error": run.error,
        "failed_step": run.failed_step,
        "pause_reason": run.pause_reason,
        "gate": gate,
        "stage": run.stage,
        "summary": {"total": len(steps), **dict(sorted(counts.items()))},
        "groups": groups,
        "budgets": budget_use(plan, failed_hosts(run.failed_hosts)),
        "batches": batches,
        "point_of_no_return": _no_return(plan, steps),
        "hosts_left_disabled": left_disabled,
        "steps": steps,
    }


def _no_return(plan: dict, steps: list[dict]) -> dict | None:
    """The plan's point of no return and whether the run is past it: once its
    step has succeeded, the old release can no longer run."""
    mark = plan.get("point_of_no_return")
    if mark is None:
        return None
    states = [step["state"] for step in steps if step["step"] == mark["step"]]
    passed = bool(states) and all(state in COMPLETED_STATES for state in states)
    return {"step": mark["step"], "action": mark["action"], "passed": passed}


def hosts_left_disabled(steps: list[dict], plan: dict, run_state: str) -> list[dict]:
    """The hypervisors whose scheduling the run disabled and did not enable again
    because the host's steps stopped (a failed evacuation, the run failed or
    cancelled): each with the command that enables it again."""
    actions = {step["id"]: step.get("action") for step in plan.get("steps", ())}
    found = []
    for position, step in enumerate(steps):
        if actions.get(step["step"]) != "disable-scheduling" or step["state"] not in (
            COMPLETED_STATES
        ):
            continue
        if not step["hosts"]:
            continue
        host = step["hosts"][0]
        result = step["result"] if isinstance(step["result"], dict) else {}
        if result.get("scheduling_disabled") is False:
            continue  # someone else had disabled it: not the run's to enable
        later = [other for other in steps[position + 1 :] if other["hosts"] == [host]]
        enabled = any(
            actions.get(other["step"]) == "enable-scheduling" and other["state"] in COMPLETED_STATES
            for other in later
        )
        if enabled:
            continue
        stopped = next((other for other in later if other["state"] in _STOPPED_STATES), None)
        if stopped is None and run_state not in ("failed", "cancelled"):
            continue  # still on its way to enable-scheduling
        found.append(
            {
                "host": host,
                "disabled_in": step["id"],
                "stopped_at": stopped["id"] if stopped else None,
                "stopped_state": stopped["state"] if stopped else run_state,
                "enable": result.get("enable_with") or ENABLE_COMMAND.format(host=host),
            }
        )
    return found


def steps_done(summary: dict[str, Any]) -> int:
    """The units that are complete: those that ran and those done by another step."""
    return sum(summary.get(state, 0) for state in COMPLETED_STATES)


def _elsewhere(result: Any) -> str:
    where = result.get(DONE_ELSEWHERE) if isinstance(result, dict) else None
    return f"done elsewhere: {where}" if isinstance(where, str) else "done elsewhere"


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width if total == 0 else int(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def summary_line(document: dict[str, Any]) -> str:
    summary = document["summary"]
    done = summary.get("succeeded", 0)
    total = summary["total"]
    running = [step["id"] for step in document["steps"] if step["state"] == "running"]
    line = f"run {document['run']}: {document['state']}, {done}/{total} steps succeeded"
    if summary.get("done-elsewhere"):
        line += f", {summary['done-elsewhere']} done elsewhere"
    for state in ("failed", "skipped"):
        if summary.get(state) and document["state"] != "failed":
            line += f", {summary[state]} {state}"
    if running:
        shown = ", ".join(running[:5]) + (
            f" and {len(running) - 5} more" if len(running) > 5 else ""
        )
        line += f", running {shown}"
    if document.get("pause_reason") and document["state"] == "paused":
        line += f" - {document['pause_reason'].splitlines()[0]}"
    elif document["error"]:
        line += f" - {document['error'].splitlines()[0]}"
    return line


OUTPUT_LINES = 10
OUTPUT_INDENT = " " * 6


def output_tail(lines: list[str], count: int = OUTPUT_LINES) -> list[str]:
    """The last `count` non-blank lines of a failed step's output (after its error's
    first line), with how many were left out before them."""
    kept = [line.rstrip() for line in lines if line.strip()]
    if len(kept) <= count:
        return kept
    left = len(kept) - count
    more = f"... ({left} earlier line{'s' if left != 1 else ''}: --format json has them)"
    return [more, *kept[-count:]]


def render_status(document: dict[str, Any], *, tty: bool) -> str:
    lines = [summary_line(document)]
    if document.get("edited"):
        lines.append(f"plan edited after compile, run with --allow-edited: {document['edited']}")
    for left in document.get("hosts_left_disabled", []):
        why = (
            f"step {left['stopped_at']} {left['stopped_state']}"
            if left["stopped_at"]
            else f"the run {left['stopped_state']}"
        )
        lines.append(
            f"host {left['host']} left with scheduling disabled ({why} after "
            f"{left['disabled_in']}): enable it again with `{left['enable']}`"
        )
    if tty:
        done = steps_done(document["summary"])
        lines.append(progress_bar(done, document["summary"]["total"]))
    for group in document.get("groups", []):
        if group["failed_hosts"]:
            failed = ", ".join(f"{host} ({step})" for host, step in group["failed_hosts"].items())
            count = len(group["failed_hosts"])
            lines.append(
                f"group {group['name']}: {count} failed host{'' if count == 1 else 's'} of "
                f"{group['hosts']}, tolerates {group['tolerates']}: {failed}"
            )
    for budget in document.get("budgets", []):
        down = budget["failed_hosts"]
        lines.append(
            f"budget {budget['name']}: {len(down)} of {budget['selected']} hosts down "
            f"(failed), allows {budget['allowed']} ({budget['rule']} {budget['amount']})"
            + (f": {', '.join(down)}" if down else "")
        )
    mark = document.get("point_of_no_return")
    if mark is not None:
        lines.append(
            f"point of no return: {mark['step']} ("
            + ("passed: the old release can no longer run" if mark["passed"] else "not passed yet")
            + ")"
        )
    starts = {batch["first"]: batch for batch in document.get("batches", [])}
    width = len(str(len(document["steps"])))
    for step in document["steps"]:
        batch = starts.get(step["index"])
        if batch:
            lines.append(
                f"  batch {batch['group']}#{batch['batch']}: {len(batch['hosts'])} "
                f"host{'s' if len(batch['hosts']) != 1 else ''} in parallel, {batch['state']}"
            )
        timing = f"{step['duration']:.1f}s" if step["duration"] is not None else ""
        line = f"  {step['index'] + 1:>{width}} {step['state']:<9} {timing:>7}  {step['id']}"
        if step["state"] == "waiting" and document.get("gate"):
            line += f"  (gate: {document['gate']['message']}; `kostyorc resume` goes on)"
        elif step["error"]:
            first, *rest = step["error"].splitlines() or [""]
            line += f"  ({first})"
            if step["state"] == "failed":
                line += "".join(f"\n{OUTPUT_INDENT}| {text}" for text in output_tail(rest))
        elif step["state"] == "done-elsewhere":
            line += f"  ({_elsewhere(step['result'])})"
        elif step.get("progress") and step["progress"].get("summary"):
            line += f"  ({step['progress']['summary']})"
        if mark is not None and step["step"] == mark["step"]:
            line += "  <- point of no return"
        lines.append(line)
    return "\n".join(lines)
