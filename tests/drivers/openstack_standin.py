"""A small stand-in for an OpenStack cloud: keystone, nova and neutron over HTTP.

It answers what openstacksdk asks for the OpenStack actions, in the shapes of
the documented API (keystone v3 tokens with a catalog; nova 2.1 version
discovery, os-services (2.53+: ids are UUIDs, updates by PUT), servers/detail
with `OS-EXT-SRV-ATTR:host` and `OS-EXT-STS:task_state`, server actions
`os-migrateLive`, `migrate`, `confirmResize`; neutron agents), from nova's and
neutron's api-ref samples.  Time is counted in looks: each listing of a
host's servers is a tick, and a migration moves its server after
`ticks` of them, so a test waits on what the cloud says, never on a clock.

Server kinds (`add_server(..., kind=...)`):
- `live`: a live migration is accepted and moves it;
- `cold-only`: live migration is refused (400, as nova's pre-check does);
  a cold migration moves it to VERIFY_RESIZE on another host;
- `immovable`: both are refused;
- `stuck`: a live migration is accepted and never ends (MIGRATING forever).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MICROVERSION = "2.96"


@dataclass
class Server:
    id: str
    name: str
    host: str
    kind: str = "live"
    status: str = "ACTIVE"
    task_state: str | None = None
    moving_for: int = 0
    destination: str = ""
    after_move: str = "ACTIVE"
    before: str = "ACTIVE"

    def body(self, base: str) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "OS-EXT-SRV-ATTR:host": self.host,
            "OS-EXT-SRV-ATTR:hypervisor_hostname": self.host,
            "OS-EXT-STS:task_state": self.task_state,
            "OS-EXT-STS:vm_state": self.status.lower(),
            "tenant_id": "6f70656e737461636b20342065766572",
            "user_id": "admin",
            "flavor": {"original_name": "m1.small", "vcpus": 1, "ram": 512, "disk": 1},
            "links": [{"rel": "self", "href": f"{base}/compute/v2.1/servers/{self.id}"}],
        }


@dataclass
class Cloud:
    services: list[dict] = field(default_factory=list)
    agents: list[dict] = field(default_factory=list)
    servers: dict[str, Server] = field(default_factory=dict)
    requests: list[tuple[str, str, dict | None]] = field(default_factory=list)
    ticks: int = 2
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_compute(self, host: str, *, status="enabled", state="up", reason=None) -> dict:
        service = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"nova-compute.{host}")),
            "binary": "nova-compute",
            "host": host,
            "zone": "nova",
            "status": status,
            "state": state,
            "disabled_reason": reason,
            "forced_down": False,
            "updated_at": "2026-12-02T10:00:00.000000",
        }
        self.services.append(service)
        return service

    def add_agent(self, host: str, binary: str, *, alive=True) -> None:
        self.agents.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{binary}.{host}")),
                "agent_type": "Open vSwitch agent",
                "binary": binary,
                "host": host,
                "alive": alive,
                "admin_state_up": True,
                "availability_zone": None,
                "topic": "N/A",
            }
        )

    def add_server(self, name: str, host: str, kind: str = "live", status="ACTIVE") -> Server:
        server = Server(str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), name, host, kind, status)
        self.servers[server.id] = server
        return server

    def on(self, host: str) -> list[Server]:
        return [s for s in self.servers.values() if s.host == host]

    def actions(self, name: str | None = None) -> list[tuple[str, dict]]:
        """(server id, body) of every server action asked, in order."""
        found = []
        for method, path, body in self.requests:
            match = re.fullmatch(r"/compute/v2\.1/servers/([^/]+)/action", path)
            if method == "POST" and match and (name is None or name in (body or {})):
                found.append((match.group(1), body))
        return found

    def service_updates(self) -> list[dict]:
        return [body for method, path, body in self.requests if method == "PUT"]

    def tick(self) -> None:
        for server in self.servers.values():
            if server.moving_for > 0:
                server.moving_for -= 1
                if server.moving_for == 0 and server.kind != "stuck":
                    server.host = server.destination
                    server.status = server.after_move
                    server.task_state = None


def _other_host(cloud: Cloud, host: str) -> str:
    computes = sorted(s["host"] for s in cloud.services if s["binary"] == "nova-compute")
    others = [name for name in computes if name != host]
    return others[0] if others else f"{host}-elsewhere"


class Handler(BaseHTTPRequestHandler):
    cloud: Cloud
    base: str

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, body: dict | None = None, headers: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        url = urlparse(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        body = self._body() if method in ("POST", "PUT") else None
        path = url.path.rstrip("/") or "/"
        with self.cloud.lock:
            self.cloud.requests.append((method, path, body))
            reply = self.route(method, path, query, body)
        self._send(*reply)

    def route(self, method, path, query, body):
        cloud, base = self.cloud, self.base
        if method == "POST" and path == "/identity/v3/auth/tokens":
            return 201, _token(base), {"X-Subject-Token": "standin-token"}
        if method == "GET" and path in ("/compute", "/compute/v2.1"):
            version = {
                "id": "v2.1",
                "status": "CURRENT",
                "version": MICROVERSION,
                "min_version": "2.1",
                "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": f"{base}/compute/v2.1/"}],
            }
            return 200, ({"versions": [version]} if path == "/compute" else {"version": version})
        if method == "GET" and path in ("/network", "/network/v2.0"):
            return 200, {
                "versions": [
                    {
                        "id": "v2.0",
                        "status": "CURRENT",
                        "links": [{"rel": "self", "href": f"{base}/network/v2.0/"}],
                    }
                ]
            }
        if method == "GET" and path == "/network/v2.0/agents":
            agents = [a for a in cloud.agents if a["host"] == query.get("host", a["host"])]
            return 200, {"agents": agents}
        if method == "GET" and path == "/compute/v2.1/os-services":
            services = [
                s
                for s in cloud.services
                if s["host"] == query.get("host", s["host"])
                and s["binary"] == query.get("binary", s["binary"])
            ]
            return 200, {"services": services}
        match = re.fullmatch(r"/compute/v2\.1/os-services/([^/]+)", path)
        if method == "PUT" and match:
            service = next((s for s in cloud.services if s["id"] == match.group(1)), None)
            if service is None:
                return 404, {"itemNotFound": {"code": 404, "message": "Service not found."}}
            service["status"] = body["status"]
            service["disabled_reason"] = (
                body.get("disabled_reason") if body["status"] == "disabled" else None
            )
            return 200, {"service": service}
        if method == "GET" and path == "/compute/v2.1/servers/detail":
            host = query.get("host")
            if host:
                cloud.tick()
            servers = [s.body(base) for s in cloud.servers.values() if not host or s.host == host]
            return 200, {"servers": servers}
        match = re.fullmatch(r"/compute/v2\.1/servers/([^/]+)", path)
        if method == "GET" and match:
            server = cloud.servers.get(match.group(1))
            if server is None:
                return 404, {"itemNotFound": {"code": 404, "message": "Instance not found."}}
            return 200, {"server": server.body(base)}
        match = re.fullmatch(r"/compute/v2\.1/servers/([^/]+)/action", path)
        if method == "POST" and match:
            return self.server_action(cloud.servers.get(match.group(1)), body or {})
        return 404, {"itemNotFound": {"code": 404, "message": f"no route {method} {path}"}}

    def server_action(self, server: Server | None, body: dict):
        cloud = self.cloud
        if server is None:
            return 404, {"itemNotFound": {"code": 404, "message": "Instance not found."}}
        if "os-migrateLive" in body:
            if server.kind in ("cold-only", "immovable"):
                return 400, {
                    "badRequest": {
                        "code": 400,
                        "message": "Migration pre-check error: CPU doesn't have compatibility.",
                    }
                }
            if server.status != "ACTIVE" or server.task_state:
                return 409, _conflict(server, "os-migrateLive")
            server.status, server.task_state = "MIGRATING", "migrating"
            server.moving_for, server.destination = cloud.ticks, _other_host(cloud, server.host)
            server.after_move = "ACTIVE"
            return 202, None
        if "migrate" in body:
            if server.kind == "immovable":
                return 409, _conflict(server, "migrate")
            server.before = server.status
            server.status, server.task_state = "RESIZE", "resize_migrating"
            server.moving_for, server.destination = cloud.ticks, _other_host(cloud, server.host)
            server.after_move = "VERIFY_RESIZE"
            return 202, None
        if "confirmResize" in body:
            if server.status != "VERIFY_RESIZE":
                return 409, _conflict(server, "confirmResize")
            server.status = server.before
            return 204, None
        return 400, {"badRequest": {"code": 400, "message": f"unknown action {sorted(body)}"}}


def _conflict(server: Server, action: str) -> dict:
    return {
        "conflictingRequest": {
            "code": 409,
            "message": f"Cannot '{action}' instance {server.id} while it is in vm_state "
            f"{server.status.lower()}",
        }
    }


def _token(base: str) -> dict:
    def endpoint(kind: str, name: str, url: str) -> dict:
        return {
            "type": kind,
            "name": name,
            "id": uuid.uuid5(uuid.NAMESPACE_URL, url).hex,
            "endpoints": [
                {
                    "id": uuid.uuid5(uuid.NAMESPACE_URL, url + iface).hex,
                    "interface": iface,
                    "region": "RegionOne",
                    "region_id": "RegionOne",
                    "url": url,
                }
                for iface in ("public", "internal", "admin")
            ],
        }

    return {
        "token": {
            "methods": ["password"],
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "issued_at": "2026-12-02T10:00:00.000000Z",
            "user": {
                "id": "admin",
                "name": "admin",
                "domain": {"id": "default", "name": "Default"},
            },
            "project": {
                "id": "6f70656e737461636b20342065766572",
                "name": "admin",
                "domain": {"id": "default", "name": "Default"},
            },
            "roles": [{"id": "admin", "name": "admin"}],
            "catalog": [
                endpoint("identity", "keystone", f"{base}/identity/v3"),
                endpoint("compute", "nova", f"{base}/compute/v2.1"),
                endpoint("network", "neutron", f"{base}/network"),
            ],
        }
    }


class StandIn:
    """The stand-in cloud, served on 127.0.0.1 in a thread, and its clouds.yaml."""

    def __init__(self, cloud: Cloud | None = None) -> None:
        self.cloud = cloud or Cloud()
        handler = type("BoundHandler", (Handler,), {"cloud": self.cloud})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        handler.base = self.base
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def clouds_yaml(self, name: str = "standin") -> str:
        return json.dumps(
            {
                "clouds": {
                    name: {
                        "auth_type": "v3password",
                        "auth": {
                            "auth_url": f"{self.base}/identity/v3",
                            "username": "admin",
                            "password": "secret",
                            "project_name": "admin",
                            "user_domain_name": "Default",
                            "project_domain_name": "Default",
                        },
                        "region_name": "RegionOne",
                        "interface": "public",
                    }
                }
            }
        )
