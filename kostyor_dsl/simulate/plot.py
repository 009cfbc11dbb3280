"""The picture of a simulation: the timeline of stages and lanes, and what is down.

Top: a Gantt chart.  With few hosts, one row per host (and one for the steps
on no host), each unit a bar coloured by its group; with many, one row per
group, each stage a bar.  Gates are dotted lines.  Bottom: hosts down over time per tier,
group and budget, a budget's allowance dashed.

Needs matplotlib (the `plot` extra); imported only here, only when asked.
"""

from __future__ import annotations

import io

from kostyor_dsl.simulate.model import Simulation
from kostyor_dsl.simulate.render import clock

FORMATS = ("png", "svg")
MAX_HOST_ROWS = 40
MAX_UNIT_BARS = 5000
_OTHER = "(no host)"


class PlotUnavailable(Exception):
    """matplotlib is not installed."""


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable(
            "--plot needs matplotlib: pip install 'kostyor-dsl[plot]' (or matplotlib)"
        ) from None
    matplotlib.use("Agg", force=True)
    matplotlib.rcParams["svg.hashsalt"] = "kostyor"
    import matplotlib.pyplot as pyplot

    return pyplot


# Tick spacings a window is read in: 10 s ... 1 day.
_TICKS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def _tick_spacing(duration: float) -> float:
    return next((step for step in _TICKS if duration / step <= 12), _TICKS[-1] * 7)


def _tick_label(seconds: float, _position=None) -> str:
    total = round(seconds)
    if total % 60:
        return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"
    return f"{total // 3600}:{total % 3600 // 60:02d}"


MAX_PANELS = 8


def _panels(result: Simulation):
    """The tiers, budgets and groups to draw under the timeline, one panel each:
    a group with exactly a tier's hosts is that tier's panel, not another."""
    order = {"tier": 0, "budget": 1, "group": 2}
    chosen: list[tuple[str, object]] = []
    seen: dict[tuple, int] = {}
    for entry in sorted(result.unavailable, key=lambda e: (order[e.kind], e.name)):
        if not entry.hosts:
            continue
        key = (entry.hosts, entry.series, entry.allowed)
        if key in seen:
            label, first = chosen[seen[key]]
            chosen[seen[key]] = (f"{label} = {entry.kind} {entry.name}", first)
            continue
        seen[key] = len(chosen)
        chosen.append((f"{entry.kind} {entry.name}", entry))
    return chosen[:MAX_PANELS], max(0, len(chosen) - MAX_PANELS)


def plot_bytes(result: Simulation, fmt: str, title: str | None = None) -> bytes:
    """The picture as PNG or SVG bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown plot format {fmt!r}; expected png or svg")
    pyplot = _matplotlib()
    panels, left_out = _panels(result)
    divisor, unit_name = 1.0, "time from the start (h:mm)"
    end = max(result.duration, 1e-9)
    rows, bars, colours_of = _timeline(result)
    rows = rows or ["(no steps)"]
    height_top = max(2.0, 0.26 * len(rows) + 0.9)
    ratios = [height_top] + [0.75] * len(panels)
    figure = pyplot.figure(figsize=(11, sum(ratios) + 1.2), dpi=100)
    grid = figure.add_gridspec(len(ratios), 1, height_ratios=ratios, hspace=0.15)
    top = figure.add_subplot(grid[0])
    palette = pyplot.get_cmap("tab10")
    for row, spans, colour_key in bars:
        top.broken_barh(
            [(start / divisor, width / divisor) for start, width in spans],
            (row - 0.38, 0.76),
            facecolors=palette(colours_of[colour_key] % 10),
            edgecolors="white",
            linewidth=0.4,
        )
    top.set_yticks(range(len(rows)))
    top.set_yticklabels(rows, fontsize=8)
    top.set_ylim(len(rows) - 0.5, -0.5)
    top.set_xlim(0, end)
    top.grid(axis="x", color="#dddddd", linewidth=0.6)
    top.set_axisbelow(True)
    gates = [stage for stage in result.stages if stage.kind == "gate"]
    names = sorted(colours_of, key=colours_of.get)
    top.legend(
        [pyplot.Rectangle((0, 0), 1, 1, color=palette(colours_of[n] % 10)) for n in names],
        names,
        loc="upper right",
        fontsize=7,
        framealpha=0.9,
    )
    heading = title or (
        f"{result.strategy}: window {clock(result.duration)} "
        f"({result.steps} steps, concurrency {result.concurrency})"
    )
    top.set_title(heading, fontsize=10, loc="left")
    axes = [top]
    for number, (label, entry) in enumerate(panels, 1):
        panel = figure.add_subplot(grid[number], sharex=top)
        xs = [moment / divisor for moment, _ in entry.series] + [end]
        ys = [count for _, count in entry.series] + [entry.series[-1][1]]
        colour = pyplot.get_cmap("Dark2")((number - 1) % 8)
        panel.fill_between(xs, ys, step="post", color=colour, alpha=0.35, linewidth=0)
        panel.step(xs, ys, where="post", color=colour, linewidth=1.2)
        if entry.allowed is not None:
            panel.axhline(entry.allowed, color="#b00000", linestyle="--", linewidth=1)
            label += f", allows {entry.allowed}"
        panel.set_ylim(0, entry.hosts * 1.08)
        panel.set_yticks(sorted({0, entry.most_down, entry.hosts}))
        panel.tick_params(axis="y", labelsize=7)
        panel.grid(axis="x", color="#dddddd", linewidth=0.6)
        panel.text(
            0.005,
            0.93,
            f"{label}: down at most {entry.most_down} of {entry.hosts}",
            transform=panel.transAxes,
            fontsize=7.5,
            va="top",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
        axes.append(panel)
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    top.xaxis.set_major_locator(MultipleLocator(_tick_spacing(end)))
    top.xaxis.set_major_formatter(FuncFormatter(_tick_label))
    for axis in axes:
        for stage in gates:
            axis.axvline(stage.start / divisor, color="#444444", linestyle=":", linewidth=1.2)
        if axis is not axes[-1]:
            axis.tick_params(axis="x", labelbottom=False)
    if gates:
        top.annotate(
            "gate",
            (gates[0].start / divisor, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -10),
            textcoords="offset points",
            fontsize=7,
            color="#444444",
        )
    footer = unit_name + (
        f"  ({left_out} more tiers, groups or budgets not drawn)" if left_out else ""
    )
    axes[-1].set_xlabel(footer, fontsize=8)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": "kostyor_dsl"}
    figure.savefig(buffer, format=fmt, bbox_inches="tight", metadata=metadata)
    pyplot.close(figure)
    return buffer.getvalue()


def _timeline(result: Simulation):
    """Row labels, (row, [(start, width)], colour key) bars, and colour key -> number."""
    stage_of = {stage.index: stage for stage in result.stages}
    colours: dict[str, int] = {}

    host_rows: dict[str, int] = {}
    for stage in result.stages:
        for host in stage.hosts:
            host_rows.setdefault(host, len(host_rows))
    by_host = len(host_rows) <= MAX_HOST_ROWS and len(result.unit_ids) <= MAX_UNIT_BARS
    bars: dict[tuple[int, str], list[tuple[float, float]]] = {}
    if by_host:
        rows = [*host_rows, _OTHER]
        for index in range(len(result.unit_ids)):
            stage = stage_of[result.unit_stage[index]]
            colour = _colour_key(stage)
            width = result.unit_end[index] - result.unit_start[index]
            if width <= 0:
                continue
            for host in result.unit_hosts[index] or (_OTHER,):
                row = host_rows.get(host, len(host_rows))
                bars.setdefault((row, colour), []).append((result.unit_start[index], width))
        if not any(row == len(host_rows) for row, _ in bars):
            rows.pop()
    else:
        # Too many hosts for a row each: one row per group (and one for the rest),
        # each stage a bar in its row.
        row_of: dict[str, int] = {}
        for stage in result.stages:
            if stage.duration > 0:
                colour = _colour_key(stage)
                row = row_of.setdefault(colour, len(row_of))
                bars.setdefault((row, colour), []).append((stage.start, stage.duration))
        rows = [_row_label(name, result) for name in row_of]
    for _, colour in bars:
        colours.setdefault(colour, len(colours))
    return rows, [(row, spans, colour) for (row, colour), spans in bars.items()], colours


def _colour_key(stage) -> str:
    if stage.kind == "batch":
        return f"group {stage.group}"
    return "gate" if stage.kind == "gate" else "one after another"


def _row_label(name: str, result: Simulation) -> str:
    stages = [s for s in result.stages if s.kind == "batch" and f"group {s.group}" == name]
    if stages:
        hosts = sum(stage.lanes for stage in stages)
        plural = "batch" if len(stages) == 1 else "batches"
        return f"{name[len('group ') :]}: {len(stages)} {plural}, {hosts} hosts"
    return name
