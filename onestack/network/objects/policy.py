"""Who is asking, and what they may see: a project sees its own resources, shared
networks and external networks (and their subnets); an admin sees everything. The
handlers build a Caller from the policy rules (onestack/network/policies.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from onestack.network.objects.common import Row


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

    def hides(self, kind: str) -> frozenset[str]:
        return self.hidden.get(kind, frozenset())


ADMIN = Caller(project_id="", is_admin=True)
