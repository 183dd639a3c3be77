"""The server body, as Nova renders it at each microversion: the summary of lists,
the detail of show and ``/servers/detail``, the shorter body of update before 2.75."""

from __future__ import annotations

import hashlib
import ipaddress
import time
from typing import Any

from onestack.compute.handlers.common import (
    allowed,
    at_least,
    base_url,
    context_of,
    isotime,
    links,
)
from onestack.compute.objects import states
from onestack.kernel.api.request import Request

PROGRESS_STATUSES = {"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"}


def host_id(instance: dict[str, Any]) -> str:
    if not instance.get("host"):
        return ""
    return hashlib.sha224((instance["project_id"] + instance["host"]).encode()).hexdigest()


def instance_name(instance: dict[str, Any]) -> str:
    return "instance-" + instance["uuid"].replace("-", "")[:8]


def addresses(vifs: list[dict[str, Any]], detail: bool = True) -> dict[str, list[dict[str, Any]]]:
    """``{network name: [{version, addr, OS-EXT-IPS:type, OS-EXT-IPS-MAC:mac_addr}]}``."""
    result: dict[str, list[dict[str, Any]]] = {}
    for vif in vifs:
        name = vif.get("network_name") or vif.get("network_id", "")
        entries = result.setdefault(name, [])
        floating_by_fixed: dict[str, list[str]] = {}
        for fip in vif.get("floating_ips") or []:
            floating_by_fixed.setdefault(fip.get("fixed_ip_address") or "", []).append(
                fip["floating_ip_address"])
        for ip in vif.get("fixed_ips") or []:
            address = ip["ip_address"]
            entries.append(_address(address, "fixed", vif, detail))
            for floating in floating_by_fixed.get(address, []):
                entries.append(_address(floating, "floating", vif, detail))
    return result


def _address(addr: str, kind: str, vif: dict[str, Any], detail: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"version": ipaddress.ip_address(addr).version, "addr": addr}
    if detail:
        entry["OS-EXT-IPS:type"] = kind
        entry["OS-EXT-IPS-MAC:mac_addr"] = vif.get("mac_address", "")
    return entry


def _flavor(req: Request, flavor: dict[str, Any]) -> dict[str, Any]:
    if not at_least(req, 47):
        return {"id": flavor["id"], "links": [
            {"rel": "bookmark", "href": f"{base_url(req)}/flavors/{flavor['id']}"}]}
    body = {"vcpus": flavor["vcpus"], "ram": flavor["memory_mb"], "disk": flavor["root_gb"],
            "ephemeral": flavor.get("ephemeral_gb", 0), "swap": flavor.get("swap", 0),
            "original_name": flavor["name"]}
    if allowed(req, "os_compute_api:servers:show:flavor-extra-specs"):
        body["extra_specs"] = dict(flavor.get("extra_specs") or {})
    return body


def _image(req: Request, instance: dict[str, Any]) -> dict[str, Any] | str:
    if not instance["image_ref"]:
        return ""
    body: dict[str, Any] = {"id": instance["image_ref"], "links": [
        {"rel": "bookmark", "href": f"{base_url(req)}/images/{instance['image_ref']}"}]}
    if at_least(req, 98):
        body["properties"] = dict(instance["request"].get("image_properties", {}))
    return body


def _fault(req: Request, fault: dict[str, Any]) -> dict[str, Any]:
    body = {"code": fault["code"], "created": isotime(fault.get("created") or time.time()),
            "message": fault["message"]}
    if fault.get("details") and (fault["code"] != 500 or context_of(req).is_admin):
        body["details"] = fault["details"]
    return body


def summary(req: Request, instance: dict[str, Any]) -> dict[str, Any]:
    return {"id": instance["uuid"], "name": instance["display_name"],
            "links": links(req, "servers", instance["uuid"])}


def detail(req: Request, instance: dict[str, Any], *, groups: list[str] | None = None,
           mode: str = "show") -> dict[str, Any]:
    """The full body of show and ``/servers/detail``; ``mode`` "update" or "rebuild":
    the body those answer, which before 2.75 leaves out the extended attributes."""
    status = states.status(instance["vm_state"], instance["task_state"])
    full = mode == "show" or at_least(req, 75)
    body: dict[str, Any] = {
        "id": instance["uuid"], "name": instance["display_name"], "status": status,
        "tenant_id": instance["project_id"], "user_id": instance["user_id"],
        "metadata": dict(instance["metadata"]), "hostId": host_id(instance),
        "image": _image(req, instance), "flavor": _flavor(req, instance["flavor"]),
        "created": isotime(instance["created_at"]),
        "updated": isotime(instance["updated_at"] or instance["created_at"]),
        "addresses": addresses(instance["network_info"] or [], detail=full),
        "accessIPv4": instance["access_ip_v4"] or "",
        "accessIPv6": _compressed(instance["access_ip_v6"]),
        "links": links(req, "servers", instance["uuid"]),
        "OS-DCF:diskConfig": instance["request"].get("disk_config", "MANUAL"),
    }
    if status in PROGRESS_STATUSES:
        body["progress"] = instance["progress"] or 0
    if instance["fault"] and instance["vm_state"] in (states.ERROR, states.DELETED):
        body["fault"] = _fault(req, instance["fault"])
    if at_least(req, 9):
        body["locked"] = instance["locked_by"] is not None
    if at_least(req, 73):
        body["locked_reason"] = instance["locked_reason"]
    if at_least(req, 19):
        body["description"] = instance["description"]
    if at_least(req, 26):
        body["tags"] = list(instance["tags"])
    if at_least(req, 63):
        body["trusted_image_certificates"] = None
    if full or (mode == "rebuild" and at_least(req, 54)):
        body["key_name"] = instance["key_name"]
    extended = full and allowed(req, "os_compute_api:os-extended-server-attributes")
    if full:
        _extend(req, body, instance, extended, user_data=mode != "rebuild")
    if at_least(req, 90) and not extended:
        body["OS-EXT-SRV-ATTR:hostname"] = instance["hostname"]
    if at_least(req, 71) and groups is not None:
        body["server_groups"] = groups
    if at_least(req, 96):
        body["pinned_availability_zone"] = instance["pinned_availability_zone"]
    if at_least(req, 100):
        body["scheduler_hints"] = dict(instance["request"].get("scheduler_hints", {}))
    return body


def _extend(req: Request, body: dict[str, Any], instance: dict[str, Any], extended: bool,
            user_data: bool) -> None:
    """What show adds to update's and rebuild's body (all of it since 2.75)."""
    body.update({
        "config_drive": "True" if instance["config_drive"] else "",
        "OS-EXT-AZ:availability_zone": instance["availability_zone"] or "",
        "OS-SRV-USG:launched_at": _usage_time(instance["launched_at"]),
        "OS-SRV-USG:terminated_at": _usage_time(instance["terminated_at"]),
        "OS-EXT-STS:task_state": instance["task_state"],
        "OS-EXT-STS:vm_state": instance["vm_state"],
        "OS-EXT-STS:power_state": instance["power_state"],
        "os-extended-volumes:volumes_attached": [
            {"id": v["id"], **({"delete_on_termination": v.get("delete_on_termination", False)}
                               if at_least(req, 3) else {})}
            for v in instance["request"].get("volumes_attached", [])],
    })
    sec_groups = instance["request"].get("security_groups", ["default"])
    if instance["network_info"] and sec_groups:  # a server without groups shows no key
        body["security_groups"] = [{"name": n} for n in sec_groups]
    if extended:
        body.update({
            "OS-EXT-SRV-ATTR:host": instance["host"],
            "OS-EXT-SRV-ATTR:hypervisor_hostname": instance["node"],
            "OS-EXT-SRV-ATTR:instance_name": instance_name(instance),
        })
        if at_least(req, 3):
            body.update({
                "OS-EXT-SRV-ATTR:reservation_id": instance["reservation_id"],
                "OS-EXT-SRV-ATTR:launch_index": instance["launch_index"],
                "OS-EXT-SRV-ATTR:hostname": instance["hostname"],
                "OS-EXT-SRV-ATTR:kernel_id": "", "OS-EXT-SRV-ATTR:ramdisk_id": "",
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
            })
            if user_data:
                body["OS-EXT-SRV-ATTR:user_data"] = instance["user_data"]
    if at_least(req, 16) and allowed(req, "os_compute_api:servers:show:host_status"):
        body["host_status"] = instance.get("_host_status", "") if instance["host"] else ""


def _compressed(address: str | None) -> str:
    """Nova keeps access addresses as IP addresses: IPv6 in its shortest form."""
    if not address:
        return ""
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return address


def _usage_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}"
