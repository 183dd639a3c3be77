"""The config drive: the metadata documents on an ISO 9660 disk labelled
``config-2``, which cloud-init's ConfigDrive datasource finds by its label and
reads as files (Rock Ridge and Joliet, so long names survive)::

    ec2/2009-04-04/meta-data.json   ec2/latest/meta-data.json   (and user-data)
    openstack/<version>/meta_data.json, user_data, vendor_data.json,
        network_data.json, vendor_data2.json     for every version and "latest"
    openstack/content/0000 ...      the server's injected (personality) files

The agent builds the files (``config_drive_files``) and the driver writes the image
(``write_config_drive``, with genisoimage) where it attaches it.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from onestack.compute.metadata import content
from onestack.compute.metadata.content import Guest
from onestack.kernel.config import ComputeConfig

VOLUME_LABEL = "config-2"
GENISOIMAGE = "genisoimage"
# Nova writes the EC2 tree for these versions only (its config_drive_skip_versions).
EC2_VERSIONS = ("2009-04-04", content.LATEST)


class ConfigDriveError(RuntimeError):
    """The image could not be made (genisoimage missing or failing)."""


def wants_config_drive(instance: dict[str, Any], settings: ComputeConfig) -> bool:
    """Whether the guest gets a config drive: the user asked for one
    (``config_drive``), the cloud gives one to every guest (``[compute]
    force_config_drive``), or its image requires one (``img_config_drive=mandatory``)."""
    if str(instance.get("config_drive") or "").lower() not in ("", "false", "0"):
        return True
    if settings.force_config_drive:
        return True
    properties = (instance.get("request") or {}).get("image_properties") or {}
    system = instance.get("system_metadata") or {}
    wanted = properties.get("img_config_drive") or system.get("image_img_config_drive")
    return str(wanted or "").lower() == "mandatory"


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def config_drive_files(guest: Guest,
                       random_seed: Callable[[], bytes] = lambda: os.urandom(512)
                       ) -> dict[str, bytes]:
    """The drive's files, path (relative, with slashes) -> content."""
    files: dict[str, bytes] = {}
    raw = content.user_data(guest.instance)
    for version in EC2_VERSIONS:
        files[f"ec2/{version}/meta-data.json"] = _json(content.ec2_meta_data(guest, version))
        if raw is not None:
            files[f"ec2/{version}/user-data"] = raw
    injected = content.injected_files(guest.instance)
    for version in (*content.OPENSTACK_VERSIONS, content.LATEST):
        base = f"openstack/{version}"
        for name in content.openstack_files(guest, version):
            if name == "meta_data.json":
                files[f"{base}/{name}"] = _json(content.meta_data(
                    guest, version, random_seed(), files=injected))
            elif name == "user_data":
                assert raw is not None
                files[f"{base}/{name}"] = raw
            elif name == "network_data.json":
                files[f"{base}/{name}"] = _json(content.network_data(guest))
            elif name in ("vendor_data.json", "vendor_data2.json"):
                files[f"{base}/{name}"] = _json(content.vendor_data())
            # the password is the metadata API's alone
    for index, (_, data) in enumerate(injected):
        files["openstack" + content.content_path(index)] = data
    return files


def _stage(files: dict[str, bytes], root: Path) -> None:
    for name, data in files.items():
        target = (root / name).resolve()
        if root.resolve() not in target.parents:
            raise ConfigDriveError(f"config drive path {name!r} leaves the drive")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


async def write_config_drive(files: dict[str, bytes], path: str | os.PathLike[str]) -> None:
    """Write ``files`` as an ISO 9660 image labelled config-2 at ``path`` (replaced
    if it exists; written beside it first, so a reader never sees half of it)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with tempfile.TemporaryDirectory(prefix="configdrive-") as staging:
        _stage(files, Path(staging))
        try:
            process = await asyncio.create_subprocess_exec(
                GENISOIMAGE, "-o", str(partial), "-ldots", "-allow-lowercase",
                "-allow-multidot", "-l", "-publisher", "onestack", "-quiet", "-J", "-r",
                "-V", VOLUME_LABEL, staging,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except FileNotFoundError:
            raise ConfigDriveError(f"{GENISOIMAGE} is not installed (apt-get install "
                                   "genisoimage)") from None
        _, errors = await process.communicate()
    if process.returncode != 0:
        partial.unlink(missing_ok=True)
        raise ConfigDriveError(f"{GENISOIMAGE} failed ({process.returncode}): "
                               f"{errors.decode(errors='replace').strip()}")
    os.replace(partial, target)
