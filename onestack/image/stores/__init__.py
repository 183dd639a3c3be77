"""Where image data lives, behind one protocol (base.py)."""

from __future__ import annotations

from pathlib import Path

from onestack.image.stores.base import Store
from onestack.image.stores.file import FileStore
from onestack.kernel.config import Config


def build_store(config: Config) -> Store:
    settings = config.image
    if settings.default_store == "file":
        root = settings.filesystem_store_datadir or str(config.state_dir / "images")
        return FileStore(Path(root))
    raise ValueError(f"unknown image store {settings.default_store!r} (known: file)")
