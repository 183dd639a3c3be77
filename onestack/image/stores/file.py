"""The file store: one file per image under a directory. A write goes to
``<id>.part`` and is renamed into place on commit, so a reader never sees a partial
image, and a crash leaves only ``.part`` files, removed at the next start."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

READ_CHUNK = 1 << 20


class FileWriter:
    def __init__(self, store: FileStore, image_id: str) -> None:
        self.final = store.root / image_id
        self.partial = store.root / f"{image_id}.{os.urandom(4).hex()}.part"
        self.handle = open(self.partial, "wb")  # noqa: SIM115 (closed by commit/abort)

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self.handle.write, data)

    async def commit(self) -> str:
        def finish() -> None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.partial, self.final)
        await asyncio.to_thread(finish)
        return f"file:{self.final.name}"

    async def abort(self) -> None:
        self.handle.close()
        self.partial.unlink(missing_ok=True)


class FileStore:
    name = "file"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, location: str) -> Path:
        scheme, _, key = location.partition(":")
        if scheme != self.name or not key or "/" in key or key.startswith("."):
            raise ValueError(f"not a file store location: {location!r}")
        return self.root / key

    async def begin(self, image_id: str) -> FileWriter:
        return FileWriter(self, image_id)

    async def read(self, location: str, offset: int = 0, length: int | None = None
                   ) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(open, self._path(location), "rb")
        try:
            if offset:
                handle.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = await asyncio.to_thread(handle.read, size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def delete(self, location: str) -> None:
        await asyncio.to_thread(self._path(location).unlink, True)

    def local_path(self, location: str) -> Path | None:
        return self._path(location)

    def cleanup(self) -> None:
        for leftover in self.root.glob("*.part"):
            leftover.unlink(missing_ok=True)
