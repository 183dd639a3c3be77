#!/usr/bin/env python3
"""Image data path: upload and download MB/s of a large image through `onestack up`,
and the server's peak RSS meanwhile, side by side with `cp` of the same file (the
physical limit of this disk and page cache).

    bench/image.py                 # 1 GiB, ~1 min
    bench/image.py --size-mib 256  # quicker
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CHUNK = 1 << 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.05)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


def token(port: int, password: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("POST", "/v3/auth/tokens", json.dumps(body),
                 {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.headers["X-Subject-Token"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="onestack-bench-image."))
    ports = {"identity": free_port(), "image": free_port()}
    (work / "onestack.toml").write_text(
        "[api]\naccess_log = false\n[api.ports]\n" +
        "".join(f"{k} = {v}\n" for k, v in ports.items()) +
        "".join(f"{k} = {free_port()}\n" for k in
                ("compute", "placement", "network", "volume", "object", "dashboard")))
    server = None
    try:
        source = work / "source.raw"
        block = os.urandom(CHUNK)
        with open(source, "wb") as handle:
            for _ in range(args.size_mib):
                handle.write(block)
        size = source.stat().st_size
        subprocess.run(["cp", str(source), str(work / "copy2.raw")], check=True)  # warm
        subprocess.run(["sync"], check=True)
        cp_start = time.perf_counter()
        subprocess.run(["cp", str(source), str(work / "copy3.raw")], check=True)
        subprocess.run(["sync"], check=True)
        cp_seconds = time.perf_counter() - cp_start
        for name in ("copy2.raw", "copy3.raw"):
            (work / name).unlink()
        server = subprocess.Popen(
            ["onestack", "up", "--state-dir", str(work / "state"), "--config",
             str(work / "onestack.toml"), "--log-level", "WARNING"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert server.stdout is not None
        for line in server.stdout:
            if "is up in" in line:
                break
        password = (work / "state" / "admin-password").read_text().strip()
        headers = {"X-Auth-Token": token(ports["identity"], password)}
        conn = http.client.HTTPConnection("127.0.0.1", ports["image"])
        conn.request("POST", "/v2/images", json.dumps(
            {"name": "bench", "disk_format": "raw", "container_format": "bare"}),
            {**headers, "Content-Type": "application/json"})
        image_id = json.loads(conn.getresponse().read())["id"]
        idle = rss_kib(server.pid)
        sampler = PeakRss(server.pid)
        sampler.start()
        up_start = time.perf_counter()
        with open(source, "rb") as handle:
            conn.request("PUT", f"/v2/images/{image_id}/file", handle,
                         {**headers, "Content-Type": "application/octet-stream",
                          "Content-Length": str(size)})
            response = conn.getresponse()
            response.read()
        up_seconds = time.perf_counter() - up_start
        up_peak = sampler.stop()
        assert response.status == 204, response.status
        sampler = PeakRss(server.pid)
        sampler.start()
        down_start = time.perf_counter()
        conn.request("GET", f"/v2/images/{image_id}/file", headers=headers)
        response = conn.getresponse()
        with open(work / "back.raw", "wb") as out:
            while chunk := response.read(CHUNK):
                out.write(chunk)
        down_seconds = time.perf_counter() - down_start
        down_peak = sampler.stop()
        assert (work / "back.raw").stat().st_size == size
        mib = size / (1 << 20)
        rows = [("cp + sync (same disk)", mib / cp_seconds, None),
                ("upload (PUT /file: md5 + sha512 + inspection)", mib / up_seconds, up_peak),
                ("download (GET /file)", mib / down_seconds, down_peak)]
        print(f"| {mib:.0f} MiB image | MiB/s | % of cp | server peak RSS (idle "
              f"{idle // 1024} MiB) |\n|---|---|---|---|")
        for name, rate, peak in rows:
            print(f"| {name} | {rate:.0f} | {100 * rate / rows[0][1]:.0f}% | "
                  f"{'' if peak is None else f'{peak // 1024} MiB'} |")
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
