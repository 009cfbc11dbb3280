"""What changes on a run page, read from the run store through `status_document`
(the document `kostyorc status --format json` prints), and the difference
between two readings.

A snapshot is plain JSON-able data: `run` (the run's state, why it paused,
its gate, the verbs its state accepts, budgets with their headroom now, ...)
and `steps` (per step: state, start, end, attempts, the tail of its output).
The page is the layout plus the last snapshot; an event is the part of a
snapshot that changed.
"""

from __future__ import annotations

import json
from typing import Any

from kostyor_dsl.runtime.control import available_verbs
from kostyor_dsl.runtime.status import status_document, steps_done, summary_line

TAIL_LINES = 3
TAIL_CHARS = 400


def output_text(step: dict[str, Any]) -> str:
    """Everything a step left to read: its error (the failing command and its
    output, as the driver reported it), else its result's output."""
    if step.get("error"):
        return str(step["error"])
    result = step.get("result")
    if result is None:
        return ""
    if isinstance(result, dict) and isinstance(result.get("hosts"), list):
        parts = []
        for item in result["hosts"]:
            if isinstance(item, dict) and item.get("output"):
                parts.append(str(item["output"]))
        if parts:
            return "\n".join(parts)
    if isinstance(result, str):
        return result
    return json.dumps(result, sort_keys=True)


def output_tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    tail = "\n".join(lines[-TAIL_LINES:])
    if len(tail) > TAIL_CHARS:
        tail = "…" + tail[-TAIL_CHARS:]
    return tail


def _step_state(step: dict[str, Any]) -> dict[str, Any]:
    text = output_text(step)
    tail = output_tail(text)
    progress = step.get("progress") or {}
    return {
        "state": step["state"],
        "started": step["started"],
        "finished": step["finished"],
        "duration": step["duration"],
        "attempts": step["attempts"],
        "tail": tail,
        "more": len(text) > len(tail) or "\n" in text,
        "progress": progress.get("summary") if isinstance(progress, dict) else None,
    }


def _headroom(plan: dict[str, Any], document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each budget with the hosts down now (failed, or in a running step) and
    how many more it allows."""
    running = {
        host for step in document["steps"] if step["state"] == "running" for host in step["hosts"]
    }
    members = {budget["name"]: set(budget["hosts"]) for budget in plan.get("budgets") or ()}
    out = []
    for budget in document["budgets"]:
        failed = set(budget["failed_hosts"])
        upgrading = sorted((running & members.get(budget["name"], set())) - failed)
        down = len(failed) + len(upgrading)
        out.append(
            {
                **budget,
                "upgrading": upgrading,
                "down": down,
                "headroom": budget["allowed"] - down,
            }
        )
    return out


def read_snapshot(store, run_id: str, plan: dict[str, Any]) -> dict:
    """The run as the store has it now (raises the store's errors)."""
    document = status_document(store, run_id)
    record = store.run(run_id)
    steps = [_step_state(step) for step in document["steps"]]
    # `status` says whether the run is past the plan's point of no return.
    no_return = document.get("point_of_no_return") or {}
    run = {
        "state": document["state"],
        "line": summary_line(document),
        "pause_reason": document["pause_reason"],
        "gate": document["gate"],
        "error": document["error"],
        "failed_step": document["failed_step"],
        "summary": document["summary"],
        "done": steps_done(document["summary"]),
        "total": document["summary"]["total"],
        "stage": document["stage"],
        "updated": document["updated"],
        "verbs": sorted(available_verbs(record)),
        "groups": document["groups"],
        "budgets": _headroom(plan, document),
        "batches": {str(batch["stage"]): batch["state"] for batch in document["batches"]},
        "no_return": no_return.get("step"),
        "no_return_passed": no_return.get("passed"),
        "disabled": document.get("hosts_left_disabled") or [],
    }
    return {"run": run, "steps": steps, "document": document}


def changes(before: dict | None, after: dict) -> dict | None:
    """What changed from `before` to `after` (None: nothing): the run's fields
    whole, the steps that changed by index."""
    if before is None:
        return {"run": after["run"], "steps": dict(enumerate(after["steps"]))}
    steps = {
        index: step
        for index, (old, step) in enumerate(zip(before["steps"], after["steps"], strict=True))
        if old != step
    }
    run = after["run"] if before["run"] != after["run"] else None
    if not steps and run is None:
        return None
    return {"run": run, "steps": steps}
