"""The event simulation: the runtime's stages and lanes, timed, on N workers.

The schedule is the runtime's own (`runtime.canvas.schedule`: the same units,
stages and lanes a run sends).  The runtime's rule for time is:

- a stage starts when every lane of the stage before it has finished;
- a lane's units run one after another; when a unit ends, the next unit of
  its lane is published to the run's queue (a Celery chain link, or the
  lane's next segment), at the back;
- the workers' total concurrency N takes messages from that queue in the
  order they were published, one unit per worker process at a time
  (`acks_late`, prefetch 1);
- between a unit being ready with a worker free and its start, the runtime
  hands it over (`dispatch`: publishing, the broker's poll, the step task's
  own bookkeeping), whether the message waited in the queue or not.

So a stage is a FIFO queue served by N servers.  Units start in the order
they become ready, each on the worker that frees first; a heap of ready
units and a heap of free workers give every unit's start and end in
O(units log units).  The critical path follows, backwards from the last
unit to end, whatever decided each start: the unit before it in its lane,
the worker it waited for, or the end of the stage before.
"""

from __future__ import annotations

import heapq

from kostyor_dsl.runtime.canvas import Stage, Unit
from kostyor_dsl.simulate.model import PathSegment, StageTiming


def schedule_times(
    units: list[Unit],
    stages: list[Stage],
    durations: list[float],
    concurrency: int,
    dispatch: float = 0.0,
) -> tuple[list[float], list[float], list[int], list[bool]]:
    """Start and end of every unit, what decided its start (a unit index, or -1),
    and whether that was a worker becoming free."""
    count = len(units)
    start = [0.0] * count
    end = [0.0] * count
    cause = [-1] * count
    waited = [False] * count
    clock = 0.0
    previous_last = -1  # the unit that ended the stage before
    push, pop = heapq.heappush, heapq.heappop
    for stage in stages:
        lanes = stage.lanes
        if len(lanes) == 1:
            moment = clock
            before = previous_last
            for index in range(stage.first, stage.last + 1):
                start[index] = moment = moment + dispatch
                end[index] = moment = moment + durations[index]
                cause[index] = before
                before = index
            clock, previous_last = moment, stage.last
            continue
        ready = [(clock, number, lane.first) for number, lane in enumerate(lanes)]
        free = [(clock, -1)] * min(concurrency, len(lanes))
        lane_first = {lane.first for lane in lanes}
        order = len(lanes)
        stage_end, stage_last = clock, previous_last
        while ready:
            moment, _, index = pop(ready)
            available, freed_by = pop(free)
            if available > moment:
                moment = available
                cause[index] = freed_by
                waited[index] = True
            else:
                cause[index] = index - 1 if index not in lane_first else previous_last
            start[index] = moment = moment + dispatch
            end[index] = finish = moment + durations[index]
            push(free, (finish, index))
            if finish > stage_end or stage_last == previous_last:
                stage_end, stage_last = finish, index
            following = index + 1
            # The lanes are contiguous: the unit after a lane's last is another lane's first.
            if following <= stage.last and following not in lane_first:
                push(ready, (finish, order, following))
                order += 1
        clock, previous_last = stage_end, stage_last
    return start, end, cause, waited


def stage_timings(
    units: list[Unit], stages: list[Stage], start: list[float], end: list[float]
) -> list[StageTiming]:
    out = []
    for stage in stages:
        members = range(stage.first, stage.last + 1)
        if stage.parallel:
            kind = "batch"
            hosts = tuple(lane.host for lane in stage.lanes if lane.host is not None)
        else:
            kind = "gate" if all(units[i].kind == "gate" for i in members) else "sequence"
            seen: dict[str, None] = {}
            for index in members:
                for host in units[index].hosts:
                    seen.setdefault(host)
            hosts = tuple(seen)
        out.append(
            StageTiming(
                index=stage.index,
                kind=kind,
                group=stage.group,
                batch=stage.batch,
                hosts=hosts,
                lanes=len(stage.lanes),
                units=stage.last - stage.first + 1,
                first=units[stage.first].id,
                last=units[stage.last].id,
                start=min(start[i] for i in members),
                end=max(end[i] for i in members),
            )
        )
    return out


def critical_path(
    units: list[Unit],
    stages: list[Stage],
    start: list[float],
    end: list[float],
    cause: list[int],
    waited: list[bool],
) -> list[PathSegment]:
    """The chain of units that decides the window, as runs of one lane, first to last."""
    if not units:
        return []
    last = max(range(len(units)), key=lambda i: (end[i], -i))
    chain = []
    index = last
    while index != -1:
        chain.append(index)
        index = cause[index]
    chain.reverse()
    segments: list[PathSegment] = []
    run: list[int] = []

    def close() -> None:
        first, final = run[0], run[-1]
        unit = units[first]
        lane = stages[unit.stage].lanes[unit.lane]
        segments.append(
            PathSegment(
                stage=unit.stage,
                lane=unit.lane,
                host=lane.host,
                first=unit.id,
                last=units[final].id,
                units=len(run),
                start=start[first],
                end=end[final],
                waited_for=units[cause[first]].id if waited[first] else None,
            )
        )

    for index in chain:
        if run and (
            index != run[-1] + 1
            or waited[index]
            or (units[index].stage, units[index].lane)
            != (units[run[-1]].stage, units[run[-1]].lane)
        ):
            close()
            run = []
        run.append(index)
    if run:
        close()
    return segments
