"""`kostyorc serve` without a browser or workers: the guard, the feed's
reconnection, the verbs' states, the command's errors, and what never
imports the web extra."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from dataclasses import replace

import pytest
from runtime_harness import Runtime, make_plan, rollout_plan

from kostyor_dsl.runtime.records import RunRecord
from kostyor_dsl.web.live import BOOT, Feed
from kostyor_dsl.web.security import Guard


def guard(**changes) -> Guard:
    return Guard(**{"token": "t" * 32, "loopback": True, "port": 8780, **changes})


def test_the_guard_reads_on_loopback_and_steers_only_with_token_and_origin():
    local = guard()
    host = {"host": "127.0.0.1:8780"}
    assert local.may_read(host, {})
    assert not local.may_read({"host": "evil.example:8780"}, {})  # DNS rebinding
    assert local.may_read({"host": "localhost:8780"}, {})
    assert not local.may_read({"host": "127.0.0.1:9999"}, {})
    cookie = {"kostyor_token": "t" * 32}
    origin = {**host, "origin": "http://127.0.0.1:8780"}
    assert local.may_steer(origin, cookie) is None
    assert "needs the token" in local.may_steer(origin, {})
    assert "needs the token" in local.may_steer(origin, {"kostyor_token": "x" * 32})
    assert "Origin" in local.may_steer({**host, "origin": "http://evil.example"}, cookie)
    assert "Origin" in local.may_steer({**host, "origin": "null"}, cookie)
    assert "Origin" in local.may_steer(host, cookie)  # a cookie and no Origin: not a page of ours
    assert local.may_steer({**host, "authorization": "Bearer " + "t" * 32}, {}) is None
    assert "read-only" in guard(read_only=True).may_steer(origin, cookie)
    remote = guard(loopback=False)
    assert not remote.may_read({"host": "10.0.0.5:8780"}, {})
    assert remote.may_read({"host": "10.0.0.5:8780"}, cookie)


@pytest.mark.parametrize(
    ("state", "extra", "verbs"),
    [
        ("running", {}, {"pause", "cancel"}),
        ("paused", {}, {"resume", "cancel"}),
        ("paused", {"gate": "gate:compute#1"}, {"approve", "cancel"}),
        ("paused", {"failed_hosts": {"compute": {"n": "s"}}}, {"resume", "cancel", "retry"}),
        ("failed", {}, {"cancel", "retry"}),
        ("succeeded", {}, set()),
        ("succeeded", {"failed_hosts": {"compute": {"n": "s"}}}, {"retry"}),
        ("cancelled", {}, set()),
    ],
)
def test_available_verbs_are_the_ones_the_verbs_accept(state, extra, verbs):
    from kostyor_dsl.runtime.control import available_verbs

    record = RunRecord("r", state, "noop", {}, "run", 3, 1.0, 1.0, **extra)
    assert available_verbs(record) == verbs


def test_pause_is_refused_exactly_where_available_verbs_says(tmp_path):
    from kostyor_dsl.runtime.control import available_verbs, pause
    from kostyor_dsl.runtime.errors import InvalidTransition
    from kostyor_dsl.runtime.run_store import FileRunStore

    store = FileRunStore(tmp_path)
    for number, state in enumerate(("running", "failed", "succeeded", "cancelled")):
        record = RunRecord(f"r{number}", state, "noop", {}, "run", 1, 1.0, 1.0)
        store.create_run(record, make_plan(hosts=1))
        if "pause" in available_verbs(record):
            assert "paused" in pause(store, record.run_id)
        else:
            with pytest.raises(InvalidTransition):
                pause(store, record.run_id)


def _drain(feed: Feed, last_id: str | None, count: int) -> list[dict]:
    async def collect():
        out = []
        stream = feed.stream(last_id)
        async for event in stream:
            if not isinstance(event, dict):
                continue  # the comment that opens every stream
            out.append(event)
            if len(out) == count:
                break
        await stream.aclose()
        return out

    return asyncio.run(collect())


def test_a_reconnecting_page_gets_what_it_missed_or_the_whole_state():
    readings = iter([{"n": 1}, {"n": 2}, {"n": 3}])
    feed = Feed(lambda: next(readings), lambda a, b: None if a == b else b, 3600)

    async def two_readings():
        await feed.poll_once()
        first = feed.event_id()
        await feed.poll_once()
        await feed.poll_once()
        return first

    first = asyncio.run(two_readings())
    assert first == f"{BOOT}-1"
    missed = _drain(feed, first, 2)
    assert [(e["event"], json.loads(e["data"])) for e in missed] == [
        ("update", {"n": 2}),
        ("update", {"n": 3}),
    ]
    assert [e["id"] for e in missed] == [f"{BOOT}-2", f"{BOOT}-3"]
    # An id of another server's life (a restart): the whole state, nothing stale.
    for unknown in ("0123abcd-2", f"{BOOT}-99", "garbage", None):
        (snapshot,) = _drain(feed, unknown, 1)
        assert snapshot["event"] == "snapshot"
        assert json.loads(snapshot["data"]) == {"state": {"n": 3}, "store": None}
        assert snapshot["id"] == f"{BOOT}-3"


def test_a_store_that_cannot_be_read_is_said_and_then_cleared():
    outcomes = iter([ConnectionError("Redis is away"), {"n": 1}])

    def read():
        value = next(outcomes)
        if isinstance(value, Exception):
            raise value
        return value

    feed = Feed(read, lambda a, b: None if a == b else b, 3600)
    asyncio.run(feed.poll_once())
    assert feed.store_error["error"] == "cannot read the run store: Redis is away"
    asyncio.run(feed.poll_once())
    assert feed.store_error is None
    assert [name for _, name, _ in feed.events] == ["store", "store", "update"]


def test_the_layout_follows_the_runtime_stages():
    from kostyor_dsl.web.layout import run_layout

    plan = rollout_plan([("batch", "compute", 1, ["c1", "c2"]), ("gate", "compute", 1)])
    # The shape the guides' plans give it: the step and its action.
    plan["point_of_no_return"] = {"step": "nova-api@c2", "action": "upgrade"}
    layout = run_layout(plan, "r", "run")
    assert [stage.kind for stage in layout.stages] == ["sequence", "batch", "sequence"]
    assert layout.stages[1].title == "batch compute#1: 2 hosts in parallel"
    assert [lane.host for lane in layout.stages[1].lanes] == ["c1", "c2"]
    flagged = [
        row.id for s in layout.stages for lane in s.lanes for row in lane.steps if row.no_return
    ]
    assert flagged == ["nova-api@c2"]


def _kostyorc(runtime: Runtime, *args: str) -> subprocess.CompletedProcess:
    return runtime.kostyorc(*args, check=False, timeout=30)


def test_serve_refuses_bad_options_with_a_message(tmp_path):
    runtime = Runtime(tmp_path, "embedded")
    done = _kostyorc(runtime, "serve", "--bind", "nowhere")
    assert done.returncode == 2
    assert "--bind 'nowhere': expected HOST:PORT" in done.stderr
    assert "Traceback" not in done.stderr
    done = _kostyorc(runtime, "serve", "--token-file", str(tmp_path / "missing"))
    assert done.returncode == 1
    assert f"--token-file {tmp_path / 'missing'}: cannot read it" in done.stderr
    short = tmp_path / "short"
    short.write_text("abc\n")
    done = _kostyorc(runtime, "serve", "--token-file", str(short))
    assert done.returncode == 1 and "at least 16 characters" in done.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _kostyorc(runtime, "serve", "--bind", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert f"--bind 127.0.0.1:{port}: cannot listen there: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_compiler_and_the_worker_never_import_the_web_extra():
    code = (
        "import sys\n"
        "import kostyor_dsl.compiler, kostyor_dsl.runtime.app, kostyor_dsl.runtime.tasks\n"
        "import kostyor_dsl.cli\n"
        "kostyor_dsl.cli.build_parser()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'sse_starlette', 'uvicorn') or m.startswith('kostyor_dsl.web')]\n"
        "print(bad)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_watching_file_store_sees_every_write_and_its_fingerprint_changes(tmp_path):
    from kostyor_dsl.runtime.records import StepRecord
    from kostyor_dsl.runtime.run_store import FileRunStore

    writer, watcher = FileRunStore(tmp_path), FileRunStore(tmp_path, cache_steps=True)
    writer.create_run(RunRecord("r", "running", "noop", {}, "run", 3, 1.0, 1.0), make_plan(1))
    marks = [watcher.fingerprint("r")]
    for state in ("running", "succeeded", "failed", "running", "succeeded"):
        # Back to back, as fast as a worker writes: each write is seen.
        writer.put_step("r", StepRecord(1, state, attempts=2))
        assert [record.state for record in watcher.steps("r", 3)] == ["pending", state, "pending"]
        marks.append(watcher.fingerprint("r"))
    writer.update_run("r", lambda run: replace(run, state="paused"))
    marks.append(watcher.fingerprint("r"))
    assert len(set(marks)) == len(marks)
    assert watcher.steps("r", 3) == writer.steps("r", 3)


def test_beyond_loopback_every_request_needs_the_token(tmp_path):
    import urllib.error
    import urllib.request

    from serve_harness import Server

    runtime = Runtime(tmp_path, "embedded")
    server = Server(runtime, "--bind", "0.0.0.0:0")
    server.start()
    try:
        assert "every request needs the token" in (tmp_path / "serve-1.err").read_text()
        address = f"http://127.0.0.1:{server.port}/"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(address, timeout=10)
        assert refused.value.code == 401
        request = urllib.request.Request(
            address, headers={"Authorization": f"Bearer {server.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as page:
            assert page.status == 200
            assert "no runs yet" in page.read().decode()
    finally:
        server.stop()


def test_a_damaged_record_is_a_message_not_a_traceback(tmp_path):
    import urllib.error
    import urllib.request

    from serve_harness import Server

    runtime = Runtime(tmp_path, "embedded")
    store = runtime.store()
    store.create_run(RunRecord("r1", "running", "noop", {}, "run", 3, 1.0, 1.0), make_plan(1))
    damaged = tmp_path / "state" / "runs" / "r1" / "steps" / "1.json"
    damaged.write_text("{not json")
    server = Server(runtime)
    server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{server.url}runs/r1", timeout=10)
        page = failed.value.read().decode()
        assert failed.value.code == 503
        assert (
            "cannot read the run store:" in page
            and "1.json: the step record is not valid JSON" in page
        )
        with pytest.raises(urllib.error.HTTPError) as unknown:
            urllib.request.urlopen(f"{server.url}runs/nope", timeout=10)
        assert (
            unknown.value.code == 404 and "no run &#39;nope&#39;" in unknown.value.read().decode()
        )
        errors = (tmp_path / "serve-1.err").read_text()
        assert "Traceback" not in errors, errors
    finally:
        server.stop()


def test_a_page_out_of_date_cannot_pass_a_gate_it_did_not_show(tmp_path):
    from kostyor_dsl.runtime.run_store import FileRunStore
    from kostyor_dsl.web.verbs import Refused, steer

    store = FileRunStore(tmp_path)
    record = RunRecord(
        "r", "paused", "noop", {}, "run", 3, 1.0, 1.0, plan_file="p.json", gate="gate:c#1"
    )
    store.create_run(record, make_plan(1))

    def no_broker():
        raise AssertionError("nothing may be sent")

    with pytest.raises(Refused, match="waits at gate gate:c#1: approve the gate to go on"):
        steer(store, no_broker, "r", "resume", {})
    with pytest.raises(Refused, match="waits at gate gate:c#1, not gate:c#2"):
        steer(store, no_broker, "r", "approve", {"gate": "gate:c#2"})
    with pytest.raises(Refused, match=r"type the plan's name \(p.json\) to cancel run r"):
        steer(store, no_broker, "r", "cancel", {"confirm": "q.json"})
    assert store.run("r").state == "paused"
