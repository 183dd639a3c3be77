"""One typed configuration: a TOML file, then ONESTACK_* environment overrides.

Environment variables name a section and a key with a double underscore:
``ONESTACK_DATABASE__URL=...`` sets ``[database] url``; a top-level key is
``ONESTACK_STATE_DIR``. Values are parsed as the field's type.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVICE_PORTS = {
    "identity": 5000,
    "compute": 8774,
    "placement": 8778,
    "image": 9292,
    "network": 9696,
    "volume": 8776,
    "object": 8080,
    "dashboard": 8000,
    # Served by the compute service beside its API: Nova's metadata API and its
    # console proxies (noVNC websocket, serial websocket).
    "compute-metadata": 8775,
    "compute-novncproxy": 6080,
    "compute-serialproxy": 6083,
}


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "onestack"


@dataclass
class DatabaseConfig:
    # {service} is replaced by the service name and {state_dir} by the state dir, so
    # each service keeps its own database as upstream does.
    url: str = "sqlite+aiosqlite:///{state_dir}/{service}.db"
    echo: bool = False
    pool_size: int = 8


@dataclass
class BusConfig:
    url: str = "local://"
    exchange: str = "onestack"


@dataclass
class ApiConfig:
    host: str = "127.0.0.1"
    # The host name written into the catalog and the openrc files.
    public_host: str = ""
    max_request_body_size: int = 114688
    access_log: bool = True
    ports: dict[str, int] = field(default_factory=lambda: dict(SERVICE_PORTS))
    # A policy file (YAML or JSON) whose rules override the defaults.
    policy_file: str = ""


@dataclass
class IdentityConfig:
    admin_password: str = ""
    admin_user: str = "admin"
    admin_project: str = "admin"
    region: str = "RegionOne"
    token_expiration: int = 3600
    # Tokens stay valid this long after expiry when fetched with allow_expired.
    allow_expired_window: int = 172800
    password_hash_rounds: int = 12
    # Remember a password that bcrypt verified (as a keyed digest, in memory only) so a
    # busy client does not pay bcrypt on every token.
    password_cache: bool = True
    fernet_max_active_keys: int = 3
    # Security compliance, as Keystone's [security_compliance] section.
    lockout_failure_attempts: int = 0
    lockout_duration: int = 1800
    unique_last_password_count: int = 0
    minimum_password_age: int = 0
    password_expires_days: int = 0
    password_regex: str = ""
    password_regex_description: str = ""
    change_password_upon_first_use: bool = False
    disable_user_account_days_inactive: int = 0


@dataclass
class NetworkConfig:
    # The dataplane driver: "fake" records intent (and marks bound ports ACTIVE).
    backend: str = "fake"
    default_mtu: int = 1500
    # VXLAN network ids handed out to tenant networks: "first:last,first:last".
    vxlan_ranges: str = "1:1000"
    # physical network name -> bridge (or interface) it maps to; flat networks need one.
    physical_networks: dict[str, str] = field(default_factory=lambda: {"physnet1": "br-ex"})
    # Network types a backend can build; "vlan" only where a backend supports it.
    network_types: str = "local,flat,vxlan"
    # The type a project network gets when none is asked for.
    tenant_network_type: str = "vxlan"
    # Quotas per project (-1: unlimited).
    quota_network: int = 100
    quota_subnet: int = 100
    quota_subnetpool: int = -1
    quota_port: int = 500
    quota_router: int = 10
    quota_floatingip: int = 50
    quota_security_group: int = 10
    quota_security_group_rule: int = 100
    # -- the linux backend (network namespaces, bridges, VXLAN, dnsmasq, nftables) --------
    # What its namespaces, devices, nftables tables and state are named after (1 to 6
    # characters of a-z, 0-9, "-", "_": device names must fit 15 characters).
    linux_prefix: str = "os-"
    # The namespace standing for this host: the networks' bridges, the VXLAN devices
    # and the guests' taps live there. "" is the root namespace; a name starting with
    # linux_prefix is made by the backend (and removed by its cleanup).
    host_namespace: str = "os-host"
    # This host's name as ports are bound to it (binding:host_id); empty: the machine's
    # host name. The backend wires the guest ports bound to this host.
    host: str = ""
    # This host's VXLAN tunnel endpoint (an address in host_namespace); empty: VXLAN
    # networks stay on this host.
    local_ip: str = ""
    # Other hosts' tunnel endpoints, "ip,ip" (beside those their Linux bridge agents
    # report in their heartbeats).
    vxlan_peers: str = ""
    # The agents this host runs beside the Linux bridge agent.
    dhcp_agent: bool = True
    l3_agent: bool = True
    metadata_proxy: bool = True
    dnsmasq_binary: str = "dnsmasq"
    # Where the metadata proxy forwards to ("host:port"); empty: [api] host (127.0.0.1
    # when that is a wildcard) at the compute-metadata port.
    metadata_upstream: str = ""
    # Seconds between full reconcile passes (the API's changes apply at once; another
    # host's backend on the same database sees them at its next pass), and between
    # checks for guest taps plugged or unplugged (a port's status follows its tap).
    resync_interval: float = 30.0
    status_interval: float = 1.0
    # Stop dnsmasq when the service stops; guest wiring always stays (guests keep
    # their network across a restart, and the next start adopts it).
    stop_dhcp_on_close: bool = False


@dataclass
class ImageConfig:
    # The store new image data goes to ("file"; the object store arrives later).
    default_store: str = "file"
    # Directory of the file store; empty: STATE_DIR/images.
    filesystem_store_datadir: str = ""
    # Largest image accepted, in bytes (Glance's image_size_cap, 1 TiB).
    image_size_cap: int = 1099511627776
    # Per project: how many images, and how many bytes of image data (-1: no limit).
    quota_images_per_project: int = -1
    quota_bytes_per_project: int = -1


@dataclass
class ComputeConfig:
    # The hypervisor driver of this process's compute hosts: "qemu" starts real guests;
    # "fake" is instant and deterministic (tests, thousands of simulated hosts);
    # "auto": qemu when qemu_binary is installed, else fake.
    virt_driver: str = "auto"
    # How many compute hosts this process runs (the fake driver can run thousands).
    fake_hosts: int = 1
    # The first host's name; more hosts are named "<host>-2", "<host>-3", ...
    host: str = ""
    # What each fake host reports to placement.
    fake_vcpus: int = 64
    fake_memory_mb: int = 131072
    fake_disk_gb: int = 2048
    # Nova's initial allocation ratios
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    reserved_host_memory_mb: int = 512
    # Seconds between heartbeats; a service unseen for service_down_time is "down".
    report_interval: float = 10.0
    service_down_time: float = 60.0
    # Seconds between each agent's reconcile passes (desired vs actual guests).
    reconcile_interval: float = 30.0
    # Hosts tried for one server before it goes to ERROR with "No valid host".
    max_attempts: int = 3
    # A resize or cold migration may pick the server's own host (single-host clouds).
    allow_resize_to_same_host: bool = True
    # Seconds a shelved server keeps its host before it is offloaded (0: at once;
    # -1: never).
    shelved_offload_time: int = 0
    # Weighers: positive spreads servers over hosts, negative packs them.
    ram_weight_multiplier: float = 1.0
    cpu_weight_multiplier: float = 1.0
    disk_weight_multiplier: float = 1.0
    default_availability_zone: str = "nova"
    # Images whose id is listed here run only on isolated_hosts, and those hosts run
    # nothing else (Nova's IsolatedHostsFilter).
    isolated_images: str = ""
    isolated_hosts: str = ""
    # Default quotas per project (-1: unlimited), as Nova's [quota] section.
    quota_instances: int = 10
    quota_cores: int = 20
    quota_ram: int = 51200
    quota_metadata_items: int = 128
    quota_key_pairs: int = 100
    quota_server_groups: int = 10
    quota_server_group_members: int = 10
    quota_injected_files: int = 5
    quota_injected_file_content_bytes: int = 10240
    quota_injected_file_path_length: int = 255
    # -- the qemu driver ------------------------------------------------------------
    # Where guests live (one directory per instance); empty: <state_dir>/instances.
    instances_path: str = ""
    # "kvm", "qemu" (TCG) or "auto": try KVM with a brief guest, fall back to TCG.
    virt_type: str = "auto"
    qemu_binary: str = "qemu-system-x86_64"
    # What a qemu host offers placement; 0: what the machine has.
    host_vcpus: int = 0
    host_memory_mb: int = 0
    host_disk_gb: int = 0
    # Seconds a guest gets to power off on ACPI before it is stopped hard.
    clean_shutdown_timeout: float = 30.0
    # -- metadata and config drive ----------------------------------------------------
    # Every guest gets a config drive, asked for or not.
    force_config_drive: bool = False
    # Signs the instance id metadata proxies send (X-Instance-ID-Signature); empty:
    # generated once and kept in <state_dir>/metadata_secret.
    metadata_proxy_shared_secret: str = ""
    # -- remote consoles ----------------------------------------------------------------
    # Seconds a console URL's one-time token stays valid.
    console_token_ttl: int = 600
    # Base URLs handed to users; empty: the proxies on this cloud's public host.
    novncproxy_base_url: str = ""
    serialproxy_base_url: str = ""


@dataclass
class Config:
    state_dir: Path = field(default_factory=default_state_dir)
    log_level: str = "INFO"
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    bus: BusConfig = field(default_factory=BusConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)

    def database_url(self, service: str) -> str:
        return self.database.url.format(service=service, state_dir=self.state_dir)

    def public_url(self, service: str) -> str:
        host = self.api.public_host or self.api.host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{self.api.ports[service]}"


class ConfigError(ValueError):
    pass


def _coerce(value: Any, kind: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if kind is Path:
        return Path(os.path.expanduser(str(value)))
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected a boolean, got {value!r}")
    if kind in (int, float, str):
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}") from None
    if origin is dict:
        if isinstance(value, str):
            pairs = [item.split("=", 1) for item in value.split(",") if item]
            value = {k.strip(): v.strip() for k, v in pairs}
        _, value_kind = typing.get_args(kind)
        return {str(k): _coerce(v, value_kind, f"{where}.{k}") for k, v in value.items()}
    return value


def _apply(target: Any, values: dict[str, Any], where: str) -> None:
    hints = typing.get_type_hints(type(target))
    for key, value in values.items():
        if key not in hints:
            raise ConfigError(f"unknown option {where}{key}")
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{key} must be a table")
            _apply(current, value, f"{where}{key}.")
        elif isinstance(current, dict) and isinstance(value, dict):
            merged = dict(current)
            merged.update(_coerce(value, hints[key], where + key))
            setattr(target, key, merged)
        else:
            setattr(target, key, _coerce(value, hints[key], where + key))


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("ONESTACK_") or name == "ONESTACK_CONFIG":
            continue
        parts = name[len("ONESTACK_"):].lower().split("__")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return tree


def load(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None,
         **overrides: Any) -> Config:
    """Build the configuration: defaults, then the TOML file, then the environment,
    then keyword overrides (used by the CLI's flags and by tests)."""
    environ = dict(os.environ if environ is None else environ)
    config = Config()
    path = path or environ.get("ONESTACK_CONFIG")
    if path:
        try:
            with open(path, "rb") as handle:
                _apply(config, tomllib.load(handle), "")
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
    _apply(config, _env_overrides(environ), "")
    _apply(config, {k: v for k, v in overrides.items() if v is not None}, "")
    return config
