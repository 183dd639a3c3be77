"""POST /servers: check everything a boot needs (flavor, image, networks, security
groups, key, zone, group, quota) before anything is written, record the servers
(BUILD, scheduling) and hand them to the conductor. Errors are Nova's: 400 for a
bad reference, 403 over quota, 409 for an ambiguous network."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import secrets
import uuid as uuidlib
from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from onestack.compute import models as m
from onestack.compute.handlers.common import (
    authorize,
    body,
    bus_context,
    context_of,
    links,
    state,
)
from onestack.compute.objects import flavors, instances, keypairs, quotas, states
from onestack.compute.objects.hosts import availability_zones
from onestack.compute.schemas import servers as schemas
from onestack.kernel.api.faults import BadRequest, Conflict
from onestack.kernel.api.request import Request, json_response
from onestack.network.rpcapi import SecurityGroupNotFound


def _ref(value: Any) -> str:
    """flavorRef and imageRef may be ids or URLs ending in the id."""
    return str(value).rstrip("/").rsplit("/", 1)[-1]


def _count(server: dict[str, Any], key: str, default: int) -> int:
    value = server.get(key, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"Invalid input for field '{key}': '{value}' is not an integer.") \
            from None


async def _image(req: Request, server: dict[str, Any], flavor: dict[str, Any]
                 ) -> dict[str, Any] | None:
    image_ref = server.get("imageRef")
    if not image_ref:
        if server.get("block_device_mapping_v2") or server.get("block_device_mapping"):
            raise BadRequest("Booting from volume is not available: this cloud has no "
                             "volume service yet.")
        raise BadRequest("Missing imageRef attribute")
    image_id = _ref(image_ref)
    try:
        uuidlib.UUID(image_id)
    except ValueError:
        raise BadRequest("Invalid imageRef provided.") from None
    image = await state(req).image.get_image(bus_context(req), image_id)
    if image is None:
        raise BadRequest(f"Image {image_id} could not be found.")
    if image["status"] != "active":
        raise BadRequest(f"Image {image_id} is not active.")
    if (image.get("size") or 0) > flavor["root_gb"] * 1024 ** 3 and flavor["root_gb"]:
        raise BadRequest(f"Flavor's disk is too small for requested image. Flavor disk is "
                         f"{flavor['root_gb'] * 1024 ** 3} bytes, image is {image['size']} "
                         f"bytes.")
    if (image.get("min_disk") or 0) > flavor["root_gb"] and flavor["root_gb"]:
        raise BadRequest("Flavor's disk is too small for requested image. Flavor disk is "
                         f"{flavor['root_gb'] * 1024 ** 3} bytes, minimum required disk is "
                         f"{image['min_disk'] * 1024 ** 3} bytes.")
    if (image.get("min_ram") or 0) > flavor["memory_mb"]:
        raise BadRequest("Flavor's memory is too small for requested image.")
    if not flavor["root_gb"]:
        authorize(req, "os_compute_api:servers:create:zero_disk_flavor")
    return image


async def _networks(req: Request, server: dict[str, Any], project_id: str
                    ) -> list[dict[str, Any]]:
    compute = state(req)
    ctx = bus_context(req)
    requested = server.get("networks")
    if requested == "none":
        return []
    if requested is None or requested == "auto":
        usable = await compute.network.usable_networks(ctx, project_id)
        if len(usable) > 1:
            raise Conflict("Multiple possible networks found, use a Network ID to be more "
                           "specific.")
        if not usable and requested == "auto":
            raise BadRequest(f"Unable to automatically allocate a network for project "
                             f"{project_id}")
        return [{"uuid": usable[0]["id"]}] if usable else []
    chosen = []
    for item in requested:
        entry = {k: v for k, v in item.items() if v is not None}
        if entry.get("port"):
            port = await compute.network.get_port(ctx, entry["port"])
            if port is None:
                raise BadRequest(f"Port {entry['port']} could not be found.")
            if port.get("device_id"):
                raise Conflict(f"Port {entry['port']} is still in use.")
            entry["uuid"] = port["network_id"]
        elif not entry.get("uuid"):
            raise BadRequest("Bad networks format: network uuid is not in proper format ()")
        else:
            try:
                uuidlib.UUID(entry["uuid"])
            except ValueError:
                raise BadRequest(f"Bad networks format: network uuid is not in proper "
                                 f"format ({entry['uuid']})") from None
            network = await compute.network.get_network(ctx, entry["uuid"])
            if network is None:
                raise BadRequest(f"Network {entry['uuid']} could not be found.")
        if "fixed_ip" in entry:
            try:
                ipaddress.ip_address(entry["fixed_ip"])
            except ValueError:
                raise BadRequest(f"Invalid fixed IP address ({entry['fixed_ip']})") from None
        chosen.append(entry)
    return chosen


async def _zone(req: Request, server: dict[str, Any]) -> tuple[str | None, str | None,
                                                                 str | None]:
    """The requested zone, and a forced host and node (``zone:host:node``, admins)."""
    value = server.get("availability_zone")
    host = server.get("host")
    node = server.get("hypervisor_hostname")
    if host or node:
        authorize(req, "os_compute_api:servers:create:requested_destination")
    if not value:
        return None, host, node
    zone, _, rest = value.partition(":")
    forced_host, _, forced_node = rest.partition(":")
    if forced_host or forced_node:
        authorize(req, "os_compute_api:servers:create:forced_host")
    if zone:
        compute = state(req)
        async with compute.db.reader() as conn:
            zones = set((await availability_zones(conn)).values())
        zones.add(compute.settings.default_availability_zone)
        if zone not in zones:
            raise BadRequest("The requested availability zone is not available")
    return zone or None, forced_host or host, forced_node or node


def _user_data(server: dict[str, Any]) -> str | None:
    data = server.get("user_data")
    if data is None:
        return None
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("User data needs to be valid base 64.") from None
    return data


async def create(req: Request) -> Response:
    minor = req.version.minor if req.version is not None else 1
    data = await body(req, schemas.create(minor))
    server = data["server"]
    authorize(req, "os_compute_api:servers:create")
    ctx = context_of(req)
    compute = state(req)
    assert ctx.project_id is not None
    project_id, user_id = ctx.project_id, ctx.user_id
    if not server["name"].strip():
        raise BadRequest("Invalid input for field 'name'.")
    async with compute.db.reader() as conn:
        flavor = await flavors.get_for_boot(conn, _ref(server["flavorRef"]), ctx)
        if flavor is None:
            raise BadRequest(f"Flavor {_ref(server['flavorRef'])} could not be found.")
        key = None
        if server.get("key_name"):
            key = await keypairs.get_public_key(conn, user_id, server["key_name"])
            if key is None:
                raise BadRequest("Invalid key_name provided.")
    image = await _image(req, server, flavor)
    networks = await _networks(req, server, project_id)
    group_names = [g["name"] for g in server.get("security_groups", [])] or ["default"]
    group_ids: list[str] = []
    if networks:
        try:
            group_ids = await compute.network.resolve_security_groups(
                bus_context(req), project_id, group_names)
        except SecurityGroupNotFound as exc:
            raise BadRequest(str(exc)) from None
    zone, force_host, force_node = await _zone(req, server)
    hints = data.get("os:scheduler_hints") or data.get("OS-SCH-HNT:scheduler_hints") or {}
    min_count = _count(server, "min_count", 1)
    max_count = _count(server, "max_count", min_count)
    if min_count > max_count:
        raise BadRequest("min_count must be <= max_count")
    user_data = _user_data(server)
    async with compute.db.reader() as conn:
        await quotas.check_absolute(conn, compute.settings, project_id, {
            "metadata_items": len(server.get("metadata", {})),
            "injected_files": len(server.get("personality", []))})
    count = await _fit_quota(req, project_id, user_id, flavor, min_count, max_count)
    group = await _server_group(req, hints, count)
    reservation = "r-" + secrets.token_hex(4)
    admin_pass = server.get("adminPass") or secrets.token_urlsafe(9)
    request = {
        "networks": networks, "security_groups": group_names if networks else [],
        "security_group_ids": group_ids, "availability_zone": zone,
        "force_host": force_host, "force_node": force_node,
        "scheduler_hints": hints, "image_properties": (image or {}).get("properties", {}),
        "disk_config": server.get("OS-DCF:diskConfig", "MANUAL"),
        "admin_password": admin_pass, "personality": server.get("personality", []),
    }
    rows = []
    for index in range(count):
        name = server["name"] if count == 1 else f"{server['name']}-{index + 1}"
        uuid = str(uuidlib.uuid4())
        rows.append({
            "uuid": uuid, "display_name": name, "description": server.get("description"),
            "hostname": server.get("hostname") or _hostname(name, uuid),
            "project_id": project_id, "user_id": user_id, "reservation_id": reservation,
            "launch_index": index, "availability_zone": zone,
            "pinned_availability_zone": zone, "flavor": flavor,
            "image_ref": image["id"] if image else "", "system_metadata": {},
            "metadata": server.get("metadata", {}), "tags": server.get("tags", []),
            "vm_state": states.BUILDING, "task_state": states.SCHEDULING, "power_state": 0,
            "key_name": key["name"] if key else None, "key_data": key["public_key"] if key
            else None, "user_data": user_data,
            "config_drive": "True" if server.get("config_drive") in (True, "True", "true")
            else "", "access_ip_v4": server.get("accessIPv4"),
            "access_ip_v6": server.get("accessIPv6"), "request": request,
            "network_info": [], "progress": 0})
    async with compute.db.writer() as conn:
        await quotas.check(conn, compute.settings, project_id, user_id,
                           _deltas(flavor, count))
        await instances.insert(conn, rows)
        for row in rows:
            await instances.record_action(conn, row, "create", bus_context(req))
        if group is not None:
            await conn.execute(m.server_group_member.insert(), [
                {"group_uuid": group, "instance_uuid": row["uuid"]} for row in rows])
    await compute.conductor.schedule_and_build(bus_context(req), [r["uuid"] for r in rows])
    if server.get("return_reservation_id") in (True, "True", "true"):
        return json_response({"reservation_id": reservation}, status=202)
    first = rows[0]
    result: dict[str, Any] = {"id": first["uuid"], "links": links(req, "servers", first["uuid"]),
                              "OS-DCF:diskConfig": request["disk_config"]}
    if networks:
        result["security_groups"] = [{"name": n} for n in group_names]
    result["adminPass"] = admin_pass
    return json_response({"server": result}, status=202)


def _hostname(name: str, uuid: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower())
    cleaned = cleaned.strip("-.")[:63]
    return cleaned or f"server-{uuid}"


def _deltas(flavor: dict[str, Any], count: int) -> dict[str, int]:
    return {"instances": count, "cores": flavor["vcpus"] * count,
            "ram": flavor["memory_mb"] * count}


async def _fit_quota(req: Request, project_id: str, user_id: str, flavor: dict[str, Any],
                     min_count: int, max_count: int) -> int:
    """As many servers as quota allows between min_count and max_count; over quota
    even for min_count is the 403 of quotas.check."""
    if min_count == max_count:
        return max_count  # checked once, in the transaction that records the servers
    compute = state(req)
    async with compute.db.reader() as conn:
        for count in range(max_count, min_count - 1, -1):
            try:
                await quotas.check(conn, compute.settings, project_id, user_id,
                                   _deltas(flavor, count))
                return count
            except quotas.OverQuota:
                if count == min_count:
                    raise
    return min_count


async def _server_group(req: Request, hints: dict[str, Any], count: int) -> str | None:
    group = hints.get("group")
    if not group:
        return None
    compute = state(req)
    async with compute.db.reader() as conn:
        row = (await conn.execute(sa.select(m.server_group).where(
            m.server_group.c.uuid == str(group)))).first()
        if row is None:
            raise BadRequest(f"Invalid input for field/attribute group. Value: {group}. "
                             f"Server group {group} not found.")
        members = (await conn.execute(sa.select(sa.func.count()).select_from(
            m.server_group_member).where(
                m.server_group_member.c.group_uuid == row.uuid))).scalar_one()
        await quotas.check(conn, compute.settings, row.project_id, row.user_id,
                           {"server_group_members": count}, current={
                               "server_group_members": members})
    return str(row.uuid)
