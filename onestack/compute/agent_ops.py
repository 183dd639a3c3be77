"""What a compute agent does for a server: build, delete, power and state actions,
snapshots, consoles, interfaces, and the reconcile pass. Each operation reports to
the conductor with the task state it expects, so a server deleted or changed in the
middle is noticed and cleaned up instead of overwritten."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from onestack.compute.drivers import base as power
from onestack.compute.drivers.base import ConsoleUnavailable, GuestError, GuestSpec
from onestack.compute.metadata.configdrive import config_drive_files, wants_config_drive
from onestack.compute.metadata.content import Guest
from onestack.compute.metadata.ports import with_subnets
from onestack.compute.objects import states

if TYPE_CHECKING:
    from onestack.compute.drivers.base import VirtDriver
    from onestack.compute.rpcapi import ConductorAPI
    from onestack.image.rpcapi import ImageAPI
    from onestack.kernel.config import ComputeConfig
    from onestack.network.rpcapi import NetworkAPI
    from onestack.placement.rpcapi import PlacementAPI

log = logging.getLogger(__name__)
Ctx = dict[str, Any]

# action -> (task state while it runs, driver method, vm state after, power state after)
SIMPLE_ACTIONS: dict[str, tuple[str, str, str, int]] = {
    "stop": (states.POWERING_OFF, "power_off", states.STOPPED, power.SHUTDOWN),
    "start": (states.POWERING_ON, "power_on", states.ACTIVE, power.RUNNING),
    "pause": (states.PAUSING, "pause", states.PAUSED, power.PAUSED),
    "unpause": (states.UNPAUSING, "unpause", states.ACTIVE, power.RUNNING),
    "suspend": (states.SUSPENDING, "suspend", states.SUSPENDED, power.SUSPENDED),
    "resume": (states.RESUMING, "resume", states.ACTIVE, power.RUNNING),
    "unrescue": (states.UNRESCUING, "unrescue", states.ACTIVE, power.RUNNING),
}


class AgentOps:
    host: str
    driver: VirtDriver
    settings: ComputeConfig
    conductor: ConductorAPI
    network: NetworkAPI
    image: ImageAPI
    placement: PlacementAPI
    work_dir: str
    busy: set[str]
    # network id -> (name, until when the name is trusted), shared by a process's agents
    network_names: dict[str, tuple[str, float]]

    # -- helpers -------------------------------------------------------------------
    async def _event(self, ctx: Ctx, uuid: str, event: str, result: str | None = None,
                     details: str | None = None) -> None:
        await self.conductor.action_event(ctx, uuid, ctx.get("request_id") or "", event,
                                          self.host, result, details)

    async def _update(self, ctx: Ctx, uuid: str, changes: dict[str, Any],
                      expected: list[str | None],
                      event: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return await self.conductor.instance_update(ctx, uuid, changes,
                                                    expected_task_state=expected, event=event)

    async def _guarded(self, ctx: Ctx, instance: dict[str, Any], event: str,
                       work: Callable[[], Awaitable[dict[str, Any] | None]]) -> None:
        """Run one operation with its action event; on a guest error the task is
        cleared (the server keeps its state) and the event records the error."""
        uuid = instance["uuid"]
        self.busy.add(uuid)
        await self._event(ctx, uuid, event)
        try:
            await work()
        except GuestError as exc:
            log.warning("%s of %s failed: %s", event, uuid, exc)
            await self._update(ctx, uuid, {"task_state": None}, [instance["task_state"]])
            await self._event(ctx, uuid, event, "Error", str(exc))
            return
        finally:
            self.busy.discard(uuid)
        await self._event(ctx, uuid, event, "Success")

    # -- build ---------------------------------------------------------------------
    async def _allocate_ports(self, ctx: Ctx, instance: dict[str, Any]) -> list[dict[str, Any]]:
        request = instance["request"]
        vifs: list[dict[str, Any]] = []
        try:
            for item in request.get("networks", []):
                if item.get("port"):
                    vif = await self.network.bind_port(ctx, item["port"], self.host,
                                                       device_id=instance["uuid"])
                    vif["preexisting"] = True
                else:
                    fixed = [{"ip_address": item["fixed_ip"]}] if item.get("fixed_ip") else None
                    vif = await self.network.create_port(
                        ctx, item["uuid"], instance["project_id"], instance["uuid"],
                        host=self.host, fixed_ips=fixed,
                        security_groups=request.get("security_group_ids") or None)
                    vif["preexisting"] = False
                if item.get("tag"):
                    vif["tag"] = item["tag"]
                vifs.append(vif)
            for vif in vifs:
                vif["network_name"] = await self._network_name(ctx, vif["network_id"])
        except Exception:
            await self._release_ports(ctx, vifs)
            raise
        return vifs

    async def _network_name(self, ctx: Ctx, network_id: str) -> str:
        """Names label addresses in the server body; cached a minute (as Nova's
        network info cache, a rename shows on the next build or refresh)."""
        cached = self.network_names.get(network_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        network = await self.network.get_network(ctx, network_id)
        name = (network or {}).get("name") or network_id
        self.network_names[network_id] = (name, time.monotonic() + 60)
        return name

    async def _release_ports(self, ctx: Ctx, vifs: list[dict[str, Any]],
                             device_id: str | None = None) -> None:
        """Delete the ports made for the server; unbind the ones the user brought."""
        known = {v["id"]: v for v in vifs}
        if device_id:
            for port in await self.network.list_ports(ctx, device_id=device_id):
                known.setdefault(port["id"], {**port, "preexisting": False})
        for vif in known.values():
            try:
                if vif.get("preexisting"):
                    await self.network.unbind_port(ctx, vif["id"])
                else:
                    await self.network.delete_port(ctx, vif["id"])
            except Exception:
                log.exception("could not release port %s", vif["id"])

    async def build_instance(self, ctx: Ctx, instance: dict[str, Any]) -> None:
        """Ports, then the guest; two reports to the conductor (spawning with the
        ports, then active), each also recording the action's event."""
        uuid = instance["uuid"]
        event = "compute__do_build_and_run_instance"
        self.busy.add(uuid)
        vifs: list[dict[str, Any]] = []
        spawned = False
        try:
            vifs = await self._allocate_ports(ctx, instance)
            current = await self._update(ctx, uuid, {"task_state": states.SPAWNING,
                                                     "network_info": vifs},
                                         [states.SCHEDULING],
                                         event={"event": event, "host": self.host})
            if current is None:  # deleted meanwhile: the delete has the last word
                await self._release_ports(ctx, vifs)
                return
            spec = await self._guest_spec(ctx, current, vifs)
            await self.driver.spawn(spec)
            spawned = True
            done = await self._update(ctx, uuid, {
                "vm_state": states.ACTIVE, "task_state": None, "power_state": power.RUNNING,
                "launched_at": time.time()}, [states.SPAWNING],
                event={"event": event, "host": self.host, "result": "Success"})
            if done is None:
                await self.driver.destroy(uuid)
                await self._release_ports(ctx, vifs)
        except Exception as exc:
            log.warning("build of %s on %s failed: %s", uuid, self.host, exc)
            if spawned:
                await self.driver.destroy(uuid)
            await self._release_ports(ctx, vifs)
            await self._event(ctx, uuid, event, "Error", str(exc))
            await self.conductor.build_failed(ctx, uuid, self.host, _reason(exc))
        finally:
            self.busy.discard(uuid)

    async def _guest_spec(self, ctx: Ctx, instance: dict[str, Any],
                          vifs: list[dict[str, Any]]) -> GuestSpec:
        spec = GuestSpec(instance=instance, image=None, image_path=None, network_info=vifs,
                         admin_password=instance["request"].get("admin_password"))
        if instance["image_ref"] and self.driver.needs_image_file:
            spec.image = await self.image.get_image(ctx, instance["image_ref"])
            spec.image_path = await self.image.image_path(ctx, instance["image_ref"])
            properties = (spec.image or {}).get("properties") or {}
            # AKI/ARI images: the guest boots their kernel and ramdisk directly
            if properties.get("kernel_id"):
                spec.kernel_path = await self.image.image_path(ctx, properties["kernel_id"])
            if properties.get("ramdisk_id"):
                spec.ramdisk_path = await self.image.image_path(ctx,
                                                                properties["ramdisk_id"])
        if wants_config_drive(instance, self.settings):
            ports = await with_subnets(self.network, vifs)
            # a port the dataplane did not wire to a bridge reaches the guest through
            # the hypervisor's own network, whose DHCP server gives the addresses
            wired = all(v.get("binding:vif_type") == "tap" for v in vifs)
            spec.config_drive = config_drive_files(Guest(
                instance, ports, default_zone=self.settings.default_availability_zone,
                admin_password=spec.admin_password, dhcp_only=not wired))
        return spec

    # -- delete --------------------------------------------------------------------
    async def terminate_instance(self, ctx: Ctx, instance: dict[str, Any]) -> None:
        uuid = instance["uuid"]
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, "compute_terminate_instance")
            await self.driver.destroy(uuid)
            await self._release_ports(ctx, instance.get("network_info") or [], device_id=uuid)
            await self._event(ctx, uuid, "compute_terminate_instance", "Success")
            await self.conductor.instance_destroyed(ctx, uuid)
        finally:
            self.busy.discard(uuid)

    # -- power and state actions ---------------------------------------------------
    async def simple_action(self, ctx: Ctx, instance: dict[str, Any], action: str) -> None:
        task, method, vm_state, power_state = SIMPLE_ACTIONS[action]
        uuid = instance["uuid"]

        async def work() -> dict[str, Any] | None:
            await getattr(self.driver, method)(uuid)
            return await self._update(ctx, uuid, {"vm_state": vm_state, "task_state": None,
                                                  "power_state": power_state}, [task])

        await self._guarded(ctx, instance, f"compute_{action}_instance", work)

    async def reboot(self, ctx: Ctx, instance: dict[str, Any], hard: bool) -> None:
        uuid = instance["uuid"]
        task = states.REBOOTING_HARD if hard else states.REBOOTING

        async def work() -> dict[str, Any] | None:
            await self.driver.reboot(uuid, hard)
            return await self._update(ctx, uuid, {"vm_state": states.ACTIVE, "task_state": None,
                                                  "power_state": power.RUNNING}, [task])

        await self._guarded(ctx, instance, "compute_reboot_instance", work)

    async def rescue(self, ctx: Ctx, instance: dict[str, Any],
                     admin_password: str | None = None) -> None:
        uuid = instance["uuid"]

        async def work() -> dict[str, Any] | None:
            spec = await self._guest_spec(ctx, instance, instance.get("network_info") or [])
            spec.admin_password = admin_password
            await self.driver.rescue(uuid, spec)
            return await self._update(ctx, uuid, {"vm_state": states.RESCUED, "task_state": None,
                                                  "power_state": power.RUNNING},
                                      [states.RESCUING])

        await self._guarded(ctx, instance, "compute_rescue_instance", work)

    async def rebuild(self, ctx: Ctx, instance: dict[str, Any],
                      admin_password: str | None = None) -> None:
        """The server's disk is replaced from its (possibly new) image; a stopped server
        stays stopped."""
        uuid = instance["uuid"]
        was_stopped = instance["vm_state"] == states.STOPPED

        async def work() -> dict[str, Any] | None:
            await self.driver.destroy(uuid)
            current = await self._update(ctx, uuid, {"task_state": states.REBUILD_SPAWNING},
                                         [states.REBUILDING])
            if current is None:
                return None
            spec = await self._guest_spec(ctx, current, current.get("network_info") or [])
            spec.admin_password = admin_password
            await self.driver.spawn(spec)
            final = {"vm_state": states.ACTIVE, "task_state": None,
                     "power_state": power.RUNNING, "launched_at": time.time()}
            if was_stopped:
                await self.driver.power_off(uuid)
                final.update(vm_state=states.STOPPED, power_state=power.SHUTDOWN)
            return await self._update(ctx, uuid, final, [states.REBUILD_SPAWNING])

        await self._guarded(ctx, instance, "compute_rebuild_instance", work)

    # -- images and consoles -------------------------------------------------------
    async def snapshot(self, ctx: Ctx, instance: dict[str, Any], image_id: str,
                       task: str = states.IMAGE_SNAPSHOT) -> None:
        uuid = instance["uuid"]
        path = os.path.join(self.work_dir, f"snapshot-{image_id}")

        async def work() -> dict[str, Any] | None:
            try:
                await self._update(ctx, uuid, {"task_state": states.IMAGE_PENDING_UPLOAD},
                                   [task])
                await self.driver.snapshot(uuid, path)
                await self._update(ctx, uuid, {"task_state": states.IMAGE_UPLOADING},
                                   [states.IMAGE_PENDING_UPLOAD])
                await self.image.upload_file(ctx, image_id, path)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await self.image.delete_image(ctx, image_id)
                # back to the task _guarded clears (the upload had moved it on)
                await self._update(ctx, uuid, {"task_state": task},
                                   [states.IMAGE_PENDING_UPLOAD, states.IMAGE_UPLOADING])
                raise GuestError(f"Snapshot of {uuid} failed: {_reason(exc)}") from exc
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            return await self._update(ctx, uuid, {"task_state": None},
                                      [states.IMAGE_UPLOADING])

        await self._guarded(ctx, instance, "compute_snapshot_instance", work)

    async def console_output(self, ctx: Ctx, uuid: str, length: int | None = None) -> str:
        text = await self.driver.console_output(uuid)
        if length is None:
            return text
        lines = text.splitlines(keepends=True)
        return "".join(lines[-length:]) if length else ""

    async def get_console_endpoint(self, ctx: Ctx, uuid: str, kind: str) -> dict[str, Any]:
        """Where the guest's ``kind`` console listens (a plain dict for the bus); a
        driver without that console, or without the guest, answers an error."""
        try:
            found = await self.driver.console_endpoint(uuid, kind)
        except ConsoleUnavailable as exc:
            return {"error": "unavailable", "message": str(exc)}
        except GuestError as exc:
            return {"error": "not_ready", "message": str(exc)}
        return {"kind": found.kind, "host": found.host, "port": found.port,
                "path": found.path}

    # -- interfaces ----------------------------------------------------------------
    async def attach_interface(self, ctx: Ctx, instance: dict[str, Any],
                               network_id: str | None, port_id: str | None,
                               fixed_ip: str | None, tag: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"uuid": network_id, "port": port_id, "fixed_ip": fixed_ip,
                                "tag": tag}
        vifs = await self._allocate_ports(ctx, {**instance, "request": {
            **instance["request"], "networks": [item]}})
        vif = vifs[0]
        try:
            await self.driver.attach_interface(instance["uuid"], vif)
        except Exception:
            await self._release_ports(ctx, [vif])
            raise
        await self.conductor.instance_update(
            ctx, instance["uuid"],
            {"network_info": [*(instance.get("network_info") or []), vif]})
        return vif

    async def detach_interface(self, ctx: Ctx, instance: dict[str, Any], port_id: str) -> None:
        vifs = instance.get("network_info") or []
        gone = [v for v in vifs if v["id"] == port_id]
        await self.driver.detach_interface(instance["uuid"], port_id)
        await self._release_ports(ctx, gone or [{"id": port_id, "preexisting": False}])
        await self.conductor.instance_update(
            ctx, instance["uuid"], {"network_info": [v for v in vifs if v["id"] != port_id]})

    # -- reconcile -----------------------------------------------------------------
    async def reconcile(self, desired: list[dict[str, Any]]) -> None:
        actual = await self.driver.power_states()
        ctx: Ctx = {"user_id": "nova", "roles": ["admin"], "project_id": None,
                    "request_id": ""}
        wanted = {i["uuid"]: i for i in desired}
        for uuid, instance in wanted.items():
            if uuid in self.busy:
                continue
            task, vm_state = instance["task_state"], instance["vm_state"]
            if task == states.DELETING:
                await self.terminate_instance(ctx, instance)
            elif vm_state == states.BUILDING:
                # a build the agent's restart interrupted: whatever it had made goes,
                # and the build starts over
                if uuid in actual:
                    await self.driver.destroy(uuid)
                await self._restart_build(ctx, instance)
            elif task is None and uuid in actual and actual[uuid] != instance["power_state"]:
                changes: dict[str, Any] = {"power_state": actual[uuid]}
                if vm_state == states.ACTIVE and actual[uuid] == power.SHUTDOWN:
                    changes["vm_state"] = states.STOPPED
                await self._update(ctx, uuid, changes, [None])
            elif task is None and uuid not in actual and vm_state in (
                    states.ACTIVE, states.PAUSED, states.SUSPENDED, states.RESCUED,
                    states.STOPPED):
                await self._recreate(ctx, instance)
        for uuid in actual:
            if uuid not in wanted and uuid not in self.busy:
                log.warning("removing guest %s on %s: no server owns it", uuid, self.host)
                await self.driver.destroy(uuid)

    async def _recreate(self, ctx: Ctx, instance: dict[str, Any]) -> None:
        """A guest the host lost (its hypervisor restarted) comes back as the server
        was: running, or stopped (Nova's resume_guests_state_on_host_boot)."""
        uuid = instance["uuid"]
        try:
            spec = await self._guest_spec(ctx, instance, instance.get("network_info") or [])
            await self.driver.spawn(spec)
            if instance["vm_state"] == states.STOPPED:
                await self.driver.power_off(uuid)
        except Exception as exc:
            log.warning("could not bring back guest %s on %s: %s", uuid, self.host, exc)
            await self._update(ctx, uuid, {"vm_state": states.ERROR, "power_state": power.NOSTATE,
                                           "fault": {"code": 500, "message": _reason(exc),
                                                     "details": "", "created": time.time()}},
                               [None])
            return
        running = power.SHUTDOWN if instance["vm_state"] == states.STOPPED else power.RUNNING
        await self._update(ctx, uuid, {"power_state": running,
                                       "vm_state": states.STOPPED if running == power.SHUTDOWN
                                       else states.ACTIVE}, [None])

    async def _restart_build(self, ctx: Ctx, instance: dict[str, Any]) -> None:
        """A build interrupted by a restart: clean up what it made and build again."""
        await self._release_ports(ctx, instance.get("network_info") or [],
                                  device_id=instance["uuid"])
        restarted = await self._update(ctx, instance["uuid"],
                                       {"task_state": states.SCHEDULING, "network_info": []},
                                       [instance["task_state"]])
        if restarted is not None:
            await self.build_instance(ctx, restarted)


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
