"""`kostyorc serve` in a real browser (headless Chromium), against real workers on
Redis (a run store in Redis) and on the embedded broker (a run store in files).

Every wait is on the page's state or the store's (bounded), never on the
clock: steps are held by the test (`hold=True`) and released one by one.
Screenshots of the run page go to the test's tmp folder for review.
"""

from __future__ import annotations

import json
import re
import signal
import urllib.error
import urllib.request
from dataclasses import replace

import pytest
from runtime_harness import Runtime, make_plan, require_broker, rollout_plan
from serve_harness import CHROMIUM, Server, require_browser

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SEEN = 10_000  # ms: how long the page may take to show a change of the store


@pytest.fixture
def runtime(request, tmp_path):
    """Redis (its run store) unless the test asks for another broker."""
    broker = getattr(request, "param", "redis")
    require_broker(broker)
    require_browser()
    instance = Runtime(tmp_path, broker)
    servers: list[Server] = []
    instance.servers = servers
    yield instance
    for server in servers:
        server.stop()
    for process, _ in instance.workers:
        instance.kill_worker(process, signal.SIGKILL)
    instance.stop_all()


def serve(runtime, *extra: str) -> Server:
    server = Server(runtime, *extra)
    runtime.servers.append(server)
    server.start()
    return server


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM)
        yield instance
        instance.close()


def row(page, index: int):
    return page.locator(f"#step-{index}")


def index_of(runtime, run_id: str, unit_id: str) -> int:
    document = runtime.status(run_id)
    return next(step["index"] for step in document["steps"] if step["id"] == unit_id)


def shows_state(page, index: int, state: str) -> None:
    from playwright.sync_api import expect

    expect(row(page, index)).to_have_attribute("data-state", state, timeout=SEEN)


@pytest.mark.parametrize("runtime", ["redis", "embedded"], indirect=True)
def test_a_rolling_run_watched_and_steered_from_the_page(runtime, browser):
    """Start to end: each step's change shows; pause, resume, a gate approved, a
    worker killed and a server restarted on the way, nothing stale after either."""
    from playwright.sync_api import expect

    plan = rollout_plan(
        [
            ("host", "ctl-1"),
            ("batch", "compute", 1, ["cmp-1"]),
            ("gate", "compute", 1),
            ("batch", "compute", 2, ["cmp-2", "cmp-3"]),
        ],
        services={"ctl-1": ("api",)},
    )
    runtime.start_worker(concurrency=2)
    run_id = runtime.submit(plan, hold=True, sleep=0)
    # A token of its own, so the page's login outlives the server's restart.
    token = runtime.tmp / "token"
    token.write_text("a-token-for-this-test-only-0123456789\n")
    server = serve(runtime, "--token-file", str(token))
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(server.login_url(f"runs/{run_id}"))
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=SEEN)
    expect(page.locator("#run-state")).to_have_text("running", timeout=SEEN)

    # Step by step: running shows, then succeeded shows, for the pre-upgrade and ctl-1.
    for key, unit in (
        ("pre-upgrade.refresh-repos.-", "pre-upgrade:refresh-repos"),
        ("upgrade.nova-api.ctl-1", "nova-api@ctl-1"),
    ):
        index = index_of(runtime, run_id, unit)
        runtime.wait_started(key)
        shows_state(page, index, "running")
        runtime.release(key)
        shows_state(page, index, "succeeded")

    # The window: the plan's expected one, and an ETA learned from the steps done.
    expect(page.locator("#expected")).to_have_text(re.compile(r"^\d+m \d\ds$"))
    expect(page.locator("#eta")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"), timeout=SEEN)
    expect(page.locator("#left")).to_contain_text("from 2 timed steps")
    # The timeline: the steps done as recorded, the rest as the ETA's simulation sees them.
    expect(page.locator("#timeline rect.succeeded")).to_have_count(2, timeout=SEEN)
    expect(page.locator("#timeline rect.predicted")).not_to_have_count(0)

    # Pause from the page while cmp-1's first hook runs: the run is paused
    # (as `kostyorc status` says), the running step finishes, nothing starts.
    runtime.wait_started("action.drain.cmp-1")
    drain = index_of(runtime, run_id, "before:drain:cmp-1")
    shows_state(page, drain, "running")
    page.click("button[data-verb=pause]")
    expect(page.locator("#message")).to_contain_text("paused", timeout=SEEN)
    assert runtime.status(run_id)["state"] == "paused"
    expect(page.locator("#run-state")).to_have_text("paused", timeout=SEEN)
    expect(page.locator("button[data-verb=pause]")).to_be_disabled()
    expect(page.locator("button[data-verb=resume]")).to_be_enabled()
    runtime.release("action.drain.cmp-1")
    shows_state(page, drain, "succeeded")
    api = index_of(runtime, run_id, "nova-api@cmp-1")
    expect(row(page, api)).to_have_attribute("data-state", "pending")
    page.screenshot(path=str(runtime.tmp / "run-paused.png"), full_page=True)

    # Resume from the page; the worker is SIGKILLed while cmp-1's api step runs,
    # a new one takes over, and the page follows.
    page.click("button[data-verb=resume]")
    expect(page.locator("#message")).to_contain_text("resumed", timeout=SEEN)
    runtime.wait_started("upgrade.nova-api.cmp-1")
    shows_state(page, api, "running")
    runtime.kill_worker(runtime.workers[0][0], signal.SIGKILL)
    runtime.start_worker(concurrency=2)
    runtime.wait_started("upgrade.nova-api.cmp-1", attempt=2)
    runtime.release()  # every held step from now on finishes at once
    shows_state(page, api, "succeeded")

    # The gate: shown with its message, approved from the page.
    gate = index_of(runtime, run_id, "gate:compute#1")
    shows_state(page, gate, "waiting")
    expect(page.locator("#gate")).to_be_visible(timeout=SEEN)
    expect(page.locator("#gate-message")).to_have_text(
        "batch compute#1 is done: check it, then resume"
    )
    expect(page.locator("button[data-verb=resume]")).to_be_disabled()
    page.screenshot(path=str(runtime.tmp / "run-gate.png"), full_page=True)

    # The server restarts (on the same port) while the run waits, and a step
    # of the page's plan changes meanwhile (its attempts, as a retry would):
    # the page, reconnecting by itself, shows the store's state, not its own.
    server.stop()
    expect(page.locator("#connection")).to_have_attribute("data-state", "lost", timeout=SEEN)
    expect(page.locator("button[data-verb=approve]")).to_be_disabled()
    store = runtime.store()
    first = store.step(run_id, 0)
    store.put_step(run_id, replace(first, attempts=7))
    server.start()
    expect(row(page, 0).locator(".attempts")).to_have_text("attempt 7", timeout=SEEN)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=SEEN)
    expect(page.locator("button[data-verb=approve]")).to_be_enabled(timeout=SEEN)
    page.click("button[data-verb=approve]")
    expect(page.locator("#message")).to_contain_text("past gate gate:compute#1", timeout=SEEN)
    shows_state(page, gate, "succeeded")

    expect(page.locator("#run-state")).to_have_text("succeeded", timeout=60_000)
    document = runtime.status(run_id)
    for step in document["steps"]:
        shows_state(page, step["index"], step["state"])
    assert document["summary"] == {
        "total": len(document["steps"]),
        "succeeded": len(document["steps"]),
    }
    expect(page.locator("#progress")).to_have_attribute("value", str(len(document["steps"])))
    for verb in ("pause", "resume", "retry", "cancel"):
        expect(page.locator(f"button[data-verb={verb}]")).to_be_disabled()
    page.screenshot(path=str(runtime.tmp / "run-succeeded.png"), full_page=True)

    # The list of runs shows it too.
    page.goto(server.url)
    expect(page.locator(f"tr[data-run='{run_id}'] .state")).to_have_text("succeeded")


MARKUP = "<img src=x onerror=window.pwned=1><script>window.pwned=2</script>"


def test_failed_output_retry_cancel_and_markup_inert(runtime, browser, tmp_path):
    """A failed step's output shows (markup in it as text), retry from the page
    runs it again; cancel needs the plan's name typed."""
    from playwright.sync_api import expect

    marker = tmp_path / "broken"
    marker.touch()
    plan = make_plan(hosts=2, services=("api",), pre_upgrade=False, driver="shell")
    plan["driver"]["parameters"] = {"command": "true"}
    command = (
        f"if test -e {marker}; then echo 'stopping {{service}} on {{host}}'; "
        f"printf '%s\\n' '{MARKUP}' >&2; exit 3; fi; sleep 0.2"
    )
    runtime.start_worker(concurrency=1)
    path = runtime.write_plan(plan)
    run_id = runtime.kostyorc("run", path, "-p", f"command={command}").stdout.split()[-1]
    server = serve(runtime)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.login_url(f"runs/{run_id}"))
    expect(page.locator("#run-state")).to_have_text("failed", timeout=60_000)
    shows_state(page, 0, "failed")
    expect(row(page, 0).locator(".tail")).to_contain_text(MARKUP)
    assert row(page, 0).locator("img, script").count() == 0
    page.click("#step-0 button.output")
    expect(page.locator("#output-text")).to_contain_text("exit code 3 on node-1")
    expect(page.locator("#output-text")).to_contain_text("stopping nova-api on node-1")
    expect(page.locator("#output-text")).to_contain_text(MARKUP)
    assert page.evaluate("window.pwned") is None
    page.screenshot(path=str(runtime.tmp / "run-failed.png"), full_page=True)
    page.click("#output-dialog button.close")

    marker.unlink()
    page.click("#step-0 button.retry-step")
    expect(page.locator("#message")).to_contain_text("retried from step nova-api@node-1")
    expect(page.locator("#run-state")).to_have_text("succeeded", timeout=60_000)
    shows_state(page, 1, "succeeded")

    # A second run, held at its second step, is cancelled from the page.
    marker.touch()
    hold = tmp_path / "hold2"
    hold.mkdir()
    gate_command = (
        f"test -e {hold}/go || (touch {hold}/{{host}}; "
        f"while ! test -e {hold}/go; do sleep 0.05; done)"
    )
    run2 = runtime.kostyorc("run", path, "-p", f"command={gate_command}").stdout.split()[-1]
    runtime.wait_for((hold / "node-1").exists, 30, "the first step of the second run")
    page.goto(f"{server.url}runs/{run2}")
    shows_state(page, 0, "running")
    page.click("button[data-verb=cancel]")
    confirm = page.locator("#cancel-go")
    expect(confirm).to_be_disabled()
    page.fill("#cancel-confirm", "not-the-plan")
    expect(confirm).to_be_disabled()
    page.fill("#cancel-confirm", "plan.json")
    expect(confirm).to_be_enabled()
    confirm.click()
    expect(page.locator("#message")).to_contain_text(f"run {run2} cancelled", timeout=SEEN)
    assert runtime.status(run2)["state"] == "cancelled"
    (hold / "go").touch()
    expect(page.locator("#run-state")).to_have_text("cancelled", timeout=SEEN)
    shows_state(page, 1, "revoked")


def test_names_from_the_store_are_shown_as_text(runtime, browser):
    """A host name and a step's output full of markup, straight from the store
    (as a hostile or damaged record would have them), are text on every page."""
    from playwright.sync_api import expect

    from kostyor_dsl.runtime.records import RunRecord, StepRecord

    host = "<img src=x onerror=window.pwned=3>"
    plan = make_plan(hosts=0, pre_upgrade=False)
    plan["steps"] = [
        {
            "id": f"nova-api@{host}",
            "kind": "upgrade",
            "project": "nova",
            "service": "nova-api",
            "hosts": [host],
            "source": "<b>spec</b>:1",
        }
    ]
    store = runtime.store()
    record = RunRecord(
        run_id="20260101-000000-abcdef",
        state="failed",
        driver="<i>shell</i>",
        parameters={},
        route="run",
        unit_count=1,
        created=1.0,
        updated=1.0,
        plan_file="<script>window.pwned=4</script>.json",
        error=f"step nova-api@{host} failed: {MARKUP}",
        failed_step=f"nova-api@{host}",
    )
    store.create_run(record, plan)
    store.put_step(record.run_id, StepRecord(0, "failed", 1.0, 2.0, 1, MARKUP))
    server = serve(runtime)
    page = browser.new_page()
    page.goto(server.login_url(f"runs/{record.run_id}"))
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=SEEN)
    expect(row(page, 0).locator(".id")).to_have_text(f"nova-api@{host}")
    expect(row(page, 0).locator(".tail")).to_contain_text(MARKUP)
    expect(page.locator("#run-error")).to_contain_text(MARKUP)
    page.goto(server.url)
    expect(page.locator(f"tr[data-run='{record.run_id}']")).to_contain_text("<script>")
    assert page.locator("main img, main script, main b, main i").count() == 0
    assert page.evaluate("window.pwned") is None


def test_control_needs_the_token_and_the_same_origin(runtime):
    """No verb without the token, from another origin, or over GET; --read-only
    refuses them all."""
    plan = make_plan(hosts=1, services=("api",))
    run_id = runtime.submit(plan, hold=True)  # no worker: the run stays running
    server = serve(runtime)

    def post(path, headers):
        request = urllib.request.Request(
            f"{server.url}{path}", data=b"{}", method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    origin = server.url.rstrip("/")
    status, body = post(f"runs/{run_id}/pause", {"Origin": origin})
    assert status == 403 and "needs the token" in body
    cookie = {"Cookie": f"kostyor_token={server.token}"}
    status, body = post(f"runs/{run_id}/pause", {**cookie, "Origin": "http://evil.example"})
    assert status == 403 and "Origin" in body
    status, body = post(
        f"runs/{run_id}/pause", {**cookie, "Origin": origin, "Host": "evil.example"}
    )
    assert status == 403
    assert runtime.run_state(run_id) == "running"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server.url}runs/{run_id}/pause?token={server.token}", timeout=10)
    assert refused.value.code == 405
    assert runtime.run_state(run_id) == "running"
    status, body = post(f"runs/{run_id}/pause", {**cookie, "Origin": origin})
    assert (status, body) == (
        200,
        {"ok": f"run {run_id} paused: no new step starts; a running step finishes"},
    )
    status, body = post(f"runs/{run_id}/pause", {"Authorization": f"Bearer {server.token}"})
    assert (status, body) == (200, {"ok": f"run {run_id} was already paused"})
    status, body = post(f"runs/{run_id}/cancel", {"Authorization": f"Bearer {server.token}"})
    assert status == 409 and "type the plan's name (plan.json)" in body

    wall = serve(runtime, "--read-only")
    request = urllib.request.Request(
        f"{wall.url}runs/{run_id}/resume",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {wall.token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as read_only:
        urllib.request.urlopen(request, timeout=10)
    assert read_only.value.code == 403
    assert runtime.run_state(run_id) == "paused"


def test_hosts_left_disabled_and_the_point_of_no_return(runtime, browser):
    """What `status` says about a hypervisor the run left disabled, and the plan's
    point of no return, are on the page."""
    from playwright.sync_api import expect

    from kostyor_dsl.runtime.records import RunRecord, StepRecord

    plan = rollout_plan([("batch", "compute", 1, ["cmp-1"])], services={"cmp-1": ("compute",)})
    plan["steps"][1].update(id="before:disable-scheduling:cmp-1", action="disable-scheduling")
    plan["steps"][3].update(id="after:enable-scheduling:cmp-1", action="enable-scheduling")
    plan["point_of_no_return"] = {
        "step": "before:disable-scheduling:cmp-1",
        "action": "disable-scheduling",
    }
    store = runtime.store()
    record = RunRecord(
        "20260101-000000-abcdee", "failed", "noop", {}, "run", 5, 1.0, 1.0, plan_file="p.json"
    )
    store.create_run(record, plan)
    store.put_step(record.run_id, StepRecord(0, "succeeded", 1.0, 2.0, 1))
    store.put_step(record.run_id, StepRecord(1, "succeeded", 2.0, 3.0, 1, result={}))
    store.put_step(record.run_id, StepRecord(2, "failed", 3.0, 4.0, 1, "evacuation failed"))
    assert [left["host"] for left in runtime.status(record.run_id)["hosts_left_disabled"]] == [
        "cmp-1"
    ]
    server = serve(runtime)
    page = browser.new_page()
    page.goto(server.login_url(f"runs/{record.run_id}"))
    expect(page.locator("#disabled")).to_contain_text(
        "hypervisor cmp-1 left with scheduling disabled", timeout=SEEN
    )
    expect(page.locator("#disabled")).to_contain_text("enable it again with")
    expect(page.locator("#no-return")).to_contain_text(
        "past the point of no return (before:disable-scheduling:cmp-1)"
    )
    expect(row(page, 1).locator(".no-return-mark")).to_have_text("point of no return")


def test_a_redis_restart_is_shown_and_leaves_nothing_stale(tmp_path, browser):
    """The store (a Redis of the test's own, with AOF) stops under an open page:
    the page says so and disables the verbs; once it is back, the page shows
    the state written since."""
    from own_services import RedisServer
    from playwright.sync_api import expect

    from kostyor_dsl.runtime.records import RunRecord, StepRecord

    require_browser()
    redis = RedisServer(tmp_path / "redis", appendonly=True)
    redis.start()
    runtime = Runtime(tmp_path, "redis", broker_url=redis.url)
    runtime.servers = []
    try:
        store = runtime.store()
        record = RunRecord(
            "20260101-000000-abcded", "running", "noop", {}, "run", 3, 1.0, 1.0, plan_file="p.json"
        )
        store.create_run(record, make_plan(hosts=1))
        store.put_step(record.run_id, StepRecord(0, "running", 1.0, None, 1))
        server = serve(runtime)
        page = browser.new_page()
        page.goto(server.login_url(f"runs/{record.run_id}"))
        shows_state(page, 0, "running")
        expect(page.locator("button[data-verb=pause]")).to_be_enabled(timeout=SEEN)

        redis.stop()
        expect(page.locator("#store-problem")).to_contain_text(
            "cannot read the run store", timeout=SEEN
        )
        expect(page.locator("button[data-verb=pause]")).to_be_disabled()
        page.screenshot(path=str(tmp_path / "run-store-away.png"), full_page=True)

        redis.start()
        store = runtime.store()
        store.put_step(record.run_id, StepRecord(0, "succeeded", 1.0, 2.0, 1))
        store.put_step(record.run_id, StepRecord(1, "running", 2.0, None, 1))
        shows_state(page, 0, "succeeded")
        shows_state(page, 1, "running")
        expect(page.locator("#store-problem")).to_be_hidden()
        expect(page.locator("button[data-verb=pause]")).to_be_enabled()
    finally:
        for server in runtime.servers:
            server.stop()
        redis.kill()
