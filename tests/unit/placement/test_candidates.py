"""The candidates search as a pure function over a Store built in memory."""

from __future__ import annotations

from onestack.placement.objects.candidates import Query, RequestGroup, find
from onestack.placement.objects.store import Inventory, Provider, Store


def store_with(*specs: tuple[str, str | None, dict[str, int]]) -> Store:
    store = Store()
    roots: dict[str, str] = {}
    for number, (name, parent, totals) in enumerate(specs, start=1):
        root = roots[parent] if parent else name
        roots[name] = root
        provider = Provider(number, name, name, 0, root, parent, 0.0, 0.0)
        store.add_provider(provider)
        store.set_inventories(provider, {rc: Inventory(t) for rc, t in totals.items()})
    return store


def test_flat_providers_filtered_by_capacity():
    store = store_with(("a", None, {"VCPU": 4}), ("b", None, {"VCPU": 1}))
    found = find(store, Query([RequestGroup(resources={"VCPU": 2})]))
    assert [c.allocations for c in found] == [{"a": {"VCPU": 2}}]
    store.providers["a"].usage["VCPU"] = 3
    assert find(store, Query([RequestGroup(resources={"VCPU": 2})])) == []


def test_step_size_and_max_unit():
    store = store_with(("a", None, {"VCPU": 8}))
    store.providers["a"].inventories["VCPU"] = Inventory(8, max_unit=2, step_size=2)
    assert find(store, Query([RequestGroup(resources={"VCPU": 3})])) == []
    assert find(store, Query([RequestGroup(resources={"VCPU": 4})])) == []
    assert len(find(store, Query([RequestGroup(resources={"VCPU": 2})]))) == 1


def test_tree_spreads_classes_over_providers():
    store = store_with(("host", None, {"VCPU": 4}), ("gpu", "host", {"VGPU": 1}))
    found = find(store, Query([RequestGroup(resources={"VCPU": 1, "VGPU": 1})]))
    assert [c.allocations for c in found] == [{"host": {"VCPU": 1}, "gpu": {"VGPU": 1}}]


def test_isolate_and_limit():
    store = store_with(("host", None, {"VCPU": 4}), ("pf1", "host", {"SRIOV_NET_VF": 2}),
                       ("pf2", "host", {"SRIOV_NET_VF": 2}))
    groups = [RequestGroup("1", {"SRIOV_NET_VF": 1}), RequestGroup("2", {"SRIOV_NET_VF": 1})]
    assert len(find(store, Query(groups, "isolate"))) == 2
    assert len(find(store, Query(groups, "none"))) == 4
    assert len(find(store, Query(groups, "none", limit=3))) == 3


def test_groups_sharing_a_provider_recheck_capacity():
    store = store_with(("host", None, {"VCPU": 3}))
    groups = [RequestGroup("1", {"VCPU": 2}), RequestGroup("2", {"VCPU": 2})]
    assert find(store, Query(groups, "none")) == []


def test_ten_thousand_providers_fast():
    import time

    store = store_with(*[(f"cn{i}", None, {"VCPU": 64, "MEMORY_MB": 262144, "DISK_GB": 2000})
                         for i in range(10000)])
    query = Query([RequestGroup(resources={"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 20})])
    started = time.perf_counter()
    found = find(store, query)
    assert len(found) == 10000
    assert time.perf_counter() - started < 1.0
