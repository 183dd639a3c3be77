"""The metadata API (nova-api-metadata) as a guest reaches it through a metadata
proxy: a server booted on the fake driver with a key pair, user data, metadata and
a network, read back through the compute service's ``compute-metadata`` app with
the signed headers a proxy adds; and the per-instance relay in front of it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from onestack.cloud import Cloud
from onestack.compute.metadata import content
from onestack.compute.metadata.app import MetadataApp
from onestack.compute.metadata.relay import MetadataRelay
from onestack.kernel.api.server import HttpServer
from onestack.kernel.metadata_secret import proxy_headers, shared_secret, sign
from tests.api.compute.boot import make_flavor, make_image, wait_gone, wait_status
from tests.api.compute.conftest import Nova
from tests.conftest import Api, Tenants, free_port

PUBLIC_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl "
              "alice@example")
CLOUD_CONFIG = """#cloud-config
hostname: meta-vm
users:
  - name: alice
    ssh_authorized_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoq alice]
write_files:
  - path: /etc/motd
    content: hello from onestack
runcmd:
  - [touch, /tmp/booted]
"""


@dataclass
class Booted:
    """A server of alice's, and what it was booted with."""

    server: str
    project: str
    network: str
    subnet: dict[str, Any]
    subnet6: dict[str, Any]
    port: dict[str, Any]
    flavor: str
    image: str


class Metadata:
    """A client of the compute service's metadata app, as a proxy for one server."""

    def __init__(self, cloud: Cloud) -> None:
        self.app: MetadataApp = cloud.extra_apps["compute-metadata"]  # type: ignore[assignment]
        self.app.ports_ttl = 0  # every request sees the ports as they are now
        self.secret = shared_secret(cloud.config)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                      base_url="http://169.254.169.254")

    async def get(self, path: str, booted: Booted | None = None, *,
                  headers: dict[str, str] | None = None, method: str = "GET",
                  body: bytes | None = None) -> httpx.Response:
        sent = proxy_headers(booted.server, booted.project, self.secret) if booted else {}
        sent.update(headers or {})
        return await self.http.request(method, path, headers=sent, content=body)

    async def text(self, path: str, booted: Booted) -> str:
        response = await self.get(path, booted)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.text

    async def json(self, path: str, booted: Booted) -> Any:
        return json.loads(await self.text(path, booted))


@pytest.fixture
async def meta(running: Cloud) -> Any:
    client = Metadata(running)
    yield client
    await client.http.aclose()


async def network_with_subnets(api: Api, name: str = "meta-net") -> tuple[str, dict[str, Any],
                                                                          dict[str, Any]]:
    network = Api(api.cloud, "network", api.token, api.clients)
    created = await network.post("/v2.0/networks", json={"network": {"name": name}})
    assert created.status_code == 201, created.text
    net = created.json()["network"]["id"]
    subnets = []
    for body in ({"cidr": "10.20.0.0/24", "ip_version": 4,
                  "dns_nameservers": ["10.20.0.53", "9.9.9.9"],
                  "host_routes": [{"destination": "172.16.0.0/16", "nexthop": "10.20.0.254"}]},
                 {"cidr": "fd00:20::/64", "ip_version": 6, "ipv6_address_mode": "slaac",
                  "ipv6_ra_mode": "slaac", "dns_nameservers": ["fd00:20::53"]}):
        made = await network.post("/v2.0/subnets", json={"subnet": {"network_id": net, **body}})
        assert made.status_code == 201, made.text
        subnets.append(made.json()["subnet"])
    return net, subnets[0], subnets[1]


async def boot_with_everything(compute: Nova, user: Nova, project: str, name: str = "vm",
                               **server: Any) -> Booted:
    """A server of ``user`` with a key pair, user data, metadata and its own
    network (an IPv4 subnet with DNS and a host route, an IPv6 SLAAC one)."""
    image = await make_image(compute)
    flavor = await make_flavor(compute, name=f"m1-{name}")
    net, subnet, subnet6 = await network_with_subnets(user, f"{name}-net")
    key = await user.post("/os-keypairs", json={"keypair": {"name": f"{name}-key",
                                                            "public_key": PUBLIC_KEY}})
    assert key.status_code == 200, key.text
    body = {"name": name, "imageRef": image, "flavorRef": flavor,
            "networks": [{"uuid": net}], "key_name": f"{name}-key",
            "metadata": {"role": "web", "tier": "front"},
            "user_data": base64.b64encode(CLOUD_CONFIG.encode()).decode(), **server}
    created = await user.post("/servers", json={"server": body})
    assert created.status_code == 202, created.text
    server_id = created.json()["server"]["id"]
    await wait_status(user, server_id, "ACTIVE")
    network = Api(user.cloud, "network", user.token, user.clients)
    ports = (await network.get(f"/v2.0/ports?device_id={server_id}")).json()["ports"]
    return Booted(server_id, project, net, subnet, subnet6, ports[0], flavor, image)


@pytest.fixture
async def booted(compute: Nova, tenants: Tenants) -> Booted:
    return await boot_with_everything(compute, tenants.alice, tenants.one["id"])


# -- listings ----------------------------------------------------------------------
async def test_listings_as_nova_gives_them(meta: Metadata, booted: Booted) -> None:
    ec2_versions = ["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10",
                    "2007-12-15", "2008-02-01", "2008-09-01", "2009-04-04", "latest"]
    root = await meta.get("/")  # no identification needed
    assert root.status_code == 200 and root.text.split("\n") == ec2_versions
    assert root.headers["content-type"].startswith("text/plain")
    assert (await meta.text("/ec2", booted)).split("\n") == ec2_versions
    dates = (await meta.text("/openstack", booted)).split("\n")
    assert dates == [*content.OPENSTACK_VERSIONS, "latest"]
    assert dates[:8] == ["2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15",
                         "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27"]
    every = ["meta_data.json", "user_data", "password", "vendor_data.json",
             "network_data.json", "vendor_data2.json"]
    assert (await meta.text("/openstack/latest", booted)).split("\n") == every
    assert (await meta.text("/openstack/latest/", booted)).split("\n") == every
    assert (await meta.text("/openstack/2012-08-10", booted)).split("\n") == every[:2]
    assert (await meta.text("/openstack/2013-10-17", booted)).split("\n") == every[:4]
    assert (await meta.text("/openstack/2015-10-15", booted)).split("\n") == every[:5]
    assert (await meta.text("/openstack/2016-10-06", booted)).split("\n") == every
    for missing in ("/openstack/2011-01-01", "/openstack/2011-01-01/meta_data.json",
                    "/openstack/latest/nothing", "/openstack/2012-08-10/network_data.json",
                    "/openstack/2013-04-04/vendor_data.json", "/nothing/meta-data",
                    "/latest/meta-data/nothing", "/latest/meta-data/hostname/more"):
        assert (await meta.get(missing, booted)).status_code == 404, missing


# -- meta_data.json, user data, vendor data ----------------------------------------
async def test_meta_data_json(meta: Metadata, booted: Booted) -> None:
    data = await meta.json("/openstack/latest/meta_data.json", booted)
    assert data["uuid"] == booted.server
    assert data["name"] == "vm" and data["hostname"] == "vm.novalocal"
    assert data["launch_index"] == 0 and data["availability_zone"] == "nova"
    assert data["project_id"] == booted.project
    assert data["meta"] == {"role": "web", "tier": "front"}
    assert data["public_keys"] == {"vm-key": PUBLIC_KEY}
    assert data["keys"] == [{"name": "vm-key", "type": "ssh", "data": PUBLIC_KEY}]
    assert data["devices"] == [] and data["dedicated_cpus"] == []
    assert len(base64.b64decode(data["random_seed"])) == 512
    assert "admin_pass" not in data  # only the config drive carries it
    again = await meta.json("/openstack/latest/meta_data.json", booted)
    assert again["random_seed"] != data["random_seed"]
    folsom = await meta.json("/openstack/2012-08-10/meta_data.json", booted)
    assert {"random_seed", "project_id", "devices"}.isdisjoint(folsom)
    assert folsom["uuid"] == booted.server
    liberty = await meta.json("/openstack/2015-10-15/meta_data.json", booted)
    assert "project_id" in liberty and "devices" not in liberty
    rocky = await meta.json("/openstack/2018-08-27/meta_data.json", booted)
    assert rocky["devices"] == [] and "dedicated_cpus" not in rocky
    assert await meta.json("/openstack/latest/vendor_data.json", booted) == {}
    assert await meta.json("/openstack/latest/vendor_data2.json", booted) == {}


async def test_user_data_and_a_server_without_any(meta: Metadata, booted: Booted,
                                                  compute: Nova, tenants: Tenants) -> None:
    raw = await meta.get("/openstack/latest/user_data", booted)
    assert raw.status_code == 200 and raw.content == CLOUD_CONFIG.encode()
    assert (await meta.get("/latest/user-data", booted)).content == CLOUD_CONFIG.encode()
    assert (await meta.text("/latest", booted)).split("\n") == ["meta-data/", "user-data"]
    plain = await tenants.alice.at("2.37").post("/servers", json={"server": {
        "name": "plain", "imageRef": booted.image, "flavorRef": booted.flavor,
        "networks": "none"}})
    assert plain.status_code == 202, plain.text
    other = Booted(plain.json()["server"]["id"], booted.project, "", {}, {}, {}, "", "")
    await wait_status(tenants.alice, other.server, "ACTIVE")
    assert (await meta.text("/openstack/latest", other)).split("\n") == [
        "meta_data.json", "password", "vendor_data.json", "network_data.json",
        "vendor_data2.json"]
    assert (await meta.get("/openstack/latest/user_data", other)).status_code == 404
    assert (await meta.get("/latest/user-data", other)).status_code == 404
    assert await meta.text("/latest", other) == "meta-data/"
    data = await meta.json("/openstack/latest/meta_data.json", other)
    assert "public_keys" not in data and "keys" not in data and "meta" not in data
    assert await meta.json("/openstack/latest/network_data.json", other) == {
        "links": [], "networks": [], "services": []}


# -- network_data.json -------------------------------------------------------------
async def test_network_data_matches_the_port_and_subnets(meta: Metadata, booted: Booted,
                                                         compute: Nova) -> None:
    port = booted.port
    by_subnet = {ip["subnet_id"]: ip["ip_address"] for ip in port["fixed_ips"]}
    v4, v6 = by_subnet[booted.subnet["id"]], by_subnet[booted.subnet6["id"]]
    network = Api(compute.cloud, "network", compute.token, compute.clients)
    mtu = (await network.get(f"/v2.0/networks/{booted.network}")).json()["network"]["mtu"]
    data = await meta.json("/openstack/latest/network_data.json", booted)
    link = "tap" + port["id"][:11]
    assert data["links"] == [{"id": link, "vif_id": port["id"], "type": "bridge",
                              "mtu": mtu, "ethernet_mac_address": port["mac_address"]}]
    assert data["networks"] == [
        {"id": "network0", "link": link, "network_id": booted.network, "type": "ipv4",
         "ip_address": v4, "netmask": "255.255.255.0",
         "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0",
                     "gateway": booted.subnet["gateway_ip"]},
                    {"network": "172.16.0.0", "netmask": "255.255.0.0",
                     "gateway": "10.20.0.254"}],
         "services": [{"type": "dns", "address": "10.20.0.53"},
                      {"type": "dns", "address": "9.9.9.9"}]},
        {"id": "network1", "link": link, "network_id": booted.network,
         "type": "ipv6_slaac", "ip_address": v6, "netmask": "ffff:ffff:ffff:ffff::",
         "routes": [{"network": "::", "netmask": "::",
                     "gateway": booted.subnet6["gateway_ip"]}],
         "services": [{"type": "dns", "address": "fd00:20::53"}]}]
    assert data["services"] == [{"type": "dns", "address": "10.20.0.53"},
                                {"type": "dns", "address": "9.9.9.9"},
                                {"type": "dns", "address": "fd00:20::53"}]
    # a DHCP server on the IPv4 subnet: the guest is told to use DHCP there (as Nova)
    dhcp = await network.post("/v2.0/ports", json={"port": {
        "network_id": booted.network, "device_owner": "network:dhcp",
        "fixed_ips": [{"subnet_id": booted.subnet["id"]}]}})
    assert dhcp.status_code == 201, dhcp.text
    again = await meta.json("/openstack/latest/network_data.json", booted)
    assert again["networks"][0] == {"id": "network0", "link": link,
                                    "network_id": booted.network, "type": "ipv4_dhcp"}
    assert again["networks"][1]["type"] == "ipv6_slaac"


# -- the EC2 tree ------------------------------------------------------------------
async def test_ec2_tree(meta: Metadata, booted: Booted, tenants: Tenants,
                        compute: Nova) -> None:
    listing = (await meta.text("/latest/meta-data/", booted)).split("\n")
    assert listing == ["ami-id", "ami-launch-index", "ami-manifest-path",
                       "block-device-mapping/", "hostname", "instance-action", "instance-id",
                       "instance-type", "local-hostname", "local-ipv4", "placement/",
                       "public-hostname", "public-ipv4", "public-keys/", "reservation-id",
                       "security-groups"]
    assert await meta.text("/2009-04-04/meta-data/", booted) == "\n".join(listing)
    old = (await meta.text("/1.0/meta-data/", booted)).split("\n")
    assert "local-hostname" not in old and "placement/" not in old and "hostname" in old
    instance_id = await meta.text("/latest/meta-data/instance-id", booted)
    assert instance_id == content.ec2_id("i", booted.server)
    assert instance_id.startswith("i-") and len(instance_id) == 10
    assert (await meta.text("/latest/meta-data/ami-id", booted)).startswith("ami-")
    assert await meta.text("/latest/meta-data/hostname", booted) == "vm.novalocal"
    assert await meta.text("/latest/meta-data/local-hostname", booted) == "vm.novalocal"
    v4 = next(ip["ip_address"] for ip in booted.port["fixed_ips"] if "." in ip["ip_address"])
    assert await meta.text("/latest/meta-data/local-ipv4", booted) == v4
    assert await meta.text("/latest/meta-data/public-ipv4", booted) == ""
    assert await meta.text("/latest/meta-data/public-keys", booted) == "0=vm-key"
    assert await meta.text("/latest/meta-data/public-keys/0/", booted) == "openssh-key"
    assert await meta.text("/latest/meta-data/public-keys/0/openssh-key",
                           booted) == PUBLIC_KEY
    assert await meta.text("/latest/meta-data/placement/", booted) == "availability-zone"
    assert await meta.text("/latest/meta-data/placement/availability-zone", booted) == "nova"
    assert await meta.text("/latest/meta-data/security-groups", booted) == "default"
    assert await meta.text("/latest/meta-data/ami-launch-index", booted) == "0"
    flavor = (await compute.get(f"/flavors/{booted.flavor}")).json()["flavor"]["name"]
    assert await meta.text("/latest/meta-data/instance-type", booted) == flavor
    assert await meta.text("/latest/meta-data/block-device-mapping/", booted) == "ami\nroot"
    assert await meta.text("/latest/meta-data/block-device-mapping/root",
                           booted) == "/dev/vda"
    shown = (await compute.at("2.3").get(f"/servers/{booted.server}")).json()["server"]
    assert await meta.text("/latest/meta-data/reservation-id",
                           booted) == shown["OS-EXT-SRV-ATTR:reservation_id"]
    # a floating IP shows as public-ipv4 (the ports are not cached in this fixture)
    network = Api(tenants.alice.cloud, "network", compute.token, compute.clients)
    public = await network.post("/v2.0/networks", json={"network": {
        "name": "public", "router:external": True}})
    assert public.status_code == 201, public.text
    pub_id = public.json()["network"]["id"]
    sub = await network.post("/v2.0/subnets", json={"subnet": {
        "network_id": pub_id, "cidr": "203.0.113.0/24", "ip_version": 4,
        "enable_dhcp": False}})
    assert sub.status_code == 201, sub.text
    alice_net = Api(tenants.alice.cloud, "network", tenants.alice.token, tenants.alice.clients)
    router = await alice_net.post("/v2.0/routers", json={"router": {
        "name": "r", "external_gateway_info": {"network_id": pub_id}}})
    assert router.status_code == 201, router.text
    added = await alice_net.put(
        f"/v2.0/routers/{router.json()['router']['id']}/add_router_interface",
        json={"subnet_id": booted.subnet["id"]})
    assert added.status_code == 200, added.text
    fip = await alice_net.post("/v2.0/floatingips", json={"floatingip": {
        "floating_network_id": pub_id, "port_id": booted.port["id"]}})
    assert fip.status_code == 201, fip.text
    address = fip.json()["floatingip"]["floating_ip_address"]
    assert await meta.text("/latest/meta-data/public-ipv4", booted) == address


async def test_ports_are_cached_briefly(meta: Metadata, booted: Booted) -> None:
    now = [1000.0]
    meta.app.ports_ttl, meta.app.clock = 15.0, lambda: now[0]
    calls = []
    network = meta.app.compute.network
    original = network.list_ports

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return await original(*args, **kwargs)

    network.list_ports = counted  # type: ignore[method-assign]
    try:
        for _ in range(3):
            await meta.text("/latest/meta-data/local-ipv4", booted)
        assert len(calls) == 1
        now[0] += 16
        await meta.text("/latest/meta-data/local-ipv4", booted)
        assert len(calls) == 2
    finally:
        network.list_ports = original  # type: ignore[method-assign]


# -- the password ------------------------------------------------------------------
async def test_password_post_once_then_read_and_clear(meta: Metadata, booted: Booted,
                                                      tenants: Tenants) -> None:
    path = "/openstack/latest/password"
    assert await meta.text(path, booted) == ""
    too_big = await meta.get(path, booted, method="POST", body=b"x" * 257)
    assert too_big.status_code == 400
    wrong = await meta.get(path, booted, method="PUT", body=b"x")
    assert wrong.status_code == 400
    encrypted = base64.b64encode(os.urandom(128)).decode()
    assert len(encrypted) <= 256
    posted = await meta.get(path, booted, method="POST", body=encrypted.encode())
    assert posted.status_code == 200, posted.text
    assert await meta.text(path, booted) == encrypted
    assert await meta.text("/openstack/2013-04-04/password", booted) == encrypted
    again = await meta.get(path, booted, method="POST", body=b"another")
    assert again.status_code == 409
    shown = await tenants.alice.get(f"/servers/{booted.server}/os-server-password")
    assert shown.status_code == 200 and shown.json() == {"password": encrypted}
    cleared = await tenants.alice.delete(f"/servers/{booted.server}/os-server-password")
    assert cleared.status_code == 204
    assert await meta.text(path, booted) == ""
    assert (await meta.get(path, booted, method="POST", body=b"new")).status_code == 200
    assert (await meta.get("/openstack/2012-08-10/password", booted)).status_code == 404


# -- who asks ----------------------------------------------------------------------
async def test_identification(meta: Metadata, booted: Booted, compute: Nova,
                              tenants: Tenants) -> None:
    path = "/openstack/latest/meta_data.json"
    signature = sign(booted.server, meta.secret)
    cases = [
        ({}, "X-Instance-ID header is missing"),
        ({"X-Instance-ID": booted.server, "X-Tenant-ID": booted.project},
         "X-Instance-ID-Signature header is missing"),
        ({"X-Instance-ID": booted.server, "X-Instance-ID-Signature": signature},
         "X-Tenant-ID header is missing"),
    ]
    for headers, message in cases:
        response = await meta.http.get(path, headers=headers)
        assert response.status_code == 400 and message in response.text, headers
    twice = await meta.http.get(path, headers=[
        ("X-Instance-ID", booted.server), ("X-Instance-ID", booted.server),
        ("X-Tenant-ID", booted.project), ("X-Instance-ID-Signature", signature)])
    assert twice.status_code == 400
    forged = await meta.http.get(path, headers={
        "X-Instance-ID": booted.server, "X-Tenant-ID": booted.project,
        "X-Instance-ID-Signature": sign(booted.server, "not-the-secret")})
    assert forged.status_code == 403 and "Invalid proxy request signature" in forged.text
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (await meta.http.get(path, headers=proxy_headers(
        unknown, booted.project, meta.secret))).status_code == 404
    # bob's server, asked for with alice's project: not found
    bobs = await boot_with_everything(compute, tenants.bob, tenants.two["id"], name="bobvm")
    assert (await meta.json(path, bobs))["name"] == "bobvm"
    mismatched = await meta.http.get(path, headers=proxy_headers(
        bobs.server, booted.project, meta.secret))
    assert mismatched.status_code == 404
    # a deleted server is gone for the metadata service too
    assert (await tenants.bob.delete(f"/servers/{bobs.server}")).status_code == 204
    await wait_gone(tenants.bob, bobs.server)
    assert (await meta.get(path, bobs)).status_code == 404


async def test_shared_secret_is_generated_once_and_private(cloud: Cloud) -> None:
    secret = shared_secret(cloud.config)
    stored = cloud.config.state_dir / "metadata_secret"
    assert stored.read_text().strip() == secret and len(secret) >= 32
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert shared_secret(cloud.config) == secret
    cloud.config.compute.metadata_proxy_shared_secret = "configured"
    try:
        assert shared_secret(cloud.config) == "configured"
    finally:
        cloud.config.compute.metadata_proxy_shared_secret = ""


# -- the relay ---------------------------------------------------------------------
async def serve_metadata(cloud: Cloud) -> tuple[HttpServer, asyncio.Task[None], str]:
    """The metadata app on a real loopback port."""
    port = free_port()
    server = HttpServer("127.0.0.1", {port: cloud.extra_apps["compute-metadata"]})
    task = asyncio.create_task(server.serve())
    await server.started()
    return server, task, f"http://127.0.0.1:{port}"


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:]
                                                    if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def test_relay_keep_alive_and_post(running: Cloud, booted: Booted,
                                         tmp_path: Path) -> None:
    server, task, url = await serve_metadata(running)
    path = str(tmp_path / "meta.sock")
    relay = MetadataRelay(path, booted.server, booted.project, url,
                          shared_secret(running.config))
    await relay.start()
    try:
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        reader, writer = await asyncio.open_unix_connection(path)
        # the guest cannot pass for another server: its identity headers are dropped
        writer.write(b"GET /openstack/latest/meta_data.json HTTP/1.1\r\n"
                     b"Host: 169.254.169.254\r\nX-Instance-ID: someone-else\r\n"
                     b"X-Tenant-ID: other\r\n\r\n")
        status, _, body = await read_response(reader)
        assert status == 200 and json.loads(body)["uuid"] == booted.server
        writer.write(b"GET /latest/meta-data/hostname HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n")
        status, _, body = await read_response(reader)
        assert (status, body) == (200, b"vm.novalocal")
        secret = b"c2VjcmV0LXBhc3N3b3Jk"
        writer.write(b"POST /openstack/latest/password HTTP/1.1\r\nHost: 169.254.169.254\r\n"
                     b"Content-Type: text/plain\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(secret))
        interim = await reader.readuntil(b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100")
        writer.write(secret)
        status, _, _ = await read_response(reader)
        assert status == 200
        writer.write(b"GET /openstack/latest/password HTTP/1.1\r\nHost: x\r\n"
                     b"Connection: close\r\n\r\n")
        status, headers, body = await read_response(reader)
        assert (status, body) == (200, secret) and headers.get("connection") == "close"
        assert await reader.read() == b""  # closed as asked
        writer.close()
        if shutil.which("socat"):  # as QEMU's guestfwd runs it: one per connection
            socat = await asyncio.create_subprocess_exec(
                "socat", "STDIO", f"UNIX-CONNECT:{path}", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE)
            out, _ = await asyncio.wait_for(
                socat.communicate(b"GET /openstack HTTP/1.0\r\n\r\n"), 10)
            assert out.startswith(b"HTTP/1.1 200"), out
            assert out.endswith(b"2018-08-27\n2020-10-14\nlatest")
        # an unreachable metadata service is a 502, not a hang
        lost = MetadataRelay(str(tmp_path / "lost.sock"), booted.server, booted.project,
                             f"http://127.0.0.1:{free_port()}", "s")
        async with lost:
            reader, writer = await asyncio.open_unix_connection(lost.path)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, _ = await read_response(reader)
            assert status == 502
            writer.close()
        assert not os.path.exists(lost.path)
    finally:
        await relay.close()
        server.stop()
        await task
    assert not os.path.exists(path)
