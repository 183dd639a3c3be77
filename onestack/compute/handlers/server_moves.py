"""Server actions that move a server: resize, confirm and revert, cold migrate, live
migrate and evacuate. Each checks what Nova checks before anything is written (409
in the wrong state, 400 for a bad destination, 403 over quota), moves the server
into its task and hands the work to the conductor; what happens after the 202 is in
moves.py and agent_moves.py. Shelving, backups and the smaller actions are in
server_shelve.py."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import Response

from onestack.compute import moves
from onestack.compute.conductor import NO_VALID_HOST
from onestack.compute.handlers import server_actions as actions
from onestack.compute.handlers import server_shelve
from onestack.compute.handlers.common import (
    at_least,
    authorize,
    bus_context,
    state,
    target_of,
)
from onestack.compute.handlers.servers import check_locked
from onestack.compute.objects import flavors, instances, quotas, states
from onestack.kernel.api.faults import BadRequest, Conflict, NotFound
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.validation import validate

Instance = dict[str, Any]
BOOLEAN_VALUES: list[Any] = [
    True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
    False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"]
BOOLEAN = {"type": ["boolean", "string"], "enum": BOOLEAN_VALUES}
FQDN = {"type": "string", "pattern": "^[a-zA-Z0-9-._]*$", "minLength": 1, "maxLength": 255}
RESIZE = {"type": "object", "properties": {
    "flavorRef": {"type": ["string", "integer"], "minLength": 1},
    "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]}},
    "required": ["flavorRef"], "additionalProperties": False}
MIGRATE_256 = {"type": ["object", "null"], "properties": {
    "host": {**FQDN, "type": ["string", "null"]}}, "additionalProperties": False}
_SCHEMAS: dict[tuple[str, int], dict[str, Any]] = {}


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "on", "yes")


def _target(req: Request, instance: Instance) -> dict[str, Any]:
    return target_of(req, instance["project_id"], instance["user_id"])


async def check_host_up(req: Request, instance: Instance) -> str:
    """The server's host, which must be up for the move to start (409 otherwise,
    without naming the host, as Nova)."""
    if not instance["host"]:
        raise Conflict(f"Instance {instance['uuid']} is not ready")
    compute = state(req)
    async with compute.db.reader() as conn:
        if not await moves.host_is_up(compute, conn, instance["host"]):
            raise Conflict("Service is unavailable at this time.")
    return str(instance["host"])


async def known_host(req: Request, host: str) -> dict[str, Any]:
    async with state(req).db.reader() as conn:
        node = await moves.compute_node(conn, host)
    if node is None:
        raise BadRequest(f"Compute host {host} could not be found.")
    return node


# -- resize ------------------------------------------------------------------------------
async def resize(req: Request, instance: Instance, data: Any) -> Response:
    data = validate(RESIZE, data)
    authorize(req, "os_compute_api:servers:resize", _target(req, instance))
    ref = str(data["flavorRef"])
    check_locked(req, instance)
    actions.check_state(instance, "resize", {states.ACTIVE, states.STOPPED})
    await check_host_up(req, instance)
    compute = state(req)
    async with compute.db.reader() as conn:
        row = await flavors.find(conn, ref.rstrip("/").rsplit("/", 1)[-1], None)
    if row is None:
        raise BadRequest(f"Flavor {ref} could not be found.")
    new, current = flavors.boot_view(row), instance["flavor"]
    if not new["root_gb"] and current.get("root_gb"):
        raise BadRequest("Server disk was unable to be resized because: Resize to zero "
                         "disk flavor is not allowed.")
    same = new["id"] == current["id"]
    if not same and new["disabled"]:
        raise BadRequest(f"Flavor {ref} could not be found.")
    if same:
        raise BadRequest("When resizing, instances must change flavor!")
    await check_upsize(req, instance, current, new)
    await _check_image(req, instance, new)
    request = dict(instance["request"])
    if "OS-DCF:diskConfig" in data:
        request["disk_config"] = data["OS-DCF:diskConfig"]
    await actions.begin(req, instance, "resize", {
        "task_state": states.RESIZE_PREP, "progress": 0, "request": request})
    await compute.conductor.migrate(bus_context(req), instance["uuid"], "resize", flavor=new)
    return empty_response(202)


async def check_upsize(req: Request, instance: Instance, current: dict[str, Any],
                       new: dict[str, Any]) -> None:
    """A larger flavor must fit the quota (403 in Nova's words)."""
    deltas = {"cores": int(new["vcpus"]) - int(current["vcpus"]),
              "ram": int(new["memory_mb"]) - int(current["memory_mb"])}
    deltas = {k: v for k, v in deltas.items() if v > 0}
    if deltas:
        compute = state(req)
        async with compute.db.reader() as conn:
            await quotas.check(conn, compute.settings, instance["project_id"],
                               instance["user_id"], deltas)


async def _check_image(req: Request, instance: Instance, flavor: dict[str, Any]) -> None:
    if not instance["image_ref"]:
        return
    image = await state(req).image.get_image(bus_context(req), instance["image_ref"])
    if image is None:
        return
    disk = int(flavor["root_gb"]) * 1024 ** 3
    if (image.get("min_ram") or 0) > flavor["memory_mb"]:
        raise BadRequest("Flavor's memory is too small for requested image.")
    if disk and (image.get("size") or 0) > disk:
        raise BadRequest(f"Flavor's disk is too small for requested image. Flavor disk is "
                         f"{disk} bytes, image is {image['size']} bytes.")
    if disk and (image.get("min_disk") or 0) > flavor["root_gb"]:
        raise BadRequest(f"Flavor's disk is too small for requested image. Flavor disk is "
                         f"{disk} bytes, minimum required disk is "
                         f"{image['min_disk'] * 1024 ** 3} bytes.")


async def confirm_resize(req: Request, instance: Instance, _: Any) -> Response:
    authorize(req, "os_compute_api:servers:confirm_resize",
              target_of(req, instance["project_id"]))
    check_locked(req, instance)
    actions.check_state(instance, "confirmResize", {states.RESIZED})
    compute = state(req)
    async with compute.db.writer() as conn:
        migration = await moves.find_migration(conn, instance["uuid"], status="finished")
        if migration is None:
            raise BadRequest("Instance has not been resized.")
        if not await moves.host_is_up(compute, conn, migration["source_compute"]):
            raise Conflict("Service is unavailable at this time.")
        current = await instances.get(conn, instance["uuid"])
        updated = await instances.change_state(conn, current, {}, "confirmResize")
        await moves.update_migration(conn, migration["uuid"], status="confirming")
        await instances.record_action(conn, updated, "confirmResize", bus_context(req))
    await compute.agents.cast(migration["source_compute"], "confirm_resize", bus_context(req),
                              instance=updated, migration=migration)
    return empty_response(204)


async def revert_resize(req: Request, instance: Instance, _: Any) -> Response:
    authorize(req, "os_compute_api:servers:revert_resize",
              target_of(req, instance["project_id"]))
    check_locked(req, instance)
    actions.check_state(instance, "revertResize", {states.RESIZED})
    compute = state(req)
    async with compute.db.reader() as conn:
        migration = await moves.find_migration(conn, instance["uuid"], status="finished")
    if migration is None:
        raise BadRequest("Instance has not been resized.")
    if instance["old_flavor"] is None:
        raise BadRequest("Flavor used by the instance could not be found.")
    # going back to a larger flavor must fit the quota too
    await check_upsize(req, instance, instance["flavor"], instance["old_flavor"])
    async with compute.db.writer() as conn:
        zone = await moves.zone_of(compute, conn, migration["source_compute"])
        current = await instances.get(conn, instance["uuid"])
        updated = await instances.change_state(conn, current, {
            "task_state": states.RESIZE_REVERTING, "availability_zone": zone},
            "revertResize")
        await moves.update_migration(conn, migration["uuid"], status="reverting")
        await instances.record_action(conn, updated, "revertResize", bus_context(req))
    await compute.agents.cast(migration["dest_compute"], "revert_resize", bus_context(req),
                              instance=updated, migration=migration)
    return empty_response(202)


# -- cold and live migration --------------------------------------------------------------
async def migrate(req: Request, instance: Instance, data: Any) -> Response:
    host = None
    if at_least(req, 56):
        host = (validate(MIGRATE_256, data) or {}).get("host")
    rule = "migrate:host" if host else "migrate"
    authorize(req, f"os_compute_api:os-migrate-server:{rule}",
              target_of(req, instance["project_id"]))
    check_locked(req, instance)
    actions.check_state(instance, "migrate", {states.ACTIVE, states.STOPPED})
    await check_host_up(req, instance)
    if host:
        if host == instance["host"]:
            raise BadRequest("Cannot migrate to the host where the server exists.")
        await known_host(req, host)
    await actions.begin(req, instance, "migrate", {"task_state": states.RESIZE_PREP,
                                                   "progress": 0})
    await state(req).conductor.migrate(bus_context(req), instance["uuid"], "migration",
                                       host=host)
    return empty_response(202)


def _live_schema(minor: int) -> dict[str, Any]:
    key = ("live", 25 if 25 <= minor < 30 or minor >= 68 else 30 if minor >= 30 else 1)
    if key not in _SCHEMAS:
        props: dict[str, Any] = {"block_migration": BOOLEAN,
                                 "host": {**FQDN, "type": ["string", "null"]}}
        required = ["block_migration", "host"]
        if key[1] == 1:
            props["disk_over_commit"] = BOOLEAN
            required.append("disk_over_commit")
        else:
            props["block_migration"] = {**BOOLEAN, "enum": [*BOOLEAN_VALUES, "auto"]}
        if key[1] == 30:
            props["force"] = BOOLEAN
        _SCHEMAS[key] = {"type": "object", "properties": props, "required": required,
                         "additionalProperties": False}
    return _SCHEMAS[key]


async def live_migrate(req: Request, instance: Instance, data: Any) -> Response:
    minor = req.version.minor if req.version is not None else 1
    data = validate(_live_schema(minor), data)
    host = data["host"]
    rule = "migrate_live:host" if host else "migrate_live"
    authorize(req, f"os_compute_api:os-migrate-server:{rule}",
              target_of(req, instance["project_id"]))
    force = None
    if minor >= 30:
        force = truthy(data.get("force", False))
        if force and not host:
            raise BadRequest("Can't force to a non-provided destination")
    check_locked(req, instance)
    actions.check_state(instance, "os-migrateLive", {states.ACTIVE, states.PAUSED})
    # before 2.30 a host given is forced (the scheduler is bypassed)
    forced = bool(host) and force is not False
    if host:
        await known_host(req, host)
        if minor < 34:  # the checks answered synchronously before 2.34
            await _live_prechecks(req, instance, host, forced)
    request = {**instance["request"], "move": {"host": host, "force": forced}}
    await actions.begin(req, instance, "live-migration", {
        "task_state": states.MIGRATING, "request": request})
    await state(req).conductor.migrate(bus_context(req), instance["uuid"], "live-migration",
                                       host=host)
    return empty_response(202)


async def _live_prechecks(req: Request, instance: Instance, host: str, forced: bool) -> None:
    compute = state(req)
    async with compute.db.reader() as conn:
        if forced:
            problem = await moves.destination_problem(compute, conn, instance, host)
        elif host == instance["host"] or not await moves.host_is_up(compute, conn, host):
            problem = NO_VALID_HOST
        else:
            problem = None
    if problem:
        raise BadRequest(problem)


# -- evacuate ------------------------------------------------------------------------------
def _evacuate_schema(minor: int) -> dict[str, Any]:
    key = ("evacuate", 1 if minor < 14 else 29 if 29 <= minor < 68 else 14)
    if key not in _SCHEMAS:
        props: dict[str, Any] = {"host": FQDN, "adminPass": {"type": "string"}}
        schema: dict[str, Any] = {"type": "object", "properties": props,
                                  "additionalProperties": False}
        if key[1] == 1:
            props["onSharedStorage"] = BOOLEAN
            schema["required"] = ["onSharedStorage"]
        if key[1] == 29:
            props["force"] = BOOLEAN
        _SCHEMAS[key] = schema
    return _SCHEMAS[key]


async def evacuate(req: Request, instance: Instance, data: Any) -> Response:
    minor = req.version.minor if req.version is not None else 1
    data = validate(_evacuate_schema(minor), data)
    authorize(req, "os_compute_api:os-evacuate", _target(req, instance))
    host = data.get("host")
    force = None
    if minor >= 29:
        force = truthy(data.get("force", False))
        if force and not host:
            raise BadRequest("Can't force to a non-provided destination")
    password = _evacuate_password(data, minor)
    compute = state(req)
    async with compute.db.reader() as conn:
        if host is not None and await moves.compute_service(conn, host) is None:
            raise NotFound(f"Compute host {host} not found.")
        if instance["host"] == host:
            raise BadRequest("The target host can't be the same one.")
        actions.check_state(instance, "evacuate", {states.ACTIVE, states.STOPPED,
                                                   states.ERROR})
        source = await moves.compute_service(conn, instance["host"])
        if source is None:
            raise NotFound(f"Compute host {instance['host']} could not be found.")
        if await moves.host_is_up(compute, conn, instance["host"]):
            raise BadRequest(f"Compute service of {instance['host']} is still in use.")
    move = {"host": host, "force": bool(host) and force is not False,
            "admin_password": password,
            "target_state": states.STOPPED if minor >= 95 else None}
    async with compute.db.writer() as conn:
        current = await instances.get(conn, instance["uuid"])
        updated = await instances.change_state(conn, current, {
            "task_state": states.REBUILDING,
            "request": {**current["request"], "move": move}}, "evacuate")
        await instances.record_action(conn, updated, "evacuate", bus_context(req))
        key = await moves.flavor_key(conn, instance["flavor"]["id"])
        await moves.new_migration(conn, updated, "evacuation", "accepted", dest_compute=host,
                                  old_flavor_id=key, new_flavor_id=key)
    await compute.conductor.migrate(bus_context(req), instance["uuid"], "evacuation",
                                    host=host)
    if minor < 14:
        return json_response({"adminPass": password})
    return empty_response(200)


def _evacuate_password(data: dict[str, Any], minor: int) -> str | None:
    if minor >= 14:
        return data.get("adminPass") or secrets.token_urlsafe(9)
    shared = truthy(data["onSharedStorage"])
    if "adminPass" in data:
        if shared:
            raise BadRequest("admin password can't be changed on existing disk")
        return str(data["adminPass"])
    return None if shared else secrets.token_urlsafe(9)


ACTIONS = {
    "resize": resize,
    "confirmResize": confirm_resize,
    "revertResize": revert_resize,
    "migrate": migrate,
    "os-migrateLive": live_migrate,
    "evacuate": evacuate,
    **server_shelve.ACTIONS,
}
