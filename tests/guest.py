"""The test guest image ("our CirrOS"), built by ``scripts/build-test-image.sh``.

The script caches its outputs (in ``$ONESTACK_GUEST_DIR``, else
``/var/cache/onestack/guest``) and returns at once when they are up to date, so
calling it every time is cheap and keeps the image in step with ``guest/``.
A guest that cannot be built is an error, never a reason to skip.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "scripts" / "build-test-image.sh"

DISK = "onestack-guest.qcow2"
KERNEL = "onestack-guest-vmlinuz"
INITRD = "onestack-guest-initrd"

# The guest prints this once everything in /init is done (see guest/init).
READY = "onestack-guest ready hostname="


@functools.cache
def guest_image_dir() -> Path:
    """The directory holding DISK, KERNEL and INITRD, building them if needed."""
    result = subprocess.run(
        [str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{BUILD_SCRIPT} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    # The script prints the paths of its outputs, the disk first.
    paths = result.stdout.split()
    if not paths:
        raise RuntimeError(f"{BUILD_SCRIPT} printed no paths:\n{result.stderr}")
    directory = Path(paths[0]).parent
    for name in (DISK, KERNEL, INITRD):
        if not (directory / name).is_file():
            raise RuntimeError(f"{BUILD_SCRIPT} did not produce {directory / name}")
    return directory
