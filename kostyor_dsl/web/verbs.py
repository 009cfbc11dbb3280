"""The control verbs as a page asks for them: `runtime.control`'s functions,
called as `kostyorc pause | resume | cancel | retry` calls them, with the
checks a page that may be out of date needs on top (a gate approved is the
gate the page showed; a cancel names the plan)."""

from __future__ import annotations

from kostyor_dsl.runtime import control
from kostyor_dsl.runtime.errors import RuntimeProblem

VERBS = ("pause", "resume", "approve", "cancel", "retry")


class Refused(RuntimeProblem):
    """A verb the page asked for on a state it no longer shows (a gate that is
    not the one it named, a cancel whose confirmation does not match)."""


def steer(store, control_app, run_id: str, name: str, body: dict) -> str:
    """Run the control verb as `kostyorc NAME RUN` does; its message."""
    if name == "pause":
        return control.pause(store, run_id)
    run = store.run(run_id)
    if name == "cancel":
        expected = run.plan_file or run_id
        if str(body.get("confirm", "")).strip() != expected:
            raise Refused(f"type the plan's name ({expected}) to cancel run {run_id}")
        return control.cancel(control_app(), store, run_id, now=bool(body.get("now")))
    if name == "approve":
        gate = body.get("gate")
        if run.state != "paused" or not run.gate:
            raise Refused(f"run {run_id} is {run.state} and waits at no gate")
        if gate != run.gate:
            raise Refused(f"run {run_id} waits at gate {run.gate}, not {gate}")
        return control.resume(control_app(), store, run_id)
    if name == "resume":
        if run.state == "paused" and run.gate:
            # The page showed no gate: passing one needs the operator to see it.
            raise Refused(f"run {run_id} waits at gate {run.gate}: approve the gate to go on")
        return control.resume(control_app(), store, run_id)
    return control.retry(control_app(), store, run_id)
