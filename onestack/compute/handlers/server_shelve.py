"""Server actions that park a server or touch what it carries: shelve, shelve
offload and unshelve, backups with rotation, security groups on its ports, a crash
dump, and the network actions kept for old clients. The work after the 202 is in
agent_moves.py (and moves.py for an unshelve that needs a host)."""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.responses import Response

from onestack.compute import moves
from onestack.compute.handlers import server_actions as actions
from onestack.compute.handlers.common import (
    at_least,
    authorize,
    base_url,
    bus_context,
    context_of,
    state,
    target_of,
)
from onestack.compute.handlers.servers import check_locked
from onestack.compute.objects import instances, states
from onestack.compute.objects.hosts import availability_zones
from onestack.compute.schemas.servers import METADATA, NAME
from onestack.image.rpcapi import ImageError, ImageNotAuthorized, ImageQuotaExceeded
from onestack.kernel.api.faults import BadRequest, Conflict, Forbidden, Gone, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.validation import validate
from onestack.network.rpcapi import NetworkError, SecurityGroupNotFound, SecurityGroupNotUnique

Instance = dict[str, Any]
UNSHELVE_277 = {"type": ["object", "null"], "properties": {"availability_zone": NAME},
                "required": ["availability_zone"], "additionalProperties": False}
UNSHELVE_291 = {"type": ["object", "null"], "properties": {
    "availability_zone": {"type": ["string", "null"]}, "host": {"type": "string"}},
    "additionalProperties": False}
BACKUP = {"type": "object", "properties": {
    "name": NAME, "backup_type": {"type": "string"},
    "rotation": {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0,
                 "minLength": 1},
    "metadata": METADATA}, "required": ["name", "backup_type", "rotation"],
    "additionalProperties": False}
GROUP = {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}},
         "required": ["name"], "additionalProperties": False}
CRASH_DUMP = {"type": "null"}


def _target(req: Request, instance: Instance) -> dict[str, Any]:
    return target_of(req, instance["project_id"], instance["user_id"])


async def new_image(req: Request, instance: Instance, name: str, kind: str,
                    extra: dict[str, Any]) -> dict[str, Any]:
    """The queued image a snapshot of the server will fill (Nova's create_image)."""
    base = instance["request"].get("image_properties", {})
    properties = {k: str(v) for k, v in base.items()}
    properties.update({k: str(v) for k, v in extra.items()})
    properties.update({"image_type": kind, "instance_uuid": instance["uuid"],
                       "base_image_ref": instance["image_ref"],
                       "user_id": context_of(req).user_id})
    try:
        return await state(req).image.create_snapshot(
            bus_context(req), name, properties, min_disk=instance["flavor"]["root_gb"])
    except (ImageQuotaExceeded, ImageNotAuthorized) as exc:
        raise Forbidden(str(exc)) from None
    except ImageError as exc:
        raise BadRequest(str(exc)) from None


async def _begin_with_image(req: Request, instance: Instance, action: str,
                            changes: dict[str, Any], image_id: str) -> Instance:
    """begin(), giving the new image back when the server cannot start the task."""
    try:
        return await actions.begin(req, instance, action, changes)
    except Exception:
        with contextlib.suppress(Exception):
            await state(req).image.delete_image(bus_context(req), image_id)
        raise


# -- shelve ------------------------------------------------------------------------------
async def shelve(req: Request, instance: Instance, _: Any) -> Response:
    authorize(req, "os_compute_api:os-shelve:shelve", _target(req, instance))
    check_locked(req, instance)
    actions.check_state(instance, "shelve", {states.ACTIVE, states.STOPPED, states.PAUSED,
                                             states.SUSPENDED})
    host = actions.needs_host(instance, "shelve")
    image = await new_image(req, instance, f"{instance['display_name']}-shelved",
                            "snapshot", {})
    metadata = {**instance["system_metadata"], "image_base_image_ref": instance["image_ref"]}
    updated = await _begin_with_image(req, instance, "shelve", {
        "task_state": states.SHELVING, "system_metadata": metadata}, image["id"])
    compute = state(req)
    await compute.agents.cast(host, "shelve_instance", bus_context(req), instance=updated,
                              image_id=image["id"],
                              offload=compute.settings.shelved_offload_time == 0)
    return empty_response(202)


async def shelve_offload(req: Request, instance: Instance, _: Any) -> Response:
    authorize(req, "os_compute_api:os-shelve:shelve_offload", _target(req, instance))
    check_locked(req, instance)
    actions.check_state(instance, "shelveOffload", {states.SHELVED})
    host = actions.needs_host(instance, "shelveOffload")
    updated = await actions.begin(req, instance, "shelveOffload",
                                  {"task_state": states.SHELVING_OFFLOADING})
    await state(req).agents.cast(host, "shelve_offload_instance", bus_context(req),
                                 instance=updated)
    return empty_response(202)


async def unshelve(req: Request, instance: Instance, data: Any) -> Response:
    if at_least(req, 91):
        data = validate(UNSHELVE_291, data)
    elif at_least(req, 77):
        data = validate(UNSHELVE_277, data)
    authorize(req, "os_compute_api:os-shelve:unshelve", target_of(req, instance["project_id"]))
    options = data if isinstance(data, dict) and at_least(req, 77) else {}
    zone_given = "availability_zone" in options
    new_zone = options.get("availability_zone")
    host = options.get("host") if at_least(req, 91) else None
    check_locked(req, instance)
    actions.check_state(instance, "unshelve", {states.SHELVED, states.SHELVED_OFFLOADED})
    if (zone_given or host) and instance["vm_state"] != states.SHELVED_OFFLOADED:
        raise Conflict(f'Specifying an availability zone or a host when unshelving server '
                       f'"{instance["uuid"]}" with status "{instance["vm_state"]}" is not '
                       f'supported. The server status must be SHELVED_OFFLOADED.')
    compute = state(req)
    async with compute.db.reader() as conn:
        zones = await availability_zones(conn)
        if zone_given and new_zone and new_zone not in {
                *zones.values(), compute.settings.default_availability_zone}:
            raise BadRequest("The requested availability zone is not available")
        zone = new_zone if zone_given else instance["request"].get("availability_zone")
        if host:
            authorize(req, "os_compute_api:os-shelve:unshelve_to_host", _target(req, instance))
            if await moves.compute_node(conn, host) is None:
                raise BadRequest(f"Compute host {host} could not be found.")
            if zone is not None and zones.get(
                    host, compute.settings.default_availability_zone) != zone:
                raise Conflict(f'Host "{host}" is not in the availability zone "{zone}".')
    await actions.begin(req, instance, "unshelve", {
        "task_state": states.UNSHELVING, "pinned_availability_zone": zone,
        "request": {**instance["request"], "availability_zone": zone}})
    await compute.conductor.unshelve(bus_context(req), instance["uuid"],
                                     availability_zone=zone, host=host)
    return empty_response(202)


# -- backups -------------------------------------------------------------------------------
async def create_backup(req: Request, instance: Instance, data: Any) -> Response:
    data = validate(BACKUP, data)
    authorize(req, "os_compute_api:os-create-backup", target_of(req, instance["project_id"]))
    rotation, kind = int(data["rotation"]), data["backup_type"]
    actions.check_state(instance, "createBackup", {states.ACTIVE, states.STOPPED,
                                                   states.PAUSED, states.SUSPENDED})
    host = actions.needs_host(instance, "createBackup")
    compute, ctx = state(req), bus_context(req)
    image = await new_image(req, instance, data["name"], "backup",
                            {**data.get("metadata", {}), "backup_type": kind})
    # the backups of each type, oldest first (the image service keeps no such list)
    known = dict(instance["system_metadata"].get("backups") or {})
    ids = [i for i in known.get(kind, []) if await compute.image.get_image(ctx, i)]
    known[kind] = [*ids, image["id"]]
    updated = await _begin_with_image(req, instance, "createBackup", {
        "task_state": states.IMAGE_BACKUP,
        "system_metadata": {**instance["system_metadata"], "backups": known}}, image["id"])
    await compute.agents.cast(host, "backup_instance", ctx, instance=updated,
                              image_id=image["id"], rotation=rotation, backups=known[kind])
    if at_least(req, 45):
        return json_response({"image_id": image["id"]}, status=202)
    headers = {"Location": f"{base_url(req)}/v2.1/images/{image['id']}"} if rotation else None
    return empty_response(202, headers=headers)


# -- security groups -----------------------------------------------------------------------
async def add_security_group(req: Request, instance: Instance, data: Any) -> Response:
    name = _group_name(req, instance, data, "add")
    group_id = await _group_id(req, instance, name)
    ports = await _ports(req, instance)
    views = []
    for port in ports:
        views.append(await _set_groups(req, port["id"],
                                       [*port["security_groups"], group_id]))
    await _record_groups(req, instance, views)
    return empty_response(202)


async def remove_security_group(req: Request, instance: Instance, data: Any) -> Response:
    name = _group_name(req, instance, data, "remove")
    group_id = await _group_id(req, instance, name)
    views, found = [], False
    for port in await _ports(req, instance):
        if group_id in port["security_groups"]:
            found = True
            port = await _set_groups(req, port["id"], [g for g in port["security_groups"]
                                                       if g != group_id])
        views.append(port)
    if not found:
        raise NotFound(f"Security group {name} not associated with the instance "
                       f"{instance['uuid']}")
    await _record_groups(req, instance, views)
    return empty_response(202)


def _group_name(req: Request, instance: Instance, data: Any, rule: str) -> str:
    data = validate(GROUP, data)
    authorize(req, f"os_compute_api:os-security-groups:{rule}",
              target_of(req, instance["project_id"]))
    if not data["name"].strip():
        raise BadRequest("Security group name cannot be empty")
    return str(data["name"])


async def _group_id(req: Request, instance: Instance, name: str) -> str:
    try:
        (found,) = await state(req).network.resolve_security_groups(
            bus_context(req), instance["project_id"], [name])
    except SecurityGroupNotFound:
        raise NotFound(f"Security group {name} is not found for project "
                       f"{context_of(req).project_id}") from None
    except SecurityGroupNotUnique as exc:
        raise Conflict(str(exc)) from None
    return str(found)


async def _ports(req: Request, instance: Instance) -> list[dict[str, Any]]:
    ports = await state(req).network.list_ports(bus_context(req), device_id=instance["uuid"])
    if not ports:
        raise NotFound(f"instance_id {instance['uuid']} could not be found as device id on "
                       "any ports")
    return ports


async def _set_groups(req: Request, port_id: str, groups: list[str]) -> dict[str, Any]:
    try:
        return await state(req).network.set_port_security_groups(
            bus_context(req), port_id, list(dict.fromkeys(groups)))
    except NetworkError:
        raise BadRequest("Network requires port_security_enabled and subnet associated in "
                         "order to apply security groups.") from None


async def _record_groups(req: Request, instance: Instance, views: list[dict[str, Any]]) -> None:
    """The server shows its ports' groups by name (none: no security_groups at all)."""
    names: dict[str, str] = {}
    for view in views:
        labels = view.get("security_group_names") or view["security_groups"]
        names.update(zip(view["security_groups"], labels, strict=False))
    async with state(req).db.writer() as conn:
        current = await instances.get(conn, instance["uuid"])
        await instances.update(conn, current, {"request": {
            **current["request"], "security_groups": list(dict.fromkeys(names.values())),
            "security_group_ids": list(names)}})


# -- the rest ----------------------------------------------------------------------------
async def trigger_crash_dump(req: Request, instance: Instance, data: Any) -> Response:
    if not at_least(req, 17):
        raise NotFound("The resource could not be found.")
    validate(CRASH_DUMP, data)
    authorize(req, "os_compute_api:servers:trigger_crash_dump", _target(req, instance))
    check_locked(req, instance)
    if not instance["host"]:
        raise Conflict(f"Instance {instance['uuid']} is not ready")
    actions.check_state(instance, "trigger_crash_dump", {
        states.ACTIVE, states.PAUSED, states.RESCUED, states.RESIZED, states.ERROR})
    async with state(req).db.writer() as conn:
        await instances.record_action(conn, instance, "trigger_crash_dump", bus_context(req))
    await state(req).agents.cast(instance["host"], "trigger_crash_dump", bus_context(req),
                                 instance=instance)
    return empty_response(202)


async def inject_network_info(req: Request, instance: Instance, _: Any) -> Response:
    authorize(req, "os_compute_api:os-admin-actions:inject_network_info",
              target_of(req, instance["project_id"]))
    check_locked(req, instance)
    return empty_response(202)


async def reset_network(req: Request, instance: Instance, _: Any) -> Response:
    raise Gone("This resource is no longer available.  No forwarding address is given.")


ACTIONS = {
    "shelve": shelve,
    "shelveOffload": shelve_offload,
    "unshelve": unshelve,
    "createBackup": create_backup,
    "addSecurityGroup": add_security_group,
    "removeSecurityGroup": remove_security_group,
    "trigger_crash_dump": trigger_crash_dump,
    "injectNetworkInfo": inject_network_info,
    "resetNetwork": reset_network,
}
