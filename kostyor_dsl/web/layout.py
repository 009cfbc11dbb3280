"""The fixed part of a run page: the plan cut as the runtime runs it.

Stages come from `runtime.canvas.schedule` (the runtime's own cut), so the
page shows exactly the stages, batches and lanes the workers go through.
Pure functions over the plan; nothing here reads the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kostyor_dsl.runtime.canvas import Unit, schedule


@dataclass(frozen=True)
class StepRow:
    index: int
    id: str
    step_id: str
    kind: str
    hosts: tuple[str, ...]
    source: str
    message: str  # a gate's message
    no_return: bool


@dataclass(frozen=True)
class LaneView:
    host: str | None
    steps: tuple[StepRow, ...]


@dataclass(frozen=True)
class StageView:
    index: int
    kind: str  # batch, gate, sequence
    title: str
    group: str | None
    batch: int | None
    lanes: tuple[LaneView, ...]
    first: int
    last: int


@dataclass(frozen=True)
class RunLayout:
    run_id: str
    stages: tuple[StageView, ...]
    units: tuple[Unit, ...]
    no_return: str | None  # the id of the step that is the point of no return

    @property
    def count(self) -> int:
        return len(self.units)


def point_of_no_return(plan: dict[str, Any]) -> str | None:
    """The id of the plan's point of no return (`point_of_no_return: {step,
    action}`, see the plan schema), when the plan has one."""
    mark = plan.get("point_of_no_return")
    return mark.get("step") if isinstance(mark, dict) else None


def _stage_title(kind: str, units: list[Unit], group: str | None, batch: int | None) -> str:
    if kind == "batch":
        lanes = len({unit.hosts[0] for unit in units})
        return f"batch {group}#{batch}: {lanes} host{'s' if lanes != 1 else ''} in parallel"
    if kind == "gate":
        return f"gate {units[0].id}"
    kinds = sorted({unit.kind for unit in units})
    if kinds in (["pre-upgrade"], ["post-upgrade"]):
        return kinds[0]
    hosts = sorted({host for unit in units for host in unit.hosts})
    shown = ", ".join(hosts[:6]) + (f" and {len(hosts) - 6} more" if len(hosts) > 6 else "")
    return f"one after another: {shown}" if hosts else "one after another"


def run_layout(plan: dict[str, Any], run_id: str, route: str) -> RunLayout:
    units, stages = schedule(plan, run_id, route)
    steps = {step["id"]: step for step in plan["steps"]}
    no_return = point_of_no_return(plan)
    views = []
    for stage in stages:
        members = units[stage.first : stage.last + 1]
        if stage.parallel:
            kind = "batch"
        elif all(unit.kind == "gate" for unit in members):
            kind = "gate"
        else:
            kind = "sequence"
        lanes = []
        for lane in stage.lanes:
            rows = []
            for unit in units[lane.first : lane.last + 1]:
                step = steps[unit.step_id]
                rows.append(
                    StepRow(
                        index=unit.index,
                        id=unit.id,
                        step_id=unit.step_id,
                        kind=unit.kind,
                        hosts=unit.hosts,
                        source=str(step.get("source", "")),
                        message=str(step.get("message", "")),
                        no_return=no_return is not None and unit.step_id == no_return,
                    )
                )
            lanes.append(LaneView(lane.host, tuple(rows)))
        views.append(
            StageView(
                index=stage.index,
                kind=kind,
                title=_stage_title(kind, members, stage.group, stage.batch),
                group=stage.group,
                batch=stage.batch,
                lanes=tuple(lanes),
                first=stage.first,
                last=stage.last,
            )
        )
    return RunLayout(run_id, tuple(views), tuple(units), no_return)
