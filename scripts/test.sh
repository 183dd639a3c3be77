#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh Debian 12
# machine (apt packages, the Python package with its test extras), then runs the
# linters, the test suite, and the Tempest guard (tests that pass must keep passing).
#
#   scripts/test.sh              everything
#   scripts/test.sh -k tokens    extra arguments go to pytest; the Tempest guard is
#                                skipped only when ONESTACK_TEMPEST=0
set -euo pipefail
cd "$(dirname "$0")/.."

# qemu-system-x86 .. cpio: real guests and the test guest image; genisoimage: config
# drives; socat: the metadata relay of guests on QEMU's own network; novnc: the pages
# of the noVNC console proxy; cloud-init: proves guests can read our instance data;
# dnsmasq-base .. busybox: the Linux network dataplane and its stand-in guests.
APT_PACKAGES=(rabbitmq-server qemu-utils curl postgresql mariadb-server
              qemu-system-x86 genisoimage syslinux syslinux-common mtools dosfstools cpio
              socat novnc cloud-init
              dnsmasq-base nftables iproute2 busybox-static)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== pip install -e .[test]"
python3 -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v "as the 'root' user" || true

echo "== the test guest image"
scripts/build-test-image.sh >/dev/null

echo "== ruff"
ruff check onestack tests scripts bench
echo "== import contracts"
lint-imports
echo "== mypy (kernel)"
mypy

echo "== pytest"
python3 -m pytest -q "$@"

if [ "${ONESTACK_TEMPEST:-1}" != 0 ]; then
  for list in tests/tempest/*.passing.txt; do
    service=$(basename "$list" .passing.txt)
    echo "== tempest guard ($service)"
    scripts/tempest-guard.sh "$service"
  done
fi
