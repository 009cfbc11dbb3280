"""`kostyorc run | worker | pause | resume | cancel | status | runs | retry`.

Celery and kombu are imported inside the handlers only, so importing this
module (which `kostyorc compile` does) stays cheap.

Long because it is one argparse group of eight verbs sharing the broker and store options.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Iterator

from kostyor_dsl.cli.errors import CliError
from kostyor_dsl.gc_paused import gc_paused

FINISHED = ("succeeded", "failed", "cancelled")


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {text!r}")
    return value


def _connection_hint(url: str) -> str:
    if url.startswith(("redis://", "rediss://")):
        return "is redis-server running there?"
    if url.startswith(("amqp://", "pyamqp://")):
        return "is RabbitMQ running there, and are the user and password right?"
    return "check the URL"


@contextlib.contextmanager
def _user_errors(args: argparse.Namespace) -> Iterator[None]:
    """Turn the runtime's errors, and an unreachable broker or backend, into one message."""
    from kostyor_dsl.runtime.errors import RuntimeProblem
    from kostyor_dsl.runtime.settings import redact, resolve_settings

    try:
        yield
    except (CliError, BrokenPipeError, KeyboardInterrupt):
        raise
    except RuntimeProblem as exc:
        raise CliError(exc.message, 1) from None
    except Exception as exc:
        module = type(exc).__module__.split(".")[0]
        if module in ("redis", "kombu", "amqp") or isinstance(exc, ConnectionError | TimeoutError):
            settings = resolve_settings()
            url = settings.backend_url if module == "redis" else settings.broker_url
            raise CliError(
                f"cannot reach {redact(url)}: {exc} ({_connection_hint(url)}; "
                "without --broker/KOSTYOR_BROKER_URL kostyorc uses the embedded "
                "broker in the state folder, no server needed)",
                1,
            ) from None
        raise


def _apply_connection_flags(args: argparse.Namespace) -> None:
    if getattr(args, "broker", None):
        os.environ["KOSTYOR_BROKER_URL"] = args.broker
    if getattr(args, "backend", None):
        os.environ["KOSTYOR_BACKEND_URL"] = args.backend
    from kostyor_dsl.runtime.settings import resolve_settings

    check_connection_urls(resolve_settings())


USUAL_BROKER_SCHEMES = ("filesystem", "redis", "rediss", "amqp", "amqps", "pyamqp")


def check_connection_urls(settings) -> None:
    """A broker or backend URL that names nothing is the user's error, said before
    kombu or redis fail on it with a traceback.  kombu (its list of transports) is
    imported only for a scheme that is not one of the usual ones: `simulate` and
    `status` import no Celery."""
    from kostyor_dsl.runtime.settings import redact

    broker_schemes = USUAL_BROKER_SCHEMES
    if settings.broker_url.split(":", 1)[0] not in broker_schemes:
        from kombu.transport import TRANSPORT_ALIASES

        broker_schemes = tuple(TRANSPORT_ALIASES)
    for option, url, schemes in (
        ("--broker (or KOSTYOR_BROKER_URL)", settings.broker_url, broker_schemes),
        ("--backend (or KOSTYOR_BACKEND_URL)", settings.backend_url, ("redis", "rediss", "file")),
    ):
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            raise CliError(f"{option} {redact(url)!r} is not a URL: {exc}", 1) from None
        if parts.scheme not in schemes:
            known = ", ".join(sorted(s for s in schemes if s.islower()))
            raise CliError(
                f"{option} {redact(url)!r}: unknown scheme {parts.scheme!r} (known: {known})", 1
            )


def _runtime(args: argparse.Namespace):
    _apply_connection_flags(args)
    from kostyor_dsl.runtime import app as app_module

    return app_module


def _check_broker(app_module) -> None:
    from kostyor_dsl.runtime.settings import redact

    url = app_module.settings.broker_url
    connection = app_module.app.connection_for_write()
    try:
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.5, timeout=5
        )
    except Exception as exc:
        raise CliError(
            f"cannot reach the broker at {redact(url)}: {exc} ({_connection_hint(url)}; "
            "without --broker/KOSTYOR_BROKER_URL kostyorc uses the embedded broker "
            "in the state folder, no server needed)",
            1,
        ) from None
    finally:
        connection.release()


def _driver_choice(args: argparse.Namespace, plan: dict):
    from kostyor_dsl.runtime.drivers import (
        load_driver,
        load_parameters_file,
        parse_assignments,
    )

    name = args.driver or plan["driver"]["name"]
    parameters: dict = {}
    if name == plan["driver"]["name"]:
        parameters.update(plan["driver"]["parameters"])
    if args.parameters:
        try:
            parameters.update(load_parameters_file(args.parameters))
        except UnicodeDecodeError as exc:
            raise CliError(
                f"{args.parameters}: not UTF-8 text (byte {exc.start}); a parameters file "
                "is a YAML or JSON mapping",
                1,
            ) from None
    parameters.update(parse_assignments(args.param or []))
    return load_driver(name, parameters)


def _follow(store, run_id: str, *, tty: bool, interval: float = 0.5) -> dict:
    from kostyor_dsl.runtime.status import (
        progress_bar,
        status_document,
        steps_done,
        summary_line,
    )

    seen: dict[str, str] = {}
    last_state = None
    while True:
        document = status_document(store, run_id)
        total = document["summary"]["total"]
        if tty and document["state"] == "paused" and document.get("pause_reason"):
            if document["state"] != last_state:
                print(f"\nrun {run_id} paused: {document['pause_reason']}", file=sys.stderr)
        elif tty:
            done = steps_done(document["summary"])
            running = [step["id"] for step in document["steps"] if step["state"] == "running"]
            line = f"{progress_bar(done, total, 20)} {done}/{total} {document['state']}"
            if running:
                line += f": {', '.join(running)}"
            width = os.get_terminal_size(sys.stderr.fileno()).columns
            print("\r" + line[: width - 1].ljust(width - 1), end="", file=sys.stderr, flush=True)
        else:
            for step in document["steps"]:
                if step["state"] != "pending" and seen.get(step["id"]) != step["state"]:
                    seen[step["id"]] = step["state"]
                    timing = f" ({step['duration']:.1f}s)" if step["duration"] is not None else ""
                    error = f": {step['error'].splitlines()[0]}" if step["error"] else ""
                    print(
                        f"step {step['index'] + 1}/{total} {step['state']} {step['id']}{timing}{error}",
                        file=sys.stderr,
                        flush=True,
                    )
            if document["state"] != last_state and document["state"] not in FINISHED:
                reason = document.get("pause_reason") if document["state"] == "paused" else None
                suffix = f": {reason.splitlines()[0]}" if reason else ""
                print(f"run {run_id} {document['state']}{suffix}", file=sys.stderr, flush=True)
        last_state = document["state"]
        if document["state"] in FINISHED:
            if tty:
                print(file=sys.stderr)
            print(summary_line(document), file=sys.stderr)
            return document
        time.sleep(interval)


def _check_plan(args: argparse.Namespace, plan: dict, driver, text: str | None = None):
    """Everything `run` refuses, before the broker is even looked at."""
    from kostyor_dsl.runtime.errors import PlanRefused
    from kostyor_dsl.runtime.run_checks import check_run, stale_problems

    if (args.against is None) != (args.inventory is None):
        raise CliError("--against SPEC and --inventory INV go together", 2)
    checked = check_run(
        plan,
        driver,
        path=args.plan,
        allow_edited=args.allow_edited,
        allow_down=getattr(args, "allow_down", False),
        text=text,
    )
    if args.against is not None:
        stale = stale_problems(plan, args.against, args.inventory, args.strategy)
        if stale:
            lines = [
                f"{args.plan}: refused, nothing was submitted: the plan is stale: "
                f"{args.against} with {args.inventory} no longer compiles to it:",
                *(f"  - {problem}" for problem in stale),
                "  (compile the plan again and review it)",
            ]
            raise PlanRefused("\n".join(lines))
    if checked.edited:
        print(
            f"warning: {args.plan} was changed after `kostyorc compile` sealed it; "
            f"running it as it is (--allow-edited): {'; '.join(checked.edited)}",
            file=sys.stderr,
        )
    return checked


def run_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        from kostyor_dsl.runtime.plan_file import load_plan_and_text

        with gc_paused():  # reading, checking and cutting a big plan: see gc_paused
            plan, text = load_plan_and_text(args.plan)
            loaded = _driver_choice(args, plan)
            driver, parameters = loaded.name, loaded.parameters
            checked = _check_plan(args, plan, loaded, text)
            del text
            runtime = _runtime(args)
            from kostyor_dsl.runtime.control import submit

            _check_broker(runtime)
            store = runtime.get_store()
            run_id = submit(
                runtime.app,
                store,
                plan,
                driver=driver,
                parameters=parameters,
                route=args.route,
                plan_file=os.path.basename(args.plan),
                seal=checked.seal,
                edited="; ".join(checked.edited) or None,
                warn=lambda message: print(f"warning: {message}", file=sys.stderr),
            )
        if not args.wait:
            print(run_id)
            return 0
        print(
            f"run {run_id} submitted ({len(plan['steps'])} steps, driver {driver}); "
            f"following it (Ctrl-C stops following, not the run)",
            file=sys.stderr,
        )
        document = _follow(store, run_id, tty=sys.stderr.isatty())
        print(run_id)
        # A run that finished with failed hosts a group tolerated is not a success.
        if document["state"] == "succeeded" and not document["summary"].get("failed"):
            return 0
        return 1


def worker_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        if args.host:
            os.environ["KOSTYOR_WORKER_HOST"] = args.host
        runtime = _runtime(args)
        from kostyor_dsl.runtime.canvas import queue_part

        _check_broker(runtime)
        name = args.name or (f"kostyor-{queue_part(args.host)}@%h" if args.host else "kostyor@%h")
        argv = [
            "worker",
            f"--loglevel={args.loglevel}",
            f"--concurrency={args.concurrency}",
            f"--pool={args.pool}",
            f"--hostname={name}",
        ]
        runtime.app.worker_main(argv)
        return 0


def pause_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        from kostyor_dsl.runtime.control import pause

        runtime = _runtime(args)
        print(pause(runtime.get_store(), args.run))
        return 0


def resume_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        from kostyor_dsl.runtime.control import resume

        runtime = _runtime(args)
        _check_broker(runtime)
        print(resume(runtime.app, runtime.get_store(), args.run))
        return 0


def cancel_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        from kostyor_dsl.runtime.control import cancel

        runtime = _runtime(args)
        _check_broker(runtime)
        print(cancel(runtime.app, runtime.get_store(), args.run, now=args.now))
        return 0


def retry_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        from kostyor_dsl.runtime.control import retry

        runtime = _runtime(args)
        _check_broker(runtime)
        print(retry(runtime.app, runtime.get_store(), args.run))
        return 0


def _read_only_store(args: argparse.Namespace):
    """The run store, opened without the Celery app: `status` and `runs` only read,
    so they create nothing (the app makes the state folder when imported)."""
    _apply_connection_flags(args)
    from kostyor_dsl.runtime.settings import resolve_settings
    from kostyor_dsl.runtime.store_factory import open_store

    settings = resolve_settings()
    return settings, open_store(settings)


def _where_else(settings) -> str:
    """Where a run the store does not know may be: another broker, another folder."""
    if settings.embedded_broker and not settings.redis_backend:
        return (
            "runs submitted with --broker URL (or KOSTYOR_BROKER_URL) are kept by that "
            "broker's backend, not in this folder: pass the same --broker here; "
            "runs of the embedded broker are in the state folder of the directory they "
            "were submitted from (or $KOSTYOR_HOME)"
        )
    return (
        "give the --broker and --backend (or KOSTYOR_BROKER_URL, KOSTYOR_BACKEND_URL) "
        "the run was submitted with; without them kostyorc looks in the state folder "
        "(.kostyor/ or $KOSTYOR_HOME)"
    )


def status_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        from kostyor_dsl.language.printable import printable
        from kostyor_dsl.runtime.errors import UnknownRun
        from kostyor_dsl.runtime.status import render_status, status_document

        settings, store = _read_only_store(args)
        try:
            document = status_document(store, args.run)
        except UnknownRun as exc:
            raise CliError(
                f"{printable(exc.message)}\n  hint: {_where_else(settings)}", 1
            ) from None
        if args.format == "json":
            print(json.dumps(document, indent=2, sort_keys=True))
        else:
            print(render_status(_printable_document(document), tty=sys.stdout.isatty()))
        return 0


# In JSON text (ensure_ascii=False) a control character of `printable` shows as an
# escape (\u0000-\u001f but \t and \n; \b, \f, \r) or as itself (DEL, C1, U+2028/9).
_CONTROL_ESCAPE = re.compile(r"\\(?:u00[01]|[bfr])")
_RAW_CONTROL = re.compile(r"[\x7f-\x9f\u2028\u2029]")


def _printable_document(document):
    """The status document with control characters escaped in every string (host
    names and errors come from plans and drivers; render_status adds its own colours).

    One look at the document's JSON text first: a 100,000-step run's document
    is two million values, and they are almost never anything but printable.
    (A character class searched over megabytes is slow: ASCII text is asked
    only for DEL.)"""
    try:
        text = json.dumps(document, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON: look at every string
        return _escaped(document)
    if _CONTROL_ESCAPE.search(text) is None and (
        "\x7f" not in text if text.isascii() else _RAW_CONTROL.search(text) is None
    ):
        return document
    return _escaped(document)


def _escaped(value):
    from kostyor_dsl.language.printable import printable

    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    return value


def runs_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        from kostyor_dsl.language.printable import printable
        from kostyor_dsl.runtime.status import iso_time

        settings, store = _read_only_store(args)
        records, unreadable = store.list_runs()
        for run_id, problem in sorted(unreadable.items()):
            print(f"error: run {run_id} is unreadable: {problem}", file=sys.stderr)
        if args.format == "json":
            listed = [record.to_dict() for record in records]
            listed += [
                {"run_id": run_id, "state": "unreadable", "error": problem}
                for run_id, problem in sorted(unreadable.items())
            ]
            print(json.dumps(listed, indent=2, sort_keys=True))
            return 1 if unreadable else 0
        if not records and not unreadable:
            print(f"no runs in {store.describe()}")
            print(f"  hint: {_where_else(settings)}", file=sys.stderr)
            return 0
        print(
            f"{'RUN':<22}  {'STATE':<9} {'DONE':>13} {'DRIVER':<8} {'ROUTE':<8} {'CREATED':<29}  PLAN"
        )
        for record in records:
            done = f"{record.progress}/{record.unit_count}"
            if record.done_elsewhere:
                # Complete, but done by another step: never counted as ran.
                ran = record.progress - record.done_elsewhere
                done = f"{ran}+{record.done_elsewhere}/{record.unit_count}"
            print(
                printable(
                    f"{record.run_id:<22}  {record.state:<9} {done:>13} "
                    f"{record.driver:<8} {record.route:<8} {iso_time(record.created):<29}  "
                    f"{record.plan_file}"
                )
            )
        for run_id in sorted(unreadable):
            print(f"{run_id:<22}  {'unreadable':<9} {'?':>13} {'?':<8} {'?':<8} {'?':<29}  ?")
        return 1 if unreadable else 0


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--broker",
        metavar="URL",
        help="broker URL (default: $KOSTYOR_BROKER_URL, else the embedded filesystem:// "
        "broker in .kostyor/ or $KOSTYOR_HOME)",
    )
    parser.add_argument(
        "--backend",
        metavar="URL",
        help="result backend URL (default: $KOSTYOR_BACKEND_URL, else the Redis broker, "
        "else files in the state folder)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run",
        help="submit a plan to the workers and print the run id",
        description="Check PLAN, submit it, and print the run id (the last line of stdout). "
        "Refused, with nothing submitted, when the plan was edited after compile (its seal or "
        "a step id does not match), when a step names a host that is not a host name, when "
        "the driver with these parameters cannot perform a step, or (--against) when the "
        "current spec and inventory no longer compile to it.",
    )
    run.add_argument("plan", metavar="PLAN", help="a plan file (JSON or YAML)")
    run.add_argument("--driver", metavar="NAME", help="the upgrade driver (default: the plan's)")
    run.add_argument(
        "-p",
        dest="param",
        action="append",
        metavar="KEY=VALUE",
        help="a driver parameter (repeatable)",
    )
    run.add_argument(
        "--parameters", metavar="FILE", help="driver parameters, a YAML or JSON mapping"
    )
    run.add_argument(
        "--route",
        choices=("run", "per-host"),
        default="run",
        help="run: every step on the run's queue (workers on the deploy host); per-host: "
        "each host's steps on that host's queue (`kostyorc worker --host NAME` there)",
    )
    run.add_argument("--wait", action="store_true", help="follow the run to its end")
    run.add_argument(
        "--allow-edited",
        action="store_true",
        help="run a plan that was changed after `kostyorc compile` sealed it (or has no "
        "seal); the run record and `status` say so",
    )
    run.add_argument(
        "--allow-down",
        action="store_true",
        help="upgrade services the inventory records down (its `state`, from `kostyorc "
        "import`); without it such a plan is refused",
    )
    run.add_argument(
        "--against",
        metavar="SPEC",
        help="recompile SPEC with --inventory and refuse the plan unless it is exactly what "
        "they compile to now (a stale plan is refused)",
    )
    run.add_argument("--inventory", "-i", metavar="INV", help="the inventory for --against")
    run.add_argument(
        "--strategy",
        metavar="NAME",
        help="the strategy for --against (default: the plan's own)",
    )
    _connection_options(run)
    run.set_defaults(func=run_command)

    worker = subparsers.add_parser(
        "worker",
        help="start a Celery worker for kostyor runs",
        description="Start a Celery worker consuming the queues of running and paused runs "
        "(the same as `celery -A kostyor_dsl.runtime.app worker`).",
    )
    worker.add_argument(
        "--host", metavar="NAME", help="also run this host's steps of per-host runs"
    )
    worker.add_argument(
        "--concurrency",
        type=_at_least_one,
        default=2,
        metavar="N",
        help="how many steps this worker runs at once (default 2): the hosts of a parallel "
        "batch need as many worker slots, in all workers together, as the batch has hosts",
    )
    worker.add_argument(
        "--pool",
        default="prefork",
        choices=("prefork", "threads", "solo"),
        help="how the worker runs steps (Celery's pool): prefork, a process per slot "
        "(default; a step that crashes or hangs does not take the worker down); threads, "
        "threads in one process (lighter, for drivers that wait on commands); solo, one "
        "step at a time in the worker's own process (debugging; ignores --concurrency)",
    )
    worker.add_argument(
        "--loglevel",
        default="info",
        type=str.lower,
        choices=("debug", "info", "warning", "error", "critical"),
        help="how much the worker logs (default info)",
    )
    worker.add_argument(
        "--name", metavar="NODENAME", help="Celery node name (default kostyor[-HOST]@%%h)"
    )
    _connection_options(worker)
    worker.set_defaults(func=worker_command)

    for name, handler, text in (
        ("pause", pause_command, "no new step of the run starts (durable)"),
        (
            "resume",
            resume_command,
            "continue a paused run from its next step (past its gate, or past a failure "
            "threshold: failed hosts stay failed)",
        ),
        (
            "retry",
            retry_command,
            "re-run a failed run from its failed step; with failed hosts in rollout groups, "
            "re-run their failed and skipped steps first, then go on",
        ),
    ):
        command = subparsers.add_parser(name, help=text, description=text)
        command.add_argument("run", metavar="RUN", help="the run id")
        _connection_options(command)
        command.set_defaults(func=handler)

    cancel = subparsers.add_parser(
        "cancel",
        help="stop a run for good: no further step starts",
        description=(
            "Cancel RUN: no further step of it starts, and it cannot be resumed (use "
            "`pause` to stop for a while).  The step running now finishes, unless --now "
            "is given.  Prints the run's new state."
        ),
        epilog="Exit status: 0 cancelled (or already finished), 1 no such run or the broker "
        "cannot be reached.",
    )
    cancel.add_argument("run", metavar="RUN", help="the run id (`kostyorc runs` lists them)")
    cancel.add_argument(
        "--now",
        action="store_true",
        help="also terminate the step running now (its host may be left half-upgraded: "
        "`status` names it)",
    )
    _connection_options(cancel)
    cancel.set_defaults(func=cancel_command)

    status = subparsers.add_parser(
        "status",
        help="the state of a run and of each of its steps",
        description=(
            "Show RUN: its state (running, paused and why, succeeded, failed, cancelled), "
            "how many steps succeeded, and every step with its state, host, duration and "
            "error.  Only reads the run record: it creates nothing and needs no worker.  "
            "Give the same --broker/--backend (or KOSTYOR_BROKER_URL) the run was "
            "submitted with."
        ),
        epilog="Exit status: 0 shown, 1 no such run (with a hint where else it may be) "
        "or the backend cannot be reached.",
    )
    status.add_argument("run", metavar="RUN", help="the run id (`kostyorc runs` lists them)")
    status.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), json for tools (schemas/status.schema.json)",
    )
    _connection_options(status)
    status.set_defaults(func=status_command)

    runs = subparsers.add_parser(
        "runs",
        help="list the runs known to this backend",
        description=(
            "List the runs in the run store (the state folder, or the --backend / Redis "
            "--broker given): id, state, progress, driver, route, creation time and plan "
            "file, oldest first.  Only reads: it creates nothing."
        ),
        epilog="Exit status: 0 listed (also when there are none), 1 the backend cannot be reached.",
    )
    runs.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text, a table (default), or json, a list of run records",
    )
    _connection_options(runs)
    runs.set_defaults(func=runs_command)
