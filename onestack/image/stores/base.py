"""The protocol an image store implements. Data is written through a Writer that
becomes visible only on ``commit``; ``abort`` leaves nothing behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol


class Writer(Protocol):
    async def write(self, data: bytes) -> None: ...

    async def commit(self) -> str:
        """Make the data visible; returns its location ("<store>:<key>")."""

    async def abort(self) -> None: ...


class Store(Protocol):
    name: str

    async def begin(self, image_id: str) -> Writer: ...

    def read(self, location: str, offset: int = 0, length: int | None = None
             ) -> AsyncIterator[bytes]: ...

    async def delete(self, location: str) -> None: ...

    def local_path(self, location: str) -> Path | None:
        """A path on this host holding the data, when the store has one (compute
        caches images from it without a copy over HTTP)."""

    def cleanup(self) -> None:
        """Remove what interrupted writes left (at start-up)."""
