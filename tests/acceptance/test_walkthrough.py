"""The course walkthrough (../shared/acceptance/seed_walkthrough.sh) with the stock
openstack client against a live cloud: every section of a service that exists."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import LiveCloud

WALKTHROUGH = Path(__file__).resolve().parents[3] / "shared" / "acceptance" / \
    "seed_walkthrough.sh"
SECTIONS = ["identity", "image", "network", "compute"]


def test_walkthrough_sections_of_existing_services_pass(live_cloud: LiveCloud) -> None:
    assert WALKTHROUGH.exists(), f"the walkthrough is expected at {WALKTHROUGH}"
    result = subprocess.run(["bash", str(WALKTHROUGH), *SECTIONS], env=live_cloud.env(),
                            capture_output=True, text=True, timeout=900)
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary.endswith(" 0 failed"), result.stdout
