"""A redis-server or a RabbitMQ node of a test's own, on a free port, in its temp folder.

The fault tests stop and restart a store, or need a broker setting the
shared services must keep (RabbitMQ 3.10 sets `consumer_timeout` for the
whole node only), so they start their own; each is started in a session of
its own (see `runtime_harness.spawn`) and killed whatever ends the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from runtime_harness import free_port, kill_session, service_up, spawn, wait_until

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def _need(program: str | Path) -> str:
    found = shutil.which(str(program)) or (str(program) if Path(program).exists() else None)
    if found:
        return found
    message = f"{program} is not installed"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: the fault tests must run)")
    pytest.skip(message)


class RedisServer:
    """`redis-server` on a free port, its data in `folder`; `appendonly` or nothing on disk."""

    def __init__(self, folder: Path, *, appendonly: bool) -> None:
        self.program = _need("redis-server")
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.appendonly = appendonly
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = ["--appendonly", "yes"] if self.appendonly else ["--appendonly", "no"]
        self.process = spawn(
            [
                self.program,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                *persistence,
            ],
            stdout=(self.folder / "redis.log").open("a"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: service_up("127.0.0.1", self.port), 30, "redis-server to listen")

    def stop(self) -> None:
        """A clean stop (SIGTERM: with AOF on, everything written is kept)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        if self.process:
            kill_session(self.process.pid)

    def kill(self) -> None:
        if self.process:
            kill_session(self.process.pid)
            self.process.wait(timeout=10)


class RabbitNode:
    """A RabbitMQ node of its own (no plugins) with a short delivery acknowledgement timeout."""

    def __init__(self, folder: Path, *, consumer_timeout_ms: int) -> None:
        self.program = _need(RABBITMQ_SERVER)
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.dist_port = free_port()
        self.name = f"kt{self.port}@localhost"
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        # The channel checks the timeout on its tick (60 s by default).
        (folder / "advanced.config").write_text(
            f"[{{rabbit, [{{consumer_timeout, {consumer_timeout_ms}}}, "
            f"{{channel_tick_interval, {max(consumer_timeout_ms // 4, 100)}}}]}}].\n"
        )
        (folder / "enabled_plugins").write_text("[].\n")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        env = {
            **os.environ,
            "HOME": str(self.folder),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.folder / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_CONF_ENV_FILE": str(self.folder / "rabbitmq-env.conf"),
        }
        log = self.folder / "server.log"
        self.process = spawn(
            [self.program], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
        )
        wait_until(
            lambda: (
                "Starting broker... completed" in log.read_text() or self.process.poll() is not None
            ),
            90,
            "the RabbitMQ node to start",
        )
        if self.process.poll() is not None:
            raise AssertionError(f"rabbitmq-server exited:\n{log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.process:
            kill_session(self.process.pid)
            self.process.wait(timeout=10)
