"""Which packages make up each OpenStack release, and where its constraints come from.

Services are not in upper-constraints; they are pinned here by hand.  A release
whose constraints file is not shipped in ``e2e/constraints/`` is fetched from
``releases.openstack.org/constraints/upper/<release>`` (the published copy of
``upper-constraints.txt`` of openstack/requirements' stable branch) into the
cache on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONSTRAINTS_DIR = Path(__file__).parent / "constraints"
CONSTRAINTS_URL = "https://releases.openstack.org/constraints/upper/{release}"

# Tools installed into every release's virtualenv (versions from its constraints).
TOOLS = ("python-openstackclient", "osc-placement", "python-novaclient", "PyMySQL", "gunicorn")


@dataclass(frozen=True)
class Release:
    name: str
    nova: str
    keystone: str
    placement: str
    glance: str
    neutron: str
    # nova's service version (nova/objects/service.py SERVICE_VERSION) of the
    # release; None when unknown, then the harness reads it from the database.
    compute_service_version: int | None = None

    def requirements(self) -> list[str]:
        return [
            f"nova=={self.nova}",
            f"keystone=={self.keystone}",
            f"openstack-placement=={self.placement}",
            f"glance=={self.glance}",
            *TOOLS,
        ]

    def constraints_file(self) -> Path | None:
        path = CONSTRAINTS_DIR / f"uc-{self.name}.txt"
        return path if path.exists() else None


# Numbering: nova 31/32/33/34 = 2025.1/2025.2/2026.1/2026.2; keystone 27..30;
# placement 13..16; glance 30..33; neutron 26..29.  2025.1 and 2026.1 are SLURP.
RELEASES = {
    "2025.1": Release("2025.1", "31.3.1", "27.1.0", "13.0.1", "30.2.0", "26.0.6"),
    "2025.2": Release("2025.2", "32.2.1", "28.1.0", "14.0.0", "31.1.0", "27.0.4", 70),
    "2026.1": Release("2026.1", "33.0.2", "29.1.0", "15.0.0", "32.0.0", "28.0.2", 72),
    "2026.2": Release("2026.2", "34.0.0", "30.0.0", "16.0.0", "33.0.0", "29.0.0"),
}

# Pairs documented in docs/e2e.md; CI runs the first.
PAIRS = [("2025.2", "2026.1"), ("2026.1", "2026.2"), ("2025.1", "2026.1")]


def release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        raise SystemExit(f"unknown release {name!r}; known: {', '.join(RELEASES)}") from None
