"""`kostyorc simulate`: how long a plan's window is, and what stays up, before it runs.

The work is done in `kostyor_dsl.simulate`; this reads arguments, calls it
and writes the result.  It never imports Celery (the runtime's schedule is
pure, and `--from-run` reads the run store directly) nor matplotlib unless
`--plot` is given.  `add_window_arguments` and `window_from_args` give
`kostyorc diff` the same timing options.
"""

from __future__ import annotations

import argparse
import os
import sys

from kostyor_dsl.cli.errors import CliError
from kostyor_dsl.cli.output import write_output


def _seconds(text: str) -> float:
    from kostyor_dsl.simulate.timings import MAX_SECONDS

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 <= value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"expected 0 to {MAX_SECONDS} seconds (a year), got {text[:40]!r}"
        )
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {text!r}")
    return value


def add_window_arguments(parser: argparse.ArgumentParser, *, from_run: bool = False) -> None:
    """--step-seconds, --timings (or --from-run), --concurrency."""
    if not from_run:
        parser = parser.add_argument_group(
            "the window",
            "with any of these, both plans are simulated as `kostyorc simulate` does and "
            "the window's change is reported (docs/simulate.md)",
        )
    parser.add_argument(
        "--step-seconds",
        type=_seconds,
        default=None,
        metavar="N",
        help="seconds of every step nothing else times (default 60; wins over a timings "
        "file's `default`)",
    )
    source = parser.add_mutually_exclusive_group() if from_run else parser
    source.add_argument(
        "--timings",
        metavar="FILE",
        help="YAML/JSON seconds per service, action and host glob (docs/simulate.md)",
    )
    if from_run:
        source.add_argument(
            "--from-run",
            metavar="RUN",
            help="learn the timings from a run's recorded steps (median per service and action)",
        )
    parser.add_argument(
        "--concurrency",
        type=_workers,
        default=None,
        metavar="N",
        help="the workers' total concurrency: at most N steps at once, a batch's lanes "
        "served first come, first served (default 2, as `kostyorc worker`)",
    )


def _timings(args, *, exit_code: int):
    from kostyor_dsl.simulate import DEFAULT_STEP_SECONDS, Timings, TimingsError, read_timings

    if args.timings:
        try:
            return read_timings(args.timings, step_seconds=args.step_seconds), None
        except TimingsError as exc:
            raise CliError(str(exc), exit_code) from None
    if getattr(args, "from_run", None):
        return _learned(args)
    seconds = DEFAULT_STEP_SECONDS if args.step_seconds is None else args.step_seconds
    return Timings(default=seconds), None


def _learned(args):
    from kostyor_dsl.cli.runtime_commands import check_connection_urls
    from kostyor_dsl.runtime.errors import RuntimeProblem
    from kostyor_dsl.runtime.settings import resolve_settings
    from kostyor_dsl.runtime.store_factory import open_store
    from kostyor_dsl.simulate import DEFAULT_STEP_SECONDS
    from kostyor_dsl.simulate.from_run import learn_timings

    environment = dict(os.environ)
    if args.broker:
        environment["KOSTYOR_BROKER_URL"] = args.broker
    if args.backend:
        environment["KOSTYOR_BACKEND_URL"] = args.backend
    settings = resolve_settings(environment)
    check_connection_urls(settings)
    default = DEFAULT_STEP_SECONDS if args.step_seconds is None else args.step_seconds
    try:
        return learn_timings(open_store(settings), args.from_run, default=default)
    except RuntimeProblem as exc:
        raise CliError(exc.message, 1) from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] == "redis" or isinstance(exc, ConnectionError):
            from kostyor_dsl.runtime.settings import redact

            raise CliError(f"cannot reach {redact(settings.backend_url)}: {exc}", 1) from None
        raise


def window_from_args(args, old_plan: dict, new_plan: dict):
    """The diff's window change, or None when no timing option was given."""
    if args.timings is None and args.step_seconds is None and args.concurrency is None:
        return None
    from kostyor_dsl.simulate import DEFAULT_CONCURRENCY
    from kostyor_dsl.simulate.compare import window_change

    timings, _ = _timings(args, exit_code=2)
    return window_change(old_plan, new_plan, timings, args.concurrency or DEFAULT_CONCURRENCY)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="how long a plan's window is, and what stays up, before anything runs",
        description=(
            "Simulate a plan as the runtime runs it (its stages and lanes, at most N steps "
            "at once): the window, each stage's start and end, the critical path, "
            "the most hosts down at once per tier, group and budget, and the lowest compute "
            "capacity. Timings: --step-seconds for every step, a --timings file, or "
            "--from-run a past run. Exit status: 0, or 1 for a bad plan, timings file or run."
        ),
    )
    parser.add_argument("plan", metavar="PLAN", help="a plan file (YAML or JSON)")
    add_window_arguments(parser, from_run=True)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="draw the timeline and the hosts down over time (FILE.png or FILE.svg; "
        "needs matplotlib, the `plot` extra)",
    )
    parser.add_argument(
        "--capacity-tier",
        default="compute",
        metavar="TIER",
        help="the tier whose hosts up are the capacity (default compute)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--broker", metavar="URL", help="with --from-run: as for `kostyorc status`")
    parser.add_argument(
        "--backend", metavar="URL", help="with --from-run: as for `kostyorc status`"
    )
    parser.set_defaults(func=run_simulate)


def run_simulate(args) -> int:
    from kostyor_dsl.plan.read import PlanFileError, read_plan_file
    from kostyor_dsl.simulate import DEFAULT_CONCURRENCY, simulate_plan
    from kostyor_dsl.simulate.render import clock, render_json, render_text

    plot_format = None
    if args.plot:
        plot_format = os.path.splitext(args.plot)[1].lower().lstrip(".")
        if plot_format not in ("png", "svg"):
            raise CliError(f"--plot {args.plot}: the file must end in .png or .svg", 2)
    try:
        plan = read_plan_file(args.plan)
    except PlanFileError as exc:
        raise CliError(str(exc), 1) from None
    timings, sample = _timings(args, exit_code=1)
    result = simulate_plan(
        plan,
        timings,
        args.concurrency or DEFAULT_CONCURRENCY,
        capacity_tier=args.capacity_tier,
    )
    if sample is not None:
        note = (
            f"timings from run {sample.run_id} ({sample.state}): {sample.timed} of "
            f"{sample.units} steps timed"
        )
        if sample.done_elsewhere:
            shown = ", ".join(sample.done_elsewhere[:3])
            more = len(sample.done_elsewhere) - 3
            note += (
                f", {len(sample.done_elsewhere)} of them done elsewhere (another step of the "
                f"run did their work: {shown}{f' and {more} more' if more > 0 else ''})"
            )
        if sample.measured is not None:
            note += f", it took {clock(sample.measured)} ({sample.measured:g} s) from first start to last end"
        result = _with_note(result, note)
    if plot_format:
        from kostyor_dsl.simulate.plot import PlotUnavailable, plot_bytes

        try:
            data = plot_bytes(result, plot_format)
        except PlotUnavailable as exc:
            raise CliError(str(exc), 1) from None

        def write_binary(stream) -> None:
            stream.flush()
            stream.buffer.write(data)
            stream.buffer.flush()

        write_output(args.plot, write_binary)
    text = render_json(result) if args.format == "json" else render_text(result)
    write_output(args.output, lambda stream: stream.write(text))
    if args.output in (None, "-"):
        sys.stdout.flush()
    return 0


def _with_note(result, note: str):
    from dataclasses import replace

    return replace(result, notes=(*result.notes, note))
