#!/usr/bin/env python3
"""Real guests under QEMU (TCG): how long the test guest takes to boot as a server of
onestack, against the same guest launched by hand with the same QEMU command line.

    bench/boot.py                        # 5 boots each + 1 warm-up each, 3 snapshots
                                         # and 3 stops: about 3 minutes on 2 cores
    bench/boot.py --runs 3 --action-runs 1       # quicker

Measures, one guest at a time (flock on the image cache's .qemu-tests.lock, as the
guest image tests do), floor and ours interleaved so that load drift hits both:

  floor  the driver's own command line (qemu_guest.command_line: 1 vCPU, 128 MiB,
         -accel tcg,tb-size=64, qcow2 overlay on the image, config drive ISO made by
         genisoimage, virtio-net on user networking, -daemonize) started by hand:
         process start -> the ready line in the serial log (console.log, read every
         10 ms). The overlay and the ISO are made before the clock starts.
  ours   an in-process cloud (`compute.virt_driver = "qemu"`, served on free ports,
         state in a temp dir, image uploaded once): POST /servers (flavor 1 vCPU,
         128 MiB, 1 GB; config_drive; one network) -> ACTIVE (GET every 20 ms) and
         -> the ready line, both in the instance's console.log (every 10 ms) and in
         os-getConsoleOutput (every 100 ms). Then deleted (not timed).
  extra  createImage of an ACTIVE guest -> image active, and os-stop (ACPI) ->
         SHUTOFF, on the first --action-runs guests.

The spawn path is timed in-process by wrapping a few onestack functions (agent build
steps, qemu-img/QEMU commands, the config drive, the metadata relay); nothing in
onestack/ is changed. Prints a Markdown table; raw data in bench/results/boot-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from benchlib import BenchError, log, set_log_tag  # noqa: E402
from benchlib.environment import machine_info, onestack_source_state  # noqa: E402
from benchlib.ports import pick_port  # noqa: E402
from benchlib.processes import kill_pids, pids_mentioning  # noqa: E402
from benchlib.qemu_guest_runs import (  # noqa: E402
    GUEST_DISK_GB,
    GUEST_RAM_MB,
    GUEST_VCPUS,
    QEMU,
    READY,
    RUN_DIRS,
    TIMEOUT,
    Probe,
    floor_run,
    guest_image_dir,
    guest_marks,
    ms,
    one_guest,
    other_guests,
    qemu_cpu,
    wait_ready,
)
from benchlib.sampling import loadavg  # noqa: E402

from onestack.cloud import Cloud, prepare_state_dir  # noqa: E402
from onestack.compute.drivers.qemu_guest import Layout  # noqa: E402
from onestack.kernel.config import SERVICE_PORTS, load  # noqa: E402

ADMIN_PASSWORD = "boot-bench-secret"


class Ours:
    def __init__(self, root: Path, image_dir: Path) -> None:
        self.root = root
        self.image_dir = image_dir
        config = load(environ={}, state_dir=root / "state")
        ports: dict[str, int] = {}
        for name in SERVICE_PORTS:
            ports[name] = pick_port(0, taken=set(ports.values()))
        config.api.ports = ports
        config.api.access_log = False
        config.bus.url = f"local://boot-bench-{uuid.uuid4().hex}"
        config.identity.admin_password = ADMIN_PASSWORD
        config.identity.password_hash_rounds = 4
        config.compute.virt_driver = "qemu"
        config.compute.virt_type = "qemu"     # TCG, as the floor (auto probes KVM once)
        config.compute.clean_shutdown_timeout = 30
        self.config = config
        self.instances = config.state_dir / "instances"
        RUN_DIRS.add(Layout(self.instances, "-").run.parent)
        self.cloud: Cloud | None = None
        self.serving: asyncio.Task[None] | None = None
        self.http = httpx.AsyncClient(timeout=60)
        self.kit: dict[str, str] = {}
        self.probe = Probe()

    def url(self, service: str) -> str:
        return self.config.public_url(service) + ("/v2.1" if service == "compute" else "")

    async def start(self) -> dict[str, Any]:
        prepare_state_dir(self.config.state_dir, reset=False)
        # before the build: the bus binds the agents' methods when it starts serving
        self.probe.install()
        started = time.perf_counter()
        self.cloud = Cloud(self.config)
        await self.cloud.build()
        ready = asyncio.Event()
        self.serving = asyncio.create_task(self.cloud.serve(ready))
        await asyncio.wait_for(ready.wait(), 60)
        up_ms = ms(time.perf_counter() - started)
        answer = await self.http.post(f"{self.url('identity')}/v3/auth/tokens", json={
            "auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": ADMIN_PASSWORD}}},
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}})
        answer.raise_for_status()
        self.http.headers["X-Auth-Token"] = answer.headers["X-Subject-Token"]
        self.http.headers["OpenStack-API-Version"] = "compute 2.79"
        image = self.url("image")
        created = await self.http.post(f"{image}/v2/images", json={
            "name": "onestack-guest", "disk_format": "qcow2", "container_format": "bare",
            "visibility": "public"})
        created.raise_for_status()
        self.kit["image"] = created.json()["id"]
        data = (self.image_dir / "onestack-guest.qcow2").read_bytes()
        started = time.perf_counter()
        (await self.http.put(f"{image}/v2/images/{self.kit['image']}/file", content=data,
                             headers={"Content-Type": "application/octet-stream"})
         ).raise_for_status()
        upload_ms = ms(time.perf_counter() - started)
        net = self.url("network")
        network = (await self.http.post(f"{net}/v2.0/networks", json={"network": {
            "name": "bench-net", "shared": True}})).json()["network"]
        (await self.http.post(f"{net}/v2.0/subnets", json={"subnet": {
            "network_id": network["id"], "cidr": "192.168.10.0/24", "ip_version": 4}})
         ).raise_for_status()
        self.kit["network"] = network["id"]
        flavor = await self.http.post(f"{self.url('compute')}/flavors", json={"flavor": {
            "name": "boot-bench", "ram": GUEST_RAM_MB, "vcpus": GUEST_VCPUS,
            "disk": GUEST_DISK_GB}})
        flavor.raise_for_status()
        self.kit["flavor"] = flavor.json()["flavor"]["id"]
        return {"cloud_up_ms": up_ms, "image_upload_ms": upload_ms,
                "image_bytes": len(data)}

    async def server(self, sid: str) -> dict[str, Any] | None:
        answer = await self.http.get(f"{self.url('compute')}/servers/{sid}")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return answer.json()["server"]  # type: ignore[no-any-return]

    async def wait_status(self, sid: str, wanted: str, every: float = 0.02) -> float:
        deadline = time.perf_counter() + TIMEOUT
        while True:
            server = await self.server(sid)
            if server is None:
                raise BenchError(f"server {sid} vanished waiting for {wanted}")
            if server["status"] == wanted and server.get("OS-EXT-STS:task_state") is None:
                return time.perf_counter()
            if server["status"] == "ERROR":
                raise BenchError(f"server {sid} went to ERROR: {server.get('fault')}")
            if time.perf_counter() > deadline:
                raise BenchError(f"server {sid} not {wanted} in time ({server['status']})")
            await asyncio.sleep(every)

    async def api_ready(self, sid: str, deadline: float, every: float = 0.1) -> float:
        """perf_counter when os-getConsoleOutput first shows the ready line."""
        while True:
            answer = await self.http.post(f"{self.url('compute')}/servers/{sid}/action",
                                          json={"os-getConsoleOutput": {}})
            if answer.status_code == 200 and READY.search(answer.json()["output"].encode()):
                return time.perf_counter()
            if time.perf_counter() > deadline:
                raise BenchError(f"os-getConsoleOutput of {sid}: no ready line in time")
            await asyncio.sleep(every)

    async def boot(self, index: int, actions: bool) -> dict[str, Any]:
        name = f"ours-{index}"
        out: dict[str, Any] = {"other_guests": other_guests(str(self.root)),
                               "load_before": loadavg()}
        self.probe.marks.clear()
        t0 = time.perf_counter()
        deadline = t0 + TIMEOUT
        answer = await self.http.post(f"{self.url('compute')}/servers", json={"server": {
            "name": name, "imageRef": self.kit["image"], "flavorRef": self.kit["flavor"],
            "networks": [{"uuid": self.kit["network"]}], "config_drive": True}})
        if answer.status_code != 202:
            raise BenchError(f"create failed: {answer.status_code} {answer.text[:300]}")
        out["post_ms"] = ms(time.perf_counter() - t0)
        sid = answer.json()["server"]["id"]
        out["id"] = sid
        console = self.instances / sid / "console.log"
        file_ready = asyncio.create_task(wait_ready(console, deadline))
        api_ready = asyncio.create_task(self.api_ready(sid, deadline))
        try:
            active = await self.wait_status(sid, "ACTIVE")
            out["active_ms"] = ms(active - t0)
            ready, seen = await file_ready
            out["ready_ms"] = ms(ready - t0)
            out["qemu_cpu_ms"] = qemu_cpu(Layout(self.instances, sid).pidfile)
            out["guest"] = guest_marks(console)
            out["api_ready_ms"] = ms(await api_ready - t0)
            if seen != name:
                raise BenchError(f"guest said hostname={seen}, wanted {name}")
            out["phases"] = self.phases(t0, active, ready)
            out["marks"] = [(name, ms(s - t0), ms(e - t0)) for name, s, e in self.probe.marks]
            if actions:
                out.update(await self.actions(sid))
        finally:
            for task in (file_ready, api_ready):
                task.cancel()
            await asyncio.gather(file_ready, api_ready, return_exceptions=True)
            await self.delete(sid)
        return out

    def phases(self, t0: float, active: float, ready: float) -> dict[str, float]:
        """Where the time went, from the in-process marks (ms)."""
        p = self.probe
        build = p.first("agent build")
        ports = p.first("ports")
        spec = p.first("guest spec")
        spawn = p.first("spawn")
        launch = p.first("qemu launch")
        if not (build and ports and spec and spawn and launch):
            return {}
        # the conductor report between the ports and the guest spec (spawning)
        spawning = [e - s for name, s, e in p.marks if name == "conductor update"
                    and s >= ports[1] and e <= spec[0]]
        spawn_total = spawn[1] - spawn[0]
        inside = {k: p.total(k) for k in ("image cache", "qemu-img info", "qemu-img create",
                                          "config drive ISO", "metadata relay")}
        return {
            "`POST` → the agent starts the build (API, scheduler, placement claim, "
            "conductor, bus)": ms(build[0] - t0),
            "ports (network service)": ms(ports[1] - ports[0]),
            "conductor report: spawning": ms(sum(spawning)),
            "guest spec (image RPCs, config drive files)": ms(spec[1] - spec[0]),
            "driver spawn, total": ms(spawn_total),
            "… image cache (hard link, first boot only)": ms(inside["image cache"]),
            "… `qemu-img info` (virtual size of the cached image)":
                ms(inside["qemu-img info"]),
            "… `qemu-img create` (overlay)": ms(inside["qemu-img create"]),
            "… config drive ISO (staging + genisoimage)": ms(inside["config drive ISO"]),
            "… metadata relay": ms(inside["metadata relay"]),
            "… QEMU until `-daemonize` returns": ms(launch[1] - launch[0]),
            "… rest": ms(spawn_total - sum(inside.values()) - (launch[1] - launch[0])),
            "spawn end → ACTIVE seen (conductor report, 20 ms poll)": ms(active - spawn[1]),
            "post_to_qemu_start": ms(launch[0] - t0),
            "qemu_start_to_ready": ms(ready - launch[0]),
        }

    async def actions(self, sid: str) -> dict[str, Any]:
        compute = self.url("compute")
        out: dict[str, Any] = {}
        t0 = time.perf_counter()
        answer = await self.http.post(f"{compute}/servers/{sid}/action",
                                      json={"createImage": {"name": f"snap-{sid[:8]}"}})
        if answer.status_code != 202:
            raise BenchError(f"createImage: {answer.status_code} {answer.text[:300]}")
        image_id = answer.json()["image_id"]
        deadline = t0 + TIMEOUT
        while True:
            image = (await self.http.get(f"{self.url('image')}/v2/images/{image_id}")).json()
            if image.get("status") == "active":
                out["snapshot_ms"] = ms(time.perf_counter() - t0)
                out["snapshot_bytes"] = image.get("size")
                break
            if image.get("status") in ("killed", "deleted") or time.perf_counter() > deadline:
                raise BenchError(f"snapshot {image_id}: {image.get('status')}")
            await asyncio.sleep(0.02)
        out["snapshot_agent_ms"] = ms(self.probe.total("qemu-img convert"))
        await self.wait_status(sid, "ACTIVE")  # task state cleared: ready for the stop
        t0 = time.perf_counter()
        answer = await self.http.post(f"{compute}/servers/{sid}/action",
                                      json={"os-stop": None})
        if answer.status_code != 202:
            raise BenchError(f"os-stop: {answer.status_code} {answer.text[:300]}")
        out["stop_ms"] = ms(await self.wait_status(sid, "SHUTOFF") - t0)
        (await self.http.delete(f"{self.url('image')}/v2/images/{image_id}")).raise_for_status()
        return out

    async def delete(self, sid: str) -> None:
        await self.http.delete(f"{self.url('compute')}/servers/{sid}")
        deadline = time.perf_counter() + TIMEOUT
        while await self.server(sid) is not None:
            if time.perf_counter() > deadline:
                raise BenchError(f"server {sid} not gone in time")
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        self.probe.uninstall()
        try:
            if self.cloud is not None and "X-Auth-Token" in self.http.headers:
                listed = await self.http.get(f"{self.url('compute')}/servers?all_tenants=1")
                for server in listed.json().get("servers", []):
                    with contextlib.suppress(BenchError, httpx.HTTPError):
                        await self.delete(server["id"])
        except httpx.HTTPError as exc:
            log(f"could not list servers to delete: {exc}")
        finally:
            await self.http.aclose()
            if self.cloud is not None:
                self.cloud.stop()
                if self.serving is not None:
                    await asyncio.gather(self.serving, return_exceptions=True)
                await self.cloud.close()
            kill_pids(pids_mentioning(str(self.root)), "QEMU of the bench cloud")


# -- report ------------------------------------------------------------------------------------
def stats(values: list[float]) -> tuple[float, float, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def seconds(value: float) -> str:
    return f"{value / 1000:.2f}"


def table(report: dict[str, Any]) -> str:
    floor, ours = report["floor"], report["ours"]
    rows: list[tuple[str, list[float]]] = [
        ("**floor**: bare QEMU (driver's command line), start → ready line",
         [r["ready_ms"] for r in floor]),
        ("floor: start → `-daemonize` returns (guest set up)",
         [r["daemonized_ms"] for r in floor]),
        ("**ours**: `POST /servers` → ACTIVE (GET every 20 ms)",
         [r["active_ms"] for r in ours]),
        ("**ours**: `POST /servers` → ready line (console.log every 10 ms)",
         [r["ready_ms"] for r in ours]),
        ("ours: `POST /servers` → ready line in `os-getConsoleOutput` (every 100 ms)",
         [r["api_ready_ms"] for r in ours]),
        ("ours: `POST /servers` → QEMU started (all our work before the guest runs)",
         [r["phases"]["post_to_qemu_start"] for r in ours]),
        ("ours: QEMU started → ready line",
         [r["phases"]["qemu_start_to_ready"] for r in ours]),
        ("QEMU CPU time (user + sys) until the ready line: floor",
         [r["qemu_cpu_ms"] for r in floor]),
        ("QEMU CPU time (user + sys) until the ready line: ours",
         [r["qemu_cpu_ms"] for r in ours]),
        ("guest's own uptime at \"boot finished\" (kernel start → ready): floor",
         [r["guest"].get("boot finished") for r in floor]),
        ("guest's own uptime at \"boot finished\" (kernel start → ready): ours",
         [r["guest"].get("boot finished") for r in ours]),
        ("**overhead**: ours(ready) − floor(ready), per interleaved pair",
         [o["ready_ms"] - f["ready_ms"] for o, f in zip(ours, floor, strict=False)]),
        ("`createImage` (ACTIVE guest) → image `active`",
         [r["snapshot_ms"] for r in ours if "snapshot_ms" in r]),
        ("… of which `qemu-img convert` (guest paused)",
         [r["snapshot_agent_ms"] for r in ours if "snapshot_agent_ms" in r]),
        ("`os-stop` (ACPI) → SHUTOFF",
         [r["stop_ms"] for r in ours if "stop_ms" in r]),
    ]
    lines = ["| measure (s) | median | min | max | runs |", "|---|---:|---:|---:|---:|"]
    for label, values in rows:
        found = stats(values)
        if found is None:
            continue
        med, low, high = found
        lines.append(f"| {label} | {seconds(med)} | {seconds(low)} | {seconds(high)} "
                     f"| {len(values)} |")
    med_floor = stats([r["ready_ms"] for r in floor])
    med_ours = stats([r["ready_ms"] for r in ours])
    if med_floor and med_ours:
        lines.append(f"| overhead as difference of the medians | "
                     f"{seconds(med_ours[0] - med_floor[0])} | | | |")
    lines += ["", "Where the time before ACTIVE goes (ours, median ms over the runs):", "",
              "| step | ms |", "|---|---:|"]
    keys = list(ours[0]["phases"]) if ours and ours[0]["phases"] else []
    for key in keys:
        if key in ("post_to_qemu_start", "qemu_start_to_ready"):
            continue
        found = stats([r["phases"][key] for r in ours])
        if found:
            lines.append(f"| {key} | {found[0]:.1f} |")
    def med(values: list[Any]) -> float:
        found = stats(values)
        return found[0] if found else float("nan")

    lines += ["", "Other figures (median): "
              f"POST answered in {med([r['post_ms'] for r in ours]):.1f} ms; "
              "floor preparation, not in the floor: qemu-img create "
              f"{med([r['prep_overlay_ms'] for r in floor]):.1f} ms, config drive ISO "
              f"{med([r['prep_config_drive_ms'] for r in floor]):.1f} ms; other people's "
              "QEMU guests running at the start of a run: "
              f"{[r['other_guests'] for r in floor]} (floor), "
              f"{[r['other_guests'] for r in ours]} (ours)."]
    warm = report.get("warmup") or {}
    if warm:
        lines.append(f"Warm-up boots (not in the table): floor "
                     f"{seconds(warm['floor']['ready_ms'])} s, ours (first boot, fills the "
                     f"image cache) {seconds(warm['ours']['ready_ms'])} s to ready, "
                     f"{seconds(warm['ours']['active_ms'])} s to ACTIVE.")
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------
async def bench(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    image_dir = guest_image_dir()
    image = image_dir / "onestack-guest.qcow2"
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine_info(),
        "source": onestack_source_state(), "uptime_start": uptime(),
        "qemu": subprocess.run([QEMU, "--version"], capture_output=True,
                               text=True).stdout.splitlines()[0],
        "floor": [], "ours": []}
    ours = Ours(root, image_dir)
    try:
        report["setup"] = await ours.start()
        log(f"cloud up, image uploaded: {report['setup']}")
        if not args.no_warmup:
            with one_guest(image_dir):
                warm_floor = await floor_run(root, image, 0)
            with one_guest(image_dir):
                warm_ours = await ours.boot(0, actions=False)
            report["warmup"] = {"floor": warm_floor, "ours": warm_ours}
            log(f"warm-up: floor {warm_floor['ready_ms']} ms, ours {warm_ours['ready_ms']} ms")
        for i in range(1, args.runs + 1):
            order = ("floor", "ours") if i % 2 else ("ours", "floor")
            for which in order:
                with one_guest(image_dir):
                    if which == "floor":
                        result = await floor_run(root, image, i)
                    else:
                        result = await ours.boot(i, actions=i <= args.action_runs)
                report[which].append(result)
                log(f"run {i} {which}: ready {result['ready_ms']} ms"
                    + (f", ACTIVE {result['active_ms']} ms" if "active_ms" in result else "")
                    + (f", snapshot {result['snapshot_ms']} ms, stop {result['stop_ms']} ms"
                       if "stop_ms" in result else "")
                    + f" (other guests {result['other_guests']})")
    finally:
        await ours.close()
    report["uptime_end"] = uptime()
    return report


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="boots of each kind (default 5)")
    parser.add_argument("--action-runs", type=int, default=3,
                        help="of ours, how many also snapshot and stop (default 3)")
    parser.add_argument("--no-warmup", action="store_true",
                        help="skip the untimed first boot of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    set_log_tag("boot-bench")
    root = Path(mkdtemp(prefix="onestack-boot-bench-"))
    try:
        report = asyncio.run(bench(args, root))
    except BenchError as exc:
        log(f"failed: {exc}")
        return 2
    finally:
        left = pids_mentioning(str(root))
        if left:
            kill_pids(left, "QEMU left behind")
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        for run_dir in RUN_DIRS:
            shutil.rmtree(run_dir, ignore_errors=True)
    report["table_md"] = table(report)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    raw = results / f"boot-{time.strftime('%Y%m%d-%H%M')}.json"
    raw.write_text(json.dumps(report, indent=1, default=str))
    print(f"uptime at start: {report['uptime_start']}\nuptime at end:   {report['uptime_end']}\n")
    print(report["table_md"])
    log(f"raw data: {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
