"""Language server benchmark (issue 14): start-up, and diagnostics after a change.

    .venv/bin/python bench/lsp_bench.py            # best of 5 start-ups, 40 changes
    .venv/bin/python bench/lsp_bench.py --smoke    # 1 start-up, 4 changes (tests)
    options: --json FILE  --repeat K  --changes N

Measured side by side, on this machine as it is:

  start-up: spawning `kostyorc lsp` until its answer to `initialize` (what
  an editor waits for), next to `python -c pass`, the import of pygls alone
  (lsprotocol defines some 560 attrs classes: most of the cost) and
  `kostyorc check kostyor` (the compiler's own start);
  diagnostics: the shipped spec `kostyor` open in the server, then changes
  alternating a typo and its fix: the wall time from sending `didChange` to
  receiving its `publishDiagnostics`, over the real pipe, with the default
  debounce (what a user sees after the last keystroke) and with none (the
  server's own work); next to `check_text` of the same text in this process
  (the library's share) and `compiler.check` of the file;
  the same with the design doc's inventory configured (the inventory checks).

Goals of issue 14: start-up under 0.5 s, diagnostics under 100 ms.  Nothing
here is asserted by a test (tests/lsp/test_lsp_bench_smoke.py only runs
--smoke so the script keeps working); the figures are reviewed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor"
INVENTORY = ROOT / "examples" / "design-doc.yaml"
SERVER = [sys.executable, "-m", "kostyor_dsl", "lsp"]
GOALS = {"startup_s": 0.5, "diagnostics_s": 0.1}


class Connection:
    """A blocking JSON-RPC connection to a server process over its stdin/stdout."""

    def __init__(self, env: dict) -> None:
        self.proc = subprocess.Popen(
            SERVER,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.next_id = 0

    def send(self, method: str, params, request: bool = False) -> int | None:
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        ident = None
        if request:
            self.next_id += 1
            ident = message["id"] = self.next_id
        body = json.dumps(message).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return ident

    def receive(self) -> dict:
        length = 0
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.proc.stdout.read(length))

    def answer(self, ident: int) -> dict:
        while True:
            message = self.receive()
            if message.get("id") == ident and "method" not in message:
                return message

    def diagnostics(self, uri: str, version: int) -> list:
        while True:
            message = self.receive()
            if message.get("method") == "textDocument/publishDiagnostics":
                params = message["params"]
                if params["uri"] == uri and params.get("version") == version:
                    return params["diagnostics"]

    def initialize(self, root: Path, options: dict) -> None:
        ident = self.send(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "capabilities": {},
                "initializationOptions": options,
            },
            request=True,
        )
        self.answer(ident)
        self.send("initialized", {})

    def close(self) -> None:
        try:
            self.answer(self.send("shutdown", None, request=True))
            self.send("exit", None)
            self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def wall(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def startup(env: dict, folder: Path, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        conn = Connection(env)
        try:
            conn.initialize(folder, {})
            times.append(time.perf_counter() - start)
        finally:
            conn.close()
    return {
        "lsp_initialize_s": min(times),
        "python_pass_s": min(wall([sys.executable, "-c", "pass"], env) for _ in range(repeat)),
        "import_pygls_s": min(
            wall([sys.executable, "-c", "import pygls.lsp.server"], env) for _ in range(repeat)
        ),
        "kostyorc_check_s": min(
            wall([sys.executable, "-m", "kostyor_dsl", "check", "kostyor"], env)
            for _ in range(repeat)
        ),
    }


def changes(
    env: dict, folder: Path, count: int, inventory: Path | None, debounce_ms: int | None = 0
) -> dict:
    spec = folder / "kostyor.kostyor"
    good = SPEC.read_text(encoding="utf-8")
    if inventory is not None:
        # The server reads an inventory only inside its workspace (docs/editors.md).
        shutil.copyfile(inventory, folder / inventory.name)
        good = f"# kostyor: inventory={inventory.name}\n" + good
    spec.write_text(good, encoding="utf-8")
    typo = good.replace("order   openstack", "order   openstak", 1)
    uri = spec.as_uri()
    conn = Connection(env)
    latencies = []
    try:
        conn.initialize(folder, {} if debounce_ms is None else {"debounce_ms": debounce_ms})
        conn.send(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "kostyor", "version": 1, "text": good}},
        )
        conn.diagnostics(uri, 1)
        for version in range(2, count + 2):
            text = typo if version % 2 == 0 else good
            start = time.perf_counter()
            conn.send(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"text": text}],
                },
            )
            found = conn.diagnostics(uri, version)
            latencies.append(time.perf_counter() - start)
            assert bool(found) == (text is typo), found
    finally:
        conn.close()

    from kostyor_dsl.compiler import check
    from kostyor_dsl.lsp.workspace import check_text

    inv = str(inventory) if inventory else None
    in_process = []
    for _ in range(count):
        start = time.perf_counter()
        check_text(typo, str(spec), inv)
        in_process.append(time.perf_counter() - start)
    saved = []
    for _ in range(count):
        start = time.perf_counter()
        check(str(spec), inv)
        saved.append(time.perf_counter() - start)
    latencies.sort()
    return {
        "changes": count,
        "median_s": statistics.median(latencies),
        "p90_s": latencies[int(0.9 * (len(latencies) - 1))],
        "max_s": latencies[-1],
        "check_text_median_s": statistics.median(in_process),
        "check_file_median_s": statistics.median(saved),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a short run (tests)")
    parser.add_argument("--repeat", type=int, default=None, help="start-ups to take the best of")
    parser.add_argument("--changes", type=int, default=None, help="changes to time")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.smoke else 5)
    count = args.changes or (4 if args.smoke else 40)

    folder = Path(tempfile.mkdtemp(prefix="kostyor-lsp-bench-"))
    env = {**os.environ, "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(folder))}
    try:
        result = {
            "mode": "smoke" if args.smoke else "full",
            "startup": startup(env, folder, repeat),
            "diagnostics": changes(env, folder, count, None),
            "diagnostics_default_debounce": changes(env, folder, count, None, None),
            "diagnostics_inventory": changes(env, folder, count, INVENTORY),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    s, d, di = result["startup"], result["diagnostics"], result["diagnostics_inventory"]
    dd = result["diagnostics_default_debounce"]
    result["goals"] = [
        {
            "goal": "start-up < 0.5 s",
            "measured": s["lsp_initialize_s"],
            "met": s["lsp_initialize_s"] < GOALS["startup_s"],
        },
        {
            "goal": "diagnostics < 100 ms",
            "measured": dd["p90_s"],
            "met": dd["p90_s"] < GOALS["diagnostics_s"],
        },
    ]
    print(f"start-up (best of {repeat}):")
    print(f"  kostyorc lsp, spawn to initialize answer  {s['lsp_initialize_s'] * 1000:7.1f} ms")
    print(f"  python -c pass                            {s['python_pass_s'] * 1000:7.1f} ms")
    print(f"  python -c 'import pygls.lsp.server'       {s['import_pygls_s'] * 1000:7.1f} ms")
    print(f"  kostyorc check kostyor                    {s['kostyorc_check_s'] * 1000:7.1f} ms")
    rows = (
        ("shipped spec, default debounce", dd),
        ("shipped spec, no debounce", d),
        ("shipped spec + design-doc inventory, no debounce", di),
    )
    for title, row in rows:
        print(f"diagnostics after a change, {title} ({row['changes']} changes):")
        print(
            f"  didChange -> publishDiagnostics  median {row['median_s'] * 1000:6.1f} ms"
            f"  p90 {row['p90_s'] * 1000:6.1f} ms  max {row['max_s'] * 1000:6.1f} ms"
        )
        print(
            f"  check_text in process            median {row['check_text_median_s'] * 1000:6.1f} ms"
            f"  (compiler.check of the file {row['check_file_median_s'] * 1000:.1f} ms)"
        )
    print("Goals:")
    for goal in result["goals"]:
        print(
            f"  {goal['goal']:<24} {goal['measured'] * 1000:7.1f} ms  {'met' if goal['met'] else 'NOT met'}"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
