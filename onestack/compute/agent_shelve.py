"""What a compute agent does to park a server or copy it: shelve (a snapshot, then
leaving the host), shelve offload and unshelve, backups with rotation, crash dumps;
and the helpers every move shares (rebinding ports, spawning a guest in a given
power state, reporting a failure)."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

from onestack.compute.agent_ops import AgentOps
from onestack.compute.drivers import base as power
from onestack.compute.objects import states
from onestack.compute.rpcapi import AgentAPI

log = logging.getLogger(__name__)
Ctx = dict[str, Any]
Instance = dict[str, Any]
Migration = dict[str, Any]

SHELVING_IMAGE_PENDING_UPLOAD = "shelving_image_pending_upload"
SHELVING_IMAGE_UPLOADING = "shelving_image_uploading"
_SHELVE_KEYS = ("shelved_at", "shelved_image_id", "shelved_host")


def without(metadata: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k not in keys}


def fault(message: str) -> dict[str, Any]:
    return {"code": 500, "message": message, "details": "", "created": time.time()}


class AgentShelve(AgentOps):
    _held: set[str]

    # -- helpers -------------------------------------------------------------------
    @property
    def held(self) -> set[str]:
        """Source guests of resizes waiting for confirm or revert: the reconcile pass
        would otherwise remove them as nobody's."""
        try:
            return self._held
        except AttributeError:
            self._held = set()
            return self._held

    @property
    def peers(self) -> AgentAPI:
        return AgentAPI(self.conductor.bus)

    async def _migration(self, ctx: Ctx, migration: Migration, status: str) -> None:
        await self.conductor.migration_update(ctx, migration["uuid"], status)

    async def _rebind(self, ctx: Ctx, instance: Instance, host: str) -> list[dict[str, Any]]:
        """Bind the server's ports to ``host`` ("" unbinds them, keeping them the
        server's); answers the network info with the new bindings."""
        known = {v["id"]: v for v in instance.get("network_info") or []}
        vifs = []
        for port in await self.network.list_ports(ctx, device_id=instance["uuid"]):
            bound = await self.network.bind_port(ctx, port["id"], host)
            vifs.append({**known.get(port["id"], {}), **bound})
        return vifs

    async def _spawn(self, ctx: Ctx, instance: Instance, vifs: list[dict[str, Any]],
                     power_state: int = power.RUNNING,
                     admin_password: str | None = None, keep_disk: bool = False) -> int:
        """A fresh guest of the server here, left in ``power_state`` (``keep_disk``: the
        guest this host already has, on its own disk, with the instance's flavor)."""
        uuid = instance["uuid"]
        keep_disk = keep_disk and uuid in await self.driver.power_states()
        if not keep_disk:
            await self.driver.destroy(uuid)
        spec = await self._guest_spec(ctx, instance, vifs)
        spec.keep_disk = keep_disk
        if admin_password:
            spec.admin_password = admin_password
        await self.driver.spawn(spec)
        if power_state == power.PAUSED:
            await self.driver.pause(uuid)
        elif power_state in (power.SHUTDOWN, power.NOSTATE):
            await self.driver.power_off(uuid)
            return power.SHUTDOWN
        elif power_state == power.SUSPENDED:
            await self.driver.suspend(uuid)
        return power_state

    async def _failed(self, ctx: Ctx, uuid: str, event: str, exc: BaseException | str,
                      changes: dict[str, Any], expected: list[str | None]) -> None:
        reason = str(exc) or type(exc).__name__
        log.warning("%s of %s on %s failed: %s", event, uuid, self.host, reason)
        with contextlib.suppress(Exception):
            await self._update(ctx, uuid, changes, expected)
        await self._event(ctx, uuid, event, "Error", reason)

    # -- shelve and unshelve -------------------------------------------------------------
    async def shelve_instance(self, ctx: Ctx, instance: Instance, image_id: str,
                              offload: bool) -> None:
        """Power off, snapshot to ``image_id``, then (offload) leave the host."""
        uuid, event = instance["uuid"], "compute_shelve_instance"
        path = os.path.join(self.work_dir, f"shelve-{image_id}")
        tasks: list[str | None] = [states.SHELVING, SHELVING_IMAGE_PENDING_UPLOAD,
                                   SHELVING_IMAGE_UPLOADING]
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, event)
            await self.driver.power_off(uuid)
            await self._update(ctx, uuid, {"task_state": SHELVING_IMAGE_PENDING_UPLOAD,
                                           "power_state": power.SHUTDOWN}, [states.SHELVING])
            await self.driver.snapshot(uuid, path)
            await self._update(ctx, uuid, {"task_state": SHELVING_IMAGE_UPLOADING},
                               [SHELVING_IMAGE_PENDING_UPLOAD])
            await self.image.upload_file(ctx, image_id, path)
            metadata = {**instance["system_metadata"], "shelved_at": time.time(),
                        "shelved_image_id": image_id, "shelved_host": self.host}
            current = await self._update(ctx, uuid, {
                "vm_state": states.SHELVED, "power_state": power.SHUTDOWN,
                "task_state": states.SHELVING_OFFLOADING if offload else None,
                "system_metadata": metadata}, [SHELVING_IMAGE_UPLOADING])
            if current is not None and offload:
                await self._offload(ctx, current)
            await self._event(ctx, uuid, event, "Success")
        except Exception as exc:
            with contextlib.suppress(Exception):
                await self.image.delete_image(ctx, image_id)
            restore: dict[str, Any] = {"task_state": None}
            if instance["vm_state"] == states.ACTIVE and \
                    uuid in await self.driver.power_states():
                with contextlib.suppress(Exception):
                    await self.driver.power_on(uuid)
                    restore["power_state"] = power.RUNNING
            await self._failed(ctx, uuid, event, exc, restore, tasks)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            self.busy.discard(uuid)

    async def shelve_offload_instance(self, ctx: Ctx, instance: Instance) -> None:
        uuid, event = instance["uuid"], "compute_shelve_offload_instance"
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, event)
            await self._offload(ctx, instance)
            await self._event(ctx, uuid, event, "Success")
        except Exception as exc:
            await self._failed(ctx, uuid, event, exc, {"task_state": None},
                               [states.SHELVING_OFFLOADING])
        finally:
            self.busy.discard(uuid)

    async def _offload(self, ctx: Ctx, instance: Instance) -> None:
        """The guest, the port bindings and the allocations go; the server keeps its
        ports and its snapshot, and no host."""
        uuid = instance["uuid"]
        await self.driver.destroy(uuid)
        vifs = await self._rebind(ctx, instance, "")
        await self.placement.delete_allocations(ctx, uuid)
        await self._update(ctx, uuid, {
            "vm_state": states.SHELVED_OFFLOADED, "task_state": None, "host": None,
            "node": None, "power_state": power.SHUTDOWN, "network_info": vifs},
            [states.SHELVING, states.SHELVING_OFFLOADING])

    async def unshelve_instance(self, ctx: Ctx, instance: Instance) -> None:
        """Power a shelved server on here, or spawn an offloaded one from its snapshot;
        the snapshot is deleted afterwards."""
        uuid = instance["uuid"]
        metadata = without(instance["system_metadata"], _SHELVE_KEYS)
        image_id = instance["system_metadata"].get("shelved_image_id")
        offloaded = instance["vm_state"] == states.SHELVED_OFFLOADED
        event = "compute_unshelve_instance" if offloaded else "compute_start_instance"
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, event)
            if offloaded:
                await self._spawn_unshelved(ctx, instance, image_id, metadata)
            else:
                if uuid in await self.driver.power_states():
                    await self.driver.power_on(uuid)
                else:
                    await self._spawn(ctx, instance, instance.get("network_info") or [])
                await self._update(ctx, uuid, {
                    "vm_state": states.ACTIVE, "task_state": None,
                    "power_state": power.RUNNING, "system_metadata": metadata},
                    [states.POWERING_ON])
            if image_id:
                with contextlib.suppress(Exception):
                    await self.image.delete_image(ctx, image_id)
            await self._event(ctx, uuid, event, "Success")
        except Exception as exc:
            restore: dict[str, Any] = {"task_state": None}
            if offloaded:
                with contextlib.suppress(Exception):
                    await self.driver.destroy(uuid)
                    await self._rebind(ctx, instance, "")
                await self.placement.delete_allocations(ctx, uuid)
                restore.update(host=None, node=None)
            await self._failed(ctx, uuid, event, exc, restore,
                               [states.UNSHELVING, states.SPAWNING, states.POWERING_ON])
        finally:
            self.busy.discard(uuid)

    async def _spawn_unshelved(self, ctx: Ctx, instance: Instance, image_id: str | None,
                               metadata: dict[str, Any]) -> None:
        uuid = instance["uuid"]
        current = await self._update(ctx, uuid, {"task_state": states.SPAWNING},
                                     [states.UNSHELVING])
        if current is None:
            return
        vifs = await self._rebind(ctx, current, self.host)
        await self._spawn(ctx, {**current, "image_ref": image_id or current["image_ref"]},
                          vifs)
        await self._update(ctx, uuid, {
            "vm_state": states.ACTIVE, "task_state": None, "power_state": power.RUNNING,
            "network_info": vifs, "system_metadata": metadata,
            "launched_at": time.time()}, [states.SPAWNING])

    # -- backups and crash dumps --------------------------------------------------------
    async def backup_instance(self, ctx: Ctx, instance: Instance, image_id: str,
                              rotation: int, backups: list[str]) -> None:
        """A snapshot of image type backup; then only the newest ``rotation`` of
        ``backups`` (this type's, oldest first, ending with this one) are kept."""
        await self.snapshot(ctx, instance, image_id, task=states.IMAGE_BACKUP)
        image = await self.image.get_image(ctx, image_id)
        if image is None or image["status"] != "active":
            return
        kept = []
        for backup in backups:
            found = await self.image.get_image(ctx, backup)
            if found is not None and found["status"] == "active":
                kept.append(backup)
        for backup in kept[:max(len(kept) - rotation, 0)]:
            try:
                await self.image.delete_image(ctx, backup)
            except Exception:
                log.exception("could not rotate out backup %s", backup)

    async def trigger_crash_dump(self, ctx: Ctx, instance: Instance) -> None:
        uuid, event = instance["uuid"], "compute_trigger_crash_dump"
        await self._event(ctx, uuid, event)
        dump = getattr(self.driver, "trigger_crash_dump", None)
        try:
            if dump is not None:
                await dump(uuid)
        except Exception as exc:
            await self._event(ctx, uuid, event, "Error", str(exc))
            return
        await self._event(ctx, uuid, event, "Success")
