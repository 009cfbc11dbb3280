"""A simulation as text for a person and as JSON (`schemas/simulation.schema.json`)."""

from __future__ import annotations

import json

from kostyor_dsl.simulate.model import PathSegment, Simulation, StageTiming

FORMAT = "kostyor-simulation/1"


def clock(seconds: float) -> str:
    """`H:MM:SS` (rounded to the second), the way a window is planned."""
    total = round(seconds)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def span(seconds: float) -> str:
    """A duration for a sentence: `30 s`, `42 min`, `2 min 30 s`, `1 h 05 min`."""
    total = round(abs(seconds))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min" + (f" {total % 60} s" if total % 60 else "")
    minutes = round(total / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def stage_title(stage: StageTiming) -> str:
    if stage.kind == "batch":
        shown = ", ".join(stage.hosts[:4]) + (
            f" and {len(stage.hosts) - 4} more" if len(stage.hosts) > 4 else ""
        )
        lanes = "1 host" if stage.lanes == 1 else f"{stage.lanes} hosts in parallel"
        return (
            f"batch {stage.group}#{stage.batch}: {lanes} ({shown}), {_plural(stage.units, 'step')}"
        )
    if stage.kind == "gate":
        return f"gate {stage.first}"
    if stage.units == 1:
        return stage.first
    return f"{stage.first} .. {stage.last}, {_plural(stage.units, 'step')}"


def path_line(segment: PathSegment) -> str:
    where = f"stage {segment.stage + 1}"
    who = f" on {segment.host}" if segment.host else ""
    steps = segment.first if segment.units == 1 else f"{segment.first} .. {segment.last}"
    text = f"{clock(segment.start)}-{clock(segment.end)}  {where}{who}: {steps}"
    if segment.units > 1:
        text += f" ({segment.units} steps)"
    if segment.waited_for:
        text += f", after waiting for a worker ({segment.waited_for} ended)"
    return text


def render_text(result: Simulation, *, max_lines: int = 40) -> str:
    out = [
        f"simulation: strategy {result.strategy}, engine {result.engine}, "
        f"{_plural(result.steps, 'step')} in {_plural(len(result.stages), 'stage')}",
        f"timings: {result.timings.describe()}",
        f"workers: concurrency {result.concurrency} (at most {result.concurrency} "
        "steps at once, a batch's lanes served first come, first served)",
        f"window: {clock(result.duration)} ({result.duration:g} s)",
        "",
        "stages:",
    ]
    stages = result.stages
    shown = stages if len(stages) <= max_lines else stages[:max_lines]
    width = len(str(len(stages)))
    if not stages:
        out.append("  (none: the plan has no steps)")
    for stage in shown:
        out.append(
            f"  {stage.index + 1:>{width}}  {clock(stage.start)} - {clock(stage.end)}  "
            f"{clock(stage.duration):>8}  {stage_title(stage)}"
        )
    if len(shown) < len(stages):
        out.append(f"  ... and {len(stages) - len(shown)} more (--format json lists all)")
    out += ["", "critical path (what the window waits for):"]
    path = result.critical_path
    for segment in path[:max_lines]:
        out.append(f"  {path_line(segment)}")
    if len(path) > max_lines:
        out.append(f"  ... and {len(path) - max_lines} more (--format json lists all)")
    out += ["", "most hosts down at once:"]
    if not result.unavailable:
        out.append("  (no tier, group or budget: the plan names none)")
    for entry in result.unavailable:
        line = f"  {entry.kind} {entry.name}: {entry.most_down} of {entry.hosts}"
        if entry.at is not None:
            line += f" at {clock(entry.at)}"
        if entry.allowed is not None:
            verdict = (
                "EXCEEDED"
                if entry.exceeded
                else "NONE UP: every host of it down at once"
                if entry.emptied
                else "kept"
            )
            line += f" (allows {entry.allowed}: {verdict})"
        out.append(line)
    capacity = result.capacity
    out.append("")
    if capacity is None:
        tier = result.capacity_tier
        out.append(f"lowest {tier} capacity: the plan has no host of the {tier} tier")
    elif capacity.at is None:
        out.append(
            f"lowest {capacity.tier} capacity: {capacity.hosts} of {capacity.hosts} hosts up "
            "(100%) throughout"
        )
    else:
        share = 100 * capacity.lowest_up / capacity.hosts
        out.append(
            f"lowest {capacity.tier} capacity: {capacity.lowest_up} of {capacity.hosts} hosts "
            f"up ({share:.0f}%) from {clock(capacity.at)}, for {span(capacity.lasting)} in all"
        )
    for note in result.notes:
        out.append(f"note: {note}")
    return "\n".join(out) + "\n"


def _time(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def simulation_to_dict(result: Simulation) -> dict:
    capacity = result.capacity
    return {
        "format": FORMAT,
        "strategy": result.strategy,
        "engine": result.engine,
        "steps": result.steps,
        "concurrency": result.concurrency,
        "timings": result.timings.to_dict(),
        "duration": _time(result.duration),
        "stages": [
            {
                "index": stage.index,
                "kind": stage.kind,
                "group": stage.group,
                "batch": stage.batch,
                "hosts": list(stage.hosts),
                "lanes": stage.lanes,
                "steps": stage.units,
                "first": stage.first,
                "last": stage.last,
                "start": _time(stage.start),
                "end": _time(stage.end),
                "duration": _time(stage.duration),
            }
            for stage in result.stages
        ],
        "critical_path": [
            {
                "stage": segment.stage,
                "lane": segment.lane,
                "host": segment.host,
                "first": segment.first,
                "last": segment.last,
                "steps": segment.units,
                "start": _time(segment.start),
                "end": _time(segment.end),
                "waited_for": segment.waited_for,
            }
            for segment in result.critical_path
        ],
        "unavailable": [
            {
                "kind": entry.kind,
                "name": entry.name,
                "hosts": entry.hosts,
                "most_down": entry.most_down,
                "at": _time(entry.at),
                "allowed": entry.allowed,
                "exceeded": entry.exceeded,
            }
            for entry in result.unavailable
        ],
        "capacity": None
        if capacity is None
        else {
            "tier": capacity.tier,
            "hosts": capacity.hosts,
            "lowest_up": capacity.lowest_up,
            "lowest_fraction": round(capacity.lowest_up / capacity.hosts, 4)
            if capacity.hosts
            else None,
            "at": _time(capacity.at),
            "lasting": _time(capacity.lasting),
        },
        "notes": list(result.notes),
    }


def render_json(result: Simulation) -> str:
    return json.dumps(simulation_to_dict(result), indent=2, ensure_ascii=False) + "\n"
