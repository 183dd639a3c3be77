"""Allocation candidates: a pure function over the in-process Store.

Each request group is solved from set operations on the Store's indexes
(providers by resource class, by aggregate), never a query per provider:

- a numbered group (``resources1=...``) is satisfied by one provider;
- the unnumbered group (``resources=...``) by one provider, or by several providers
  of one tree and the sharing providers (``MISC_SHARES_VIA_AGGREGATE``) of that tree's
  aggregates, one provider per resource class;
- the groups are then combined tree by tree (``group_policy=isolate``: no provider in
  two numbered groups), capacities rechecked where groups share a provider.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from onestack.placement.objects.standard import SHARING_TRAIT
from onestack.placement.objects.store import Provider, Store

Allocation = dict[str, dict[str, int]]  # provider uuid -> resource class -> amount


@dataclass
class RequestGroup:
    suffix: str = ""
    resources: dict[str, int] = field(default_factory=dict)
    required: list[set[str]] = field(default_factory=list)  # AND of any-of sets
    forbidden: set[str] = field(default_factory=set)
    member_of: list[set[str]] = field(default_factory=list)  # AND of any-of sets
    forbidden_aggregates: set[str] = field(default_factory=set)
    in_tree: str | None = None  # a root uuid


@dataclass
class Query:
    groups: list[RequestGroup]
    group_policy: str = "none"
    limit: int | None = None
    root_required: set[str] = field(default_factory=set)
    root_forbidden: set[str] = field(default_factory=set)


@dataclass
class Candidate:
    allocations: Allocation
    mappings: dict[str, list[str]]
    root: str


def traits_match(traits: set[str], group: RequestGroup) -> bool:
    return (all(traits & anyof for anyof in group.required)
            and not (traits & group.forbidden))


def aggregates_match(aggregates: set[str], group: RequestGroup) -> bool:
    return (all(aggregates & anyof for anyof in group.member_of)
            and not (aggregates & group.forbidden_aggregates))


def _fitting(store: Store, group: RequestGroup) -> dict[str, set[str]]:
    """Resource class -> uuids of providers with room for the group's amount."""
    fitting: dict[str, set[str]] = {}
    providers = store.providers
    for rc, amount in group.resources.items():
        found = set()
        for uuid in store.by_class.get(rc, ()):
            provider = providers[uuid]
            if provider.inventories[rc].fits(amount, provider.usage.get(rc, 0)):
                found.add(uuid)
        fitting[rc] = found
    return fitting


def _single_provider_options(store: Store, group: RequestGroup
                             ) -> list[tuple[str, Allocation, list[str]]]:
    """Providers that satisfy the whole group alone: (root, allocation, providers)."""
    providers = store.providers
    items = list(group.resources.items())
    first_rc = min((rc for rc, _ in items), key=lambda rc: len(store.by_class.get(rc, ())))
    members = set(store.by_class.get(first_rc, ()))
    for rc, _ in items:
        members &= store.by_class.get(rc, set())
    filtered = bool(group.in_tree or group.member_of or group.forbidden_aggregates
                    or group.required or group.forbidden)
    found = []
    for uuid in members:  # the hot loop of the search: kept flat on purpose
        provider = providers[uuid]
        inventories, usage = provider.inventories, provider.usage
        for rc, n in items:
            inv = inventories[rc]
            if (n < inv.min_unit or n > inv.max_unit or n % inv.step_size
                    or usage.get(rc, 0) + n > (inv.total - inv.reserved) * inv.allocation_ratio):
                break
        else:
            if not filtered or _provider_filters(store, provider, group):
                found.append(provider)
    found.sort(key=lambda p: p.id)
    return [(p.root_uuid, {p.uuid: dict(group.resources)}, [p.uuid]) for p in found]


def provider_matches(store: Store, provider: Provider, group: RequestGroup) -> bool:
    """Whether ``provider`` alone satisfies ``group`` (the test of the loop above)."""
    inventories, usage = provider.inventories, provider.usage
    for rc, n in group.resources.items():
        inv = inventories.get(rc)
        if inv is None or (
                n < inv.min_unit or n > inv.max_unit or n % inv.step_size
                or usage.get(rc, 0) + n > (inv.total - inv.reserved) * inv.allocation_ratio):
            return False
    return _provider_filters(store, provider, group)


def is_nested(store: Store) -> bool:
    """Any tree of more than one provider, or any sharing provider."""
    return any(p.parent_uuid or SHARING_TRAIT in p.traits for p in store.providers.values())


def single_provider_group(store: Store, query: Query) -> RequestGroup | None:
    """The group when the answer is one candidate per provider, each decided by that
    provider's rows alone (so it can be kept up to date provider by provider)."""
    if (len(query.groups) != 1 or not query.groups[0].resources or query.root_required
            or query.root_forbidden or is_nested(store)):
        return None
    return query.groups[0]


def _provider_filters(store: Store, provider: Provider, group: RequestGroup) -> bool:
    if group.in_tree is not None and provider.root_uuid != group.in_tree:
        return False
    if (group.member_of or group.forbidden_aggregates) and not aggregates_match(
            provider.aggregates, group):
        return False
    return not (group.required or group.forbidden) or traits_match(provider.traits, group)


def _unnumbered_options(store: Store, group: RequestGroup, nested: bool
                        ) -> list[tuple[str, Allocation, list[str]]]:
    if not nested:
        return _single_provider_options(store, group)
    providers = store.providers
    fitting = _fitting(store, group)
    sharing = [p for p in providers.values() if SHARING_TRAIT in p.traits]
    trees: dict[str, dict[str, list[str]]] = {}
    for rc, uuids in fitting.items():
        for uuid in uuids:
            provider = providers[uuid]
            if SHARING_TRAIT in provider.traits:
                continue
            trees.setdefault(provider.root_uuid, {}).setdefault(rc, []).append(uuid)
    if sharing:  # a sharing provider serves every tree that shares an aggregate with it
        for root in {p.root_uuid for p in providers.values()
                     if SHARING_TRAIT not in p.traits}:
            tree_aggs = set().union(*(p.aggregates for p in store.tree(root)))
            for share in sharing:
                if share.aggregates & tree_aggs:
                    for rc, uuids in fitting.items():
                        if share.uuid in uuids:
                            trees.setdefault(root, {}).setdefault(rc, []).append(share.uuid)
    options = []
    rcs = list(group.resources)
    for root in sorted(trees, key=lambda r: providers[r].id):
        per_rc = trees[root]
        if any(rc not in per_rc for rc in rcs):
            continue
        for choice in itertools.product(*(sorted(per_rc[rc], key=lambda u: providers[u].id)
                                          for rc in rcs)):
            allocation: Allocation = {}
            for rc, uuid in zip(rcs, choice, strict=True):
                allocation.setdefault(uuid, {})[rc] = group.resources[rc]
            used = [providers[u] for u in allocation]
            if group.in_tree is not None and any(p.root_uuid != group.in_tree and
                                                 SHARING_TRAIT not in p.traits
                                                 for p in used):
                continue
            if group.member_of or group.forbidden_aggregates:
                aggs = set().union(*(p.aggregates for p in used), providers[root].aggregates)
                if not aggregates_match(aggs, group):
                    continue
            if group.required or group.forbidden:
                traits = set().union(*(p.traits for p in used), providers[root].traits)
                if not traits_match(traits, group):
                    continue
            options.append((root, allocation, list(allocation)))
    return options


def _fits_total(store: Store, allocation: Allocation) -> bool:
    for uuid, resources in allocation.items():
        provider = store.providers[uuid]
        for rc, amount in resources.items():
            if amount > provider.inventories[rc].capacity - provider.usage.get(rc, 0):
                return False
    return True


def _root_ok(store: Store, root: str, query: Query) -> bool:
    traits = store.providers[root].traits
    return query.root_required <= traits and not (traits & query.root_forbidden)


def find(store: Store, query: Query) -> list[Candidate]:
    nested = is_nested(store)
    per_group: list[tuple[RequestGroup, dict[str, list[tuple[Allocation, list[str]]]]]] = []
    for group in query.groups:
        if not group.resources:
            continue
        if group.suffix:
            options = _single_provider_options(store, group)
        else:
            options = _unnumbered_options(store, group, nested)
        by_root: dict[str, list[tuple[Allocation, list[str]]]] = {}
        for root, allocation, used in options:
            by_root.setdefault(root, []).append((allocation, used))
        per_group.append((group, by_root))
    if not per_group:
        return []
    if len(per_group) == 1 and not (query.root_required or query.root_forbidden):
        return _one_group(per_group[0][0].suffix, per_group[0][1], query.limit)
    roots: Iterable[str] = per_group[0][1]
    results: list[Candidate] = []
    for root in roots:
        if not all(root in by_root for _, by_root in per_group):
            continue
        if (query.root_required or query.root_forbidden) and not _root_ok(store, root, query):
            continue
        for combo in itertools.product(*(by_root[root] for _, by_root in per_group)):
            merged: Allocation = {}
            mappings: dict[str, list[str]] = {}
            seen: list[str] = []
            for (group, _), (allocation, used) in zip(per_group, combo, strict=True):
                if group.suffix:
                    seen.extend(used)
                mappings[group.suffix] = sorted(used)
                for uuid, resources in allocation.items():
                    target = merged.setdefault(uuid, {})
                    for rc, amount in resources.items():
                        target[rc] = target.get(rc, 0) + amount
            if query.group_policy == "isolate" and len(seen) != len(set(seen)):
                continue
            if len(per_group) > 1 and not _fits_total(store, merged):
                continue
            results.append(Candidate(merged, mappings, root))
            if query.limit is not None and len(results) >= query.limit:
                return results
    return results


def _one_group(suffix: str, by_root: dict[str, list[tuple[Allocation, list[str]]]],
               limit: int | None) -> list[Candidate]:
    """The common case, one request group: its options are the candidates."""
    results = [Candidate(allocation, {suffix: sorted(used)}, root)
               for root, options in by_root.items() for allocation, used in options]
    return results if limit is None else results[:limit]
