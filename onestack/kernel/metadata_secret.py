"""The secret metadata proxies share with the metadata API: a proxy (Neutron's, or
our per-instance relay) says which instance asks with ``X-Instance-ID`` and proves it
with ``X-Instance-ID-Signature``, the hex HMAC-SHA256 of the id keyed with it.

``[compute] metadata_proxy_shared_secret`` when set; else one generated at first use
and kept in ``<state_dir>/metadata_secret`` (mode 600). Hosts of a distributed cloud
must share it: set it in their configuration. In the kernel because two services use
it: compute's metadata API checks signatures, the network's metadata proxy makes them."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from onestack.kernel.config import Config

FILE_NAME = "metadata_secret"


def shared_secret(config: Config) -> str:
    """The configured secret, else the one stored in the state directory (made on
    the first call, atomically: concurrent first calls agree)."""
    if config.compute.metadata_proxy_shared_secret:
        return config.compute.metadata_proxy_shared_secret
    path = Path(config.state_dir) / FILE_NAME
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    try:
        os.link(temporary, path)  # fails if another process made it first
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    return path.read_text().strip()


def sign(instance_id: str, secret: str) -> str:
    """``X-Instance-ID-Signature`` for ``instance_id``."""
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def verify(instance_id: str, signature: str, secret: str) -> bool:
    return hmac.compare_digest(sign(instance_id, secret), signature)


def proxy_headers(instance_id: str, project_id: str, secret: str) -> dict[str, str]:
    """The headers a metadata proxy adds to a guest's request."""
    return {"X-Instance-ID": instance_id, "X-Tenant-ID": project_id,
            "X-Instance-ID-Signature": sign(instance_id, secret)}
