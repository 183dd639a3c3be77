"""Choosing a host: a pure function over a snapshot of the hosts and placement's
candidates. Filters drop hosts that cannot take the server; weighers order the rest
(positive multipliers spread servers over hosts, negative ones pack them). The
conductor claims the first host placement agrees to and tries the next on a lost race.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from onestack.kernel.config import ComputeConfig


@dataclass
class HostState:
    host: str
    node: str  # hypervisor hostname
    node_uuid: str  # its placement provider
    enabled: bool
    up: bool
    availability_zone: str
    hypervisor_type: str
    # metadata of every aggregate the host belongs to
    aggregates: list[dict[str, str]] = field(default_factory=list)
    # free amounts per resource class (from placement), e.g. {"MEMORY_MB": 4096}
    free: dict[str, int] = field(default_factory=dict)
    # instances on the host, for the isolated-hosts rule
    instance_count: int = 0


@dataclass
class GroupSpec:
    policy: str  # affinity, anti-affinity, soft-affinity, soft-anti-affinity
    # hosts of the group's other members, each as often as members there
    member_hosts: list[str] = field(default_factory=list)
    max_server_per_host: int = 1


@dataclass
class RequestSpec:
    uuid: str
    flavor: dict[str, Any]
    image: dict[str, Any]  # id and properties
    availability_zone: str | None = None
    force_host: str | None = None
    force_node: str | None = None
    group: GroupSpec | None = None
    ignore_hosts: set[str] = field(default_factory=set)
    # scheduler hints same_host / different_host, as the hosts of the named servers
    same_host: set[str] | None = None
    different_host: set[str] = field(default_factory=set)


def resources_of(flavor: dict[str, Any]) -> dict[str, int]:
    wanted = {"VCPU": int(flavor["vcpus"]), "MEMORY_MB": int(flavor["memory_mb"])}
    disk = int(flavor.get("root_gb", 0)) + int(flavor.get("ephemeral_gb", 0)) + \
        (int(flavor.get("swap", 0)) + 1023) // 1024
    if disk:
        wanted["DISK_GB"] = disk
    for key, value in flavor.get("extra_specs", {}).items():
        if key.startswith("resources:"):
            rc = key.split(":", 1)[1]
            if int(value) == 0:
                wanted.pop(rc, None)
            else:
                wanted[rc] = int(value)
    return wanted


def traits_of(flavor: dict[str, Any], image: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Required and forbidden traits from ``trait:NAME=required|forbidden`` extra specs
    and image properties."""
    required, forbidden = [], []
    specs = {**image.get("properties", {}), **flavor.get("extra_specs", {})}
    for key, value in specs.items():
        if key.startswith("trait:"):
            if value == "required":
                required.append(key[len("trait:"):])
            elif value == "forbidden":
                forbidden.append(key[len("trait:"):])
    return sorted(required), sorted(forbidden)


# -- filters -------------------------------------------------------------------------
def _compute_ok(host: HostState, spec: RequestSpec, settings: ComputeConfig) -> bool:
    return host.enabled and host.up


def _zone_ok(host: HostState, spec: RequestSpec, settings: ComputeConfig) -> bool:
    return spec.availability_zone is None or host.availability_zone == spec.availability_zone


def _aggregate_specs_ok(host: HostState, spec: RequestSpec, settings: ComputeConfig) -> bool:
    """AggregateInstanceExtraSpecsFilter: unscoped and
    ``aggregate_instance_extra_specs:`` flavor keys must match some aggregate's
    metadata (a comma-separated metadata value matches any of its items)."""
    for key, wanted in spec.flavor.get("extra_specs", {}).items():
        scope, _, name = key.partition(":")
        if name and scope != "aggregate_instance_extra_specs":
            continue
        name = name or scope
        offered = {item.strip() for agg in host.aggregates if name in agg
                   for item in agg[name].split(",")}
        if not offered or not _spec_matches(wanted, offered):
            return False
    return True


def _spec_matches(wanted: str, offered: set[str]) -> bool:
    words = wanted.split()
    if len(words) > 1 and words[0] == "<in>":
        return any(words[1] in value for value in offered)
    if len(words) > 1 and words[0] == "<or>":
        return any(w in offered for w in words[1:] if w != "<or>")
    if len(words) == 2 and words[0] in ("s==", "=", "=="):
        return words[1] in offered
    return wanted in offered


def _image_ok(host: HostState, spec: RequestSpec, settings: ComputeConfig) -> bool:
    """ImagePropertiesFilter: an image asking for a hypervisor type runs only there
    (QEMU and KVM are one family)."""
    properties = spec.image.get("properties", {})
    wanted = properties.get("img_hv_type") or properties.get("hypervisor_type")
    return not wanted or _hv_family(wanted) == _hv_family(host.hypervisor_type)


def _hv_family(name: str) -> str:
    name = name.lower()
    return "kvm" if name == "qemu" else name


def _isolated_ok(host: HostState, spec: RequestSpec, settings: ComputeConfig) -> bool:
    isolated_images = {i.strip() for i in settings.isolated_images.split(",") if i.strip()}
    isolated_hosts = {h.strip() for h in settings.isolated_hosts.split(",") if h.strip()}
    if not isolated_images and not isolated_hosts:
        return True
    image_isolated = spec.image.get("id") in isolated_images
    return image_isolated == (host.host in isolated_hosts)


def _group_ok(host: HostState, spec: RequestSpec, settings: ComputeConfig) -> bool:
    group = spec.group
    if group is None or not group.member_hosts:
        return True
    if group.policy == "affinity":
        return host.host in group.member_hosts
    if group.policy == "anti-affinity":
        return group.member_hosts.count(host.host) < group.max_server_per_host
    return True


def _same_host_ok(host: HostState, spec: RequestSpec, settings: ComputeConfig) -> bool:
    return spec.same_host is None or host.host in spec.same_host


def _different_host_ok(host: HostState, spec: RequestSpec, settings: ComputeConfig) -> bool:
    return host.host not in spec.different_host


def _forced_ok(host: HostState, spec: RequestSpec, settings: ComputeConfig) -> bool:
    if spec.force_host and host.host != spec.force_host:
        return False
    return not (spec.force_node and host.node != spec.force_node)


FILTERS = (_forced_ok, _compute_ok, _zone_ok, _aggregate_specs_ok, _image_ok, _isolated_ok,
           _group_ok, _same_host_ok, _different_host_ok)


def _applies(check: Any, spec: RequestSpec, settings: ComputeConfig) -> bool:
    """Whether a filter can drop any host for this request (the others are skipped:
    with thousands of hosts, each pass over them counts)."""
    if check is _forced_ok:
        return bool(spec.force_host or spec.force_node)
    if check is _zone_ok:
        return spec.availability_zone is not None
    if check is _aggregate_specs_ok:
        return any(":" not in k or k.startswith("aggregate_instance_extra_specs:")
                   for k in spec.flavor.get("extra_specs", {}))
    if check is _image_ok:
        properties = spec.image.get("properties", {})
        return bool(properties.get("img_hv_type") or properties.get("hypervisor_type"))
    if check is _isolated_ok:
        return bool(settings.isolated_images.strip() or settings.isolated_hosts.strip())
    if check is _group_ok:
        return spec.group is not None and bool(spec.group.member_hosts)
    if check is _same_host_ok:
        return spec.same_host is not None
    if check is _different_host_ok:
        return bool(spec.different_host)
    return True


def filter_hosts(spec: RequestSpec, hosts: list[HostState],
                 settings: ComputeConfig) -> list[HostState]:
    chosen = [h for h in hosts if h.host not in spec.ignore_hosts] if spec.ignore_hosts \
        else list(hosts)
    forced = bool(spec.force_host or spec.force_node)
    for check in FILTERS:
        if forced and check is not _forced_ok:
            continue  # a forced host skips the filters, as Nova does
        if not _applies(check, spec, settings):
            continue
        chosen = [h for h in chosen if check(h, spec, settings)]
        if not chosen:
            break
    return chosen


# -- weighers ------------------------------------------------------------------------
def _normalised(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    if high == low:
        return [0.0 for _ in values]
    return [(v - low) / (high - low) for v in values]


def weigh_hosts(spec: RequestSpec, hosts: list[HostState],
                settings: ComputeConfig) -> list[HostState]:
    """Best first; ties keep the given order (callers shuffle nothing: deterministic)."""
    if len(hosts) < 2:
        return list(hosts)
    weights = [0.0] * len(hosts)
    for rc, multiplier in (("MEMORY_MB", settings.ram_weight_multiplier),
                           ("VCPU", settings.cpu_weight_multiplier),
                           ("DISK_GB", settings.disk_weight_multiplier)):
        if multiplier:
            for i, value in enumerate(_normalised([float(h.free.get(rc, 0)) for h in hosts])):
                weights[i] += multiplier * value
    group = spec.group
    if group is not None and group.policy in ("soft-affinity", "soft-anti-affinity"):
        counts = [float(group.member_hosts.count(h.host)) for h in hosts]
        sign = 1.0 if group.policy == "soft-affinity" else -1.0
        for i, value in enumerate(_normalised(counts)):
            weights[i] += sign * value * 1000
    order = sorted(range(len(hosts)), key=lambda i: -weights[i])
    return [hosts[i] for i in order]


def select_hosts(spec: RequestSpec, hosts: list[HostState],
                 settings: ComputeConfig) -> list[HostState]:
    """The hosts that may take the server, best first (empty: no valid host)."""
    return weigh_hosts(spec, filter_hosts(spec, hosts, settings), settings)
