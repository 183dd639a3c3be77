"""Stable ids of a host's compute service and node, the same in every process and
across restarts (agents name their placement provider with the node's)."""

from __future__ import annotations

import uuid as uuidlib

_NAMESPACE = uuidlib.UUID("6f1c2b0e-8d4e-4c53-9a51-0d8f5a3f1b27")


def node_uuid(hypervisor_hostname: str) -> str:
    return str(uuidlib.uuid5(_NAMESPACE, "node:" + hypervisor_hostname))


def service_uuid(host: str, binary: str) -> str:
    return str(uuidlib.uuid5(_NAMESPACE, f"service:{host}:{binary}"))
