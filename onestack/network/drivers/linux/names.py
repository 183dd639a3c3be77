"""Names of everything the Linux dataplane makes, all derived from one prefix so that
what a deployment (or a test) owns is found, reconciled and removed by its prefix
alone. Device names fit IFNAMSIZ (15 characters); namespace names do not need to.

In the host namespace (possibly the root namespace), every device the backend makes
starts with the prefix; inside the namespaces it owns (``qdhcp-``, ``qrouter-``),
devices keep Neutron's names (``ns-``, ``qr-``, ``qg-`` + 11 characters of the port).
Guest taps are ``tap`` + 11 characters of the port, as Nova names them; they are
made by the compute driver in the host namespace."""

from __future__ import annotations

import re
from dataclasses import dataclass

IFNAMSIZ = 15
MAX_PREFIX = 6
# kinds of host-side devices (one letter after the prefix)
BRIDGE, VXLAN, DHCP_VETH, ROUTER_VETH, GATEWAY_VETH = "b", "v", "d", "r", "g"
HOST_KINDS = (BRIDGE, VXLAN, DHCP_VETH, ROUTER_VETH, GATEWAY_VETH)


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


def check_prefix(prefix: str) -> str:
    if not 1 <= len(prefix) <= MAX_PREFIX or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", prefix):
        raise ValueError(f"[network] linux_prefix {prefix!r}: 1 to {MAX_PREFIX} characters "
                         "of a-z, 0-9, '-' and '_'")
    return prefix


@dataclass(frozen=True)
class Names:
    prefix: str

    def __post_init__(self) -> None:
        check_prefix(self.prefix)

    def dev(self, kind: str, ident: str) -> str:
        return (self.prefix + kind + ident.replace("-", ""))[:IFNAMSIZ]

    def bridge(self, network_id: str) -> str:
        return self.dev(BRIDGE, network_id)

    def vxlan(self, network_id: str) -> str:
        return self.dev(VXLAN, network_id)

    def dhcp_ns(self, network_id: str) -> str:
        return f"{self.prefix}qdhcp-{network_id}"

    def router_ns(self, router_id: str) -> str:
        return f"{self.prefix}qrouter-{router_id}"

    def owns(self, name: str) -> bool:
        return name.startswith(self.prefix)

    def host_device(self, name: str) -> bool:
        """A device the backend makes in the host namespace (bridge, vxlan, veth end)."""
        return name.startswith(self.prefix) and name[len(self.prefix):][:1] in HOST_KINDS

    @property
    def table(self) -> str:
        """The stem of the nftables tables in the host namespace."""
        return "onestack_" + re.sub(r"[^a-z0-9]", "_", self.prefix).strip("_")


def inner_name(kind: str, port_id: str) -> str:
    """A device inside a namespace the backend owns: ns-/qr-/qg- + port."""
    return kind + port_id[:11]
