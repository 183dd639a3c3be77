"""Placement's microversions, oldest first; handlers branch on ``req.version``."""

from __future__ import annotations

from onestack.kernel.api.microversion import MicroversionSpec

VERSIONS = (
    "1.0",   # resource providers, inventories, usages, allocations per consumer
    "1.1",   # resource provider aggregates
    "1.2",   # custom resource classes
    "1.3",   # member_of on GET /resource_providers
    "1.4",   # resources= filter on GET /resource_providers
    "1.5",   # DELETE all inventories of a provider
    "1.6",   # traits
    "1.7",   # PUT /resource_classes/{name} creates or confirms a custom class
    "1.8",   # project_id and user_id required on PUT /allocations/{consumer}
    "1.9",   # GET /usages?project_id=&user_id=
    "1.10",  # GET /allocation_candidates
    "1.11",  # allocations link in the provider body
    "1.12",  # PUT /allocations in the dict shape (allocations keyed by provider)
    "1.13",  # POST /allocations: several consumers at once
    "1.14",  # nested providers: parent_provider_uuid, root_provider_uuid, in_tree
    "1.15",  # last-modified and cache-control headers
    "1.16",  # limit on GET /allocation_candidates
    "1.17",  # required traits on GET /allocation_candidates
    "1.18",  # required traits on GET /resource_providers
    "1.19",  # aggregates body carries resource_provider_generation; PUT checks it
    "1.20",  # POST /resource_providers returns the provider body
    "1.21",  # member_of on GET /allocation_candidates
    "1.22",  # forbidden traits (!TRAIT)
    "1.23",  # errors[].code in error bodies
    "1.24",  # member_of repeated (AND of ORs)
    "1.25",  # granular request groups (resourcesN, requiredN, member_ofN, group_policy)
    "1.26",  # inventories may have reserved == total
    "1.27",  # provider_summaries list every resource of the provider
    "1.28",  # consumer generations in allocation bodies
    "1.29",  # nested allocation candidates (resources from several providers of a tree)
    "1.30",  # POST /reshaper
    "1.31",  # in_tree on allocation candidates, also per group
    "1.32",  # forbidden aggregates (member_of=!...)
    "1.33",  # suffixes of request groups may be any [a-zA-Z0-9_-]{1,64}
    "1.34",  # mappings of request groups in allocation requests
    "1.35",  # root_required on allocation candidates
    "1.36",  # same_subtree on allocation candidates
    "1.37",  # consumer generation optional on PUT /allocations/{consumer} moves
    "1.38",  # consumer types: consumer_type in allocations and usages
    "1.39",  # required traits with any-of (in:A,B) and repeated required
)

SPEC = MicroversionSpec("placement", VERSIONS, legacy_header="")
