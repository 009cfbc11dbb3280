"""Bring a miniature real OpenStack up on this machine, and take it down again.

keystone, placement, glance (file store), neutron-server (ML2, no agents) and
nova-api under gunicorn; nova-conductor and nova-scheduler; three nova-compute
processes (``host = cmp1..cmp3``, ``fake.FakeDriverWithoutFakeNodes``).  Every
service listens on 127.0.0.1, uses MariaDB databases named
``<prefix>_<project>`` and a RabbitMQ vhost of its own, and is a unit of
:mod:`e2e.svcctl` (own process group, PID file, log).  ``teardown`` stops every
unit and drops the databases and the vhost; it is safe to call twice.

The configuration keeps every fix of the proof of concept
(shared/reference/real-cloud.md, "What bit first"); each is marked ``# fix N``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from e2e.svcctl import Units

PASSWORD = "kostyor-e2e"
REGION = "RegionOne"
PROJECTS = ("keystone", "placement", "glance", "nova", "neutron")
COMPUTES = ("cmp1", "cmp2", "cmp3")
CONTROLLER = "controller"
HERE = Path(__file__).resolve().parent


@dataclass
class Cloud:
    workdir: Path
    old_venv: Path
    new_venv: Path
    run_id: str
    base_port: int = 25000
    echo: object = print
    neutron: str = "standin"  # "standin" or "real" (see docs/e2e.md)
    started: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    vhost: str | None = None

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.units = Units(self.workdir / "svc")
        self.prefix = f"kostyor_e2e_{self.run_id}"
        self.ports = {
            "keystone": self.base_port,
            "placement": self.base_port + 1,
            "glance": self.base_port + 2,
            "nova": self.base_port + 3,
            "neutron": self.base_port + 4,
        }
        self.vhost_name = f"kostyor-e2e-{self.run_id}"

    # -- names ------------------------------------------------------------
    def url(self, project: str) -> str:
        return f"http://127.0.0.1:{self.ports[project]}"

    def db(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def db_url(self, name: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1/{self.db(name)}?charset=utf8"

    @property
    def transport_url(self) -> str:
        return f"rabbit://guest:guest@127.0.0.1:5672/{self.vhost_name}"

    def conf_dir(self, project: str, role: str = "") -> Path:
        path = self.workdir / "etc" / (f"{project}-{role}" if role else project)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def keystone_auth(self) -> str:
        return f"{self.url('keystone')}/v3"

    # -- external resources -------------------------------------------------
    def _mysql(self, sql: str) -> str:
        done = subprocess.run(
            ["mysql", "-h", "127.0.0.1", "-u", "root", "-N", "-B", "-e", sql],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"mysql: {sql}: {done.stderr.strip()}")
        return done.stdout

    def create_databases(self) -> None:
        for name in (
            "keystone",
            "placement",
            "glance",
            "nova_api",
            "nova_cell0",
            "nova",
            "neutron",
        ):
            db = self.db(name)
            self._mysql(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4")
            self.databases.append(db)

    def create_vhost(self) -> None:
        _run(["rabbitmqctl", "-q", "add_vhost", self.vhost_name], timeout=60)
        self.vhost = self.vhost_name
        _run(
            [
                "rabbitmqctl",
                "-q",
                "set_permissions",
                "-p",
                self.vhost_name,
                "guest",
                ".*",
                ".*",
                ".*",
            ],
            timeout=60,
        )

    def check_ports_free(self) -> None:
        for project, port in self.ports.items():
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    raise RuntimeError(
                        f"port {port} ({project}) is in use: pass --base-port to move the cloud"
                    )

    # -- configuration --------------------------------------------------------
    def _authtoken(self, user: str) -> str:
        return f"""
[keystone_authtoken]
www_authenticate_uri = {self.keystone_auth}
auth_url = {self.keystone_auth}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = {user}
password = {PASSWORD}
# fix 6: keystonemiddleware looks for an internal endpoint otherwise
interface = public
service_token_roles_required = true
"""

    def _client(self, group: str, user: str = "nova") -> str:
        return f"""
[{group}]
auth_type = password
auth_url = {self.keystone_auth}
project_domain_name = Default
user_domain_name = Default
project_name = service
username = {user}
password = {PASSWORD}
region_name = {REGION}
valid_interfaces = public
"""

    def write_configs(self) -> None:
        logging = "[DEFAULT]\ndebug = false\nuse_stderr = true\n"
        # keystone
        ks = self.conf_dir("keystone")
        (ks / "keys").mkdir(exist_ok=True)
        (ks / "creds").mkdir(exist_ok=True)
        (ks / "keystone.conf").write_text(
            f"""{logging}
[database]
connection = {self.db_url("keystone")}
max_pool_size = 2
max_overflow = 5
[token]
provider = fernet
[fernet_tokens]
key_repository = {ks / "keys"}
[fernet_receipts]
key_repository = {ks / "keys"}
[credential]
key_repository = {ks / "creds"}
"""
        )
        # placement
        pl = self.conf_dir("placement")
        (pl / "placement.conf").write_text(
            f"""{logging}
[placement_database]
connection = {self.db_url("placement")}
max_pool_size = 2
max_overflow = 5
[api]
auth_strategy = keystone
{self._authtoken("placement")}"""
        )
        # glance (fix 9: worker_self_reference_url, staging and tasks stores)
        gl = self.conf_dir("glance")
        for sub in ("images", "staging", "tasks"):
            (self.workdir / "glance" / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(self.old_venv / "etc" / "glance" / "glance-api-paste.ini", gl)
        (gl / "glance-api.conf").write_text(
            f"""{logging}
bind_host = 127.0.0.1
bind_port = {self.ports["glance"]}
worker_self_reference_url = {self.url("glance")}
enabled_backends = fs:file
transport_url = {self.transport_url}
[database]
connection = {self.db_url("glance")}
max_pool_size = 2
max_overflow = 5
[paste_deploy]
flavor = keystone
config_file = {gl / "glance-api-paste.ini"}
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = {self.workdir / "glance" / "images"}
[os_glance_staging_store]
filesystem_store_datadir = {self.workdir / "glance" / "staging"}
[os_glance_tasks_store]
filesystem_store_datadir = {self.workdir / "glance" / "tasks"}
[oslo_concurrency]
lock_path = {self.workdir / "glance" / "lock"}
{self._authtoken("glance")}"""
        )
        # neutron-server: ML2, no agents, no RPC server (nothing to talk to)
        ne = self.conf_dir("neutron")
        (ne / "neutron.conf").write_text(
            f"""{logging}
bind_host = 127.0.0.1
bind_port = {self.ports["neutron"]}
core_plugin = ml2
service_plugins =
auth_strategy = keystone
transport_url = {self.transport_url}
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
state_path = {self.workdir / "neutron"}
[database]
connection = {self.db_url("neutron")}
max_pool_size = 2
max_overflow = 5
[oslo_concurrency]
lock_path = {self.workdir / "neutron" / "lock"}
[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers =
extension_drivers = port_security
{self._authtoken("neutron")}{self._client("nova", "neutron")}"""
        )
        # nova: a file every service reads, one with the database settings only
        # the controller's services and nova-manage read (fix 8), one per host.
        nova_common = f"""[DEFAULT]
debug = false
use_stderr = true
transport_url = {self.transport_url}
my_ip = 127.0.0.1
compute_driver = fake.FakeDriverWithoutFakeNodes
# fix 4: the new release ignored SIGTERM for 30 s and more
graceful_shutdown_timeout = 5
# fix 3: a restarted fake compute must not flip its servers' power state
sync_power_state_interval = -1
report_interval = 5
service_down_time = 30
heal_instance_info_cache_interval = -1
osapi_compute_workers = 2
metadata_workers = 1
[conductor]
workers = 1
[filter_scheduler]
# equal fake hosts: spread the servers instead of stacking them on the first
shuffle_best_same_weighed_hosts = true
[scheduler]
workers = 1
discover_hosts_in_cells_interval = -1
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = api-paste.ini
[upgrade_levels]
compute = auto
[vnc]
enabled = false
[oslo_concurrency]
lock_path = {self.workdir / "nova" / "lock"}
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
{self._authtoken("nova")}{self._client("placement")}{self._client("neutron")}{self._client("glance")}
[service_user]
# fix 5: nova-status upgrade check fails (rc 2) on 2026.1 without it
send_service_user_token = true
auth_type = password
auth_url = {self.keystone_auth}
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = {PASSWORD}
"""
        nova_db = f"""[database]
connection = {self.db_url("nova")}
max_pool_size = 2
max_overflow = 5
[api_database]
connection = {self.db_url("nova_api")}
max_pool_size = 2
max_overflow = 5
"""
        ctl = self.conf_dir("nova")
        (ctl / "nova.conf").write_text(nova_common)
        (ctl / "nova-db.conf").write_text(nova_db)
        (ctl / "host.conf").write_text(
            f"[DEFAULT]\nhost = {CONTROLLER}\nstate_path = {self.workdir / 'nova' / CONTROLLER}\n"
        )
        for host in COMPUTES:
            cdir = self.conf_dir("nova", host)
            state = self.workdir / "nova" / host
            (state / "instances").mkdir(parents=True, exist_ok=True)
            (cdir / "nova.conf").write_text(nova_common)
            (cdir / "host.conf").write_text(
                f"[DEFAULT]\nhost = {host}\nstate_path = {state}\n"
                f"instances_path = {state / 'instances'}\n"
                f"[oslo_concurrency]\nlock_path = {state / 'lock'}\n"
            )

    # -- commands run with a release's code -------------------------------------
    def manage(self, venv: Path, argv: list[str], timeout: float = 600) -> str:
        cmd = [str(venv / "bin" / argv[0]), *argv[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed (rc {done.returncode}):\n{done.stdout[-3000:]}\n"
                f"{done.stderr[-3000:]}"
            )
        return done.stdout

    # -- units -----------------------------------------------------------------
    def define_units(self) -> None:
        venv = str(self.old_venv)

        def gunicorn(name: str, port: int, workers: int, app: str, env: dict) -> dict:
            # The apps parse sys.argv with oslo.config: gunicorn gets its settings
            # from a config file named in its environment, not its command line.
            conf = self.workdir / "gunicorn" / f"{name}.py"
            conf.parent.mkdir(exist_ok=True)
            conf.write_text(
                f"bind = '127.0.0.1:{port}'\nworkers = {workers}\nwsgi_app = '{app}'\n"
                "timeout = 120\ngraceful_timeout = 5\n"
            )
            return {**env, "GUNICORN_CMD_ARGS": f"--config {conf}"}

        ks = self.conf_dir("keystone")
        self.units.define(
            f"keystone@{CONTROLLER}",
            ["{venv}/bin/gunicorn"],
            venv=venv,
            env=gunicorn(
                "keystone",
                self.ports["keystone"],
                2,
                "keystone.wsgi.api:application",
                {"OS_KEYSTONE_CONFIG_DIR": str(ks), "OS_KEYSTONE_CONFIG_FILES": "keystone.conf"},
            ),
            ready={"http": f"{self.url('keystone')}/v3"},
        )
        self.units.define(
            f"placement-api@{CONTROLLER}",
            ["{venv}/bin/gunicorn"],
            venv=venv,
            env=gunicorn(
                "placement",
                self.ports["placement"],
                1,
                "placement.wsgi.api:application",
                {"OS_PLACEMENT_CONFIG_DIR": str(self.conf_dir("placement"))},
            ),
            ready={"http": f"{self.url('placement')}/"},
        )
        self.units.define(
            f"glance-api@{CONTROLLER}",
            ["{venv}/bin/gunicorn"],
            venv=venv,
            env=gunicorn(
                "glance",
                self.ports["glance"],
                1,
                "glance.wsgi.api:application",
                {"OS_GLANCE_CONFIG_DIR": str(self.conf_dir("glance"))},
            ),
            ready={"http": f"{self.url('glance')}/"},
        )
        ctl = self.conf_dir("nova")
        # fix 7: api-paste.ini first, and two workers
        self.units.define(
            f"nova-api@{CONTROLLER}",
            ["{venv}/bin/gunicorn"],
            venv=venv,
            env=gunicorn(
                "nova",
                self.ports["nova"],
                2,
                "nova.wsgi.osapi_compute:application",
                {
                    "OS_NOVA_CONFIG_DIR": str(ctl),
                    "OS_NOVA_CONFIG_FILES": "{venv}/etc/nova/api-paste.ini;nova.conf;nova-db.conf;host.conf",
                },
            ),
            ready={"http": f"{self.url('nova')}/"},
        )
        for binary in ("nova-conductor", "nova-scheduler"):
            self.units.define(
                f"{binary}@{CONTROLLER}",
                [f"{{venv}}/bin/{binary}", "--config-dir", str(ctl)],
                venv=venv,
            )
        for host in COMPUTES:
            self.units.define(
                f"nova-compute@{host}",
                ["{venv}/bin/nova-compute", "--config-dir", str(self.conf_dir("nova", host))],
                venv=venv,
                ready={"compute": host, "database": self.db("nova")},
            )
        ne = self.conf_dir("neutron")
        if self.neutron == "real":
            self.units.define(
                f"neutron-server@{CONTROLLER}",
                ["{venv}/bin/gunicorn"],
                venv=venv,
                env=gunicorn(
                    "neutron",
                    self.ports["neutron"],
                    1,
                    "neutron.wsgi.api:application",
                    {
                        "OS_NEUTRON_CONFIG_DIR": str(ne),
                        # its api-paste.ini comes with the release's code
                        "OS_NEUTRON_CONFIG_FILES": "neutron.conf;{venv}/etc/neutron/api-paste.ini",
                    },
                ),
                ready={"http": f"{self.url('neutron')}/"},
            )
        else:
            self.units.define(
                "neutron-standin",
                [
                    "{venv}/bin/python",
                    str(HERE / "neutron_standin.py"),
                    str(self.ports["neutron"]),
                ],
                venv=venv,
                ready={"http": f"{self.url('neutron')}/"},
            )

    def wait_for(self, what: str, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {timeout:g} s: {what}")
            time.sleep(1)

    def start_all(self, names: list[str]) -> None:
        """Start units together, then wait (bounded) until each is ready."""
        since = time.time()
        for name in names:
            self.units.start(name)
            self.started.append(name)
        for name in names:
            self.units.wait_ready(name, since)

    def start(self, name: str) -> None:
        since = time.time()
        self.units.start(name)
        self.started.append(name)
        self.units.wait_ready(name, since)

    # -- the whole bring-up --------------------------------------------------------
    def up(self) -> None:
        t0 = time.monotonic()
        old = self.old_venv
        self.check_ports_free()
        self.create_databases()
        self.create_vhost()
        self.write_configs()
        self.define_units()

        # keystone (then the catalog) and the other projects' databases are
        # independent: set them up side by side.
        def keystone() -> None:
            ks = ["--config-dir", str(self.conf_dir("keystone"))]
            self.manage(old, ["keystone-manage", *ks, "db_sync"])
            self.manage(
                old,
                [
                    "keystone-manage",
                    *ks,
                    "fernet_setup",
                    "--keystone-user",
                    str(os.getuid()),
                    "--keystone-group",
                    str(os.getgid()),
                ],
            )
            self.manage(
                old,
                [
                    "keystone-manage",
                    *ks,
                    "credential_setup",
                    "--keystone-user",
                    str(os.getuid()),
                    "--keystone-group",
                    str(os.getgid()),
                ],
            )
            self.manage(
                old,
                [
                    "keystone-manage", *ks, "bootstrap",
                    "--bootstrap-password", PASSWORD,
                    "--bootstrap-admin-url", self.keystone_auth,
                    "--bootstrap-public-url", self.keystone_auth,
                    "--bootstrap-internal-url", self.keystone_auth,
                    "--bootstrap-region-id", REGION,
                ],
            )  # fmt: skip
            self.start(f"keystone@{CONTROLLER}")
            self.echo(f"  keystone up ({time.monotonic() - t0:.0f} s)")
            self.write_clouds_yaml()
            self.in_venv(old, "register", timeout=300)
            self.echo(f"  catalog registered ({time.monotonic() - t0:.0f} s)")

        def databases() -> None:
            self.manage(
                old,
                ["placement-manage", "--config-dir", str(self.conf_dir("placement")), "db", "sync"],
            )
            self.manage(
                old, ["glance-manage", "--config-dir", str(self.conf_dir("glance")), "db", "sync"]
            )
            if self.neutron == "real":
                self.manage(
                    old,
                    [
                        "neutron-db-manage",
                        "--config-file",
                        str(self.conf_dir("neutron") / "neutron.conf"),
                        "upgrade",
                        "heads",
                    ],
                )
            nova = ["nova-manage", "--config-dir", str(self.conf_dir("nova"))]
            self.manage(old, [*nova, "api_db", "sync"])
            self.manage(
                old,
                [*nova, "cell_v2", "map_cell0", "--database_connection", self.db_url("nova_cell0")],
            )
            self.manage(old, [*nova, "cell_v2", "create_cell", "--name", "cell1"])
            self.manage(old, [*nova, "db", "sync"])
            self.echo(f"  databases ready ({time.monotonic() - t0:.0f} s)")

        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(keystone), pool.submit(databases)]:
                future.result()
        neutron = f"neutron-server@{CONTROLLER}" if self.neutron == "real" else "neutron-standin"
        self.start_all(
            [
                f"placement-api@{CONTROLLER}",
                f"glance-api@{CONTROLLER}",
                neutron,
                f"nova-conductor@{CONTROLLER}",
                f"nova-scheduler@{CONTROLLER}",
                f"nova-api@{CONTROLLER}",
            ]
        )
        self.start_all([f"nova-compute@{host}" for host in COMPUTES])
        nova = ["nova-manage", "--config-dir", str(self.conf_dir("nova"))]
        # discover_hosts maps compute nodes: wait (bounded) until all three exist.
        self.wait_for(
            "three compute nodes",
            lambda: (
                self._mysql(
                    f"SELECT COUNT(DISTINCT host) FROM `{self.db('nova')}`.compute_nodes WHERE deleted=0"
                ).strip()
                == str(len(COMPUTES))
            ),
            180,
        )
        self.manage(old, [*nova, "cell_v2", "discover_hosts", "--verbose"])
        self.echo(f"  nova up, three computes ({time.monotonic() - t0:.0f} s)")
        self.in_venv(old, "boot", timeout=600)
        self.echo(f"  4 servers ACTIVE ({time.monotonic() - t0:.0f} s)")

    def write_clouds_yaml(self) -> Path:
        path = self.workdir / "clouds.yaml"
        path.write_text(
            json.dumps(
                {
                    "clouds": {
                        "e2e": {
                            "auth": {
                                "auth_url": self.keystone_auth,
                                "username": "admin",
                                "password": PASSWORD,
                                "project_name": "admin",
                                "user_domain_name": "Default",
                                "project_domain_name": "Default",
                            },
                            "region_name": REGION,
                            "interface": "public",
                            "identity_api_version": 3,
                        }
                    }
                },
                indent=1,
            )
        )
        return path

    def os_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["OS_CLIENT_CONFIG_FILE"] = str(self.workdir / "clouds.yaml")
        env["OS_CLOUD"] = "e2e"
        return env

    def in_venv(self, venv: Path, verb: str, timeout: float, *args: str) -> str:
        """Run e2e/os_tasks.py VERB with a release's python (its openstacksdk)."""
        env = self.os_env()
        env.update({"E2E_" + k.upper(): v for k, v in self.endpoints().items()})
        env["E2E_PASSWORD"] = PASSWORD
        env["E2E_REGION"] = REGION
        env["E2E_WORKDIR"] = str(self.workdir)
        env["E2E_COMPUTES"] = ",".join(COMPUTES)
        done = subprocess.run(
            [str(venv / "bin" / "python"), str(HERE / "os_tasks.py"), verb, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"os_tasks {verb} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
            )
        return done.stdout

    def endpoints(self) -> dict[str, str]:
        return {
            "keystone": self.keystone_auth,
            "placement": self.url("placement"),
            "glance": self.url("glance"),
            "nova": f"{self.url('nova')}/v2.1",
            "neutron": self.url("neutron"),
        }

    def openstack(self, *argv: str, timeout: float = 120) -> str:
        """The new release's openstackclient (fix 13: one client serves both)."""
        done = subprocess.run(
            [str(self.new_venv / "bin" / "openstack"), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.os_env(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"openstack {' '.join(argv)}: {done.stderr[-2000:]}")
        return done.stdout

    # -- teardown ---------------------------------------------------------------
    def teardown(self) -> None:
        for name in self.units.names():
            with contextlib.suppress(Exception):
                self.units.stop(name, timeout=10)
        for db in list(self.databases):
            with contextlib.suppress(Exception):
                self._mysql(f"DROP DATABASE IF EXISTS `{db}`")
                self.databases.remove(db)
        if self.vhost:
            with contextlib.suppress(Exception):
                _run(["rabbitmqctl", "-q", "delete_vhost", self.vhost], timeout=60)
                self.vhost = None


def _run(cmd: list[str], timeout: float) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def http_json(url: str, token: str | None = None, timeout: float = 10):
    req = urllib.request.Request(url, headers={"X-Auth-Token": token} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
