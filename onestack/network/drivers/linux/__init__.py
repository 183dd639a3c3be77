"""The Linux dataplane: network namespaces, Linux bridges, VXLAN, dnsmasq, nftables
and an in-process metadata proxy (``[network] backend = linux``). See backend.py."""

from __future__ import annotations

from typing import Any

from onestack.network.drivers.linux.backend import LinuxBackend


def build(settings: Any) -> LinuxBackend:
    return LinuxBackend(settings)


__all__ = ["LinuxBackend", "build"]
