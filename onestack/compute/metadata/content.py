"""What a guest sees of itself: Nova's metadata documents, built from the instance
as the compute database holds it and from its ports (``ports.guest_ports``: port
views with their network's MTU and their subnets' details). Pure functions: the
config drive and the metadata API render the same data.

The documents follow Nova's metadata service (``openstack/<version>/meta_data.json``,
``network_data.json``, ``vendor_data*.json``, ``user_data``; the EC2-style tree) as
cloud-init's OpenStack and ConfigDrive datasources read them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

Instance = dict[str, Any]
Port = dict[str, Any]

# Nova's OpenStack metadata versions, oldest first; "latest" is the newest.
FOLSOM = "2012-08-10"
GRIZZLY = "2013-04-04"      # random_seed, password
HAVANA = "2013-10-17"       # vendor_data.json
LIBERTY = "2015-10-15"      # network_data.json, project_id
NEWTON_ONE = "2016-06-30"   # devices
NEWTON_TWO = "2016-10-06"   # vendor_data2.json
OCATA = "2017-02-22"
ROCKY = "2018-08-27"
VICTORIA = "2020-10-14"     # dedicated_cpus
OPENSTACK_VERSIONS = (FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, OCATA,
                      ROCKY, VICTORIA)
# The EC2 metadata versions Nova answers, oldest first.
EC2_VERSIONS = ("1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10",
                "2007-12-15", "2008-02-01", "2008-09-01", "2009-04-04")
LATEST = "latest"

# Nova appends its [api] dhcp_domain to the hostname it tells guests.
DHCP_DOMAIN = "novalocal"
ROOT_DEVICE = "/dev/vda"
# Link types Nova shows as they are; any other VIF type is a "phy" link.
EXPOSED_VIF_TYPES = frozenset({"bridge", "dvs", "hw_veb", "hyperv", "ovs", "tap",
                               "vhostuser", "vif"})


class UnknownVersion(KeyError):
    """A version the metadata service does not have."""


@dataclass
class Guest:
    """Everything the documents are made of."""

    instance: Instance
    # the guest's ports (ports.guest_ports): the port views of the networking rpcapi,
    # each with "mtu" and "subnets" {subnet id: subnet details}
    ports: list[Port] = field(default_factory=list)
    # the zone of an instance that has none
    default_zone: str = "nova"
    # the admin password, only on the config drive (as Nova injects it)
    admin_password: str | None = None
    # render every network as DHCP (a guest whose NICs are QEMU's user-mode network:
    # its addresses come from QEMU's DHCP server, not from the ports)
    dhcp_only: bool = False


def resolve(version: str, known: tuple[str, ...]) -> str:
    """The version ``version`` stands for ("latest": the newest); UnknownVersion if
    there is no such version."""
    if version == LATEST:
        return known[-1]
    if version not in known:
        raise UnknownVersion(version)
    return version


def at_least(version: str, minimum: str) -> bool:
    """Versions are dates (or "1.0"): they compare as strings."""
    return version >= minimum


# -- the instance's own data -------------------------------------------------------
def hostname(instance: Instance) -> str:
    name = instance.get("hostname") or instance["display_name"]
    return f"{name}.{DHCP_DOMAIN}" if DHCP_DOMAIN else name


def user_data(instance: Instance) -> bytes | None:
    """The user data as the guest gets it (Nova keeps it base64-encoded); None when
    the server has none."""
    encoded = instance.get("user_data")
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded)
    except (binascii.Error, ValueError):
        return None


def injected_files(instance: Instance) -> list[tuple[str, bytes]]:
    """The personality files of the server request, as (path, content)."""
    found = []
    for item in (instance.get("request") or {}).get("personality") or []:
        try:
            found.append((item["path"], base64.b64decode(item.get("contents") or "")))
        except (binascii.Error, ValueError, KeyError):
            continue
    return found


def key_type(key_data: str) -> str:
    """The type of the key pair the instance was booted with: an X.509 certificate
    or an SSH key (the instance keeps a copy of the key, as Nova's instance does)."""
    return "x509" if "BEGIN CERTIFICATE" in key_data else "ssh"


def zone(guest: Guest) -> str:
    return guest.instance.get("availability_zone") or guest.default_zone


def ec2_id(kind: str, ident: str) -> str:
    """An EC2-style id (``i-0000abcd``) stable for ``ident`` (Nova numbers them in
    its database; a hash serves as well)."""
    number = int(hashlib.sha256(ident.encode()).hexdigest()[:8], 16)
    return f"{kind}-{number:08x}"


# -- meta_data.json ----------------------------------------------------------------
def meta_data(guest: Guest, version: str, random_seed: bytes | None = None,
              files: list[tuple[str, bytes]] | None = None) -> dict[str, Any]:
    """meta_data.json for ``version`` ("latest" included). ``random_seed``: 512 bytes
    (fresh ones for every request over HTTP); ``files``: the injected files, whose
    contents the config drive carries under ``openstack/content/``."""
    version = resolve(version, OPENSTACK_VERSIONS)
    instance = guest.instance
    data: dict[str, Any] = {"uuid": instance["uuid"]}
    if instance.get("metadata"):
        data["meta"] = {str(k): str(v) for k, v in instance["metadata"].items()}
    if files:
        data["files"] = [{"path": path, "content_path": content_path(index)}
                         for index, (path, _) in enumerate(files)]
    if guest.admin_password:
        data["admin_pass"] = guest.admin_password
    if instance.get("key_name") and instance.get("key_data"):
        name, key = instance["key_name"], instance["key_data"]
        data["public_keys"] = {name: key}
        data["keys"] = [{"name": name, "type": key_type(key), "data": key}]
    data["hostname"] = hostname(instance)
    data["name"] = instance["display_name"]
    data["launch_index"] = instance.get("launch_index") or 0
    data["availability_zone"] = zone(guest)
    if at_least(version, GRIZZLY) and random_seed is not None:
        data["random_seed"] = base64.b64encode(random_seed).decode()
    if at_least(version, LIBERTY):
        data["project_id"] = instance["project_id"]
    if at_least(version, NEWTON_ONE):
        # tagged devices need the bus addresses the driver picks: none told yet
        data["devices"] = []
    if at_least(version, VICTORIA):
        data["dedicated_cpus"] = []
    return data


def content_path(index: int) -> str:
    return f"/content/{index:04d}"


def vendor_data() -> dict[str, Any]:
    """vendor_data.json and vendor_data2.json: no vendor data providers here."""
    return {}


# -- network_data.json -------------------------------------------------------------
def link_id(port: Port) -> str:
    """The link's id: the port's tap device name, as Nova names it."""
    return "tap" + port["id"][:11]


def network_data(guest: Guest) -> dict[str, Any]:
    """network_data.json: one link per port; per port, a network for its first IPv4
    and its first IPv6 subnet (as Nova); the DNS servers of all of them."""
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    services: list[dict[str, str]] = []
    for port in guest.ports:
        picked = [s for s in (_first_subnet(port, 4), _first_subnet(port, 6)) if s]
        if not picked:
            continue
        link = _link(port)
        links.append(link)
        for subnet, address in picked:
            networks.append(_network(port, subnet, address, len(networks), link["id"],
                                     guest.dhcp_only))
            for dns in _dns(subnet):
                if dns not in services:
                    services.append(dns)
    return {"links": links, "networks": networks, "services": services}


def _link(port: Port) -> dict[str, Any]:
    vif_type = port.get("binding:vif_type")
    return {"id": link_id(port), "vif_id": port["id"],
            "type": vif_type if vif_type in EXPOSED_VIF_TYPES else "phy",
            "mtu": port.get("mtu"), "ethernet_mac_address": port.get("mac_address")}


def _first_subnet(port: Port, ip_version: int) -> tuple[dict[str, Any], str] | None:
    subnets = port.get("subnets") or {}
    for fixed in port.get("fixed_ips") or []:
        subnet = subnets.get(fixed.get("subnet_id"))
        if subnet and subnet.get("ip_version") == ip_version:
            return subnet, fixed["ip_address"]
    return None


def _network(port: Port, subnet: dict[str, Any], address: str, number: int, link: str,
             dhcp_only: bool) -> dict[str, Any]:
    version = subnet["ip_version"]
    base = {"id": f"network{number}", "link": link, "network_id": port["network_id"]}
    mode = subnet.get("ipv6_address_mode") if version == 6 else None
    if (dhcp_only or subnet.get("dhcp_server")) and not mode:
        return {**base, "type": f"ipv{version}_dhcp"}
    cidr = ipaddress.ip_network(subnet["cidr"], strict=False)
    routes = []
    if subnet.get("gateway_ip"):
        anywhere = "0.0.0.0" if version == 4 else "::"
        routes.append({"network": anywhere, "netmask": anywhere,
                       "gateway": subnet["gateway_ip"]})
    for route in subnet.get("host_routes") or []:
        destination = ipaddress.ip_network(route["destination"], strict=False)
        routes.append({"network": str(destination.network_address),
                       "netmask": str(destination.netmask), "gateway": route["nexthop"]})
    return {**base, "type": f"ipv{version}_{mode}" if mode else f"ipv{version}",
            "ip_address": address, "netmask": str(cidr.netmask), "routes": routes,
            "services": _dns(subnet)}


def _dns(subnet: dict[str, Any]) -> list[dict[str, str]]:
    return [{"type": "dns", "address": server}
            for server in subnet.get("dns_nameservers") or []]


# -- addresses ---------------------------------------------------------------------
def fixed_ipv4(guest: Guest) -> str:
    """The first fixed IPv4 address of the guest's ports, or ""."""
    for port in guest.ports:
        for fixed in port.get("fixed_ips") or []:
            if ipaddress.ip_address(fixed["ip_address"]).version == 4:
                return str(fixed["ip_address"])
    return ""


def floating_ipv4(guest: Guest) -> str:
    for port in guest.ports:
        for fip in port.get("floating_ips") or []:
            return str(fip["floating_ip_address"])
    return ""


# -- the EC2 tree ------------------------------------------------------------------
class Listed(dict[str, Any]):
    """A directory of the EC2 tree that its parent lists under ``label`` (the
    public key ``0`` is listed as ``0=keyname``, without a trailing slash)."""

    def __init__(self, label: str, items: dict[str, Any]) -> None:
        super().__init__(items)
        self.label = label


def block_device_mapping(instance: Instance) -> dict[str, str]:
    """The EC2 mapping of the guest's disks (as a libvirt guest's: the root disk,
    then the ephemeral disk and swap if the flavor has them)."""
    flavor = instance.get("flavor") or {}
    mapping = {"ami": ROOT_DEVICE.removeprefix("/dev/"), "root": ROOT_DEVICE}
    letter = ord("b")
    if flavor.get("ephemeral_gb"):
        mapping["ephemeral0"] = f"/dev/vd{chr(letter)}"
        letter += 1
    if flavor.get("swap"):
        mapping["swap"] = f"/dev/vd{chr(letter)}"
    return mapping


def ec2_meta_data(guest: Guest, version: str) -> dict[str, Any]:
    """The EC2 ``meta-data`` tree for ``version`` ("latest" included)."""
    version = resolve(version, EC2_VERSIONS)
    instance = guest.instance
    name = hostname(instance)
    data: dict[str, Any] = {
        "ami-id": ec2_id("ami", instance.get("image_ref") or ""),
        "ami-launch-index": instance.get("launch_index") or 0,
        "ami-manifest-path": "FIXME",
        "instance-id": ec2_id("i", instance["uuid"]),
        "hostname": name,
        "local-ipv4": fixed_ipv4(guest),
        "reservation-id": instance.get("reservation_id") or "",
        "security-groups": list((instance.get("request") or {}).get("security_groups")
                                or []),
    }
    if instance.get("key_name") and instance.get("key_data"):
        data["public-keys"] = {"0": Listed("0=" + instance["key_name"],
                                           {"openssh-key": instance["key_data"]})}
    if at_least(version, "2007-01-19"):
        data.update({"local-hostname": name, "public-hostname": name,
                     "public-ipv4": floating_ipv4(guest)})
    if at_least(version, "2007-08-29"):
        data["instance-type"] = (instance.get("flavor") or {}).get("name", "")
    if at_least(version, "2007-12-15"):
        data["block-device-mapping"] = block_device_mapping(instance)
    if at_least(version, "2008-02-01"):
        data["placement"] = {"availability-zone": zone(guest)}
    if at_least(version, "2008-09-01"):
        data["instance-action"] = "none"
    return data


def ec2_tree(guest: Guest, version: str) -> dict[str, Any]:
    """What ``/<version>/`` of the EC2 API holds: meta-data and, if any, user-data."""
    tree: dict[str, Any] = {"meta-data": ec2_meta_data(guest, version)}
    raw = user_data(guest.instance)
    if raw is not None:
        tree["user-data"] = raw
    return tree


# -- what /openstack/<version>/ lists ----------------------------------------------
def openstack_files(guest: Guest, version: str) -> list[str]:
    """The names under ``openstack/<version>/``, in Nova's order."""
    version = resolve(version, OPENSTACK_VERSIONS)
    names = ["meta_data.json"]
    if user_data(guest.instance) is not None:
        names.append("user_data")
    if at_least(version, GRIZZLY):
        names.append("password")
    if at_least(version, HAVANA):
        names.append("vendor_data.json")
    if at_least(version, LIBERTY):
        names.append("network_data.json")
    if at_least(version, NEWTON_TWO):
        names.append("vendor_data2.json")
    return names
