"""The run store under faults: a Redis that keeps nothing on disk, a corrupted run record."""

from __future__ import annotations

import json
import re
import time

import pytest
from own_services import RedisServer
from runtime_harness import Runtime, make_plan

from kostyor_dsl.runtime.errors import CorruptRecord, StoreNotDurable
from kostyor_dsl.runtime.redis_store import RedisRunStore
from kostyor_dsl.runtime.run_store import FileRunStore, RunRecord


def _redis_runtime(tmp_path, server: RedisServer) -> Runtime:
    runtime = Runtime(tmp_path, "redis", broker_url=server.url)
    runtime.env.pop("KOSTYOR_ALLOW_VOLATILE_STORE")
    return runtime


@pytest.mark.slow
def test_run_refuses_a_redis_that_keeps_nothing_on_disk_unless_told(tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly=False)
    server.start()
    try:
        runtime = _redis_runtime(tmp_path, server)
        plan = runtime.write_plan(make_plan(hosts=1))
        refused = runtime.kostyorc("run", plan, "--driver", "noop", check=False)
        assert refused.returncode == 1, refused
        assert "Traceback" not in refused.stderr
        assert f"Redis at redis://127.0.0.1:{server.port}/0 keeps nothing on disk" in refused.stderr
        assert "KOSTYOR_ALLOW_VOLATILE_STORE=1" in refused.stderr
        assert runtime.store().runs() == []

        runtime.env["KOSTYOR_ALLOW_VOLATILE_STORE"] = "1"
        allowed = runtime.kostyorc("run", plan, "--driver", "noop")
        assert "warning: " in allowed.stderr and "keeps nothing on disk" in allowed.stderr
        run_id = allowed.stdout.strip().splitlines()[-1]
        assert [run.run_id for run in runtime.store().runs()] == [run_id]
    finally:
        server.kill()


@pytest.mark.slow
def test_run_accepts_a_redis_with_append_only_persistence(tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    try:
        runtime = _redis_runtime(tmp_path, server)
        plan = runtime.write_plan(make_plan(hosts=1))
        done = runtime.kostyorc("run", plan, "--driver", "noop")
        assert "warning" not in done.stderr
        run_id = done.stdout.strip().splitlines()[-1]
        assert [run.run_id for run in runtime.store().runs()] == [run_id]
        # And the record outlives a restart of that Redis.
        server.stop()
        server.start()
        assert runtime.store().run(run_id).state == "running"
    finally:
        server.kill()


@pytest.mark.slow
def test_persistence_problem_reads_the_servers_settings(tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly=False)
    server.start()
    try:
        store = RedisRunStore(server.url, prefix="kt")
        assert "keeps nothing on disk" in store.persistence_problem()
        store.client.config_set("save", "3600 1")
        assert store.persistence_problem() is None
        store.client.config_set("save", "")
        store.client.config_set("appendonly", "yes")
        assert store.persistence_problem() is None
    finally:
        server.kill()


def test_submit_refuses_a_volatile_store_in_the_library_too(tmp_path, monkeypatch):
    from kostyor_dsl.runtime.control import submit

    class Volatile(FileRunStore):
        def persistence_problem(self):
            return "this store keeps nothing"

    monkeypatch.delenv("KOSTYOR_ALLOW_VOLATILE_STORE", raising=False)
    store = Volatile(tmp_path / "runs")
    with pytest.raises(StoreNotDurable, match="this store keeps nothing"):
        submit(None, store, make_plan(hosts=1), driver="noop", parameters={})
    assert store.runs() == []


def _file_run(runtime: Runtime) -> tuple[str, object]:
    store = FileRunStore(runtime.tmp / "state" / "runs")
    plan = make_plan(hosts=1)
    now = time.time()
    record = RunRecord("r1", "running", "noop", {}, "run", len(plan["steps"]), now, now)
    store.create_run(record, plan)
    return "r1", store.folder / "r1"


@pytest.mark.parametrize("damage", [b"{not json", b"[1, 2]", b'{"run_id": "r1"}', b"\xff\xfe"])
def test_a_corrupted_run_record_is_a_corrupt_record_naming_the_file(embedded, damage):
    run_id, folder = _file_run(embedded)
    (folder / "run.json").write_bytes(damage)
    store = FileRunStore(folder.parent)
    with pytest.raises(CorruptRecord, match=re.escape(str(folder / "run.json"))):
        store.run(run_id)
    records, unreadable = store.list_runs()
    assert records == [] and list(unreadable) == ["r1"]
    assert store.live_runs() == []


def test_a_corrupted_run_record_is_an_error_naming_the_file_in_every_verb(embedded):
    run_id, folder = _file_run(embedded)
    path = folder / "run.json"
    path.write_text("{not json")
    for verb in ("status", "pause", "resume", "cancel", "retry"):
        done = embedded.kostyorc(verb, run_id, check=False)
        assert done.returncode == 1, (verb, done)
        assert "Traceback" not in done.stderr, (verb, done.stderr)
        assert str(path) in done.stderr, (verb, done.stderr)
    listed = embedded.kostyorc("runs", check=False)
    assert listed.returncode == 1
    assert "r1" in listed.stdout and "unreadable" in listed.stdout
    assert str(path) in listed.stderr
    as_json = json.loads(embedded.kostyorc("runs", "--format", "json", check=False).stdout)
    assert [(run["run_id"], run["state"]) for run in as_json] == [("r1", "unreadable")]


def test_a_corrupted_step_record_is_an_error_naming_the_file(embedded):
    run_id, folder = _file_run(embedded)
    path = folder / "steps" / "2.json"
    path.write_text('{"index": 2, "state": ')
    done = embedded.kostyorc("status", run_id, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{path}: the step record is not valid JSON" in done.stderr
    with pytest.raises(CorruptRecord, match=re.escape(f"{path}:")):
        FileRunStore(folder.parent).steps(run_id, 4)
