"""The scheduler as a pure function: filters drop the hosts that cannot take a server,
weighers order the others (spread by default, pack with negative multipliers)."""

from __future__ import annotations

from onestack.compute.scheduler import (
    GroupSpec,
    HostState,
    RequestSpec,
    resources_of,
    select_hosts,
    traits_of,
)
from onestack.kernel.config import ComputeConfig

FLAVOR = {"vcpus": 1, "memory_mb": 512, "root_gb": 1, "ephemeral_gb": 0, "swap": 0,
          "extra_specs": {}}


def host(name: str, ram: int = 4096, **extra: object) -> HostState:
    state = HostState(host=name, node=name, node_uuid=f"uuid-{name}", enabled=True, up=True,
                      availability_zone="nova", hypervisor_type="fake",
                      free={"MEMORY_MB": ram, "VCPU": 8, "DISK_GB": 100})
    for key, value in extra.items():
        setattr(state, key, value)
    return state


def spec(**extra: object) -> RequestSpec:
    request = RequestSpec(uuid="i-1", flavor=dict(FLAVOR), image={"id": "img", "properties": {}})
    for key, value in extra.items():
        setattr(request, key, value)
    return request


def names(hosts: list[HostState]) -> list[str]:
    return [h.host for h in hosts]


def test_spreads_to_the_host_with_most_free_memory_by_default() -> None:
    hosts = [host("a", ram=1024), host("b", ram=8192), host("c", ram=4096)]
    assert names(select_hosts(spec(), hosts, ComputeConfig())) == ["b", "c", "a"]


def test_negative_multipliers_pack() -> None:
    settings = ComputeConfig(ram_weight_multiplier=-1.0, cpu_weight_multiplier=0,
                             disk_weight_multiplier=0)
    hosts = [host("a", ram=1024), host("b", ram=8192)]
    assert names(select_hosts(spec(), hosts, settings)) == ["a", "b"]


def test_disabled_down_and_tried_hosts_are_dropped() -> None:
    hosts = [host("a", enabled=False), host("b", up=False), host("c"), host("d")]
    assert names(select_hosts(spec(ignore_hosts={"d"}), hosts, ComputeConfig())) == ["c"]


def test_availability_zone() -> None:
    hosts = [host("a"), host("b", availability_zone="az1")]
    assert names(select_hosts(spec(availability_zone="az1"), hosts, ComputeConfig())) == ["b"]
    assert select_hosts(spec(availability_zone="az9"), hosts, ComputeConfig()) == []


def test_aggregate_instance_extra_specs_match_aggregate_metadata() -> None:
    flavor = {**FLAVOR, "extra_specs": {
        "aggregate_instance_extra_specs:hypervisor_type": "KVM", "hw:cpu_policy": "shared"}}
    hosts = [host("a"), host("b", aggregates=[{"hypervisor_type": "QEMU,KVM"}]),
             host("c", aggregates=[{"hypervisor_type": "xen"}])]
    assert names(select_hosts(spec(flavor=flavor), hosts, ComputeConfig())) == ["b"]
    operator = {**FLAVOR, "extra_specs": {"ssd": "<or> true <or> yes"}}
    hosts = [host("a", aggregates=[{"ssd": "yes"}]), host("b", aggregates=[{"ssd": "no"}])]
    assert names(select_hosts(spec(flavor=operator), hosts, ComputeConfig())) == ["a"]


def test_image_hypervisor_type() -> None:
    image = {"id": "img", "properties": {"img_hv_type": "qemu"}}
    hosts = [host("a"), host("b", hypervisor_type="QEMU"), host("c", hypervisor_type="kvm")]
    assert names(select_hosts(spec(image=image), hosts, ComputeConfig())) == ["b", "c"]


def test_server_group_policies() -> None:
    hosts = [host("a"), host("b"), host("c")]
    settings = ComputeConfig()
    affinity = GroupSpec("affinity", member_hosts=["b"])
    assert names(select_hosts(spec(group=affinity), hosts, settings)) == ["b"]
    anti = GroupSpec("anti-affinity", member_hosts=["a", "b"])
    assert names(select_hosts(spec(group=anti), hosts, settings)) == ["c"]
    two_per_host = GroupSpec("anti-affinity", member_hosts=["a", "b", "b"],
                             max_server_per_host=2)
    assert sorted(names(select_hosts(spec(group=two_per_host), hosts, settings))) == ["a", "c"]
    soft = GroupSpec("soft-affinity", member_hosts=["c"])
    assert names(select_hosts(spec(group=soft), hosts, settings))[0] == "c"
    soft_anti = GroupSpec("soft-anti-affinity", member_hosts=["a", "b"])
    assert names(select_hosts(spec(group=soft_anti), hosts, settings))[0] == "c"


def test_isolated_hosts_run_only_isolated_images() -> None:
    settings = ComputeConfig(isolated_images="img-iso", isolated_hosts="a")
    hosts = [host("a"), host("b")]
    assert names(select_hosts(spec(), hosts, settings)) == ["b"]
    isolated = spec(image={"id": "img-iso", "properties": {}})
    assert names(select_hosts(isolated, hosts, settings)) == ["a"]


def test_a_forced_host_skips_the_filters() -> None:
    hosts = [host("a", enabled=False), host("b")]
    assert names(select_hosts(spec(force_host="a"), hosts, ComputeConfig())) == ["a"]


def test_resources_and_traits_from_flavor_and_image() -> None:
    flavor = {**FLAVOR, "swap": 1536, "ephemeral_gb": 2,
              "extra_specs": {"resources:VGPU": "1", "resources:DISK_GB": "0",
                              "trait:HW_CPU_X86_AVX2": "required"}}
    assert resources_of(flavor) == {"VCPU": 1, "MEMORY_MB": 512, "VGPU": 1}
    image = {"properties": {"trait:COMPUTE_STATUS_DISABLED": "forbidden"}}
    assert traits_of(flavor, image) == (["HW_CPU_X86_AVX2"], ["COMPUTE_STATUS_DISABLED"])
    assert resources_of(FLAVOR) == {"VCPU": 1, "MEMORY_MB": 512, "DISK_GB": 1}


def test_same_host_and_different_host_hints() -> None:
    hosts = [host("a"), host("b"), host("c")]
    settings = ComputeConfig()
    assert names(select_hosts(spec(same_host={"b"}), hosts, settings)) == ["b"]
    assert select_hosts(spec(same_host=set()), hosts, settings) == []
    assert sorted(names(select_hosts(spec(different_host={"a", "c"}), hosts, settings))) == \
        ["b"]
