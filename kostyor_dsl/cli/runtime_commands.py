"""`kostyorc run | worker | pause | resume | cancel | status | runs | retry`.

Celery and kombu are imported inside the handlers only, so importing this
module (which `kostyorc compile` does) stays cheap.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator

from kostyor_dsl.cli.errors import CliError

FINISHED = ("succeeded", "failed", "cancelled")


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


def _driver_choice(args: argparse.Namespace, plan: dict) -> tuple[str, dict]:
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
        parameters.update(load_parameters_file(args.parameters))
    parameters.update(parse_assignments(args.param or []))
    driver = load_driver(name, parameters)
    return name, driver.parameters


def _follow(store, run_id: str, *, tty: bool, interval: float = 0.5) -> dict:
    from kostyor_dsl.runtime.status import progress_bar, status_document, summary_line

    seen: dict[str, str] = {}
    last_state = None
    while True:
        document = status_document(store, run_id)
        total = document["summary"]["total"]
        if tty and document["state"] == "paused" and document.get("pause_reason"):
            if document["state"] != last_state:
                print(f"\nrun {run_id} paused: {document['pause_reason']}", file=sys.stderr)
        elif tty:
            done = document["summary"].get("succeeded", 0)
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


def run_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        from kostyor_dsl.runtime.plan_file import load_plan

        plan = load_plan(args.plan)
        driver, parameters = _driver_choice(args, plan)
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


def status_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        from kostyor_dsl.runtime.status import render_status, status_document

        runtime = _runtime(args)
        document = status_document(runtime.get_store(), args.run)
        if args.format == "json":
            print(json.dumps(document, indent=2, sort_keys=True))
        else:
            print(render_status(document, tty=sys.stdout.isatty()))
        return 0


def runs_command(args: argparse.Namespace) -> int:
    with _user_errors(args):
        from kostyor_dsl.runtime.status import iso_time

        runtime = _runtime(args)
        store = runtime.get_store()
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
            return 0
        print(
            f"{'RUN':<22}  {'STATE':<9} {'DONE':>13} {'DRIVER':<8} {'ROUTE':<8} {'CREATED':<29}  PLAN"
        )
        for record in records:
            done = f"{record.progress}/{record.unit_count}"
            print(
                f"{record.run_id:<22}  {record.state:<9} {done:>13} "
                f"{record.driver:<8} {record.route:<8} {iso_time(record.created):<29}  {record.plan_file}"
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
        description="Validate PLAN, submit it, and print the run id (the last line of stdout).",
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
    worker.add_argument("--concurrency", type=int, default=2, metavar="N")
    worker.add_argument("--pool", default="prefork", choices=("prefork", "threads", "solo"))
    worker.add_argument("--loglevel", default="info")
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
        "cancel", help="stop a run for good", description="No further step of the run starts."
    )
    cancel.add_argument("run", metavar="RUN")
    cancel.add_argument("--now", action="store_true", help="also terminate the running step")
    _connection_options(cancel)
    cancel.set_defaults(func=cancel_command)

    status = subparsers.add_parser("status", help="the state of a run and of each step")
    status.add_argument("run", metavar="RUN")
    status.add_argument("--format", choices=("text", "json"), default="text")
    _connection_options(status)
    status.set_defaults(func=status_command)

    runs = subparsers.add_parser("runs", help="the runs known to this backend")
    runs.add_argument("--format", choices=("text", "json"), default="text")
    _connection_options(runs)
    runs.set_defaults(func=runs_command)
