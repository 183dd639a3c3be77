"""What a compute agent does when a server moves: resize and cold migration (with
confirm and revert), live migration and evacuation. The agents of the source and the
destination hand the work to each other over the bus; each step reports to the
conductor with the task state it expects, and a failure gives the source allocations
back to the server before anything else. Shelving and backups are in
agent_shelve.py."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from onestack.compute.agent_shelve import AgentShelve, fault, without
from onestack.compute.drivers import base as power
from onestack.compute.objects import states

Ctx = dict[str, Any]
Instance = dict[str, Any]
Migration = dict[str, Any]

# what a move leaves in the server's system metadata until it is confirmed or reverted
_MOVE_KEYS = ("old_vm_state", "resize_migration", "resize_source")


class AgentMoves(AgentShelve):
    # -- resize and cold migration ---------------------------------------------------
    async def resize_instance(self, ctx: Ctx, instance: Instance, migration: Migration,
                              flavor: dict[str, Any]) -> None:
        """On the source: power the guest off and hand the server to the destination."""
        uuid, event = instance["uuid"], "compute_resize_instance"
        tasks: list[str | None] = [states.RESIZE_PREP, states.RESIZE_MIGRATING,
                                   states.RESIZE_MIGRATED]
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, event)
            if int(flavor.get("root_gb") or 0) < int(instance["flavor"].get("root_gb") or 0):
                raise ValueError("Resize error: Unable to resize disk down.")
            await self._migration(ctx, migration, "migrating")
            if await self._update(ctx, uuid, {"task_state": states.RESIZE_MIGRATING},
                                  [states.RESIZE_PREP]) is None:
                await self._resize_abandoned(ctx, uuid, migration)
                return
            if uuid in await self.driver.power_states():
                await self.driver.power_off(uuid)
            await self._migration(ctx, migration, "post-migrating")
            current = await self._update(ctx, uuid, {"task_state": states.RESIZE_MIGRATED},
                                         [states.RESIZE_MIGRATING])
            if current is None:
                await self._resize_abandoned(ctx, uuid, migration)
                return
            if migration["dest_compute"] != self.host:
                self.held.add(uuid)
            await self.peers.cast(migration["dest_compute"], "finish_resize", ctx,
                                  instance=current, migration=migration, flavor=flavor)
            await self._event(ctx, uuid, event, "Success")
        except Exception as exc:
            await self.placement.move_allocations(ctx, migration["uuid"], uuid)
            await self._migration(ctx, migration, "error")
            if instance["vm_state"] == states.ACTIVE and \
                    uuid in await self.driver.power_states():
                with contextlib.suppress(Exception):
                    await self.driver.power_on(uuid)
            self.held.discard(uuid)
            await self._failed(ctx, uuid, event, exc, {"task_state": None}, tasks)
        finally:
            self.busy.discard(uuid)

    async def _resize_abandoned(self, ctx: Ctx, uuid: str, migration: Migration) -> None:
        """The server went (or changed) under a resize: nobody holds its old host."""
        await self.placement.delete_allocations(ctx, migration["uuid"])
        await self._migration(ctx, migration, "error")

    async def finish_resize(self, ctx: Ctx, instance: Instance, migration: Migration,
                            flavor: dict[str, Any]) -> None:
        """On the destination: the server takes its new flavor and host and waits for
        the user to confirm or revert (VERIFY_RESIZE)."""
        uuid, event = instance["uuid"], "compute_finish_resize"
        metadata = {**instance["system_metadata"], "resize_migration": migration["uuid"],
                    "resize_source": migration["source_compute"]}
        stopped = metadata.get("old_vm_state") == states.STOPPED
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, event)
            vifs = await self._rebind(ctx, instance, self.host)
            current = await self._update(ctx, uuid, {
                "task_state": states.RESIZE_FINISH, "host": self.host,
                "node": migration["dest_node"] or self.host, "flavor": flavor,
                "old_flavor": instance["flavor"], "new_flavor": flavor,
                "network_info": vifs, "system_metadata": metadata}, [states.RESIZE_MIGRATED])
            if current is None:
                await self._resize_abandoned(ctx, uuid, migration)
                return
            state = await self._spawn(ctx, current, vifs,
                                      power.SHUTDOWN if stopped else power.RUNNING,
                                      keep_disk=migration["source_compute"] == self.host)
            await self._migration(ctx, migration, "finished")
            await self._update(ctx, uuid, {"vm_state": states.RESIZED, "task_state": None,
                                           "power_state": state}, [states.RESIZE_FINISH])
            await self._event(ctx, uuid, event, "Success")
        except Exception as exc:
            await self._migration(ctx, migration, "error")
            await self._failed(ctx, uuid, event, exc, {
                "vm_state": states.ERROR, "task_state": None, "fault": fault(str(exc))},
                [states.RESIZE_MIGRATED, states.RESIZE_FINISH])
        finally:
            self.busy.discard(uuid)

    async def confirm_resize(self, ctx: Ctx, instance: Instance,
                             migration: Migration) -> None:
        """On the source: the old guest goes and the migration's hold on this host is
        freed."""
        uuid, event = instance["uuid"], "compute_confirm_resize"
        try:
            await self._event(ctx, uuid, event)
            if migration["dest_compute"] != self.host:
                await self.driver.destroy(uuid)
            self.held.discard(uuid)
            await self.placement.delete_allocations(ctx, migration["uuid"])
            await self._migration(ctx, migration, "confirmed")
            stopped = instance["power_state"] == power.SHUTDOWN
            await self._update(ctx, uuid, {
                "vm_state": states.STOPPED if stopped else states.ACTIVE,
                "task_state": None, "old_flavor": None, "new_flavor": None,
                "system_metadata": without(instance["system_metadata"], _MOVE_KEYS)},
                [None])
            await self._event(ctx, uuid, event, "Success")
        except Exception as exc:
            await self._migration(ctx, migration, "error")
            await self._failed(ctx, uuid, event, exc, {
                "vm_state": states.ERROR, "fault": fault(str(exc))}, [None])

    async def revert_resize(self, ctx: Ctx, instance: Instance, migration: Migration) -> None:
        """On the destination: the new guest goes; the source takes the server back."""
        uuid, event = instance["uuid"], "compute_revert_resize"
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, event)
            if migration["source_compute"] != self.host:
                await self.driver.destroy(uuid)
            await self.peers.cast(migration["source_compute"], "finish_revert_resize", ctx,
                                  instance=instance, migration=migration)
            await self._event(ctx, uuid, event, "Success")
        except Exception as exc:
            await self._move_failed(ctx, uuid, event, exc, migration, states.RESIZE_REVERTING)
        finally:
            self.busy.discard(uuid)

    async def finish_revert_resize(self, ctx: Ctx, instance: Instance,
                                   migration: Migration) -> None:
        uuid, event = instance["uuid"], "compute_finish_revert_resize"
        metadata = instance["system_metadata"]
        old_state = metadata.get("old_vm_state") or states.ACTIVE
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, event)
            vifs = await self._rebind(ctx, instance, self.host)
            current = await self._update(ctx, uuid, {
                "flavor": instance["old_flavor"] or instance["flavor"], "old_flavor": None,
                "new_flavor": None, "host": self.host,
                "node": migration["source_node"] or self.host, "network_info": vifs},
                [states.RESIZE_REVERTING])
            if current is None:
                await self._resize_abandoned(ctx, uuid, migration)
                return
            wanted = power.SHUTDOWN if old_state == states.STOPPED else power.RUNNING
            guests = await self.driver.power_states()
            if migration["dest_compute"] == self.host or uuid not in guests:
                state = await self._spawn(ctx, current, vifs, wanted,
                                          keep_disk=migration["dest_compute"] == self.host)
            else:
                if wanted == power.RUNNING and guests[uuid] != power.RUNNING:
                    await self.driver.power_on(uuid)
                state = wanted
            self.held.discard(uuid)
            await self.placement.move_allocations(ctx, migration["uuid"], uuid)
            await self._migration(ctx, migration, "reverted")
            await self._update(ctx, uuid, {
                "vm_state": old_state, "task_state": None, "power_state": state,
                "system_metadata": without(metadata, _MOVE_KEYS)}, [states.RESIZE_REVERTING])
            await self._event(ctx, uuid, event, "Success")
        except Exception as exc:
            await self._move_failed(ctx, uuid, event, exc, migration, states.RESIZE_REVERTING)
        finally:
            self.busy.discard(uuid)

    async def _move_failed(self, ctx: Ctx, uuid: str, event: str, exc: Exception,
                           migration: Migration, task: str) -> None:
        """A step of a move failed past the point of rolling back: the migration is in
        error and the server in ERROR with the reason as its fault."""
        await self._migration(ctx, migration, "error")
        await self._failed(ctx, uuid, event, exc, {
            "vm_state": states.ERROR, "task_state": None, "fault": fault(str(exc))}, [task])

    async def drop_guest(self, ctx: Ctx, uuid: str) -> None:
        """A guest of a move that will not happen here after all (the server was
        deleted while waiting for confirm or revert, or a live migration failed)."""
        self.held.discard(uuid)
        if uuid not in self.busy:
            await self.driver.destroy(uuid)

    # -- live migration ----------------------------------------------------------------
    async def live_migrate(self, ctx: Ctx, instance: Instance, migration: Migration) -> None:
        """On the source: the destination prepares, the guest moves (at once on the
        fake driver), the source lets go of it and of its allocations."""
        uuid, event = instance["uuid"], "compute_live_migration"
        dest = migration["dest_compute"]
        moved = False
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, event)
            await self._migration(ctx, migration, "queued")
            await self._migration(ctx, migration, "preparing")
            await self.peers.call(dest, "pre_live_migration", ctx, instance=instance,
                                  migration=migration)
            await self._migration(ctx, migration, "running")
            state = (await self.driver.power_states()).get(uuid, instance["power_state"])
            await self.peers.call(dest, "post_live_migration_at_destination", ctx,
                                  instance=instance, migration=migration, power_state=state)
            moved = True
            await self.driver.destroy(uuid)
            await self.placement.delete_allocations(ctx, migration["uuid"])
            await self._migration(ctx, migration, "completed")
            await self._event(ctx, uuid, event, "Success")
        except Exception as exc:
            if not moved:
                with contextlib.suppress(Exception):
                    await self.peers.call(dest, "drop_guest", ctx, uuid=uuid)
                await self.placement.move_allocations(ctx, migration["uuid"], uuid)
                with contextlib.suppress(Exception):
                    await self._rebind(ctx, instance, self.host)
            await self._migration(ctx, migration, "error")
            await self._failed(ctx, uuid, event, exc, {"task_state": None},
                               [states.MIGRATING])
        finally:
            self.busy.discard(uuid)

    async def pre_live_migration(self, ctx: Ctx, instance: Instance,
                                 migration: Migration) -> None:
        uuid, event = instance["uuid"], "compute_pre_live_migration"
        await self._event(ctx, uuid, event)
        if uuid in await self.driver.power_states():
            await self._event(ctx, uuid, event, "Error", "The guest already runs here.")
            raise ValueError(f"Instance {uuid} already runs on {self.host}.")
        await self._event(ctx, uuid, event, "Success")

    async def post_live_migration_at_destination(self, ctx: Ctx, instance: Instance,
                                                 migration: Migration,
                                                 power_state: int) -> None:
        uuid, event = instance["uuid"], "compute_post_live_migration_at_destination"
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, event)
            vifs = await self._rebind(ctx, instance, self.host)
            state = await self._spawn(ctx, {**instance, "host": self.host}, vifs, power_state)
            done = await self._update(ctx, uuid, {
                "host": self.host, "node": migration["dest_node"] or self.host,
                "task_state": None, "power_state": state, "network_info": vifs},
                [states.MIGRATING])
            if done is None:  # deleted meanwhile: the delete went to the source
                await self.driver.destroy(uuid)
            await self._event(ctx, uuid, event, "Success")
        except Exception as exc:
            await self.driver.destroy(uuid)
            await self._event(ctx, uuid, event, "Error", str(exc))
            raise
        finally:
            self.busy.discard(uuid)

    async def live_migration_force_complete(self, ctx: Ctx, instance: Instance,
                                            migration: Migration) -> None:
        """Nothing to hurry on the fake driver: its live migrations finish at once."""
        await self._note(ctx, instance["uuid"], "compute_live_migration_force_complete")

    async def live_migration_cancel(self, ctx: Ctx, instance: Instance,
                                    migration: Migration) -> None:
        await self._note(ctx, instance["uuid"], "compute_live_migration_abort")

    async def _note(self, ctx: Ctx, uuid: str, event: str) -> None:
        await self._event(ctx, uuid, event)
        await self._event(ctx, uuid, event, "Success")

    # -- evacuation --------------------------------------------------------------------
    async def evacuate_instance(self, ctx: Ctx, instance: Instance, migration: Migration,
                                admin_password: str | None = None,
                                target_state: str | None = None) -> None:
        """On the destination: the server is rebuilt here from its image; a stopped
        one stays stopped (from 2.95 every evacuated server is stopped)."""
        uuid, event = instance["uuid"], "compute_rebuild_instance"
        stopped = target_state == states.STOPPED or instance["vm_state"] == states.STOPPED
        self.busy.add(uuid)
        try:
            await self._event(ctx, uuid, event)
            vifs = await self._rebind(ctx, instance, self.host)
            current = await self._update(ctx, uuid, {
                "host": self.host, "node": migration["dest_node"] or self.host,
                "task_state": states.REBUILD_SPAWNING, "network_info": vifs},
                [states.REBUILDING])
            if current is None:
                await self._resize_abandoned(ctx, uuid, migration)
                return
            state = await self._spawn(ctx, current, vifs,
                                      power.SHUTDOWN if stopped else power.RUNNING,
                                      admin_password)
            await self._migration(ctx, migration, "done")
            await self._update(ctx, uuid, {
                "vm_state": states.STOPPED if stopped else states.ACTIVE, "task_state": None,
                "power_state": state, "launched_at": time.time(), "fault": None},
                [states.REBUILD_SPAWNING])
            await self._event(ctx, uuid, event, "Success")
            # the source cleans up when it takes its messages again (at once here)
            await self.peers.cast(migration["source_compute"], "cleanup_evacuated", ctx,
                                  uuid=uuid, migration=migration)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await self.driver.destroy(uuid)
            await self.placement.move_allocations(ctx, migration["uuid"], uuid)
            await self._migration(ctx, migration, "failed")
            await self._failed(ctx, uuid, event, exc, {
                "vm_state": states.ERROR, "task_state": None, "fault": fault(str(exc))},
                [states.REBUILDING, states.REBUILD_SPAWNING])
        finally:
            self.busy.discard(uuid)

    async def cleanup_evacuated(self, ctx: Ctx, uuid: str, migration: Migration) -> None:
        """On the source of an evacuation: the old guest and allocations go."""
        if uuid not in self.busy:
            await self.driver.destroy(uuid)
        self.held.discard(uuid)
        await self.placement.delete_allocations(ctx, migration["uuid"])
        await self._migration(ctx, migration, "completed")

    # -- what moves change in the common operations ------------------------------------
    async def terminate_instance(self, ctx: Ctx, instance: Instance) -> None:
        """A server deleted while waiting for confirm or revert is confirmed first:
        its old host's guest and allocations go too."""
        await super().terminate_instance(ctx, instance)
        metadata = instance.get("system_metadata") or {}
        pending = metadata.get("resize_migration")
        if instance["vm_state"] != states.RESIZED or not pending:
            return
        await self.placement.delete_allocations(ctx, pending)
        await self.conductor.migration_update(ctx, pending, "confirmed")
        source = metadata.get("resize_source")
        if source and source != self.host:
            await self.peers.cast(source, "drop_guest", ctx, uuid=instance["uuid"])

    async def reconcile(self, desired: list[dict[str, Any]]) -> None:
        held = self.held - self.busy
        self.busy |= held
        try:
            await super().reconcile(desired)
        finally:
            self.busy -= held
