"""What the harness watches while kostyorc upgrades the cloud.

- `ApiProbe`: about once a second, one raw HTTP request to each of keystone,
  nova, placement and glance with a cached token (fix 13: the CLI costs
  seconds a call); every sample is kept with its time and outcome.
- `NovaSampler`: about once a second, nova's database (read only): each
  compute service's version and heartbeat, and each instance's host.

Both run in threads and stop when asked; nothing here changes the cloud.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass
class Sample:
    t: float
    service: str
    ok: bool
    detail: str


class ApiProbe(threading.Thread):
    def __init__(self, cloud, token: str, interval: float = 1.0) -> None:
        super().__init__(daemon=True, name="api-probe")
        self.cloud = cloud
        self.token = token
        self.interval = interval
        self.samples: list[Sample] = []
        self.stopping = threading.Event()
        ks = cloud.keystone_auth
        self.targets = {
            "keystone": (f"{ks}/auth/tokens", {"X-Subject-Token": token}),
            "nova": (f"{cloud.url('nova')}/v2.1/servers?all_tenants=1", {}),
            "placement": (f"{cloud.url('placement')}/resource_providers", {}),
            "glance": (f"{cloud.url('glance')}/v2/images", {}),
        }

    def probe(self, service: str) -> Sample:
        url, headers = self.targets[service]
        req = urllib.request.Request(url, headers={"X-Auth-Token": self.token, **headers})
        started = time.time()
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                body = resp.read()
                detail = str(resp.status)
                if service == "nova":
                    detail += f" servers={len(json.loads(body)['servers'])}"
                return Sample(started, service, True, detail)
        except urllib.error.HTTPError as exc:
            return Sample(started, service, exc.code < 500, f"HTTP {exc.code}")
        except (OSError, ValueError) as exc:
            return Sample(started, service, False, type(exc).__name__ + ": " + str(exc)[:80])

    def run(self) -> None:
        while not self.stopping.is_set():
            tick = time.monotonic()
            for service in self.targets:
                self.samples.append(self.probe(service))
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - tick)))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)

    def outages(self) -> dict[str, list[tuple[float, float]]]:
        """Per service, windows (first failed sample, next good sample)."""
        windows: dict[str, list[tuple[float, float]]] = {s: [] for s in self.targets}
        for service in self.targets:
            start = None
            for sample in (s for s in self.samples if s.service == service):
                if not sample.ok and start is None:
                    start = sample.t
                elif sample.ok and start is not None:
                    windows[service].append((start, sample.t))
                    start = None
            if start is not None:
                windows[service].append((start, time.time()))
        return windows


class NovaSampler(threading.Thread):
    def __init__(self, database: str, interval: float = 1.0) -> None:
        super().__init__(daemon=True, name="nova-sampler")
        self.database = database
        self.interval = interval
        self.stopping = threading.Event()
        # (time, {host: version}, {host: [instance uuid, ...]})
        self.samples: list[tuple[float, dict[str, int], dict[str, list[str]]]] = []

    def query(self, sql: str) -> list[list[str]]:
        done = subprocess.run(
            ["mysql", "-h", "127.0.0.1", "-u", "root", "-N", "-B", self.database, "-e", sql],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def sample(self):
        t = time.time()
        versions = {
            host: int(version)
            for host, version in self.query(
                "SELECT host, version FROM services WHERE deleted=0 AND `binary`='nova-compute'"
            )
        }
        placed: dict[str, list[str]] = {}
        for uuid, host in self.query("SELECT uuid, host FROM instances WHERE deleted=0"):
            placed.setdefault(host, []).append(uuid)
        return t, versions, placed

    def run(self) -> None:
        while not self.stopping.is_set():
            tick = time.monotonic()
            with contextlib.suppress(subprocess.SubprocessError, ValueError):
                self.samples.append(self.sample())
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - tick)))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
