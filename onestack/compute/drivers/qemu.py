"""The QEMU hypervisor driver: one QEMU process per guest, talked to over QMP (no
libvirt). Guests are started detached (``-daemonize``), so they outlive a restart of
the agent; everything the driver knows about a guest is on disk (its directory, its
pidfile and sockets), so a restarted agent finds its guests again.

Disks are qcow2 overlays on a per-host cache of the image (``_base``), sized to the
flavor. Guests whose ports are not wired to a bridge of the Linux dataplane get
QEMU's user-mode network, with the metadata service forwarded to 169.254.169.254."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from onestack.compute.drivers import qemu_host, vif
from onestack.compute.drivers.base import (
    NOSTATE,
    PAUSED,
    RUNNING,
    SHUTDOWN,
    SUSPENDED,
    ConsoleEndpoint,
    ConsoleUnavailable,
    GuestError,
    GuestSpec,
    HostResources,
)
from onestack.compute.drivers.qemu_guest import (
    Launch,
    Layout,
    Nic,
    command_line,
    hotplug_args,
)
from onestack.compute.drivers.qmp import QMPError, session
from onestack.compute.metadata.configdrive import write_config_drive
from onestack.kernel.config import Config

log = logging.getLogger(__name__)
GiB = 1 << 30


class QemuDriver:
    needs_image_file = True

    def __init__(self, host: str, config: Config) -> None:
        self.host = host
        self.config = config
        self.settings = config.compute
        self.instances = Path(self.settings.instances_path
                              or config.state_dir / "instances").absolute()
        self.base = self.instances / "_base"
        self.base.mkdir(parents=True, exist_ok=True)
        self.qemu = self.settings.qemu_binary
        self._resources = qemu_host.resources(self.settings, self.instances, self.qemu)
        self._virt_type: str | None = None
        self.relays = qemu_host.Relays(config)
        # one operation at a time per guest (the agent serialises most, not all)
        self._locks: dict[str, asyncio.Lock] = {}
        self._base_sizes: dict[Path, int] = {}

    def resources(self) -> HostResources:
        return self._resources

    def _lock(self, uuid: str) -> asyncio.Lock:
        return self._locks.setdefault(uuid, asyncio.Lock())

    def _layout(self, uuid: str) -> Layout:
        return Layout(self.instances, uuid)

    async def virt_type(self) -> str:
        if self._virt_type is None:
            self._virt_type = await qemu_host.choose_virt_type(self.settings.virt_type,
                                                               self.qemu)
        return self._virt_type

    # -- processes -----------------------------------------------------------------
    async def _launch(self, layout: Layout, launch: Launch, incoming: str | None = None) -> None:
        layout.run.mkdir(parents=True, exist_ok=True)
        for stale in (layout.qmp, layout.serial, layout.vnc, layout.pidfile):
            stale.unlink(missing_ok=True)
        for nic in launch.nics:
            if nic.mode == "tap":
                await vif.plug_tap(nic)
        if any(nic.mode == "user" for nic in launch.nics):
            await self.relays.start(launch.uuid, launch.project_id, layout.metadata)
        args = command_line(self.qemu, launch, layout, await self.virt_type(), incoming)
        if launch.netns():
            args = ["ip", "netns", "exec", launch.netns(), *args]
        # -daemonize: the command returns once the guest is set up (or failed to be)
        code, _, err = await qemu_host.run_detaching(*args, timeout=60)
        if code != 0:
            message = err.strip().splitlines()[-1] if err.strip() else f"exit status {code}"
            raise GuestError(f"QEMU could not start the guest: {message}")
        if qemu_host.pid_of(layout) is None:
            raise GuestError("QEMU exited as soon as it started; see "
                             f"{layout.qemu_log}")

    async def _stop(self, layout: Layout, graceful: float = 0.0) -> None:
        """The process ends: after an ACPI power-down if ``graceful`` seconds are given
        and the guest honours it, else at once."""
        pid = qemu_host.pid_of(layout)
        if pid is None:
            return
        if graceful > 0:
            with contextlib.suppress(QMPError):
                async with session(str(layout.qmp)) as qmp:
                    await qmp.execute("system_powerdown")
            if await qemu_host.wait_gone(pid, graceful):
                return
        with contextlib.suppress(QMPError):
            async with session(str(layout.qmp), timeout=3) as qmp:
                await qmp.execute("quit")
        if not await qemu_host.wait_gone(pid, 5):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await qemu_host.wait_gone(pid, 5)

    async def _qmp(self, layout: Layout, command: str, **arguments: Any) -> Any:
        if qemu_host.pid_of(layout) is None:
            raise GuestError(f"Instance {layout.dir.name} is not running.")
        try:
            async with session(str(layout.qmp)) as qmp:
                return await qmp.execute(command, **arguments)
        except QMPError as exc:
            raise GuestError(str(exc)) from None

    def _launch_of(self, uuid: str) -> tuple[Layout, Launch]:
        layout = self._layout(uuid)
        launch = layout.read_launch()
        if launch is None:
            raise GuestError(f"Instance {uuid} could not be found on host {self.host}.")
        return layout, launch

    # -- spawn and destroy ---------------------------------------------------------
    async def spawn(self, spec: GuestSpec) -> None:
        inst = spec.instance
        uuid = inst["uuid"]
        if spec.keep_disk and self._layout(uuid).disk.exists():
            await self._respawn(spec)
            return
        async with self._lock(uuid):
            layout = self._layout(uuid)
            layout.dir.mkdir(parents=True, exist_ok=True)
            launch = Launch(uuid=uuid, name=inst.get("display_name") or uuid,
                            project_id=inst.get("project_id") or "",
                            vcpus=int(inst["flavor"]["vcpus"]),
                            memory_mb=int(inst["flavor"]["memory_mb"]),
                            nics=[_nic(v) for v in spec.network_info])
            try:
                # the disk and the config drive do not depend on each other
                steps = [self._prepare_disks(layout, launch, spec, layout.disk)]
                if spec.config_drive is not None:
                    steps.append(write_config_drive(spec.config_drive, layout.config_iso))
                    launch.config_drive = True
                # both finish before a failure is cleaned up
                for outcome in await asyncio.gather(*steps, return_exceptions=True):
                    if isinstance(outcome, BaseException):
                        raise outcome
                layout.write_launch(launch)
                await self._launch(layout, launch)
            except BaseException:
                await self._remove(uuid, launch)
                raise

    async def _respawn(self, spec: GuestSpec) -> None:
        """The same guest on its own disk, with the instance's (new) flavor: the disk
        grows to the flavor's root size (never shrinks), vCPUs and memory apply from
        this start."""
        inst = spec.instance
        async with self._lock(inst["uuid"]):
            layout, launch = self._launch_of(inst["uuid"])
            await self._stop(layout)
            layout.saved_state.unlink(missing_ok=True)
            wanted = int(inst["flavor"].get("root_gb") or 0) * GiB
            if wanted > await qemu_host.virtual_size(layout.disk, "qcow2"):
                await qemu_host.qemu_img("resize", "-f", "qcow2", str(layout.disk),
                                         str(wanted))
            launch.vcpus = int(inst["flavor"]["vcpus"])
            launch.memory_mb = int(inst["flavor"]["memory_mb"])
            for nic in launch.nics:
                if nic.mode == "tap":
                    await vif.unplug_tap(nic)
            launch.nics = [_nic(v) for v in spec.network_info]
            if spec.config_drive is not None:
                await write_config_drive(spec.config_drive, layout.config_iso)
                launch.config_drive = True
            layout.write_launch(launch)
            await self._launch(layout, launch)

    async def _base_size(self, base: Path, fmt: str) -> int:
        """A cached image's virtual size, asked of qemu-img once: cached images never
        change."""
        if base not in self._base_sizes:
            self._base_sizes[base] = await qemu_host.virtual_size(base, fmt)
        return self._base_sizes[base]

    async def _prepare_disks(self, layout: Layout, launch: Launch, spec: GuestSpec,
                             disk: Path) -> None:
        """The root disk as an overlay on the cached image, at least the flavor's size;
        direct kernel boot and ISO images as the image's properties say."""
        image = spec.image or {}
        if not spec.image_path:
            raise GuestError("The QEMU driver boots only from images.")
        base, fmt = await qemu_host.cached_base(self.base, image, spec.image_path)
        root_gb = int(spec.instance["flavor"].get("root_gb") or 0)
        if fmt == "iso":
            launch.cdrom = str(base)
            await qemu_host.qemu_img("create", "-f", "qcow2", str(disk),
                                     str(max(root_gb, 1) * GiB))
        else:
            size = max(root_gb * GiB, await self._base_size(base, fmt))
            await qemu_host.qemu_img("create", "-f", "qcow2", "-F", fmt, "-b", str(base),
                                     str(disk), str(size))
        props = image.get("properties") or image
        if spec.kernel_path:
            launch.kernel = str((await qemu_host.cached_base(
                self.base, {"id": props.get("kernel_id")}, spec.kernel_path))[0])
            if spec.ramdisk_path:
                launch.initrd = str((await qemu_host.cached_base(
                    self.base, {"id": props.get("ramdisk_id")}, spec.ramdisk_path))[0])
            launch.kernel_args = str(props.get("os_command_line") or "")

    async def destroy(self, uuid: str) -> None:
        async with self._lock(uuid):
            layout = self._layout(uuid)
            await self._stop(layout)
            await self._remove(uuid, layout.read_launch())

    async def _remove(self, uuid: str, launch: Launch | None) -> None:
        layout = self._layout(uuid)
        pid = qemu_host.pid_of(layout)
        if pid is not None:  # spawn failed half-way with a process up
            await self._stop(layout)
        await self.relays.stop(uuid)
        for nic in launch.nics if launch else []:
            if nic.mode == "tap":
                await vif.unplug_tap(nic)
        shutil.rmtree(layout.dir, ignore_errors=True)
        shutil.rmtree(layout.run, ignore_errors=True)
        with contextlib.suppress(OSError):  # the host's socket directory, once empty
            layout.run.parent.rmdir()
        self._locks.pop(uuid, None)

    # -- power ---------------------------------------------------------------------
    async def power_off(self, uuid: str) -> None:
        async with self._lock(uuid):
            layout, _ = self._launch_of(uuid)
            await self._stop(layout, graceful=self.settings.clean_shutdown_timeout)

    async def power_on(self, uuid: str) -> None:
        async with self._lock(uuid):
            layout, launch = self._launch_of(uuid)
            if qemu_host.pid_of(layout) is not None:
                if await self._status(layout) == "paused":
                    await self._qmp(layout, "cont")
                return
            if layout.saved_state.exists():
                await self._restore(layout, launch)
            else:
                await self._launch(layout, launch)

    async def reboot(self, uuid: str, hard: bool) -> None:
        """Soft: an ACPI power-down, then a fresh start (a guest that ignores ACPI is
        stopped after clean_shutdown_timeout, as Nova's soft reboot falls back to
        hard). Hard: a fresh QEMU at once."""
        async with self._lock(uuid):
            layout, launch = self._launch_of(uuid)
            graceful = 0.0 if hard else self.settings.clean_shutdown_timeout
            await self._stop(layout, graceful=graceful)
            layout.saved_state.unlink(missing_ok=True)
            await self._launch(layout, launch)

    async def pause(self, uuid: str) -> None:
        async with self._lock(uuid):
            await self._qmp(self._launch_of(uuid)[0], "stop")

    async def unpause(self, uuid: str) -> None:
        async with self._lock(uuid):
            await self._qmp(self._launch_of(uuid)[0], "cont")

    async def suspend(self, uuid: str) -> None:
        """The guest's memory is saved to its directory and QEMU ends (as libvirt's
        managed save); resume starts QEMU again from the saved state."""
        async with self._lock(uuid):
            layout, _ = self._launch_of(uuid)
            await self._qmp(layout, "stop")
            tmp = layout.saved_state.with_suffix(".tmp")
            await self._qmp(layout, "migrate", uri=f"exec:cat > {tmp}")
            deadline = time.monotonic() + 300
            while True:
                info = await self._qmp(layout, "query-migrate")
                status = info.get("status")
                if status == "completed":
                    break
                if status in ("failed", "cancelled") or time.monotonic() > deadline:
                    await self._qmp(layout, "cont")
                    raise GuestError(f"Saving the guest's memory failed: "
                                     f"{info.get('error-desc', status)}")
                await asyncio.sleep(0.1)
            os.replace(tmp, layout.saved_state)
            await self._stop(layout)

    async def resume(self, uuid: str) -> None:
        async with self._lock(uuid):
            layout, launch = self._launch_of(uuid)
            if qemu_host.pid_of(layout) is None:
                await self._restore(layout, launch)

    async def _restore(self, layout: Layout, launch: Launch) -> None:
        await self._launch(layout, launch, incoming=f"exec:cat {layout.saved_state}")
        deadline = time.monotonic() + 300
        while await self._status(layout) in ("inmigrate", "postmigrate"):
            if time.monotonic() > deadline:
                raise GuestError("Restoring the guest's memory timed out.")
            await asyncio.sleep(0.1)
        if await self._status(layout) != "running":
            await self._qmp(layout, "cont")
        layout.saved_state.unlink(missing_ok=True)

    async def _status(self, layout: Layout) -> str:
        status = await self._qmp(layout, "query-status")
        return str(status.get("status", ""))

    # -- rescue, snapshot ------------------------------------------------------------
    async def rescue(self, uuid: str, spec: GuestSpec) -> None:
        async with self._lock(uuid):
            layout, launch = self._launch_of(uuid)
            await self._stop(layout)
            (layout.dir / "launch.rescued.json").write_text(launch.to_json())
            rescue = Launch(**{**launch.__dict__, "kernel": "", "initrd": "",
                               "kernel_args": "", "cdrom": "", "rescue": True})
            await self._prepare_disks(layout, rescue, spec, layout.rescue_disk)
            layout.write_launch(rescue)
            await self._launch(layout, rescue)

    async def unrescue(self, uuid: str) -> None:
        async with self._lock(uuid):
            layout, launch = self._launch_of(uuid)
            await self._stop(layout)
            saved = layout.dir / "launch.rescued.json"
            launch.rescue = False
            if saved.exists():
                launch = Launch.from_json(saved.read_text())
                saved.unlink()
            layout.rescue_disk.unlink(missing_ok=True)
            layout.write_launch(launch)
            await self._launch(layout, launch)

    async def snapshot(self, uuid: str, path: str) -> None:
        """The root disk flattened into a standalone qcow2; a running guest is paused
        meanwhile so the copy is consistent."""
        async with self._lock(uuid):
            layout, _ = self._launch_of(uuid)
            running = qemu_host.pid_of(layout) is not None and \
                await self._status(layout) == "running"
            if running:
                await self._qmp(layout, "stop")
            try:
                await qemu_host.qemu_img("convert", "-U", "-O", "qcow2", str(layout.disk),
                                         path)
            finally:
                if running:
                    await self._qmp(layout, "cont")

    # -- consoles --------------------------------------------------------------------
    async def console_output(self, uuid: str) -> str:
        layout, _ = self._launch_of(uuid)
        try:
            with open(layout.console_log, "rb") as log_file:
                log_file.seek(0, os.SEEK_END)
                size = log_file.tell()
                log_file.seek(max(0, size - (1 << 20)))
                return log_file.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    async def console_endpoint(self, uuid: str, kind: str) -> ConsoleEndpoint:
        layout, _ = self._launch_of(uuid)
        sockets = {"novnc": layout.vnc, "serial": layout.serial}
        if kind not in sockets:
            raise ConsoleUnavailable(f"Unavailable console type {kind}.")
        if qemu_host.pid_of(layout) is None:
            raise GuestError(f"Instance {uuid} is not running.")
        return ConsoleEndpoint(kind=kind, path=str(sockets[kind]))

    # -- interfaces ------------------------------------------------------------------
    async def attach_interface(self, uuid: str, vif_info: dict[str, Any]) -> None:
        async with self._lock(uuid):
            layout, launch = self._launch_of(uuid)
            nic = _nic(vif_info)
            if nic.mode != "tap" and launch.netns():
                raise GuestError("Cannot mix user-mode and bridged interfaces.")
            index = len(launch.nics)
            launch.nics.append(nic)
            if qemu_host.pid_of(layout) is not None:
                if nic.mode == "tap":
                    await vif.plug_tap(nic)
                else:
                    await self.relays.start(uuid, launch.project_id, layout.metadata)
                netdev, device = hotplug_args(index, nic)
                await self._qmp(layout, "netdev_add", **netdev)
                await self._qmp(layout, "device_add", **device)
            layout.write_launch(launch)

    async def detach_interface(self, uuid: str, port_id: str) -> None:
        async with self._lock(uuid):
            layout, launch = self._launch_of(uuid)
            nic = next((n for n in launch.nics if n.port_id == port_id), None)
            if nic is None:
                return
            index = launch.nics.index(nic)
            if qemu_host.pid_of(layout) is not None:
                with contextlib.suppress(GuestError):
                    async with session(str(layout.qmp)) as qmp:
                        await qmp.execute("device_del", id=f"nic-{port_id[:8]}")
                        # the guest acknowledges the unplug (ACPI); a guest that does
                        # not keeps the device until its next start
                        if await qmp.wait_event("DEVICE_DELETED", 5):
                            await qmp.execute("netdev_del", id=f"net{index}")
            launch.nics.remove(nic)
            layout.write_launch(launch)
            if nic.mode == "tap":
                await vif.unplug_tap(nic)

    # -- state -----------------------------------------------------------------------
    async def power_states(self) -> dict[str, int]:
        states: dict[str, int] = {}
        for entry in self.instances.iterdir():
            if entry.name.startswith("_") or not (entry / "launch.json").exists():
                continue
            layout = self._layout(entry.name)
            states[entry.name] = await self._power_state(layout)
            await self._adopt(layout)
        return states

    async def _adopt(self, layout: Layout) -> None:
        """A guest that ran before this process started gets its metadata relay back."""
        uuid = layout.dir.name
        if uuid in self.relays.running or qemu_host.pid_of(layout) is None:
            return
        launch = layout.read_launch()
        if launch is not None and any(nic.mode == "user" for nic in launch.nics):
            await self.relays.start(uuid, launch.project_id, layout.metadata)

    async def _power_state(self, layout: Layout) -> int:
        if qemu_host.pid_of(layout) is None:
            return SUSPENDED if layout.saved_state.exists() else SHUTDOWN
        try:
            status = await self._status(layout)
        except GuestError:
            return NOSTATE
        if status in ("running", "inmigrate", "postmigrate", "finish-migrate"):
            return RUNNING
        if status in ("paused", "suspended", "prelaunch"):
            return PAUSED
        if status in ("shutdown", "guest-panicked"):
            return SHUTDOWN
        return NOSTATE

    async def close(self) -> None:
        """Guests keep running; only this process's relays stop."""
        await self.relays.close()


def _nic(vif_info: dict[str, Any]) -> Nic:
    details = vif_info.get("binding:vif_details") or {}
    if isinstance(details, str):
        details = json.loads(details or "{}")
    port_id = vif_info["id"]
    if vif_info.get("binding:vif_type") == "tap" and details.get("bridge"):
        return Nic(port_id=port_id, mac=vif_info["mac_address"], mode="tap",
                   tap_name=details.get("tap_name") or f"tap{port_id[:11]}",
                   bridge=details["bridge"], netns=details.get("netns") or "",
                   mtu=int(details.get("mtu") or 0))
    return Nic(port_id=port_id, mac=vif_info["mac_address"], mode="user")


def build(host: str, config: Config) -> QemuDriver:
    return QemuDriver(host, config)
