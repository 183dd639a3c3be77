"""The QEMU command line a guest is launched with, and the launch record that brings
the same guest back after a restart."""

from __future__ import annotations

from pathlib import Path

from onestack.compute.drivers.qemu import _nic
from onestack.compute.drivers.qemu_guest import Launch, Layout, Nic, command_line, hotplug_args


def _launch(**changes: object) -> Launch:
    base = Launch(uuid="0b1e7c5e-3a8f-4c41-9d1e-5f6a7b8c9d0e", name="web", project_id="p1", vcpus=2,
                  memory_mb=256, nics=[Nic(port_id="p" * 36, mac="fa:16:3e:00:00:01",
                                           mode="user")])
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def _option(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


def test_flavor_identity_and_detached_process(tmp_path: Path) -> None:
    launch = _launch()
    layout = Layout(tmp_path, launch.uuid)
    args = command_line("qemu-system-x86_64", launch, layout, "qemu")
    assert _option(args, "-smp") == ["2"] and _option(args, "-m") == ["256"]
    assert _option(args, "-uuid") == [launch.uuid]
    assert "-daemonize" in args and _option(args, "-pidfile") == [str(layout.pidfile)]
    assert "product=OpenStack Nova" in _option(args, "-smbios")[0]
    assert _option(args, "-accel") == ["tcg,tb-size=64"] and _option(args, "-cpu") == ["max"]
    kvm = command_line("qemu-system-x86_64", launch, layout, "kvm")
    assert _option(kvm, "-accel") == ["kvm"] and _option(kvm, "-cpu") == ["host"]


def test_sockets_stay_short_whatever_the_instances_path(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    layout = Layout(deep, "0b1e7c5e-3a8f-4c41-9d1e-5f6a7b8c9d0e")
    for sock in (layout.qmp, layout.serial, layout.vnc, layout.metadata):
        assert len(str(sock)) < 108
    assert layout.run == Layout(deep, layout.dir.name).run  # found again after a restart


def test_user_network_forwards_metadata(tmp_path: Path) -> None:
    launch = _launch()
    layout = Layout(tmp_path, launch.uuid)
    netdev = _option(command_line("q", launch, layout, "qemu"), "-netdev")[0]
    assert netdev.startswith("user,") and "net=169.254.169.0/24" in netdev
    assert f"guestfwd=tcp:169.254.169.254:80-cmd:socat STDIO UNIX-CONNECT:{layout.metadata}" \
        in netdev
    device = _option(command_line("q", launch, layout, "qemu"), "-device")
    assert any("mac=fa:16:3e:00:00:01" in d for d in device)


def test_bridged_port_becomes_a_tap(tmp_path: Path) -> None:
    vif = {"id": "a" * 36, "mac_address": "fa:16:3e:00:00:02", "binding:vif_type": "tap",
           "binding:vif_details": {"bridge": "brq1234", "netns": "os-host1", "mtu": 1450}}
    nic = _nic(vif)
    assert (nic.mode, nic.tap_name, nic.bridge, nic.netns) == \
        ("tap", "tap" + "a" * 11, "brq1234", "os-host1")
    launch = _launch(nics=[nic])
    assert launch.netns() == "os-host1"
    args = command_line("q", launch, Layout(tmp_path, launch.uuid), "qemu")
    assert _option(args, "-netdev") == [f"tap,id=net0,ifname=tap{'a' * 11},script=no,"
                                        "downscript=no"]
    assert any("host_mtu=1450" in d for d in _option(args, "-device"))
    netdev, device = hotplug_args(1, nic)
    assert netdev["ifname"] == nic.tap_name and device["mac"] == "fa:16:3e:00:00:02"
    # a port the fake dataplane bound: QEMU's own network
    assert _nic({"id": "b" * 36, "mac_address": "fa:16:3e:00:00:03",
                 "binding:vif_type": "ovs"}).mode == "user"


def test_disks_kernel_and_rescue(tmp_path: Path) -> None:
    launch = _launch(config_drive=True, kernel="/k", initrd="/i")
    layout = Layout(tmp_path, launch.uuid)
    args = command_line("q", launch, layout, "qemu")
    drives = _option(args, "-drive")
    assert drives[0].startswith(f"file={layout.disk},") and "format=qcow2" in drives[0]
    assert any(d.startswith(f"file={layout.config_iso},") and "readonly=on" in d
               for d in drives)
    assert _option(args, "-kernel") == ["/k"] and _option(args, "-initrd") == ["/i"]
    assert "console=ttyS0" in _option(args, "-append")[0]
    rescue = command_line("q", _launch(rescue=True), layout, "qemu")
    first, second = _option(rescue, "-drive")[:2]
    assert first.startswith(f"file={layout.rescue_disk},")
    assert second.startswith(f"file={layout.disk},")


def test_launch_record_round_trips(tmp_path: Path) -> None:
    launch = _launch(config_drive=True, cdrom="/base/iso")
    layout = Layout(tmp_path, launch.uuid)
    layout.dir.mkdir(parents=True)
    layout.write_launch(launch)
    assert layout.read_launch() == launch
