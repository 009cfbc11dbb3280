"""Where the broker, the result backend and the state folder are.

The embedded default needs no server: kombu's `filesystem://` transport and
Celery's file result backend, both under the state folder (`.kostyor/` in the
current directory, or `$KOSTYOR_HOME`).  `KOSTYOR_BROKER_URL` and
`KOSTYOR_BACKEND_URL` (or the `--broker`/`--backend` flags, which set them)
select Redis or RabbitMQ for real deployments.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# The host part only silences kombu's "No hostname was supplied" warning.
EMBEDDED_BROKER = "filesystem://localhost//"
DEFAULT_QUEUE = "kostyor"


@dataclass(frozen=True)
class RuntimeSettings:
    home: Path
    broker_url: str
    backend_url: str
    poll_interval: float
    stall_seconds: float
    worker_host: str | None
    namespace: str = "kostyor"
    lock_ttl: float = 10.0

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem:")

    @property
    def redis_backend(self) -> bool:
        return self.backend_url.startswith(("redis://", "rediss://"))

    @property
    def broker_folder(self) -> Path:
        return self.home / "broker"

    @property
    def results_folder(self) -> Path:
        return self.home / "results"

    @property
    def runs_folder(self) -> Path:
        return self.home / "runs"


def resolve_settings(environ: dict[str, str] | None = None) -> RuntimeSettings:
    env = os.environ if environ is None else environ
    home = Path(env.get("KOSTYOR_HOME") or Path.cwd() / ".kostyor").resolve()
    broker = env.get("KOSTYOR_BROKER_URL") or EMBEDDED_BROKER
    backend = env.get("KOSTYOR_BACKEND_URL") or ""
    if not backend:
        # A Redis broker brings a Redis store for free; every other broker keeps
        # the run record in files next to it.
        backend = broker if broker.startswith(("redis://", "rediss://")) else ""
    if not backend:
        backend = (home / "results").as_uri()
    return RuntimeSettings(
        home=home,
        broker_url=broker,
        backend_url=backend,
        poll_interval=float(env.get("KOSTYOR_POLL_INTERVAL") or 0.5),
        stall_seconds=float(env.get("KOSTYOR_STALL_SECONDS") or 20),
        worker_host=env.get("KOSTYOR_WORKER_HOST") or None,
        namespace=env.get("KOSTYOR_NAMESPACE") or "kostyor",
        lock_ttl=float(env.get("KOSTYOR_LOCK_TTL") or 10),
    )


def redact(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


def celery_config(settings: RuntimeSettings) -> dict:
    """The Celery configuration for kostyor; pure data."""
    config: dict = {
        "broker_url": settings.broker_url,
        "result_backend": settings.backend_url,
        "task_default_queue": DEFAULT_QUEUE,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_deduplicate_successful_tasks": True,
        "result_extended": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_track_started": False,
        "broker_transport_options": {},
    }
    if settings.embedded_broker:
        data = settings.broker_folder / "queues"
        control = settings.broker_folder / "control"
        # The URL stays filesystem://; an explicit transport class wins over its scheme.
        config["broker_transport"] = "kostyor_dsl.runtime.embedded_broker:Transport"
        config["broker_transport_options"] = {
            "data_folder_in": str(data),
            "data_folder_out": str(data),
            "control_folder": str(control),
            "store_processed": False,
            "polling_interval": settings.poll_interval,
        }
    elif settings.broker_url.startswith(("redis://", "rediss://")):
        config["broker_transport_options"] = {"polling_interval": settings.poll_interval}
    return config


def prepare_folders(settings: RuntimeSettings) -> None:
    if not settings.redis_backend:
        settings.runs_folder.mkdir(parents=True, exist_ok=True)
    if settings.embedded_broker:
        (settings.broker_folder / "queues").mkdir(parents=True, exist_ok=True)
        (settings.broker_folder / "control").mkdir(parents=True, exist_ok=True)
    if settings.backend_url.startswith("file:"):
        settings.results_folder.mkdir(parents=True, exist_ok=True)
