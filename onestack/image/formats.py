"""Disk format inspection while the data streams in: the first 64 KiB and the last
512 bytes are enough to tell qcow2, vmdk, vhd, vhdx, vdi and iso apart, find their
virtual size, and refuse data that does not match the declared ``disk_format``
(as upstream's format inspector does), or a qcow2 that points outside itself."""

from __future__ import annotations

import re
import struct

from onestack.kernel.api.faults import BadRequest

HEAD = 64 * 1024
TAIL = 512
# Formats whose content is checked; ami/ari/aki/ploop are taken as they come.
CHECKED = {"qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso", "raw"}
SAFE_VMDK_TYPES = {"monolithicSparse", "streamOptimized"}


class FormatMismatch(BadRequest):
    pass


class Inspector:
    """Fed every chunk of an upload; ``finish`` tells the virtual size or refuses."""

    def __init__(self, disk_format: str | None) -> None:
        self.disk_format = disk_format
        self.head = bytearray()
        self.tail = b""

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < HEAD:
            self.head += chunk[:HEAD - len(self.head)]
        self.tail = (self.tail + chunk[-TAIL:])[-TAIL:]

    def finish(self, size: int) -> int | None:
        detected, virtual_size = detect(bytes(self.head), self.tail, size)
        declared = self.disk_format
        if declared not in CHECKED:
            return None
        if declared == "raw":
            if detected not in ("raw", "iso"):
                raise FormatMismatch(f"Image data does not match disk_format raw: it is "
                                     f"a {detected} image.")
            return size
        if detected != declared:
            found = "raw data" if detected == "raw" else f"a {detected} image"
            raise FormatMismatch(f"Image data does not match disk_format {declared}: it "
                                 f"looks like {found}.")
        return virtual_size


def _u32be(data: bytes, at: int) -> int:
    return struct.unpack_from(">I", data, at)[0]


def _u64be(data: bytes, at: int) -> int:
    return struct.unpack_from(">Q", data, at)[0]


def _u64le(data: bytes, at: int) -> int:
    return struct.unpack_from("<Q", data, at)[0]


def detect(head: bytes, tail: bytes, size: int) -> tuple[str, int | None]:
    """(format, virtual size) of data starting with ``head`` and ending with ``tail``."""
    if head[:4] == b"QFI\xfb" and len(head) >= 32:
        return "qcow2", _qcow2(head)
    if head[:8] == b"vhdxfile":
        return "vhdx", None
    if head[:4] == b"KDMV" and len(head) >= 44:
        return "vmdk", _vmdk(head)
    if head.startswith(b"# Disk DescriptorFile"):
        raise FormatMismatch("VMDK descriptor files refer to other files: refused.")
    if head[:8] == b"conectix" and len(head) >= 56:
        return "vhd", _u64be(head, 48)
    if len(head) >= 376 and head[64:68] == b"\x7f\x10\xda\xbe":
        return "vdi", _u64le(head, 368)
    if len(head) >= 0x8082 and head[0x8001:0x8006] == b"CD001":
        blocks = struct.unpack_from("<I", head, 0x8050)[0]
        block_size = struct.unpack_from("<H", head, 0x8080)[0]
        return "iso", blocks * block_size
    if len(tail) == TAIL and size > TAIL and tail[:8] == b"conectix":
        return "vhd", _u64be(tail, 48)  # a fixed VHD: the footer only at the end
    return "raw", size


def _qcow2(head: bytes) -> int:
    version = _u32be(head, 4)
    if version not in (2, 3):
        raise FormatMismatch(f"Unsupported qcow2 version {version}.")
    if _u64be(head, 8) != 0:
        raise FormatMismatch("qcow2 images with a backing file are refused.")
    if version == 3 and len(head) >= 80 and _u64be(head, 72) & 0b100:
        raise FormatMismatch("qcow2 images with an external data file are refused.")
    return _u64be(head, 24)


def _vmdk(head: bytes) -> int:
    capacity = _u64le(head, 12)
    offset, length = _u64le(head, 28) * 512, _u64le(head, 36) * 512
    if offset and offset + 1 < len(head):
        descriptor = head[offset:offset + length].split(b"\0", 1)[0].decode("latin-1")
        found = re.search(r'createType\s*=\s*"(\w+)"', descriptor)
        if found and found.group(1) not in SAFE_VMDK_TYPES:
            raise FormatMismatch(f"VMDK create type {found.group(1)} is refused.")
    return capacity * 512
