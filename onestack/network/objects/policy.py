"""Who is asking, and what they may see: a project sees its own resources, shared
networks and external networks (and their subnets); an admin sees everything. The
handlers build a Caller from the policy rules (onestack/network/policies.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onestack.kernel.auth import RequestContext
from onestack.network.objects.common import Row

if TYPE_CHECKING:
    from onestack.network.service import Networking


@dataclass(frozen=True)
class Caller:
    project_id: str
    is_admin: bool = False
    # resource kind -> attributes its get_KIND:attribute rule hides from this caller
    hidden: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # (kind, project id) -> whether the get_KIND rule lets this caller read such a row
    reads: Callable[[str, str], bool] = lambda kind, project_id: True

    def owns(self, row: Row) -> bool:
        return self.is_admin or row.get("project_id") == self.project_id

    def sees(self, kind: str, row: Row) -> bool:
        """Ownership, and the get_KIND rule on the row's project."""
        return self.owns(row) and self.reads(kind, row.get("project_id") or "")

    def sees_network(self, row: Row) -> bool:
        return (self.owns(row) or bool(row.get("shared"))
                or bool(row.get("router:external"))) and self.reads("network", row["project_id"])

    def sees_port(self, row: Row, network_owner: str | None) -> bool:
        """A port is its project's, and seen too by the owner of its network."""
        return (self.owns(row) or (network_owner is not None
                                   and network_owner == self.project_id)) \
            and self.reads("port", row["project_id"])

    def hides(self, kind: str) -> frozenset[str]:
        return self.hidden.get(kind, frozenset())


ADMIN = Caller(project_id="", is_admin=True)


def project_target(project_id: str, **more: Any) -> dict[str, Any]:
    return {"project_id": project_id, "tenant_id": project_id, **more}


def caller_for(net: Networking, ctx: RequestContext) -> Caller:
    """The caller as the policy sees them: admin or not, and what responses hide."""
    hidden = {kind: frozenset(attr for attr, rule in reads
                              if not net.policy.allowed(rule, ctx))
              for kind, reads in net.guarded_reads.items()}
    decided: dict[tuple[str, str], bool] = {}

    def reads(kind: str, project_id: str) -> bool:  # once per project in a list
        key = (kind, project_id)
        if key not in decided:
            decided[key] = net.policy.allowed(f"get_{kind}", ctx, project_target(project_id))
        return decided[key]

    return Caller(project_id=ctx.project_id or "",
                  is_admin=net.policy.allowed("context_is_admin", ctx), hidden=hidden,
                  reads=reads)
