"""Boots the test guest image (scripts/build-test-image.sh, guest/) with bare QEMU.

Each test runs one guest under TCG and reads the guest's serial console from a
file: the marker lines of guest/init tell what it did. Only one guest runs at a
time, also across concurrent test runs on this machine (a lock file), and every
QEMU process, socket and temporary directory is removed even when a test fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.guest import DISK, INITRD, KERNEL, READY, guest_image_dir

QEMU = "qemu-system-x86_64"
BOOT_TIMEOUT = 60.0         # generous: CI shares its two CPUs with other tests
POWEROFF_TIMEOUT = 10.0     # the guest powers off within ~3 s of the button

# What a QEMU driver would run too: TCG (the stock kernel cannot use this
# machine's /dev/kvm), no default devices, no display; serial console to a file.
BASE_ARGS = [
    QEMU, "-machine", "pc", "-accel", "tcg,tb-size=64", "-cpu", "max", "-m", "256",
    "-nodefaults", "-no-user-config", "-display", "none",
]

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBy8rGnXq7Whg9xAAhT6Ue1Ttfm4Xr5a test@onestack"
READY_LINE = re.compile(re.escape(READY) + r"(\S*)\n")


def meta_data(hostname: str) -> dict[str, Any]:
    """A meta_data.json shaped like Nova's (keys with a trailing newline, as Nova has)."""
    return {
        "uuid": str(uuid.uuid4()),
        "name": f"Server {hostname}",
        "hostname": hostname,
        "launch_index": 0,
        "availability_zone": "nova",
        "project_id": uuid.uuid4().hex,
        "meta": {"role": "test \"quoted\" value"},
        "public_keys": {"test-key": PUBLIC_KEY + "\n"},
        "keys": [{"name": "test-key", "type": "ssh", "data": PUBLIC_KEY + "\n"}],
        "devices": [],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Guest:
    """A running QEMU process and its serial console."""

    def __init__(self, args: list[str], workdir: Path) -> None:
        self.console = workdir / "console.log"
        self.qmp_path = workdir / "qmp.sock"
        self.stderr_path = workdir / "qemu.stderr"
        self.args = [
            *BASE_ARGS,
            "-serial", f"file:{self.console}",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            *args,
        ]
        self.started = time.monotonic()
        with open(self.stderr_path, "wb") as stderr:
            # A session of its own: stop() also ends the socat helpers QEMU spawns
            # for guestfwd.
            self.proc = subprocess.Popen(
                self.args, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                start_new_session=True,
            )

    def output(self) -> str:
        try:
            return self.console.read_bytes().decode(errors="replace").replace("\r", "")
        except FileNotFoundError:
            return ""

    def describe(self) -> str:
        stderr = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return (f"\n--- qemu {' '.join(self.args)}\n--- exit status {self.proc.poll()}"
                f"\n--- stderr\n{stderr}\n--- console (last 60 lines)\n"
                + "\n".join(self.output().splitlines()[-60:]))

    def wait_for(self, pattern: re.Pattern[str], timeout: float = BOOT_TIMEOUT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            match = pattern.search(self.output())
            if match:
                return match
            if self.proc.poll() is not None:
                pytest.fail(f"QEMU exited before {pattern.pattern!r} appeared{self.describe()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {pattern.pattern!r} after {timeout:.0f} s{self.describe()}")
            time.sleep(0.2)

    def wait_ready(self) -> str:
        """Waits for the ready line; returns the hostname it reports."""
        hostname = self.wait_for(READY_LINE).group(1)
        print(f"guest ready after {time.monotonic() - self.started:.1f} s")
        assert self.output().count(READY) == 1, self.describe()
        return hostname

    def qmp(self, command: str) -> None:
        """Runs one QMP command (after the capabilities handshake)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(self.qmp_path))
            stream = sock.makefile("rw")
            assert "QMP" in json.loads(stream.readline())
            for execute in ("qmp_capabilities", command):
                stream.write(json.dumps({"execute": execute}) + "\n")
                stream.flush()
                while True:     # skip asynchronous events up to the reply
                    line = stream.readline()
                    if not line:    # QEMU quit (system_powerdown can be that fast)
                        return
                    reply = json.loads(line)
                    if "error" in reply:
                        pytest.fail(f"QMP {execute}: {reply['error']}")
                    if "return" in reply:
                        break

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        else:   # QEMU is gone; its guestfwd helpers may not be yet
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)


class Lab:
    """A scratch directory and the guest started in it; see the ``lab`` fixture."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.guest: Guest | None = None

    def start(self, *args: str) -> Guest:
        assert self.guest is None, "one guest at a time"
        self.guest = Guest(list(args), self.workdir)
        return self.guest

    def overlay(self, size: str = "1G") -> Path:
        """A qcow2 overlay on the cached disk, bigger than it, as a flavor makes it."""
        overlay = self.workdir / "root.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
             "-b", str(guest_image_dir() / DISK), str(overlay), size],
            check=True,
        )
        return overlay

    def config_drive(self, meta: dict[str, Any], user_data: str | None) -> Path:
        """An ISO 9660 config drive as Nova writes it (label config-2)."""
        tree = self.workdir / "config-drive"
        latest = tree / "openstack" / "latest"
        latest.mkdir(parents=True)
        (latest / "meta_data.json").write_text(json.dumps(meta))
        if user_data is not None:
            (latest / "user_data").write_text(user_data)
        iso = self.workdir / "config-drive.iso"
        subprocess.run(
            ["genisoimage", "-quiet", "-o", str(iso), "-V", "config-2", "-r", "-J", str(tree)],
            check=True,
        )
        return iso


@pytest.fixture(scope="module")
def image_dir() -> Path:
    return guest_image_dir()


@pytest.fixture
def lab(image_dir: Path) -> Iterator[Lab]:
    workdir = Path(tempfile.mkdtemp(prefix="onestack-guest-"))
    # Held while the guest runs: one guest at a time, also across test runs.
    with open(image_dir / ".qemu-tests.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lab = Lab(workdir)
        try:
            yield lab
        finally:
            if lab.guest is not None:
                lab.guest.stop()
            shutil.rmtree(workdir, ignore_errors=True)


class MetadataServer:
    """Serves a metadata service's files on a loopback port, recording requests."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.mark.parametrize("bus", ["virtio", "ide-cdrom"])
def test_disk_boot_with_config_drive(lab: Lab, bus: str) -> None:
    hostname = f"guest-{bus}"
    marker = f"marker-{uuid.uuid4().hex}"
    # The script runs after the keys are in place: it shows them on the console.
    user_data = (
        "#!/bin/sh\n"
        f'echo "{marker} on $(hostname)"\n'
        'echo "keys: $(stat -c %a /root/.ssh/authorized_keys) $(cat /root/.ssh/authorized_keys)"\n'
        "exit 7\n"
    )
    iso = lab.config_drive(meta_data(hostname), user_data)
    if bus == "virtio":
        config_drive = ["-drive", f"file={iso},if=virtio,format=raw,readonly=on"]
    else:
        config_drive = ["-drive", f"file={iso},if=ide,media=cdrom,format=raw,readonly=on"]
    ports = {guest_port: free_port() for guest_port in (80, 22, 8080)}
    forwards = ",".join(f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" for guest, host in ports.items())

    guest = lab.start(
        "-drive", f"file={lab.overlay()},if=none,id=root,format=qcow2",
        "-device", "virtio-blk-pci,drive=root,bootindex=1",
        *config_drive,
        "-netdev", f"user,id=net0,{forwards}",
        "-device", "virtio-net-pci,netdev=net0",
    )

    assert guest.wait_ready() == hostname
    output = guest.output()
    assert "SYSLINUX" in output     # booted from the disk, not by QEMU's -kernel
    assert re.search(r"^onestack-guest: eth0 ([0-9a-f]{2}:){5}[0-9a-f]{2} 10\.0\.2\.15/24$",
                     output, re.M), guest.describe()
    assert "onestack-guest: instance data from config-drive\n" in output
    assert "onestack-guest: ssh key test-key\n" in output
    assert f"{marker} on {hostname}\n" in output
    assert f"keys: 600 {PUBLIC_KEY}\n" in output
    assert "onestack-guest: user-data exit 7\n" in output
    # The user data ran before the ready line.
    assert output.index("user-data exit 7") < output.index(READY)

    for guest_port, host_port in ports.items():
        with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=20) as page:
            assert page.read() == f"{hostname}\n".encode(), f"port {guest_port}"


def test_direct_kernel_boot_with_metadata_service(lab: Lab) -> None:
    hostname = "guest-metadata"
    server = MetadataServer(
        {"/openstack/latest/meta_data.json": json.dumps(meta_data(hostname)).encode()}
    )
    try:
        image = guest_image_dir()
        # The metadata address must lie inside slirp's network for guestfwd; the
        # guest reaches it on-link. Each connection runs socat to our server.
        netdev = ("user,id=net0,net=169.254.169.0/24,host=169.254.169.2,"
                  "guestfwd=tcp:169.254.169.254:80-cmd:"
                  f"socat STDIO TCP:127.0.0.1:{server.port}")
        guest = lab.start(
            "-kernel", str(image / KERNEL), "-initrd", str(image / INITRD),
            "-append", "console=ttyS0",
            "-netdev", netdev, "-device", "virtio-net-pci,netdev=net0",
        )
        assert guest.wait_ready() == hostname
    finally:
        server.close()
    output = guest.output()
    assert "SYSLINUX" not in output
    assert re.search(r"^onestack-guest: eth0 \S+ 169\.254\.169\.\d+/24$", output, re.M), \
        guest.describe()
    assert "onestack-guest: instance data from metadata-service\n" in output
    assert "onestack-guest: ssh key test-key\n" in output
    assert "user-data exit" not in output    # the server answered 404: no user data
    assert server.requests == [
        "/openstack/latest/meta_data.json", "/openstack/latest/user_data"
    ]


def test_acpi_power_button_powers_off(lab: Lab) -> None:
    image = guest_image_dir()
    guest = lab.start(
        "-kernel", str(image / KERNEL), "-initrd", str(image / INITRD),
        "-append", "console=ttyS0",
    )
    assert guest.wait_ready() == "onestack-guest"   # no instance data: the default name
    assert "onestack-guest: instance data from none\n" in guest.output()

    pressed = time.monotonic()
    guest.qmp("system_powerdown")
    try:
        status = guest.proc.wait(timeout=POWEROFF_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {POWEROFF_TIMEOUT:.0f} s after system_powerdown"
                    f"{guest.describe()}")
    print(f"powered off {time.monotonic() - pressed:.1f} s after system_powerdown")
    assert status == 0, guest.describe()
    assert "onestack-guest: power button, shutting down\n" in guest.output()
