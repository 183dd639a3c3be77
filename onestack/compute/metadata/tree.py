"""Which document lives at which path of the metadata service, and how directories
are listed (text/plain, one name a line, no trailing newline; a subdirectory with a
trailing slash), as Nova answers them:

- ``/`` and ``/ec2``: the EC2 versions and ``latest``; any path that starts with
  neither ``ec2`` nor ``openstack`` is an EC2 one (``/latest/meta-data/...``);
- ``/openstack``: the OpenStack versions and ``latest``;
- ``/openstack/<version>``: the files of that version (``content.openstack_files``);
- ``/openstack/<version>/password``: the guest's password (the app answers it).
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from onestack.compute.metadata import content
from onestack.compute.metadata.content import Guest, Listed

TEXT = "text/plain; charset=UTF-8"
JSON = "application/json"


class NoSuchPath(KeyError):
    """Nothing lives at this path (the API answers 404)."""


@dataclass(frozen=True)
class Document:
    body: bytes
    content_type: str = TEXT


# What lookup() answers for the password path: the app reads and writes it.
PASSWORD = "password"


def json_document(data: Any) -> Document:
    return Document(json.dumps(data).encode(), JSON)


def listing(names: list[str]) -> Document:
    return Document("\n".join(names).encode())


def render(value: Any) -> Document:
    """A node of the EC2 tree: a directory is listed (sorted; a subdirectory with a
    slash, or its own label), a list is one item a line, a leaf is its text."""
    if isinstance(value, dict):
        names = []
        for key in sorted(value):
            child = value[key]
            if isinstance(child, Listed):
                names.append(child.label)
            elif isinstance(child, dict):
                names.append(f"{key}/")
            else:
                names.append(str(key))
        return listing(names)
    if isinstance(value, list):
        return listing([str(v) for v in value])
    if isinstance(value, bytes):
        return Document(value)
    return Document(str(value).encode())


def tokens_of(path: str) -> list[str]:
    """The path's parts, normalised as Nova does (``/a//b/../c/`` is ``a/c``); the
    EC2 paths get their implicit ``ec2`` first."""
    normal = posixpath.normpath("/" + path.lstrip("/"))
    parts = [p for p in normal.split("/") if p]
    if not parts or parts[0] not in ("ec2", "openstack"):
        parts.insert(0, "ec2")
    return parts


def lookup(guest: Guest, path: str,
           random_seed: Callable[[], bytes] = lambda: os.urandom(512)) -> Document | str:
    """The document at ``path`` for ``guest``, or PASSWORD; raises NoSuchPath."""
    parts = tokens_of(path)
    try:
        if parts[0] == "openstack":
            return _openstack(guest, parts[1:], random_seed)
        return _ec2(guest, parts[1:])
    except content.UnknownVersion:
        raise NoSuchPath(path) from None


def root_listing() -> Document:
    """``/``: the EC2 versions (Nova answers it to anyone, identified or not)."""
    return listing([*content.EC2_VERSIONS, content.LATEST])


def _openstack(guest: Guest, parts: list[str], random_seed: Callable[[], bytes]
               ) -> Document | str:
    if not parts:
        return listing([*content.OPENSTACK_VERSIONS, content.LATEST])
    version = content.resolve(parts[0], content.OPENSTACK_VERSIONS)
    if len(parts) == 1:
        return listing(content.openstack_files(guest, version))
    name = "/".join(parts[1:])
    if name not in content.openstack_files(guest, version):
        raise NoSuchPath(name)
    if name == "meta_data.json":
        return json_document(content.meta_data(guest, version, random_seed()))
    if name == "user_data":
        raw = content.user_data(guest.instance)
        assert raw is not None  # listed only when there is some
        return Document(raw)
    if name == "password":
        return PASSWORD
    if name == "network_data.json":
        return json_document(content.network_data(guest))
    return json_document(content.vendor_data())


def _ec2(guest: Guest, parts: list[str]) -> Document:
    if not parts:
        return root_listing()
    node: Any = content.ec2_tree(guest, parts[0])
    for index, part in enumerate(parts[1:]):
        if not isinstance(node, dict) or part not in node:
            raise NoSuchPath("/".join(parts[:index + 2]))
        node = node[part]
    return render(node)
