"""Nova's microversions, oldest first; handlers branch on ``req.version``."""

from __future__ import annotations

from onestack.kernel.api.microversion import MicroversionSpec

VERSIONS = (
    "2.1",   # the v2.1 API: servers, flavors, keypairs, aggregates, hypervisors, ...
    "2.2",   # keypair type (ssh, x509); 201 on keypair create
    "2.3",   # more OS-EXT-SRV-ATTR fields (reservation_id, launch_index, hostname, ...)
    "2.4",   # reserved in os-fixed-ips
    "2.5",   # ip6 filter for non-admins on server list
    "2.6",   # remote consoles: POST /servers/{id}/remote-consoles
    "2.7",   # adding flavor access to a public flavor is a 409
    "2.8",   # mks remote console
    "2.9",   # "locked" in the server body
    "2.10",  # keypairs of another user (user_id)
    "2.11",  # forced_down of compute services
    "2.12",  # net_id in os-virtual-interfaces
    "2.13",  # project_id and user_id of server groups
    "2.14",  # evacuate without onSharedStorage; no adminPass in its response
    "2.15",  # soft-affinity and soft-anti-affinity server group policies
    "2.16",  # host_status in the server body
    "2.17",  # trigger a crash dump
    "2.18",  # the project id is optional in URLs
    "2.19",  # server description
    "2.20",  # volume attach/detach on shelved servers
    "2.21",  # instance actions of deleted servers
    "2.22",  # force completion of a live migration
    "2.23",  # id and migration_type in migrations; links
    "2.24",  # abort a live migration
    "2.25",  # block_migration "auto" in live migrate; no disk_over_commit
    "2.26",  # server tags
    "2.27",  # the OpenStack-API-Version header
    "2.28",  # cpu_info of hypervisors as an object
    "2.29",  # force on evacuate
    "2.30",  # force on live migrate
    "2.31",  # serial console on a started guest
    "2.32",  # device tags on networks and block devices at create
    "2.33",  # paging of hypervisors
    "2.34",  # live migration pre-checks run asynchronously
    "2.35",  # paging of keypairs
    "2.36",  # the network, image and volume proxies are gone
    "2.37",  # networks is required on create and may be "auto" or "none"
    "2.38",  # an invalid status filter is a 400
    "2.39",  # maxImageMeta is gone from limits
    "2.40",  # paging of simple tenant usage
    "2.41",  # aggregate uuid
    "2.42",  # device tags at create, again
    "2.43",  # os-hosts is gone
    "2.44",  # add/removeFixedIp, add/removeFloatingIp and os-virtual-interfaces gone
    "2.45",  # createImage and createBackup answer with the image id in the body
    "2.46",  # request_id of an instance action in every event
    "2.47",  # the server body embeds its flavor
    "2.48",  # standard server diagnostics
    "2.49",  # device tag on a volume attach and an interface attach
    "2.50",  # server_groups and server_group_members in quota classes
    "2.51",  # volume-extended event; events visible to the owner
    "2.52",  # tags at server create
    "2.53",  # services and hypervisors by uuid
    "2.54",  # rebuild with a new key pair
    "2.55",  # flavor description
    "2.56",  # cold migrate to a chosen host
    "2.57",  # rebuild with user_data; personality gone; injected files gone from quotas
    "2.58",  # paging and changes-since of instance actions
    "2.59",  # paging and changes-since of migrations
    "2.60",  # multiattach volumes
    "2.61",  # extra_specs in the flavor body
    "2.62",  # host and hostId of instance action events
    "2.63",  # trusted image certificates
    "2.64",  # server group policy and rules (a single policy)
    "2.65",  # abort a queued live migration
    "2.66",  # changes-before filter
    "2.67",  # volume_type in block device mappings
    "2.68",  # force on evacuate and live migrate is gone
    "2.69",  # partial results for down cells
    "2.70",  # device tags in interfaces and volume attachments
    "2.71",  # server_groups in the server body
    "2.72",  # ports with a resource request at create
    "2.73",  # locked_reason
    "2.74",  # host and hypervisor_hostname at create
    "2.75",  # one server shape everywhere; unknown query parameters are errors
    "2.76",  # power-update external event
    "2.77",  # unshelve to an availability zone
    "2.78",  # server topology
    "2.79",  # delete_on_termination on volume attach
    "2.80",  # user_id and project_id filters of migrations
    "2.81",  # image precache on aggregates
    "2.82",  # accelerator-request-bound event
    "2.83",  # more server list filters for non-admins
    "2.84",  # details of instance action events
    "2.85",  # update delete_on_termination of a volume attachment
    "2.86",  # flavor extra specs are validated
    "2.87",  # rescue of volume-backed servers
    "2.88",  # hypervisor statistics and search are gone; fewer hypervisor fields
    "2.89",  # attachment_id and bdm_uuid in volume attachments
    "2.90",  # hostname at create, update and rebuild
    "2.91",  # unshelve to a host; availability_zone may be null
    "2.92",  # keypairs are imported only, no longer generated
    "2.93",  # rebuild of volume-backed servers
    "2.94",  # hostname may be a fully qualified domain name
    "2.95",  # evacuate to a stopped server
    "2.96",  # pinned_availability_zone in the server body
    "2.97",  # share attachments
    "2.98",  # image properties in the server body
    "2.99",  # spice-direct console
    "2.100",  # scheduler_hints in the server body
)

SPEC = MicroversionSpec("compute", VERSIONS, legacy_header="X-OpenStack-Nova-API-Version")
