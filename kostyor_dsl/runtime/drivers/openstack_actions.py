"""OpenStack actions any driver can offer: what a compute host needs around its upgrade.

A small registry (`ACTIONS`): `disable-scheduling`, `evacuate`, `wait-empty`,
`enable-scheduling` and `check-services`, each a function of an openstacksdk
connection, a host and the hook's parameters that returns what it did.  A
driver that takes `-p cloud=NAME` (a cloud of the operator's `clouds.yaml`)
hands these actions to `OpenStackActions.signature`; the `ansible`,
`kolla-ansible` and `openstack-ansible` drivers do.

Every action is idempotent: it looks first and changes only what is not yet
as wanted, so a step run again after a worker died finishes the job (a
migration already under way is waited for, not started twice).  Waiting
polls the API every `poll_interval` seconds until the step's deadline (the
hook's own `timeout`, else the driver's), never longer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from celery import shared_task

from kostyor_dsl.runtime.drivers import Parameter
from kostyor_dsl.runtime.errors import ParameterError, StepFailed

TASK = "kostyor_dsl.drivers.openstack.action"
DISABLED_REASON = "kostyor: upgrading this host"
# Every reason the run writes starts with this, a custom `reason` too: it is how
# enable-scheduling (and `status`) tell the run's own disable from someone else's.
OWN_MARK = "kostyor: "
# nova's disabled_reason column is 255 characters.
REASON_LIMIT = 255


def disabled_reason(parameters: Mapping[str, Any]) -> str:
    """The reason the run writes: the hook's `reason` after the run's mark."""
    text = str(parameters.get("reason") or "").strip()
    if not text:
        return DISABLED_REASON
    if not text.startswith(OWN_MARK):
        text = OWN_MARK + text
    return text[:REASON_LIMIT]


def disabled_by_kostyor(reason: str | None) -> bool:
    return (reason or "").startswith(OWN_MARK)


# The server states the actions act on; what nova says while it moves one.
MOVING_STATES = frozenset({"MIGRATING", "RESIZE", "REBUILD"})
LIVE_STATES = frozenset({"ACTIVE", "PAUSED"})
COLD_STATES = frozenset({"SHUTOFF", "STOPPED", "SUSPENDED"})

PARAMETERS: Mapping[str, Parameter] = {
    "cloud": Parameter(
        str,
        default="",
        help="cloud of clouds.yaml for the OpenStack actions (disable-scheduling, evacuate, ...)",
    ),
    "poll_interval": Parameter(
        float, default=5.0, help="seconds between looks at the cloud while an action waits"
    ),
}


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def passed(self) -> bool:
        return time.monotonic() >= self.end

    def wait(self, interval: float) -> bool:
        """Sleep up to `interval`, never past the deadline; False when it has passed."""
        left = self.end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(interval, left))
        return True


@dataclass(frozen=True)
class Action:
    name: str
    run: Callable[..., dict[str, Any]]
    help: str


ACTIONS: dict[str, Action] = {}


def action(name: str, help: str):
    def register(function):
        ACTIONS[name] = Action(name, function, help)
        return function

    return register


def _compute_service(conn, host: str):
    services = [service for service in conn.compute.services(host=host, binary="nova-compute")]
    services = [service for service in services if service.host == host]
    if not services:
        raise StepFailed(f"the cloud has no nova-compute service on host {host!r}")
    return services[0]


def _servers_on(conn, host: str) -> list:
    return sorted(
        (
            server
            for server in conn.compute.servers(details=True, all_projects=True, compute_host=host)
            if server.compute_host == host
        ),
        key=lambda server: server.id,
    )


def _label(server) -> str:
    return f"{server.name or server.id} ({server.id}, {server.status})"


@action("disable-scheduling", "disable the host's nova-compute service: no new instances")
def disable_scheduling(conn, host: str, parameters: Mapping[str, Any], deadline, interval):
    service = _compute_service(conn, host)
    # `status` lists a host whose later step failed before enable-scheduling, with
    # the command that enables it: only when the run disabled it (an earlier
    # attempt of this step too), not when someone else had.
    enable_with = f"openstack compute service set --enable {host} nova-compute"
    if service.status == "disabled":
        ours = disabled_by_kostyor(service.disabled_reason)
        return {
            "did": f"nothing: nova-compute on {host} was already disabled",
            "disabled_reason": service.disabled_reason,
            "scheduling_disabled": ours,
            "enable_with": enable_with,
        }
    reason = disabled_reason(parameters)
    conn.compute.disable_service(service, host=host, binary="nova-compute", disabled_reason=reason)
    return {
        "did": f"disabled nova-compute on {host}",
        "disabled_reason": reason,
        "scheduling_disabled": True,
        "enable_with": enable_with,
    }


@action("enable-scheduling", "enable the host's nova-compute service again")
def enable_scheduling(conn, host: str, parameters: Mapping[str, Any], deadline, interval):
    service = _compute_service(conn, host)
    if service.status == "enabled":
        return {"did": f"nothing: nova-compute on {host} was already enabled"}
    reason = service.disabled_reason or ""
    if not disabled_by_kostyor(reason) and not _truthy(parameters.get("force")):
        # Disabled before the upgrade, by someone else and for their reason: the host
        # stays as they left it.
        return {
            "did": f"nothing: nova-compute on {host} stays disabled, as someone else "
            f"disabled it (reason: {reason or 'none'}); the action's `force true` enables it",
            "disabled_reason": reason,
        }
    conn.compute.enable_service(service, host=host, binary="nova-compute")
    return {"did": f"enabled nova-compute on {host}", "was_disabled_for": reason}


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _wait_empty(conn, host: str, deadline: Deadline, interval: float, what: str) -> list:
    while True:
        left = _servers_on(conn, host)
        if not left:
            return []
        if not deadline.wait(interval):
            raise StepFailed(
                f"{what}: host {host} still has {len(left)} instance"
                f"{'s' if len(left) != 1 else ''} after {deadline.seconds:g} s: "
                + ", ".join(_label(server) for server in left)
            )


@action("wait-empty", "wait until no instance is left on the host")
def wait_empty(conn, host: str, parameters: Mapping[str, Any], deadline, interval):
    _wait_empty(conn, host, deadline, interval, "wait-empty")
    return {"did": f"host {host} has no instances"}


@action(
    "evacuate",
    "live-migrate every instance off the host (cold-migrate what cannot move live), "
    "wait until it is empty",
)
def evacuate(conn, host: str, parameters: Mapping[str, Any], deadline, interval):
    from openstack import exceptions

    cold_allowed = str(parameters.get("cold_migrate", "true")).strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )
    moved: dict[str, str] = {}
    refused: dict[str, str] = {}
    confirmed: list[str] = []
    while True:
        servers = _servers_on(conn, host)
        # A cold migration ends in VERIFY_RESIZE on the new host: confirm it there.
        cold = sorted(i for i, how in moved.items() if how == "cold" and i not in confirmed)
        unconfirmed = [
            server
            for server in (conn.compute.get_server(ident) for ident in cold)
            if server.compute_host != host
        ]
        for server in unconfirmed:
            if server.status == "VERIFY_RESIZE":
                conn.compute.confirm_server_resize(server)
                confirmed.append(server.id)
        waiting = [s for s in unconfirmed if s.status in MOVING_STATES or s.task_state]
        if not servers and not waiting:
            break
        for server in servers:
            if server.id in refused or server.status in MOVING_STATES or server.task_state:
                continue
            if server.status == "VERIFY_RESIZE":
                conn.compute.confirm_server_resize(server)
                confirmed.append(server.id)
                continue
            tried = moved.get(server.id)
            if server.status in LIVE_STATES and tried is None:
                try:
                    conn.compute.live_migrate_server(server, host=None, block_migration="auto")
                    moved[server.id] = "live"
                    continue
                except exceptions.HttpException as exc:
                    live_error = _api_message(exc)
                    if not cold_allowed:
                        refused[server.id] = f"live migration refused: {live_error}"
                        continue
            elif server.status in LIVE_STATES and tried == "live":
                live_error = "the live migration did not move it"
            elif server.status in COLD_STATES and tried is None:
                live_error = f"it is {server.status}"
            else:
                refused[server.id] = (
                    f"cannot move an instance in state {server.status}"
                    if tried is None
                    else f"the {tried} migration did not move it"
                )
                continue
            if not cold_allowed:
                refused[server.id] = f"cannot live-migrate: {live_error}; cold migration is off"
                continue
            try:
                conn.compute.migrate_server(server)
                moved[server.id] = "cold"
            except exceptions.HttpException as exc:
                refused[server.id] = f"{live_error}; cold migration refused: {_api_message(exc)}"
        stuck = [server for server in servers if server.id in refused]
        if stuck and len(stuck) == len(servers) and not waiting:
            raise StepFailed(
                f"evacuate: cannot move {len(stuck)} instance{'s' if len(stuck) != 1 else ''} "
                f"off {host}: "
                + "; ".join(f"{_label(server)}: {refused[server.id]}" for server in stuck)
                + (f" (moved: {len(moved)})" if moved else "")
            )
        if not deadline.wait(interval):
            raise StepFailed(
                f"evacuate: host {host} still has {len(servers)} instance"
                f"{'s' if len(servers) != 1 else ''} after {deadline.seconds:g} s: "
                + ", ".join(
                    _label(server) + (f": {refused[server.id]}" if server.id in refused else "")
                    for server in servers
                )
            )
    live = sorted(server for server, how in moved.items() if how == "live")
    cold = sorted(server for server, how in moved.items() if how == "cold")
    did = f"host {host} is empty"
    if moved:
        did += f": live-migrated {len(live)}, cold-migrated {len(cold)}"
    else:
        did = f"nothing to move: host {host} had no instances left"
    return {"did": did, "live_migrated": live, "cold_migrated": cold, "confirmed": confirmed}


def _api_message(exc) -> str:
    details = getattr(exc, "details", None) or ""
    return f"HTTP {getattr(exc, 'status_code', '?')}: {details or exc}".strip()


@action("check-services", "check that every compute and network service of the host is up")
def check_services(conn, host: str, parameters: Mapping[str, Any], deadline, interval):
    seen: list[str] = []
    down: list[str] = []
    for service in conn.compute.services(host=host):
        if service.host != host:
            continue
        seen.append(service.binary)
        if service.state != "up":
            down.append(f"{service.binary} is {service.state}")
    if conn.has_service("network"):
        for agent in conn.network.agents(host=host):
            if agent.host != host:
                continue
            seen.append(agent.binary)
            if not agent.is_alive:
                down.append(f"{agent.binary} is not alive")
            elif not agent.is_admin_state_up:
                down.append(f"{agent.binary} is administratively down")
    if not seen:
        raise StepFailed(f"check-services: the cloud knows no service on host {host!r}")
    if down:
        raise StepFailed(f"check-services on {host}: " + ", ".join(sorted(down)))
    return {"did": f"every service of {host} is up", "services": sorted(seen)}


# The language's built-in `health-check`, on a host, is this check.
ACTIONS["health-check"] = Action("health-check", check_services, "the same as check-services")


def connect(cloud: str):
    """An openstacksdk connection to `cloud` of the operator's clouds.yaml."""
    try:
        import openstack
        from openstack import exceptions
    except ImportError:  # pragma: no cover - the extra is installed in tests
        raise StepFailed(
            "the OpenStack actions need openstacksdk: pip install 'kostyor-dsl[openstack]'"
        ) from None
    try:
        return openstack.connect(cloud=cloud)
    except exceptions.ConfigException as exc:
        raise StepFailed(f"cloud {cloud!r}: {exc} (is it in clouds.yaml?)") from None


@shared_task(name=TASK)
def run_action(cloud: str, name: str, host: str, parameters: dict, timeout: float, interval: float):
    from openstack import exceptions

    registered = ACTIONS.get(name)
    if registered is None:
        raise StepFailed(f"no OpenStack action {name!r}")
    deadline = Deadline(timeout)
    conn = connect(cloud)
    try:
        result = registered.run(conn, host, parameters, deadline, interval)
    except exceptions.SDKException as exc:
        raise StepFailed(
            f"{name} on {host} (cloud {cloud!r}): {type(exc).__name__}: {exc}"
        ) from None
    finally:
        conn.close()
    return {"action": name, "host": host, "cloud": cloud, **result}


class OpenStackActions:
    """What a driver with `-p cloud=NAME` hands its OpenStack hook actions to."""

    NAMES: ClassVar[tuple[str, ...]] = tuple(sorted(ACTIONS))

    def __init__(self, driver: str, parameters: Mapping[str, Any]) -> None:
        self.cloud = parameters.get("cloud") or ""
        self.interval = float(parameters.get("poll_interval") or 5.0)
        if self.interval <= 0:
            raise ParameterError(f"driver {driver!r}: parameter 'poll_interval' must be positive")
        if self.cloud:
            try:
                import openstack  # noqa: F401
            except ImportError:
                raise ParameterError(
                    f"driver {driver!r}: parameter 'cloud' needs openstacksdk "
                    "(pip install 'kostyor-dsl[openstack]')"
                ) from None

    def offers(self, name: str) -> bool:
        return bool(self.cloud) and name in ACTIONS

    def signature(self, name: str, host: str | None, parameters: Mapping[str, Any], timeout):
        if not host:
            raise StepFailed(f"OpenStack action {name!r} needs a host")
        return run_action.si(self.cloud, name, host, dict(parameters), timeout, self.interval)

    def why_not(self, name: str) -> str:
        if name in ACTIONS and not self.cloud:
            return f"{name!r} is an OpenStack action: give -p cloud=NAME (a cloud of clouds.yaml)"
        return ""
