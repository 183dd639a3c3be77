"""Validation of flavor extra specs (microversion 2.86): a known spec must have a
valid value, an unknown spec in a namespace Nova knows is refused, anything else is
accepted as the operator's own."""

from __future__ import annotations

import re
from dataclasses import dataclass

from onestack.kernel.api.faults import ValidationError

_MASK = r"\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"
_GROUP = r"([a-zA-Z0-9_-]{1,64})?"


@dataclass(frozen=True)
class Spec:
    name: str                     # a regular expression over the whole key
    kind: type = str              # str, int or bool
    enum: tuple[str, ...] = ()
    pattern: str = ""
    minimum: int | None = None
    maximum: int | None = None


def _flags(*names: str) -> list[Spec]:
    return [Spec(re.escape(n), bool) for n in names]


def _counts(*names: str, minimum: int = 1) -> list[Spec]:
    return [Spec(re.escape(n), int, minimum=minimum) for n in names]


SPECS: list[Spec] = [
    *_flags("hw:cpu_realtime", "hw:hide_hypervisor_id", "hw:locked_memory", "hw:boot_menu",
            "hw:vif_multiqueue_enabled", "hw:mem_encryption", "hw:pmu",
            "hw:virtio_packed_ring", "hw:ephemeral_encryption", "hw_rng:allowed",
            "hide_hypervisor_id"),
    *_counts("hw:numa_nodes", "hw:cpu_sockets", "hw:cpu_cores", "hw:cpu_threads",
             "hw:cpu_max_sockets", "hw:cpu_max_cores", "hw:cpu_max_threads"),
    *_counts("hw:serial_port_count", "hw_rng:rate_bytes", "hw_rng:rate_period",
             "hw_video:ram_max_mb", "quota:cpu_shares", "quota:cpu_period", minimum=0),
    Spec(r"hw:redirected_usb_ports", int, minimum=0, maximum=15),
    Spec(r"hw:cpu_realtime_mask", pattern=_MASK),
    Spec(r"hw:cpu_dedicated_mask", pattern=_MASK),
    Spec(r"hw:numa_cpus\.\d+", pattern=_MASK),
    Spec(r"hw:numa_mem\.\d+", int, minimum=1),
    Spec(r"hw:mem_page_size", pattern=r"(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)"),
    Spec(r"hw:pmem", pattern=r"([a-zA-Z0-9_]+(,)?)+"),
    Spec(r"hw:cpu_policy", enum=("dedicated", "shared", "mixed")),
    Spec(r"hw:cpu_thread_policy", enum=("prefer", "isolate", "require")),
    Spec(r"hw:emulator_threads_policy", enum=("isolate", "share")),
    Spec(r"hw:pci_numa_affinity_policy", enum=("required", "preferred", "legacy", "socket")),
    Spec(r"hw:mem_encryption_model", enum=("amd-sev", "amd-sev-es", "amd-sev-snp")),
    Spec(r"hw:tpm_model", enum=("tpm-tis", "tpm-crb")),
    Spec(r"hw:tpm_version", enum=("1.2", "2.0")),
    Spec(r"hw:tpm_secret_security", enum=("user", "host", "deployment")),
    Spec(r"hw:watchdog_action", enum=("none", "pause", "poweroff", "reset", "disabled")),
    Spec(r"hw:viommu_model", enum=("intel", "smmuv3", "virtio", "auto")),
    Spec(r"hw:sound_model"),
    Spec(r"hw:usb_model"),
    Spec(r"hw:ephemeral_encryption_format"),
    Spec(r"os:secure_boot", enum=("required", "disabled", "optional")),
    Spec(r"group_policy", enum=("isolate", "none")),
    Spec(r"quota:(cpu|memory|disk_io|vif)_limit", int, minimum=0),
    Spec(r"quota:(cpu|memory|disk_io|vif)_reservation", int),
    Spec(r"quota:(cpu|memory|disk_io|vif)_shares_level",
         enum=("custom", "high", "normal", "low")),
    Spec(r"quota:(cpu|memory|disk_io|vif)_shares_share", int, minimum=0),
    Spec(r"quota:cpu_quota", int),
    Spec(r"quota:disk_(read|write|total)_(bytes|iops)_sec", int, minimum=0),
    Spec(r"quota:vif_(inbound|outbound)_(average|burst|peak)", int, minimum=0),
    Spec(rf"resources{_GROUP}:[A-Z0-9_]+", int),
    Spec(rf"trait{_GROUP}:[A-Z0-9_]+", enum=("required", "forbidden")),
    Spec(r"aggregate_instance_extra_specs:.+"),
    Spec(r"capabilities:\w+(:\w+)*"),
    Spec(r"pci_passthrough:alias", pattern=r"[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*"),
    Spec(r"accel:device_profile"),
    Spec(r"vmware:hw_version"),
    Spec(r"vmware:storage_policy"),
]

# Namespaces (before the first colon) whose unknown keys are refused.
NAMESPACES = (r"hw", r"hw_rng", r"hw_video", r"os", r"quota", rf"resources{_GROUP}",
              rf"trait{_GROUP}", r"aggregate_instance_extra_specs", r"capabilities",
              r"pci_passthrough", r"accel", r"vmware")

_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")


def validate(name: str, value: str) -> None:
    for spec in SPECS:
        if re.fullmatch(spec.name, name):
            _check_value(spec, value)
            return
    if ":" not in name:
        return
    prefix = name.split(":", 1)[0]
    if any(re.fullmatch(ns, prefix) for ns in NAMESPACES):
        raise ValidationError(f"Validation failed; extra spec '{name}' does not appear to "
                              "be a valid extra spec.")


def _check_value(spec: Spec, value: str) -> None:
    if spec.kind is bool:
        if value.strip().lower() not in _TRUE + _FALSE:
            raise ValidationError(f"Validation failed; '{value}' is not a valid "
                                  "boolean-like value.")
    elif spec.kind is int:
        try:
            number = int(value)
        except ValueError:
            raise ValidationError(f"Validation failed; '{value}' is not a valid integer "
                                  "value.") from None
        if spec.maximum is not None and number > spec.maximum:
            raise ValidationError(f"Validation failed; '{value}' is greater than the max "
                                  f"value of '{spec.maximum}'.")
        if spec.minimum is not None and number < spec.minimum:
            raise ValidationError(f"Validation failed; '{value}' is less than the min "
                                  f"value of '{spec.minimum}'.")
    elif spec.pattern and not re.fullmatch(spec.pattern, value):
        raise ValidationError(f"Validation failed; '{value}' is not of the format "
                              f"'{spec.pattern}'.")
    elif spec.enum and value not in spec.enum:
        raise ValidationError(f"Validation failed; '{value}' is not one of: "
                              f"{', '.join(spec.enum)}.")
