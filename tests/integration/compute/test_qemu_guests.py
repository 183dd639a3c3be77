"""A user's servers are real QEMU guests: they boot the test image, read their
instance data, answer power actions, snapshot into images that boot again, and leave
nothing behind when deleted."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from pathlib import Path

from websockets.asyncio.client import connect

from onestack.compute.drivers.qemu_guest import Layout
from tests.api.compute.boot import make_flavor, wait_gone
from tests.api.compute.conftest import eventually
from tests.api.compute.test_consoles import novnc_socket, rfb_handshake
from tests.conftest import Api
from tests.guest import guest_image_dir
from tests.integration.compute.conftest import BOOT_TIMEOUT, Guests, qemu_processes

USER_DATA = "#!/bin/sh\necho user-data-ran-$(hostname)\n"


async def test_a_server_boots_reads_its_config_drive_and_powers_through_its_life(
        guests: Guests) -> None:
    api = guests.api
    key = await api.post("/os-keypairs", json={"keypair": {"name": "k1"}}, version="2.1")
    assert key.status_code == 200, key.text
    server = await guests.boot("web-1", config_drive=True, key_name="k1",
                               user_data=base64.b64encode(USER_DATA.encode()).decode())
    sid = server["id"]
    assert server["OS-EXT-STS:power_state"] == 1
    assert await guests.ready(sid) == "web-1"
    console = await guests.console(sid)
    assert "instance data from config-drive" in console
    assert "ssh key k1" in console
    assert "user-data-ran-web-1" in console
    tail = await guests.console(sid, length=3)
    assert len(tail.splitlines()) <= 3

    hypervisor = (await api.get("/os-hypervisors/detail")).json()["hypervisors"][0]
    assert hypervisor["hypervisor_type"] == "QEMU"

    # stop is an ACPI power-down the guest honours; start boots it again
    await guests.action(sid, {"os-stop": None}, "SHUTOFF")
    assert "power button, shutting down" in await guests.console(sid)
    await guests.action(sid, {"os-start": None}, "ACTIVE")
    await guests.ready(sid, times=2)

    await guests.action(sid, {"reboot": {"type": "SOFT"}}, "ACTIVE")
    await guests.ready(sid, times=3)
    await guests.action(sid, {"reboot": {"type": "HARD"}}, "ACTIVE")
    await guests.ready(sid, times=4)

    await guests.action(sid, {"pause": None}, "PAUSED")
    assert (await api.get(f"/servers/{sid}")).json()["server"]["OS-EXT-STS:power_state"] == 3
    await guests.action(sid, {"unpause": None}, "ACTIVE")
    await guests.action(sid, {"suspend": None}, "SUSPENDED")
    await guests.action(sid, {"resume": None}, "ACTIVE")

    # a resize on this (single) host keeps the guest's disk and restarts it bigger
    overlay = guests.instances / sid / "disk.qcow2"
    inode = overlay.stat().st_ino
    bigger = await make_flavor(api, ram=192, vcpus=2, disk=2)
    await guests.action(sid, {"resize": {"flavorRef": bigger}}, "VERIFY_RESIZE")
    await guests.ready(sid, times=5)
    qemu = qemu_processes(sid)
    cmdline = Path(f"/proc/{qemu[0]}/cmdline").read_bytes().split(b"\0")
    assert cmdline[cmdline.index(b"-m") + 1] == b"192"
    assert cmdline[cmdline.index(b"-smp") + 1] == b"2"
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json",
                                      str(overlay)], capture_output=True, check=True,
                                     text=True).stdout)
    assert info["virtual-size"] == 2 << 30
    assert overlay.stat().st_ino == inode  # the same disk, grown
    await guests.action(sid, {"confirmResize": None}, "ACTIVE", status=204)

    # a snapshot is an image that boots the same guest
    snap = await api.post(f"/servers/{sid}/action", json={"createImage": {"name": "snap"}})
    assert snap.status_code == 202, snap.text
    image_id = snap.json()["image_id"]
    image_api = Api(guests.cloud, "image", api.token, api.clients)

    async def active() -> bool:
        return (await image_api.get(f"/v2/images/{image_id}")).json()["status"] == "active"

    await eventually(active, BOOT_TIMEOUT)
    image = (await image_api.get(f"/v2/images/{image_id}")).json()
    assert image["disk_format"] == "qcow2" and image["size"] > 0
    # the snapshot keeps the resized disk size as its min_disk
    copy = await guests.boot("web-2", imageRef=image_id, flavorRef=bigger, config_drive=True)
    assert await guests.ready(copy["id"]) == "web-2"

    for server_id in (sid, copy["id"]):
        assert (await api.delete(f"/servers/{server_id}")).status_code == 204
        await wait_gone(api, server_id, timeout=BOOT_TIMEOUT)
        assert qemu_processes(server_id) == []
        assert not (guests.instances / server_id).exists()
    # and the host's socket directory went with the last guest
    assert not Layout(guests.instances, sid).run.parent.exists()


async def test_without_a_config_drive_the_guest_asks_the_metadata_service(
        guests: Guests) -> None:
    server = await guests.boot("meta-1")
    assert await guests.ready(server["id"]) == "meta-1"
    assert "instance data from metadata-service" in await guests.console(server["id"])
    assert (await guests.api.delete(f"/servers/{server['id']}")).status_code == 204
    await wait_gone(guests.api, server["id"], timeout=BOOT_TIMEOUT)


async def test_kernel_and_ramdisk_images_boot_directly(guests: Guests) -> None:
    images = guest_image_dir()
    kernel = await guests.upload("guest-kernel", images / "onestack-guest-vmlinuz", "aki")
    ramdisk = await guests.upload("guest-initrd", images / "onestack-guest-initrd", "ari")
    guests.image = await guests.upload(
        "guest-ami", images / "onestack-guest.qcow2", "qcow2", kernel_id=kernel,
        ramdisk_id=ramdisk, os_command_line="console=ttyS0")
    server = await guests.boot("direct-1", config_drive=True)
    assert await guests.ready(server["id"]) == "direct-1"
    qemu = qemu_processes(server["id"])
    assert len(qemu) == 1
    cmdline = Path(f"/proc/{qemu[0]}/cmdline").read_bytes().split(b"\0")
    assert b"-kernel" in cmdline and b"-initrd" in cmdline
    assert (await guests.api.delete(f"/servers/{server['id']}")).status_code == 204
    await wait_gone(guests.api, server["id"], timeout=BOOT_TIMEOUT)


async def test_remote_consoles_reach_the_real_guest(guests: Guests) -> None:
    """noVNC speaks RFB with QEMU's VNC server; the serial console is the guest's
    shell, through the proxies and a one-time token each."""
    server = await guests.boot("console-1", config_drive=True)
    sid = server["id"]
    await guests.ready(sid)
    vnc = await guests.api.post(f"/servers/{sid}/remote-consoles", version="2.6",
                                json={"remote_console": {"protocol": "vnc",
                                                         "type": "novnc"}})
    assert vnc.status_code == 200, vnc.text
    async with connect(novnc_socket(vnc.json()["remote_console"]["url"]),
                       subprotocols=["binary"]) as ws:  # type: ignore[list-item]
        assert await rfb_handshake(ws) == "QEMU (console-1)"
    serial = await guests.api.post(f"/servers/{sid}/remote-consoles", version="2.6",
                                   json={"remote_console": {"protocol": "serial",
                                                            "type": "serial"}})
    assert serial.status_code == 200, serial.text
    async with connect(serial.json()["remote_console"]["url"]) as ws:
        seen = b""

        async def answered() -> bool:
            nonlocal seen
            await ws.send(b"echo console-$((6*7))\n")
            try:
                async with asyncio.timeout(2):
                    while b"console-42" not in seen:
                        seen += await ws.recv()  # type: ignore[operator]
            except TimeoutError:
                return False
            return True

        await eventually(answered, 30)
    assert (await guests.api.delete(f"/servers/{sid}")).status_code == 204
    await wait_gone(guests.api, sid, timeout=BOOT_TIMEOUT)
