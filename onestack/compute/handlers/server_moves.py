"""Server actions that move a server or its resources: resize, confirm and revert,
migrate, live migrate, evacuate, shelve and unshelve. (being written)"""

from __future__ import annotations

from typing import Any

ACTIONS: dict[str, Any] = {}
