"""DHCP for one network: dnsmasq in the network's ``qdhcp-`` namespace, serving
static leases only (one ``dhcp-host`` per port MAC), with the subnet's gateway, DNS
servers, MTU and classless static routes (option 121: the subnet's host routes, the
metadata address via the DHCP port, the default route via the gateway).

Port changes rewrite the hosts and options files and SIGHUP dnsmasq (it re-reads
them; leases survive). A change of the subnets (the dhcp ranges) restarts it. The
lease file lives in the state directory, so leases also survive a restart."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onestack.network.drivers.linux import proc

Row = dict[str, Any]
METADATA_IP = "169.254.169.254"
LEASE_SECONDS = 86400
LEASE_MAX = 65536  # fixed: a change of dnsmasq's arguments restarts it


@dataclass
class DhcpConfig:
    """What dnsmasq serves for one network."""

    network_id: str
    interface: str  # the DHCP port's device inside the namespace
    subnets: list[Row]  # IPv4 subnets with DHCP enabled
    ports: list[Row]  # every port of the network with a MAC to answer
    dhcp_address: dict[str, str]  # subnet id -> the DHCP port's address there
    mtu: int
    domain: str = "openstacklocal"


def _tag(subnet: Row) -> str:
    return "subnet-" + subnet["id"].replace("-", "")[:12]


def hosts_file(config: DhcpConfig) -> str:
    cidrs = {s["id"]: ipaddress.ip_network(s["cidr"]) for s in config.subnets}
    lines = []
    for port in sorted(config.ports, key=lambda p: p["id"]):
        for ip in port.get("fixed_ips") or []:
            if ip["subnet_id"] in cidrs:
                name = "host-" + ip["ip_address"].replace(".", "-")
                lines.append(f"{port['mac_address']},{name}.{config.domain},{ip['ip_address']}")
    return "".join(line + "\n" for line in lines)


def options_file(config: DhcpConfig) -> str:
    lines = []
    for subnet in config.subnets:
        tag = _tag(subnet)
        gateway = subnet.get("gateway_ip")
        lines.append(f"tag:{tag},option:router,{gateway}" if gateway
                     else f"tag:{tag},option:router")
        dns = subnet.get("dns_nameservers") or []
        lines.append(f"tag:{tag},option:dns-server,{','.join(dns)}" if dns
                     else f"tag:{tag},option:dns-server")
        lines.append(f"tag:{tag},option:mtu,{config.mtu}")
        routes: list[tuple[str, str]] = []
        own = config.dhcp_address.get(subnet["id"])
        if own:
            routes.append((f"{METADATA_IP}/32", own))
        for route in subnet.get("host_routes") or []:
            if ipaddress.ip_network(route["destination"], strict=False).version == 4:
                routes.append((route["destination"], route["nexthop"]))
        if gateway and not any(d.endswith("/0") for d, _ in routes):
            routes.append(("0.0.0.0/0", gateway))
        text = ",".join(f"{d},{h}" for d, h in routes)
        lines.append(f"tag:{tag},option:classless-static-route,{text}")
        lines.append(f"tag:{tag},249,{text}")
    return "".join(line + "\n" for line in lines)


def arguments(binary: str, config: DhcpConfig, where: Path) -> list[str]:
    argv = [binary, "--no-hosts", "--no-resolv", "--port=0", "--strict-order",
            "--conf-file=/dev/null", "--bind-interfaces", f"--interface={config.interface}",
            "--except-interface=lo", f"--pid-file={where / 'pid'}",
            f"--dhcp-hostsfile={where / 'host'}", f"--dhcp-optsfile={where / 'opts'}",
            f"--dhcp-leasefile={where / 'leases'}", "--dhcp-authoritative",
            "--user=root", "--group=root", f"--domain={config.domain}",
            f"--dhcp-lease-max={LEASE_MAX}",
            f"--log-facility={where / 'log'}", "--log-dhcp"]
    for subnet in config.subnets:
        network = ipaddress.ip_network(subnet["cidr"])
        argv.append(f"--dhcp-range=set:{_tag(subnet)},{network.network_address},static,"
                    f"{network.netmask},{LEASE_SECONDS}s")
    return argv


def _pid(where: Path) -> int | None:
    try:
        pid = int((where / "pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if str(where / "pid").encode() in cmdline else None


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _write(path: Path, text: str) -> bool:
    """Write ``text`` when it differs (atomically); True when it changed."""
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return False
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
    return True


async def ensure(binary: str, ns: str, config: DhcpConfig, where: Path) -> str:
    """dnsmasq serving ``config`` in ``ns``; returns what it did (for the log)."""
    where.mkdir(parents=True, exist_ok=True)
    changed = _write(where / "host", hosts_file(config))
    changed |= _write(where / "opts", options_file(config))
    argv = arguments(binary, config, where)
    restart = _write(where / "argv", "\0".join(argv))
    pid = _pid(where)
    if pid and not restart:
        if changed:
            proc.kill(pid, signal.SIGHUP)
            return "reloaded"
        return "running"
    if pid:
        await stop(where)
    await proc.run(proc.in_ns(ns, *argv))
    return "started"


async def stop(where: Path) -> None:
    pid = _pid(where)
    if pid:
        proc.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _alive(pid):
                break
            await asyncio.sleep(0.01)
        else:
            proc.kill(pid, signal.SIGKILL)
