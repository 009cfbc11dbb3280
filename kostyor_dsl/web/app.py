"""The Starlette application of `kostyorc serve`: pages, events, control verbs.

Every route reads through the run store the settings name (`runtime.store_factory`)
and every verb is the `runtime.control` function `kostyorc pause | resume |
cancel | retry` calls, answering with its message; a verb the run's state
does not accept answers 409 with the message the CLI prints.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kostyor_dsl.runtime.errors import InvalidTransition, RuntimeProblem, UnknownRun
from kostyor_dsl.runtime.status import iso_time, status_document
from kostyor_dsl.web.layout import run_layout
from kostyor_dsl.web.live import Feed, describe_store_error
from kostyor_dsl.web.security import COOKIE, Guard
from kostyor_dsl.web.snapshot import changes, output_text, read_snapshot
from kostyor_dsl.web.verbs import VERBS, Refused, steer
from kostyor_dsl.web.window import FINISHED, expected_window, run_window

# A run page reads the whole record at least this often, whatever the fingerprint says.
REREAD = 5.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class ServeState:
    """What the application serves from: the store, the Celery app (for the
    verbs that publish), and the guard."""

    store: Any
    guard: Guard
    control_app: Callable[[], Any]  # the Celery app, imported on first use
    interval: float = 0.25
    feeds: dict[str, Feed] = field(default_factory=dict)
    layouts: dict[str, Any] = field(default_factory=dict)
    plans: dict[str, dict] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)
    list_feed: Feed | None = None


def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("kostyor_dsl.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _run_reader(state: ServeState, run_id: str) -> Callable[[], dict]:
    plan = state.plans[run_id]
    memo: dict[str, Any] = {"key": None, "window": None, "print": None, "reading": None}

    def read() -> dict:
        # Reading and checking every record of a 2,000-step run takes a good
        # part of a second; most polls find nothing changed, which the store's
        # fingerprint tells for the price of a directory listing (or one
        # unparsed Redis read).  A reading is taken at least every REREAD s.
        mark = state.store.fingerprint(run_id)
        if (
            memo["reading"] is not None
            and memo["window"] is not None
            and mark == memo["print"]
            and time.monotonic() - memo["at"] < REREAD
        ):
            return memo["reading"]
        snapshot = read_snapshot(state.store, run_id, plan)
        document = snapshot.pop("document")
        finished = sum(1 for step in document["steps"] if step["state"] in FINISHED)
        # The ETA changes with what finished, not with what started.  The first
        # reading (the page's first paint) goes without: two simulations of a
        # large plan are the next reading's work.
        key = (document["state"], finished)
        if memo["reading"] is not None and key != memo["key"]:
            window = run_window(state.store, run_id, plan, document, _expected(state, run_id))
            memo["key"], memo["window"] = key, window.to_dict()
        snapshot["run"]["window"] = memo["window"]
        memo["print"], memo["reading"], memo["at"] = mark, snapshot, time.monotonic()
        return snapshot

    return read


def _list_reader(state: ServeState) -> Callable[[], dict]:
    etas: dict[tuple, Any] = {}

    def read() -> dict:
        records, unreadable = state.store.list_runs()
        rows = []
        for record in records:
            plan = _plan_of(state, record.run_id)
            eta = None
            if record.state == "running" and plan is not None:
                key = (record.run_id, record.progress, record.stage)
                if key not in etas:
                    document = status_document(state.store, record.run_id)
                    window = run_window(
                        state.store, record.run_id, plan, document, _expected(state, record.run_id)
                    )
                    etas[key] = window.eta
                eta = etas[key]
            rows.append(
                {
                    "run": record.run_id,
                    "state": record.state,
                    "plan": record.plan_file,
                    "strategy": (plan or {}).get("strategy", ""),
                    "created": iso_time(record.created),
                    "done": record.progress,
                    "total": record.unit_count,
                    "eta": iso_time(eta) if eta else None,
                    "driver": record.driver,
                }
            )
        for run_id, problem in sorted(unreadable.items()):
            rows.append({"run": run_id, "state": "unreadable", "error": problem})
        return {"runs": rows}

    return read


def _whole(before: dict | None, after: dict) -> dict | None:
    return None if before == after else after


def _plan_of(state: ServeState, run_id: str) -> dict | None:
    if run_id not in state.plans:
        try:
            state.plans[run_id] = state.store.plan(run_id)
        except RuntimeProblem:
            return None
    return state.plans[run_id]


def _expected(state: ServeState, run_id: str) -> float:
    if run_id not in state.expected:
        state.expected[run_id] = expected_window(state.plans[run_id])
    return state.expected[run_id]


def _prepare_run(state: ServeState, run_id: str) -> Feed:
    """The run's feed (its plan read and cut once: a run's plan never changes)."""
    if run_id in state.feeds:
        return state.feeds[run_id]
    record = state.store.run(run_id)
    plan = state.store.plan(run_id)
    state.plans[run_id] = plan
    state.layouts[run_id] = run_layout(plan, run_id, record.route)
    feed = Feed(_run_reader(state, run_id), changes, state.interval)
    state.feeds[run_id] = feed
    return feed


def create_app(state: ServeState) -> Starlette:
    templates = _templates()

    def check_read(request: Request) -> None:
        if not state.guard.host_allowed(request.headers):
            raise HTTPException(421, "this server does not answer to that host name")
        if not state.guard.may_read(request.headers, request.cookies):
            raise HTTPException(
                401, "this view needs its token: open the link `kostyorc serve` printed"
            )

    def login(request: Request):
        """`?token=` in any page's address: set the cookie and drop it from the address."""
        token = request.query_params.get("token")
        if token is None:
            return None
        if not state.guard.host_allowed(request.headers):
            raise HTTPException(421, "this server does not answer to that host name")
        if not state.guard.valid(token):
            raise HTTPException(403, "wrong token")
        response = RedirectResponse(request.url.path, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    def render(request: Request, name: str, **context) -> HTMLResponse:
        steer = state.guard.shows_controls(request.headers, request.cookies)
        html = templates.get_template(name).render(
            read_only=state.guard.read_only, may_steer=steer, **context
        )
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    async def runs_page(request: Request):
        if (response := login(request)) is not None:
            return response
        check_read(request)
        feed = state.list_feed
        await feed.poll_once()
        return render(
            request,
            "runs.html.j2",
            reading=feed.latest or {"runs": []},
            store_error=feed.store_error,
            since=feed.event_id(),
            where=state.store.describe(),
        )

    async def runs_events(request: Request):
        check_read(request)
        since = request.headers.get("last-event-id") or request.query_params.get("since")
        return EventSourceResponse(state.list_feed.stream(since), ping=10, headers=SECURITY_HEADERS)

    async def _feed(run_id: str) -> Feed:
        try:
            return await asyncio.to_thread(_prepare_run, state, run_id)
        except UnknownRun as exc:
            raise HTTPException(404, exc.message) from None
        except RuntimeProblem as exc:
            raise HTTPException(500, exc.message) from None
        except Exception as exc:
            raise HTTPException(503, describe_store_error(exc)) from None

    async def run_page(request: Request):
        if (response := login(request)) is not None:
            return response
        check_read(request)
        run_id = request.path_params["run_id"]
        feed = await _feed(run_id)
        await feed.poll_once()
        if feed.latest is None:
            raise HTTPException(503, (feed.store_error or {}).get("error", "cannot read the run"))
        try:
            record = await asyncio.to_thread(state.store.run, run_id)
        except RuntimeProblem as exc:
            raise HTTPException(500, exc.message) from None
        except Exception as exc:
            raise HTTPException(503, describe_store_error(exc)) from None
        plan = state.plans[run_id]
        return render(
            request,
            "run.html.j2",
            run_id=run_id,
            record=record,
            plan=plan,
            created=iso_time(record.created),
            layout=state.layouts[run_id],
            reading=feed.latest,
            store_error=feed.store_error,
            since=feed.event_id(),
            confirm_name=record.plan_file or run_id,
        )

    async def run_events(request: Request):
        check_read(request)
        feed = await _feed(request.path_params["run_id"])
        since = request.headers.get("last-event-id") or request.query_params.get("since")
        return EventSourceResponse(feed.stream(since), ping=10, headers=SECURITY_HEADERS)

    async def run_status(request: Request):
        check_read(request)
        run_id = request.path_params["run_id"]
        try:
            document = await asyncio.to_thread(status_document, state.store, run_id)
        except UnknownRun as exc:
            raise HTTPException(404, exc.message) from None
        return JSONResponse(document, headers=SECURITY_HEADERS)

    async def step_output(request: Request):
        check_read(request)
        run_id = request.path_params["run_id"]
        index = request.path_params["index"]
        try:
            document = await asyncio.to_thread(status_document, state.store, run_id)
        except UnknownRun as exc:
            raise HTTPException(404, exc.message) from None
        if not 0 <= index < len(document["steps"]):
            raise HTTPException(404, f"run {run_id} has no step {index + 1}")
        step = document["steps"][index]
        text = output_text(step) or "(no output recorded)"
        heading = (
            f"step {index + 1}/{len(document['steps'])} {step['id']}: {step['state']}, "
            f"attempt {step['attempts']}\n\n"
        )
        return PlainTextResponse(heading + text, headers=SECURITY_HEADERS)

    async def verb(request: Request):
        refusal = state.guard.may_steer(request.headers, request.cookies)
        if refusal is not None:
            return JSONResponse({"error": refusal}, status_code=403, headers=SECURITY_HEADERS)
        run_id = request.path_params["run_id"]
        name = request.path_params["verb"]
        if name not in VERBS:
            return JSONResponse(
                {"error": f"no verb {name!r}; one of {', '.join(VERBS)}"},
                status_code=404,
                headers=SECURITY_HEADERS,
            )
        try:
            body = await request.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        try:
            message = await asyncio.to_thread(
                steer, state.store, state.control_app, run_id, name, body
            )
        except UnknownRun as exc:
            return JSONResponse({"error": exc.message}, status_code=404, headers=SECURITY_HEADERS)
        except (InvalidTransition, Refused) as exc:
            return JSONResponse({"error": exc.message}, status_code=409, headers=SECURITY_HEADERS)
        except RuntimeProblem as exc:
            return JSONResponse({"error": exc.message}, status_code=500, headers=SECURITY_HEADERS)
        except Exception as exc:
            # The store or the broker away is the operator's to know; anything
            # else is a bug, for the server's log.
            module = type(exc).__module__.split(".")[0]
            if module not in ("redis", "kombu", "amqp") and not isinstance(
                exc, ConnectionError | TimeoutError
            ):
                raise
            return JSONResponse(
                {"error": f"cannot reach the run store or the broker: {exc}"},
                status_code=503,
                headers=SECURITY_HEADERS,
            )
        feed = state.feeds.get(run_id)
        if feed is not None:
            await feed.poll_once()
        return JSONResponse({"ok": message}, headers=SECURITY_HEADERS)

    async def http_error(request: Request, exc: HTTPException):
        if request.url.path.endswith(("/events", "/output", ".json")) or request.method != "GET":
            return PlainTextResponse(str(exc.detail), status_code=exc.status_code)
        html = templates.get_template("error.html.j2").render(
            status=exc.status_code, message=str(exc.detail)
        )
        return HTMLResponse(html, status_code=exc.status_code, headers=SECURITY_HEADERS)

    state.list_feed = Feed(_list_reader(state), _whole, max(state.interval, 1.0))
    routes = [
        Route("/", runs_page),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/events", runs_events),
        Route("/runs/{run_id}", run_page),
        Route("/runs/{run_id}/events", run_events),
        Route("/runs/{run_id}/status.json", run_status),
        Route("/runs/{run_id}/steps/{index:int}/output", step_output),
        Route("/runs/{run_id}/{verb}", verb, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("kostyor_dsl.web", "static")]), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
