"""POST /servers/{id}/action: one body key names the action. Each action checks the
server's state as Nova does (409 in the wrong state), moves it into its task state,
records an instance action and casts the work to the server's host. Moves (resize,
migrate, live migrate, evacuate, shelve) are in server_moves.py."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from onestack.compute.handlers import (
    consoles,
    floating_ips,
    images,
    server_extras,
    server_moves,
)
from onestack.compute.handlers.common import (
    at_least,
    authorize,
    bus_context,
    context_of,
    state,
    target_of,
)
from onestack.compute.handlers.servers import after_change, check_locked, owned
from onestack.compute.objects import instances, states
from onestack.compute.schemas.servers import METADATA, NAME
from onestack.kernel.api.faults import BadRequest, Conflict
from onestack.kernel.api.request import Request, empty_response, json_response
from onestack.kernel.api.routing import RouteTable
from onestack.kernel.api.validation import validate

Instance = dict[str, Any]
Action = Callable[[Request, Instance, Any], Awaitable[Response]]

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f]")


def check_state(instance: Instance, action: str, vm_states: set[str] | None,
                task_states: set[str | None] | None = frozenset({None})) -> None:  # type: ignore[assignment]
    if vm_states is not None and instance["vm_state"] not in vm_states:
        raise Conflict(f"Cannot '{action}' instance {instance['uuid']} while it is in "
                       f"vm_state {instance['vm_state']}")
    if task_states is not None and instance["task_state"] not in task_states:
        raise Conflict(f"Cannot '{action}' instance {instance['uuid']} while it is in "
                       f"task_state {instance['task_state']}")


async def begin(req: Request, instance: Instance, action: str, changes: dict[str, Any],
                record: str | None = None) -> Instance:
    """Move the server into its task (guarded against a concurrent change) and record
    the instance action."""
    async with state(req).db.writer() as conn:
        current = await instances.get(conn, instance["uuid"])
        updated = await instances.change_state(conn, current, changes, action)
        await instances.record_action(conn, updated, record or action, bus_context(req))
    return updated


def needs_host(instance: Instance, action: str) -> str:
    if not instance["host"]:
        raise Conflict(f"Cannot '{action}' instance {instance['uuid']} while it is in "
                       f"vm_state {instance['vm_state']}")
    return str(instance["host"])


async def _simple(req: Request, instance: Instance, action: str, agent_action: str,
                  vm_states: set[str], task: str, rule: str) -> Response:
    authorize(req, rule, target_of(req, instance["project_id"], instance["user_id"]))
    check_locked(req, instance)
    check_state(instance, action, vm_states)
    host = needs_host(instance, action)
    updated = await begin(req, instance, action, {"task_state": task})
    await state(req).agents.cast(host, "simple_action", bus_context(req), instance=updated,
                                 action=agent_action)
    return empty_response(202)


def _simple_action(action: str, agent_action: str, vm_states: set[str], task: str,
                   rule: str) -> Action:
    async def run(req: Request, instance: Instance, _: Any) -> Response:
        return await _simple(req, instance, action, agent_action, vm_states, task, rule)
    return run


async def reboot(req: Request, instance: Instance, data: Any) -> Response:
    authorize(req, "os_compute_api:servers:reboot",
              target_of(req, instance["project_id"], instance["user_id"]))
    kind = (data or {}).get("type") if isinstance(data, dict) else None
    if kind is None or str(kind).upper() not in ("SOFT", "HARD"):
        raise BadRequest("Invalid input for field/attribute type. Value: "
                         f"{kind}. '{kind}' is not one of ['HARD', 'Hard', 'hard', "
                         "'SOFT', 'Soft', 'soft']")
    hard = str(kind).upper() == "HARD"
    check_locked(req, instance)
    allowed = {states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED,
               states.ERROR} if hard else {states.ACTIVE}
    check_state(instance, "reboot", allowed,
                {None, states.REBOOTING} if hard else {None})
    host = needs_host(instance, "reboot")
    updated = await begin(req, instance, "reboot", {
        "task_state": states.REBOOTING_HARD if hard else states.REBOOTING})
    await state(req).agents.cast(host, "reboot", bus_context(req), instance=updated, hard=hard)
    return empty_response(202)


async def lock(req: Request, instance: Instance, data: Any) -> Response:
    authorize(req, "os_compute_api:os-lock-server:lock",
              target_of(req, instance["project_id"], instance["user_id"]))
    reason = (data or {}).get("locked_reason") if at_least(req, 73) and isinstance(
        data, dict) else None
    if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
        raise BadRequest("Invalid input for field/attribute locked_reason.")
    who = "owner" if context_of(req).project_id == instance["project_id"] else "admin"
    await _set_fields(req, instance, "lock", {"locked_by": who, "locked_reason": reason})
    return empty_response(202)


async def unlock(req: Request, instance: Instance, _: Any) -> Response:
    authorize(req, "os_compute_api:os-lock-server:unlock",
              target_of(req, instance["project_id"], instance["user_id"]))
    if instance["locked_by"] == "admin" and not context_of(req).is_admin:
        authorize(req, "os_compute_api:os-lock-server:unlock:unlock_override",
                  target_of(req, instance["project_id"], instance["user_id"]))
    await _set_fields(req, instance, "unlock", {"locked_by": None, "locked_reason": None})
    return empty_response(202)


async def _set_fields(req: Request, instance: Instance, action: str,
                      changes: dict[str, Any]) -> Instance:
    async with state(req).db.writer() as conn:
        current = await instances.get(conn, instance["uuid"])
        updated = await instances.update(conn, current, changes)
        if updated is None:
            raise Conflict(f"Cannot '{action}' instance {instance['uuid']}: it changed; retry.")
        await instances.record_action(conn, updated, action, bus_context(req), finished=True)
    return updated


RESCUE = {"type": ["object", "null"], "properties": {
    "adminPass": {"type": "string"}, "rescue_image_ref": {"type": "string"}},
    "additionalProperties": False}


async def rescue(req: Request, instance: Instance, data: Any) -> Response:
    data = validate(RESCUE, data) or {}
    authorize(req, "os_compute_api:os-rescue",
              target_of(req, instance["project_id"], instance["user_id"]))
    check_locked(req, instance)
    check_state(instance, "rescue", {states.ACTIVE, states.STOPPED, states.ERROR})
    host = needs_host(instance, "rescue")
    rescue_image = data.get("rescue_image_ref")
    if rescue_image is not None:
        image_id = rescue_image.rstrip("/").rsplit("/", 1)[-1]
        if await state(req).image.get_image(bus_context(req), image_id) is None:
            raise BadRequest(f"Requested rescue image '{image_id}' is not supported")
    password = data.get("adminPass") or secrets.token_urlsafe(9)
    updated = await begin(req, instance, "rescue", {"task_state": states.RESCUING})
    await state(req).agents.cast(host, "rescue", bus_context(req), instance=updated,
                                 admin_password=password)
    return json_response({"adminPass": password})


async def console_output(req: Request, instance: Instance, data: Any) -> Response:
    authorize(req, "os_compute_api:os-console-output",
              target_of(req, instance["project_id"], instance["user_id"]))
    length = (data or {}).get("length") if isinstance(data, dict) else None
    if length is not None:
        try:
            length = int(length)
        except (TypeError, ValueError):
            raise BadRequest(f"Invalid input for field/attribute length. Value: {length}."
                             ) from None
        if length < -1:
            raise BadRequest(f"Invalid input for field/attribute length. Value: {length}.")
        if length == -1:
            length = None
    if not instance["host"] or instance["vm_state"] == states.BUILDING:
        raise Conflict(f"Instance {instance['uuid']} is not ready")
    text = await state(req).agents.call(instance["host"], "console_output", bus_context(req),
                                        uuid=instance["uuid"], length=None)
    if length is not None:
        # Nova's tail: the last ``length`` pieces between newlines (a trailing newline
        # leaves an empty last piece)
        text = "\n".join(text.split("\n")[-length:]) if length else ""
    return json_response({"output": CONTROL_CHARACTERS.sub("", text)})


async def reset_state(req: Request, instance: Instance, data: Any) -> Response:
    authorize(req, "os_compute_api:os-admin-actions:reset_state")
    wanted = (data or {}).get("state") if isinstance(data, dict) else None
    if wanted not in ("active", "error"):
        raise BadRequest(f"Invalid input for field/attribute state. Value: {wanted}. "
                         f"'{wanted}' is not one of ['active', 'error']")
    await _set_fields(req, instance, "resetState",
                      {"vm_state": wanted, "task_state": None})
    return empty_response(202)


async def change_password(req: Request, instance: Instance, data: Any) -> Response:
    authorize(req, "os_compute_api:os-admin-password",
              target_of(req, instance["project_id"], instance["user_id"]))
    if not isinstance(data, dict) or not isinstance(data.get("adminPass"), str):
        raise BadRequest("Invalid input for field/attribute adminPass.")
    check_locked(req, instance)
    check_state(instance, "changePassword", {states.ACTIVE})
    await _set_fields(req, instance, "changePassword", {})
    return empty_response(202)


IMAGE_NAME = {"type": "object", "properties": {"name": NAME, "metadata": METADATA},
              "required": ["name"], "additionalProperties": False}


async def create_image(req: Request, instance: Instance, data: Any) -> Response:
    authorize(req, "os_compute_api:servers:create_image",
              target_of(req, instance["project_id"], instance["user_id"]))
    data = validate(IMAGE_NAME, data)
    if not at_least(req, 39):  # quota on image metadata went with the image proxy
        await images.check_metadata(req, data.get("metadata"))
    return await snapshot_to_image(req, instance, data["name"], data.get("metadata", {}),
                                   "createImage", states.IMAGE_SNAPSHOT)


async def snapshot_to_image(req: Request, instance: Instance, name: str,
                            metadata: dict[str, Any], action: str, task: str,
                            extra: dict[str, str] | None = None) -> Response:
    check_locked(req, instance)
    check_state(instance, action, {states.ACTIVE, states.STOPPED, states.PAUSED,
                                   states.SUSPENDED})
    host = needs_host(instance, action)
    compute = state(req)
    ctx = bus_context(req)
    base = instance["request"].get("image_properties", {})
    properties = {k: str(v) for k, v in base.items()}
    properties.update({"image_type": "snapshot" if task == states.IMAGE_SNAPSHOT
                       else "backup", "instance_uuid": instance["uuid"],
                       "base_image_ref": instance["image_ref"],
                       "user_id": context_of(req).user_id, **(extra or {})})
    # what the user asks for wins, even over image_type and instance_uuid (as in Nova)
    properties.update({k: str(v) for k, v in metadata.items()})
    image = await compute.image.create_snapshot(
        ctx, name, properties, min_disk=instance["flavor"]["root_gb"],
        min_ram=0)
    updated = await begin(req, instance, action, {"task_state": task})
    await compute.agents.cast(host, "snapshot", ctx, instance=updated, image_id=image["id"],
                              task=task)
    location = f"{compute.config.public_url('image')}/v2/images/{image['id']}"
    if at_least(req, 45):
        return json_response({"image_id": image["id"]}, status=202)
    return empty_response(202, headers={"Location": location})


async def rebuild(req: Request, instance: Instance, data: Any) -> Response:
    from onestack.compute.handlers.server_rebuild import rebuild as run

    return await run(req, instance, data)


async def show_after(req: Request, instance: Instance, status: int = 202,
                     extra: dict[str, Any] | None = None) -> Response:
    body = await after_change(req, instance, "rebuild")
    body.update(extra or {})
    return json_response({"server": body}, status=status)


ACTIONS: dict[str, Action] = {
    "os-stop": _simple_action("stop", "stop", {states.ACTIVE, states.RESCUED, states.ERROR},
                              states.POWERING_OFF, "os_compute_api:servers:stop"),
    "os-start": _simple_action("start", "start", {states.STOPPED}, states.POWERING_ON,
                               "os_compute_api:servers:start"),
    "pause": _simple_action("pause", "pause", {states.ACTIVE}, states.PAUSING,
                            "os_compute_api:os-pause-server:pause"),
    "unpause": _simple_action("unpause", "unpause", {states.PAUSED}, states.UNPAUSING,
                              "os_compute_api:os-pause-server:unpause"),
    "suspend": _simple_action("suspend", "suspend", {states.ACTIVE}, states.SUSPENDING,
                              "os_compute_api:os-suspend-server:suspend"),
    "resume": _simple_action("resume", "resume", {states.SUSPENDED}, states.RESUMING,
                             "os_compute_api:os-suspend-server:resume"),
    "unrescue": _simple_action("unrescue", "unrescue", {states.RESCUED}, states.UNRESCUING,
                               "os_compute_api:os-unrescue"),
    "reboot": reboot,
    "lock": lock,
    "unlock": unlock,
    "rescue": rescue,
    "os-getConsoleOutput": console_output,
    "os-resetState": reset_state,
    "changePassword": change_password,
    "createImage": create_image,
    "rebuild": rebuild,
    **floating_ips.ACTIONS,
    **consoles.ACTIONS,
    **server_extras.ACTIONS,
    **server_moves.ACTIONS,
}


async def action(req: Request) -> Response:
    data = await req.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise BadRequest("Malformed request body: exactly one action is expected.")
    (name, payload), = data.items()
    handler = ACTIONS.get(name)
    if handler is None:
        raise BadRequest(f"There is no such action: {name}")
    instance = await owned(req, req.params["server_id"])
    return await handler(req, instance, payload)


ROUTES: RouteTable = {
    "/servers/{server_id}/action": {"POST": action},
}
