"""The canvas a run sends, as plain data, and its Celery form.

A plan becomes *units* (one task each), the units fall into *stages* that run
one after another, and each stage into *lanes* that run in parallel:

- consecutive units of one rollout batch (plan steps with the same `group`
  and `batch`) form one stage with one lane per host, each lane that host's
  units in plan order;
- every other run of consecutive units forms one stage with a single lane,
  run one unit after another exactly as the plan says (gates, pre- and
  post-upgrade steps and hosts in no group);
- a step that waits for a barrier (`waits_for`) starts a new stage, whatever
  its group and batch: nothing before a barrier runs in parallel with
  anything after it, even in a plan edited by hand.

Units are numbered in execution order: stage by stage, lane by lane, so a
stage and each of its lanes are contiguous ranges of unit indexes.  A lane
is cut into *segments*: runs of consecutive units bound for the same queue
and host, at most `SEGMENT_LIMIT` long.  Each segment is one Celery chain;
the last task of a segment publishes the next segment of its lane, and the
last lane of a stage to finish publishes the first segment of every lane of
the next stage.  A broker message therefore carries at most one segment,
whatever the plan's length.

A message carries only `(run_id, unit index, unit id)`: the worker reads the
plan from the run store, so a step with ten thousand hosts does not make its
message bigger either.

`describe` is pure and does not import Celery, so `kostyorc codegen` can
render exactly this canvas as a standalone module.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

STEP_TASK = "kostyor_dsl.runtime.step"
SEGMENT_LIMIT = 25
ROUTES = ("run", "per-host")

_SAFE_QUEUE_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Unit:
    """One task of a run: a plan step, or one host of it.

    A step is split into one unit per host (id `STEP@HOST` when it has
    several) with `--route per-host`, when it is a hook (a driver's action
    takes one host), and when it belongs to a rollout batch (its hosts run in
    parallel).  `stage` and `lane` place the unit in the run's schedule.
    """

    index: int
    id: str
    step_id: str
    kind: str
    hosts: tuple[str, ...]
    queue: str
    host_queue: str | None
    group: str | None = None
    batch: int | None = None
    stage: int = 0
    lane: int = 0


@dataclass(frozen=True)
class Lane:
    """Units `first..last` (inclusive) of one stage, run one after another."""

    index: int
    first: int
    last: int
    host: str | None = None


@dataclass(frozen=True)
class Stage:
    """Units `first..last`; its lanes run in parallel, the stage after it waits for all."""

    index: int
    first: int
    last: int
    lanes: tuple[Lane, ...]
    group: str | None = None
    batch: int | None = None

    @property
    def parallel(self) -> bool:
        return self.group is not None


@dataclass(frozen=True)
class TaskCall:
    """One link of a segment's chain: `app.signature(task, args, kwargs, **options)`."""

    segment: int
    index: int
    task: str
    task_id: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    index: int
    queue: str
    calls: tuple[TaskCall, ...]
    stage: int = 0
    lane: int = 0

    @property
    def first(self) -> int:
        return self.calls[0].index

    @property
    def last(self) -> int:
        return self.calls[-1].index


def queue_part(name: str) -> str:
    """A host name made safe for a queue name (and a file name on the embedded broker)."""
    if _SAFE_QUEUE_PART.match(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:40].strip("_")
    return f"{cleaned}-{digest}" if cleaned else digest


def run_queue(run_id: str) -> str:
    return f"kostyor.run.{run_id}"


def host_queue(run_id: str, host: str) -> str:
    return f"kostyor.run.{run_id}.host.{queue_part(host)}"


def task_id(run_id: str, unit_id: str) -> str:
    return f"{run_id}:{unit_id}"


def _plan_units(plan: dict, run_id: str, route: str) -> list[tuple]:
    """The plan's steps as units, in plan order, not yet numbered or staged:
    (id, step id, kind, hosts, queue, host queue, group, batch) each, made
    into `Unit`s once, by `_schedule`."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; expected one of {', '.join(ROUTES)}")
    units: list[tuple] = []
    append = units.append
    per_host = route == "per-host"
    queue = run_queue(run_id)
    for step in plan["steps"]:
        if step.get("waits_for"):
            append(_BARRIER)
        hosts = tuple(step.get("hosts") or ([step["host"]] if step.get("host") else ()))
        group, batch = step.get("group"), step.get("batch")
        in_batch = group is not None and batch is not None and bool(hosts)
        split = bool(hosts) and (per_host or step["kind"] == "hook" or in_batch)
        if not in_batch:
            group = batch = None
        step_id, kind = step["id"], step["kind"]
        if split:
            several = len(hosts) > 1
            for host in hosts:
                unit_id = f"{step_id}@{host}" if several else step_id
                if per_host:
                    own = host_queue(run_id, host)
                    append((unit_id, step_id, kind, (host,), own, own, group, batch))
                else:
                    append((unit_id, step_id, kind, (host,), queue, None, group, batch))
        else:
            append((step_id, step_id, kind, hosts, queue, None, None, None))
    return units


# A mark between units where a barrier lies: the units after it start a new stage.
_BARRIER = ("barrier",)


def _schedule(units: list[tuple]) -> tuple[list[Unit], list[Stage]]:
    """Number the units in execution order and group them into stages and lanes."""
    runs: list[tuple[tuple[str, int] | None, list[tuple]]] = []
    cut = False
    for unit in units:
        if unit is _BARRIER:
            cut = True
            continue
        key = (unit[6], unit[7]) if unit[6] is not None else None
        if runs and runs[-1][0] == key and not cut:
            runs[-1][1].append(unit)
        else:
            runs.append((key, [unit]))
        cut = False
    ordered: list[Unit] = []
    append = ordered.append
    stages: list[Stage] = []
    for key, members in runs:
        if key is None:
            lanes_units = [(None, members)]
        else:
            by_host: dict[str, list[tuple]] = {}
            for unit in members:
                by_host.setdefault(unit[3][0], []).append(unit)
            lanes_units = list(by_host.items())
        stage_first = len(ordered)
        stage = len(stages)
        lanes = []
        for number, (host, lane_units) in enumerate(lanes_units):
            first = len(ordered)
            for unit in lane_units:
                append(Unit(len(ordered), *unit, stage, number))
            lanes.append(Lane(number, first, len(ordered) - 1, host))
        stages.append(
            Stage(
                stage,
                stage_first,
                len(ordered) - 1,
                tuple(lanes),
                key[0] if key else None,
                key[1] if key else None,
            )
        )
    return ordered, stages


def units_of(plan: dict, run_id: str, route: str = "run") -> list[Unit]:
    """The plan's steps as units, in execution order."""
    return _schedule(_plan_units(plan, run_id, route))[0]


def stages_of(plan: dict, run_id: str, route: str = "run") -> list[Stage]:
    """The run's stages, in order; each unit's `stage` and `lane` index into them."""
    return _schedule(_plan_units(plan, run_id, route))[1]


def schedule(plan: dict, run_id: str, route: str = "run") -> tuple[list[Unit], list[Stage]]:
    """`units_of` and `stages_of` at once, cutting the plan once (`kostyorc simulate`,
    `status`, a run's context)."""
    return _schedule(_plan_units(plan, run_id, route))


def _segment_key(unit: Unit) -> tuple[Any, ...]:
    # One host's consecutive steps of one lane form one segment (node-by-node
    # puts a host's services together); a pre-upgrade or multi-host step
    # stands alone.
    hosts = unit.hosts if len(unit.hosts) == 1 else (f"#{unit.index}",)
    return (unit.stage, unit.lane, unit.queue, hosts)


def describe(plan: dict, run_id: str, route: str = "run") -> list[Segment]:
    """The run's canvas as plain data: its segments, in unit order.

    Every task is `STEP_TASK` with args `(run_id, unit_index, unit_id)`, no
    kwargs, task id `<run_id>:<unit_id>`, the queue of the run (or of the
    unit's host with `route="per-host"`), and no other options.  Segments of
    one stage's different lanes run at the same time.
    """
    return segments_of(units_of(plan, run_id, route), run_id)


def segments_of(units: list[Unit], run_id: str) -> list[Segment]:
    """`describe` of units already cut from the plan (`units_of`, `schedule`)."""
    segments: list[Segment] = []
    current: list[Unit] = []

    def close() -> None:
        if current:
            number = len(segments)
            calls = tuple(
                TaskCall(
                    segment=number,
                    index=unit.index,
                    task=STEP_TASK,
                    task_id=task_id(run_id, unit.id),
                    args=(run_id, unit.index, unit.id),
                    kwargs={},
                    queue=unit.queue,
                    options={},
                )
                for unit in current
            )
            first = current[0]
            segments.append(Segment(number, first.queue, calls, first.stage, first.lane))
            current.clear()

    for unit in units:
        if current and (
            _segment_key(unit) != _segment_key(current[-1]) or len(current) >= SEGMENT_LIMIT
        ):
            close()
        current.append(unit)
    close()
    return segments


def segment_of(segments: list[Segment], index: int) -> Segment:
    """The segment holding unit `index`."""
    low, high = 0, len(segments) - 1
    while low <= high:
        middle = (low + high) // 2
        segment = segments[middle]
        if index < segment.first:
            high = middle - 1
        elif index > segment.last:
            low = middle + 1
        else:
            return segment
    raise IndexError(f"no unit {index} in this run")


def tail_from(segments: list[Segment], index: int) -> Segment:
    """The rest of the segment holding unit `index`, starting at that unit."""
    segment = segment_of(segments, index)
    calls = tuple(call for call in segment.calls if call.index >= index)
    return Segment(segment.index, segment.queue, calls, segment.stage, segment.lane)


def signature_of(call: TaskCall, app):
    """The Celery signature of one `TaskCall` (immutable: a chain passes no results)."""
    return app.signature(
        call.task,
        args=call.args,
        kwargs=call.kwargs,
        task_id=call.task_id,
        queue=call.queue,
        immutable=True,
        **call.options,
    )


def signatures(segments: list[Segment], app) -> list:
    """Turn `describe()`'s output into Celery signatures.

    Returns one `celery.chain` per segment, in segment order.  Each link is
    `app.signature(call.task, args=call.args, kwargs=call.kwargs,
    task_id=call.task_id, queue=call.queue, immutable=True, **call.options)`.
    A one-unit segment is still a chain (of one link).  `kostyorc run` sends
    the first segment of each lane of the first stage with `apply_async()`;
    the step task sends each next segment of a lane when the last unit of the
    one before has succeeded, and the next stage's first segments when the
    last lane of a stage has finished, so the chains are never all on the
    broker at once.
    """
    from celery import chain

    return [chain(*(signature_of(call, app) for call in segment.calls)) for segment in segments]
