"""The canvas a run sends, as plain data, and its Celery form.

A plan becomes *units* (one task each), and the units become *segments*: runs
of consecutive units bound for the same queue and host, at most
`SEGMENT_LIMIT` long.  Each segment is one Celery chain; only one segment is
on the broker at a time, and the last task of a segment publishes the next.
A broker message therefore carries at most one segment, whatever the plan's
length, instead of the whole rest of the plan as one plain chain would.

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
    """One task of a run: a plan step, or one host of it with `--route per-host`."""

    index: int
    id: str
    step_id: str
    kind: str
    hosts: tuple[str, ...]
    queue: str
    host_queue: str | None


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


def units_of(plan: dict, run_id: str, route: str = "run") -> list[Unit]:
    """The plan's steps as units, in execution order."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; expected one of {', '.join(ROUTES)}")
    units: list[Unit] = []
    for step in plan["steps"]:
        hosts = tuple(step.get("hosts") or ([step["host"]] if step.get("host") else ()))
        if route == "per-host" and hosts:
            split = len(hosts) > 1
            for host in hosts:
                queue = host_queue(run_id, host)
                unit_id = f"{step['id']}@{host}" if split else step["id"]
                units.append(
                    Unit(len(units), unit_id, step["id"], step["kind"], (host,), queue, queue)
                )
        else:
            units.append(
                Unit(
                    len(units), step["id"], step["id"], step["kind"], hosts, run_queue(run_id), None
                )
            )
    return units


def _segment_key(unit: Unit) -> tuple[str, tuple[str, ...]]:
    # One host's consecutive steps form one segment (node-by-node puts a
    # host's services together); a pre-upgrade or multi-host step stands alone.
    return (unit.queue, unit.hosts if len(unit.hosts) == 1 else (f"#{unit.index}",))


def describe(plan: dict, run_id: str, route: str = "run") -> list[Segment]:
    """The run's canvas as plain data: its segments, in order.

    Every task is `STEP_TASK` with args `(run_id, unit_index, unit_id)`, no
    kwargs, task id `<run_id>:<unit_id>`, the queue of the run (or of the
    unit's host with `route="per-host"`), and no other options.
    """
    units = units_of(plan, run_id, route)
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
            segments.append(Segment(number, current[0].queue, calls))
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
    return Segment(segment.index, segment.queue, calls)


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
    only the first chain with `apply_async()`; the step task sends each next
    one when the last unit of the previous segment has succeeded, so the
    chains are never all on the broker at once.
    """
    from celery import chain

    return [chain(*(signature_of(call, app) for call in segment.calls)) for segment in segments]
