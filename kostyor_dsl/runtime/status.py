"""The status of a run: a document (schema `schemas/status.schema.json`) and its text."""

from __future__ import annotations

import datetime
from typing import Any

from kostyor_dsl.runtime.canvas import task_id, units_of


def iso_time(moment: float | None) -> str | None:
    if not moment:
        return None
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).isoformat(
        timespec="milliseconds"
    )


def status_document(store, run_id: str) -> dict[str, Any]:
    run = store.run(run_id)
    plan = store.plan(run_id)
    units = units_of(plan, run_id, run.route)
    records = store.steps(run_id, len(units))
    steps = []
    counts: dict[str, int] = {}
    for unit, record in zip(units, records, strict=True):
        state = record.state
        if run.state == "cancelled" and state in ("pending", "running"):
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
            }
        )
    return {
        "run": run.run_id,
        "state": run.state,
        "driver": run.driver,
        "route": run.route,
        "plan": run.plan_file,
        "created": iso_time(run.created),
        "updated": iso_time(run.updated),
        "error": run.error,
        "failed_step": run.failed_step,
        "summary": {"total": len(steps), **dict(sorted(counts.items()))},
        "steps": steps,
    }


def progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width if total == 0 else int(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def summary_line(document: dict[str, Any]) -> str:
    summary = document["summary"]
    done = summary.get("succeeded", 0)
    total = summary["total"]
    running = [step["id"] for step in document["steps"] if step["state"] == "running"]
    line = f"run {document['run']}: {document['state']}, {done}/{total} steps succeeded"
    if running:
        line += f", running {', '.join(running)}"
    if document["error"]:
        line += f" - {document['error'].splitlines()[0]}"
    return line


def render_status(document: dict[str, Any], *, tty: bool) -> str:
    lines = [summary_line(document)]
    if tty:
        done = document["summary"].get("succeeded", 0)
        lines.append(progress_bar(done, document["summary"]["total"]))
    width = len(str(len(document["steps"])))
    for step in document["steps"]:
        timing = f"{step['duration']:.1f}s" if step["duration"] is not None else ""
        line = f"  {step['index'] + 1:>{width}} {step['state']:<9} {timing:>7}  {step['id']}"
        if step["error"]:
            line += f"  ({step['error'].splitlines()[0]})"
        lines.append(line)
    return "\n".join(lines)
