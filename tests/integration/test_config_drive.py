"""The config drive and the metadata API as cloud-init reads them: a server booted
on the fake driver; its config drive written as a real ISO 9660 image (genisoimage)
and read back with isoinfo and blkid, then by cloud-init's own ConfigDrive reader;
its metadata read by cloud-init's OpenStack and EC2 readers over HTTP, through the
per-instance relay and socat as a QEMU guest reaches it.

cloud-init is Debian's package (``apt-get install cloud-init``, not on PyPI): its
readers run in the system Python (/usr/bin/python3) beside the test's own."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onestack.cloud import Cloud
from onestack.compute.metadata import content
from onestack.compute.metadata.configdrive import (
    config_drive_files,
    wants_config_drive,
    write_config_drive,
)
from onestack.compute.metadata.content import Guest
from onestack.compute.metadata.ports import guest_ports
from onestack.compute.metadata.relay import MetadataRelay
from onestack.compute.objects import instances
from onestack.kernel.config import ComputeConfig
from onestack.kernel.metadata_secret import shared_secret
from tests.api.compute.conftest import Nova
from tests.api.compute.test_metadata import (
    CLOUD_CONFIG,
    PUBLIC_KEY,
    Booted,
    boot_with_everything,
    serve_metadata,
)
from tests.conftest import admin_api, free_port, two_tenants

SYSTEM_PYTHON = "/usr/bin/python3"


def cloud_init_available() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import cloudinit.sources.helpers.openstack"],
                          capture_output=True).returncode == 0


@pytest.fixture
def _cloud_init() -> None:
    # the test command installs it (apt); without it this proof is missing, not optional
    assert cloud_init_available(), "cloud-init is not installed (apt-get install cloud-init)"


@pytest.fixture
def _genisoimage() -> None:
    assert shutil.which("genisoimage") and shutil.which("isoinfo"), \
        "genisoimage is not installed (apt-get install genisoimage)"


@pytest.fixture
def _socat() -> None:
    assert shutil.which("socat"), "socat is not installed (apt-get install socat)"


needs_cloud_init = pytest.mark.usefixtures("_cloud_init")
needs_genisoimage = pytest.mark.usefixtures("_genisoimage")
needs_socat = pytest.mark.usefixtures("_socat")

# Runs in the system Python: reads a config drive directory or a metadata URL with
# cloud-init's readers and prints what cloud-init made of it, as JSON.
READER = r"""
import base64, json, sys
from cloudinit import util
from cloudinit.sources import normalize_pubkey_data
from cloudinit.sources.helpers import ec2, openstack

ask = json.load(sys.stdin)
if "drive" in ask:
    reader = openstack.ConfigDriveReader(ask["drive"])
else:
    url = ask["url"]
    reader = openstack.MetadataReader(url, retries=0)
    reader._read_ec2_metadata = lambda: ec2.get_instance_metadata(
        metadata_address=url, retries=0)
found = reader.read_v2()
metadata = found["metadata"]
seed = metadata.pop("random_seed", b"")
userdata = found["userdata"]
userdata = userdata.decode() if isinstance(userdata, bytes) else userdata
out = {
    "metadata": metadata, "seed_length": len(seed), "userdata": userdata,
    "cloud_config": util.load_yaml(userdata) if userdata.startswith("#cloud-config") else None,
    "public_keys": normalize_pubkey_data(metadata.get("public_keys")),
    "ec2": found["ec2-metadata"], "vendordata": found.get("vendordata"),
    "vendordata2": found.get("vendordata2"), "networkdata": found.get("networkdata"),
    "files": {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode()
              for k, v in found["files"].items()},
    "network_config": openstack.convert_net_json(found.get("networkdata"),
                                                 known_macs=ask["macs"]),
    "others": [openstack.convert_net_json(n, known_macs=ask["macs"])
               for n in ask.get("more_network_data", [])],
}
print(json.dumps(out))
"""


async def cloud_init_reads(ask: dict[str, Any]) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        SYSTEM_PYTHON, "-c", READER, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, errors = await asyncio.wait_for(process.communicate(json.dumps(ask).encode()), 120)
    assert process.returncode == 0, errors.decode()
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.fixture
async def booted(running: Cloud) -> AsyncIterator[tuple[Nova, Booted]]:
    async with admin_api(running, "compute", Nova) as compute:
        tenants = await two_tenants(compute, "drive")
        yield compute, await boot_with_everything(
            compute, tenants.alice, tenants.one["id"], config_drive=True,
            personality=[{"path": "/etc/injected.conf",
                          "contents": "aW5qZWN0ZWQ="}])


async def guest_of(cloud: Cloud, server_id: str, **options: Any) -> Guest:
    compute = cloud.services["compute"]
    async with compute.db.reader() as conn:
        instance = await instances.get(conn, server_id)
    return Guest(instance, await guest_ports(compute.network, server_id),
                 default_zone=compute.settings.default_availability_zone, **options)


def run(*command: str) -> bytes:
    return subprocess.run(command, check=True, capture_output=True).stdout


def check_what_cloud_init_read(seen: dict[str, Any], booted: Booted,
                               port: dict[str, Any], over_http: bool) -> None:
    metadata = seen["metadata"]
    assert metadata["uuid"] == booted.server and metadata["instance-id"] == booted.server
    assert metadata["local-hostname"] == "vm.novalocal"
    assert metadata["meta"] == {"role": "web", "tier": "front"}
    assert seen["public_keys"] == [PUBLIC_KEY]
    assert seen["seed_length"] == 512
    assert seen["userdata"] == CLOUD_CONFIG
    cloud_config = seen["cloud_config"]
    assert cloud_config["hostname"] == "meta-vm"
    assert cloud_config["users"][0]["name"] == "alice"
    assert cloud_config["users"][0]["ssh_authorized_keys"][0].startswith("ssh-ed25519 ")
    assert cloud_config["write_files"] == [{"path": "/etc/motd",
                                            "content": "hello from onestack"}]
    assert cloud_config["runcmd"] == [["touch", "/tmp/booted"]]
    assert seen["vendordata"] == {} and seen["vendordata2"] == {}
    ec2 = seen["ec2"]
    assert ec2["instance-id"] == content.ec2_id("i", booted.server)
    assert ec2["hostname"] == "vm.novalocal"
    assert ec2["placement"] == {"availability-zone": "nova"}
    # the drive has Nova's JSON; over HTTP, cloud-init maps the "0=vm-key" listing
    assert ec2["public-keys"] == ({"vm-key": PUBLIC_KEY} if over_http
                                  else {"0": {"openssh-key": PUBLIC_KEY}})
    v4 = next(ip["ip_address"] for ip in port["fixed_ips"]
              if ip["subnet_id"] == booted.subnet["id"])
    assert ec2["local-ipv4"] == v4
    config = seen["network_config"]
    assert config["version"] == 1
    nic, *nameservers = config["config"]
    assert nic["type"] == "physical" and nic["name"] == "eth0"
    assert nic["mac_address"] == port["mac_address"]
    static, slaac = nic["subnets"]
    assert static["type"] == "static" and static["address"] == v4
    assert static["netmask"] == "255.255.255.0"
    assert {"network": "0.0.0.0", "netmask": "0.0.0.0",
            "gateway": booted.subnet["gateway_ip"]} in static["routes"]
    assert {"network": "172.16.0.0", "netmask": "255.255.0.0",
            "gateway": "10.20.0.254"} in static["routes"]
    assert slaac["type"] == "ipv6_slaac"
    assert [n["address"] for n in nameservers if n["type"] == "nameserver"] == [
        "10.20.0.53", "9.9.9.9", "fd00:20::53"]


@needs_genisoimage
@needs_cloud_init
async def test_config_drive_read_by_cloud_init(running: Cloud, booted: tuple[Nova, Booted],
                                               tmp_path: Path) -> None:
    _, server = booted
    guest = await guest_of(running, server.server,
                           admin_password="s3cret-Pass")
    assert wants_config_drive(guest.instance, ComputeConfig())
    files = config_drive_files(guest)
    assert "openstack/latest/meta_data.json" in files
    assert "openstack/2012-08-10/network_data.json" not in files
    assert files["openstack/content/0000"] == b"injected"
    iso = tmp_path / "disk.config"
    await write_config_drive(files, iso)
    # what cloud-init's device search sees (blkid), and what is on the disk
    probed = run("blkid", "-p", "-o", "export", str(iso)).decode()
    assert "LABEL=config-2" in probed and "TYPE=iso9660" in probed
    described = run("isoinfo", "-d", "-i", str(iso)).decode()
    assert "Volume id: config-2" in described and "Rock Ridge" in described
    listed = set(run("isoinfo", "-R", "-f", "-i", str(iso)).decode().split())
    assert {"/" + name for name in files} <= listed
    drive = tmp_path / "drive"  # no iso9660 mounts here: extracted file by file
    for name, data in files.items():
        extracted = run("isoinfo", "-R", "-i", str(iso), "-x", "/" + name)
        assert extracted == data, name
        (drive / name).parent.mkdir(parents=True, exist_ok=True)
        (drive / name).write_bytes(extracted)
    dhcp = content.network_data(Guest(guest.instance, guest.ports, dhcp_only=True))
    macs = {guest.ports[0]["mac_address"]: "eth0"}
    seen = await cloud_init_reads({"drive": str(drive), "macs": macs,
                                   "more_network_data": [dhcp]})
    check_what_cloud_init_read(seen, server, guest.ports[0], over_http=False)
    assert seen["metadata"]["admin_pass"] == "s3cret-Pass"
    assert seen["files"] == {"/etc/injected.conf": "aW5qZWN0ZWQ="}
    assert [s["type"] for s in seen["others"][0]["config"][0]["subnets"]] == [
        "dhcp4", "ipv6_slaac"]


async def test_wants_config_drive() -> None:
    settings = ComputeConfig()
    plain: dict[str, Any] = {"config_drive": "", "request": {}, "system_metadata": {}}
    assert not wants_config_drive(plain, settings)
    assert wants_config_drive({**plain, "config_drive": "True"}, settings)
    assert wants_config_drive({**plain, "request": {"image_properties": {
        "img_config_drive": "mandatory"}}}, settings)
    assert not wants_config_drive({**plain, "request": {"image_properties": {
        "img_config_drive": "optional"}}}, settings)
    settings.force_config_drive = True
    assert wants_config_drive(plain, settings)


@needs_cloud_init
@needs_socat
async def test_metadata_api_read_by_cloud_init_through_the_relay(
        running: Cloud, booted: tuple[Nova, Booted], tmp_path: Path) -> None:
    _, server = booted
    guest = await guest_of(running, server.server)
    http, task, url = await serve_metadata(running)
    relay = MetadataRelay(str(tmp_path / "relay.sock"), server.server, server.project, url,
                          shared_secret(running.config))
    await relay.start()
    port = free_port()  # QEMU's guestfwd: every guest connection runs socat to the relay
    socat = await asyncio.create_subprocess_exec(
        "socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
        f"UNIX-CONNECT:{relay.path}")
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        seen = await cloud_init_reads({"url": f"http://127.0.0.1:{port}",
                                       "macs": {guest.ports[0]["mac_address"]: "eth0"}})
    finally:
        socat.terminate()
        await socat.wait()
        await relay.close()
        http.stop()
        await task
    check_what_cloud_init_read(seen, server, guest.ports[0], over_http=True)
    assert "admin_pass" not in seen["metadata"]
    assert seen["files"] == {}
