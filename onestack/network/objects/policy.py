"""Who is asking, and what they may see: a project sees its own resources, shared
networks and external networks (and their subnets); an admin sees everything."""

from __future__ import annotations

from dataclasses import dataclass

from onestack.network.objects.common import Row


@dataclass(frozen=True)
class Caller:
    project_id: str
    is_admin: bool = False
    reader_only: bool = False

    def owns(self, row: Row) -> bool:
        return self.is_admin or row.get("project_id") == self.project_id

    def sees_network(self, row: Row) -> bool:
        return self.owns(row) or bool(row.get("shared")) or bool(row.get("router:external"))


ADMIN = Caller(project_id="", is_admin=True)
