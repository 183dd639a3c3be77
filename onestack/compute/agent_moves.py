"""What a compute agent does when a server moves: resize and cold migration (with
confirm and revert), live migration, evacuation, shelve and unshelve. (being written)"""

from __future__ import annotations

from onestack.compute.agent_ops import AgentOps


class AgentMoves(AgentOps):
    pass
