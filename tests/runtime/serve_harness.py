"""`kostyorc serve` and a headless Chromium for the browser tests.

The server is a `kostyorc serve` subprocess in a session of its own (killed
with the workers at teardown, whatever ends the test); the browser is
Debian's chromium driven by PyPI's playwright (`executable_path`: no browser
is downloaded).  Without chromium or playwright the browser tests skip, except
when `CI` is set: then they fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from runtime_harness import KOSTYORC, Runtime, kill_session, spawn

CHROMIUM = os.environ.get("KOSTYOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def require_browser() -> None:
    import pytest

    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ModuleNotFoundError:
        problem = "playwright is not installed (pip install playwright)"
    if problem is None and not Path(CHROMIUM).exists():
        problem = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem} (CI is set: browser tests must run)")
        pytest.skip(problem)


class Server:
    """One `kostyorc serve` process; `restart()` starts it again on the same port."""

    def __init__(self, runtime: Runtime, *extra: str, port: int = 0) -> None:
        self.runtime = runtime
        self.extra = extra
        self.port = port
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.token = ""
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        output = self.runtime.tmp / f"serve-{self.starts}.out"
        errors = self.runtime.tmp / f"serve-{self.starts}.err"
        self.process = spawn(
            [*KOSTYORC, "serve", "--bind", f"127.0.0.1:{self.port}", *self.extra],
            env=self.runtime.env,
            cwd=self.runtime.tmp,
            stdout=output.open("w"),
            stderr=errors.open("w"),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"open (http://[^/\s]+:(\d+)/)\?token=(\S+)", output.read_text())
            if found:
                self.url, self.port, self.token = found[1], int(found[2]), found[3]
                if "--token-file" in self.extra:
                    path = self.extra[self.extra.index("--token-file") + 1]
                    self.token = Path(path).read_text().strip()
                return
            if self.process.poll() is not None:
                raise AssertionError(
                    f"kostyorc serve exited {self.process.returncode}:\n{errors.read_text()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"kostyorc serve printed no address:\n{errors.read_text()}")

    def login_url(self, path: str = "") -> str:
        return f"{self.url}{path}?token={self.token}"

    def stop(self) -> None:
        if self.process is not None:
            kill_session(self.process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
