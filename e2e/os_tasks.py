"""Cloud-side tasks of the harness, run with a release's own python (its openstacksdk).

    python os_tasks.py register   # service users, catalog
    python os_tasks.py boot       # flavor, image, 4 servers booted with no network
    python os_tasks.py servers    # JSON: every server with status and host

Settings come from the environment the harness sets (OS_CLOUD, E2E_*).
"""

from __future__ import annotations

import json
import os
import sys
import time

import openstack

SERVICES = {
    # project: (service type, catalog name, URL)
    "nova": ("compute", "nova", os.environ.get("E2E_NOVA", "")),
    "placement": ("placement", "placement", os.environ.get("E2E_PLACEMENT", "")),
    "glance": ("image", "glance", os.environ.get("E2E_GLANCE", "")),
    "neutron": ("network", "neutron", os.environ.get("E2E_NEUTRON", "")),
}
SERVERS = 4
BOOT_TIMEOUT = 300


def register(conn) -> None:
    ident = conn.identity
    project = ident.find_project("service") or ident.create_project(
        name="service", domain_id="default"
    )
    admin = ident.find_role("admin")
    service_role = ident.find_role("service") or ident.create_role(name="service")
    region = os.environ["E2E_REGION"]
    for name, (stype, sname, url) in SERVICES.items():
        user = ident.find_user(name, domain_id="default") or ident.create_user(
            name=name, password=os.environ["E2E_PASSWORD"], domain_id="default"
        )
        for role in (admin, service_role):
            ident.assign_project_role_to_user(project, user, role)
        service = ident.find_service(sname) or ident.create_service(name=sname, type=stype)
        for interface in ("public", "internal", "admin"):
            ident.create_endpoint(
                service_id=service.id, interface=interface, url=url, region_id=region
            )
    print("registered", ", ".join(SERVICES))


def boot(conn) -> None:
    flavor = conn.compute.find_flavor("m1.tiny") or conn.compute.create_flavor(
        name="m1.tiny", vcpus=1, ram=128, disk=1
    )
    image = conn.image.find_image("tiny")
    if image is None:
        path = os.path.join(os.environ["E2E_WORKDIR"], "tiny.raw")
        with open(path, "wb") as fh:
            fh.write(b"\0" * (1024 * 1024))
        image = conn.image.create_image(
            name="tiny",
            filename=path,
            disk_format="raw",
            container_format="bare",
            visibility="public",
            wait=True,
        )
    created = []
    hosts = os.environ["E2E_COMPUTES"].split(",")
    for index in range(1, SERVERS + 1):
        # Placed round-robin (an admin's `nova:HOST` zone): every compute holds
        # a server, so every drain (and every fault) has work, run after run.
        created.append(
            conn.compute.create_server(
                name=f"e2e-{index}",
                flavor_id=flavor.id,
                image_id=image.id,
                networks="none",
                availability_zone=f"nova:{hosts[(index - 1) % len(hosts)]}",
            )
        )
    deadline = time.monotonic() + BOOT_TIMEOUT
    pending = {server.id for server in created}
    while pending:
        for ident in sorted(pending):
            server = conn.compute.get_server(ident)
            if server.status == "ACTIVE":
                pending.discard(ident)
            elif server.status == "ERROR":
                raise SystemExit(f"server {server.name} went to ERROR: {server.fault}")
        if pending and time.monotonic() > deadline:
            raise SystemExit(f"servers not ACTIVE after {BOOT_TIMEOUT} s: {sorted(pending)}")
        if pending:
            time.sleep(1)
    servers()


def servers(conn=None) -> None:
    conn = conn or openstack.connect()
    out = [
        {"id": s.id, "name": s.name, "status": s.status, "host": s.compute_host}
        for s in conn.compute.servers(details=True, all_projects=True)
    ]
    print(json.dumps(sorted(out, key=lambda s: s["name"])))


def main() -> int:
    verb = sys.argv[1]
    conn = openstack.connect()
    {"register": register, "boot": boot, "servers": servers}[verb](conn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
