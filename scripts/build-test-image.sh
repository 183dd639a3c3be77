#!/usr/bin/env bash
# Builds the onestack test guest ("our CirrOS"): a tiny Linux made of Debian's cloud
# kernel, busybox-static and the scripts in guest/. Nothing is installed on the host:
# the two packages are fetched with `apt-get download` and unpacked with dpkg-deb.
#
#   scripts/build-test-image.sh [OUTPUT_DIR]
#
# OUTPUT_DIR defaults to $ONESTACK_GUEST_DIR, else /var/cache/onestack/guest. It gets
#   onestack-guest.qcow2    BIOS-bootable disk: syslinux on a FAT filesystem, booting
#                           the kernel and initramfs below with console=ttyS0
#   onestack-guest-vmlinuz  the kernel, for direct kernel boot
#   onestack-guest-initrd   the initramfs, which is the whole guest OS
#                           (direct boot: -kernel ... -initrd ... -append console=ttyS0)
#   onestack-guest.stamp    what the outputs were built from
#   debs/                   the downloaded packages, kept as a cache
#
# The build is skipped when the stamp matches: same script, same guest/ files, same
# kernel and busybox package versions. The package versions are only looked up again
# when apt's package lists changed since the last build, so a rerun with nothing
# changed is instant. Host tools: apt, dpkg, cpio, gzip, dosfstools, mtools,
# syslinux, syslinux-common, qemu-utils, util-linux (flock).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GUEST_SRC=$ROOT/guest
KERNEL_META=linux-image-cloud-amd64     # depends on the current linux-image-<abi>-cloud-amd64
BUSYBOX_PKG=busybox-static
DISK_MIB=64                             # virtual size; flavors grow the overlay, not this
APT_LISTS=/var/lib/apt/lists

OUT=${1:-${ONESTACK_GUEST_DIR:-/var/cache/onestack/guest}}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
QCOW2=$OUT/onestack-guest.qcow2
VMLINUZ=$OUT/onestack-guest-vmlinuz
INITRD=$OUT/onestack-guest-initrd
STAMP=$OUT/onestack-guest.stamp
DEBS=$OUT/debs

die() { echo "build-test-image: $*" >&2; exit 1; }
log() { echo "build-test-image: $*" >&2; }

print_outputs() { printf '%s\n' "$QCOW2" "$VMLINUZ" "$INITRD"; }

outputs_exist() { [ -s "$QCOW2" ] && [ -s "$VMLINUZ" ] && [ -s "$INITRD" ] && [ -f "$STAMP" ]; }

# One build at a time per output directory (concurrent test runs share the cache);
# a second caller waits and then finds the outputs up to date.
exec 9>"$OUT/.lock"
flock 9

# --- Is the last build still current? ------------------------------------------
# Hash of this script and every file under guest/ (names and contents).
sources_hash=$(
    {
        sha256sum "$ROOT/scripts/build-test-image.sh" | cut -d' ' -f1
        cd "$GUEST_SRC" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -d' ' -f1
)

if outputs_exist && [ "$(head -n 1 "$STAMP")" = "sources $sources_hash" ] &&
    ! [ "$APT_LISTS" -nt "$STAMP" ]; then
    print_outputs
    exit 0
fi

for tool in apt-get apt-cache dpkg-deb cpio gzip mkfs.vfat syslinux mcopy qemu-img; do
    command -v "$tool" >/dev/null ||
        die "$tool is missing (apt-get install apt dpkg cpio gzip dosfstools mtools syslinux syslinux-common qemu-utils)"
done

# --- Package versions ----------------------------------------------------------
# Prints "PACKAGE VERSION" for the real kernel package and for busybox-static
# (nothing for a package apt does not know).
resolve_packages() {
    { apt-cache show --no-all-versions "$KERNEL_META" "$BUSYBOX_PKG" 2>/dev/null || true; } |
        awk -v meta="$KERNEL_META" -v busybox="$BUSYBOX_PKG" '
        /^Package: / { pkg = $2 }
        /^Version: / { version[pkg] = $2 }
        /^Depends: / && pkg == meta {
            # "Depends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)"
            n = split(substr($0, 10), deps, ",")
            for (i = 1; i <= n; i++)
                if (match(deps[i], /linux-image-[0-9][^ ]*/)) {
                    kernel = substr(deps[i], RSTART, RLENGTH)
                    if (match(deps[i], /\(= [^)]*\)/))
                        kernel_version = substr(deps[i], RSTART + 3, RLENGTH - 4)
                    break
                }
        }
        END {
            if (kernel != "") print kernel, kernel_version
            if (busybox in version) print busybox, version[busybox]
        }'
}

packages=$(resolve_packages)
if [ "$(echo "$packages" | grep -c .)" -lt 2 ] && [ "$(id -u)" = 0 ]; then
    log "apt does not know $KERNEL_META or $BUSYBOX_PKG yet: apt-get update"
    apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    packages=$(resolve_packages)
fi
read -r kernel_pkg kernel_version < <(echo "$packages" | grep '^linux-image-') ||
    die "cannot resolve $KERNEL_META to a kernel package (is apt configured for Debian?)"
read -r _ busybox_version < <(echo "$packages" | grep "^$BUSYBOX_PKG ") ||
    die "apt does not know $BUSYBOX_PKG"
if [ -z "$kernel_version" ]; then     # no "(= version)" on the dependency: ask apt
    kernel_version=$(apt-cache show --no-all-versions "$kernel_pkg" | awk '/^Version: / { print $2; exit }')
fi
[ -n "$kernel_version" ] || die "apt does not know $kernel_pkg"

new_stamp=$(printf 'sources %s\nkernel %s %s\nbusybox %s\n' \
    "$sources_hash" "$kernel_pkg" "$kernel_version" "$busybox_version")
if outputs_exist && [ "$(cat "$STAMP")" = "$new_stamp" ]; then
    touch "$STAMP"      # newer than apt's lists again: the next run takes the fast path
    print_outputs
    exit 0
fi

started=$SECONDS
log "building the guest from $kernel_pkg $kernel_version and $BUSYBOX_PKG $busybox_version"

# --- Download (cached in $DEBS) ------------------------------------------------
# Prints the path of PACKAGE=VERSION's .deb, downloading it unless cached; older
# versions of the package are dropped from the cache.
fetch_deb() {
    local pkg=$1 version=$2 deb
    # apt-get download names files PACKAGE_VERSION_ARCH.deb, with ':' as %3a.
    deb=$(find "$DEBS" -maxdepth 1 -name "${pkg}_${version//:/%3a}_*.deb" -print -quit)
    if [ -z "$deb" ]; then
        find "$DEBS" -maxdepth 1 -name "${pkg}_*.deb" -delete
        # As root, apt would hand the download to its _apt user, which cannot write here.
        (cd "$DEBS" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$pkg=$version" >&2)
        deb=$(find "$DEBS" -maxdepth 1 -name "${pkg}_${version//:/%3a}_*.deb" -print -quit)
        [ -n "$deb" ] || die "apt-get download $pkg=$version left no .deb in $DEBS"
    fi
    echo "$deb"
}

mkdir -p "$DEBS"
kernel_deb=$(fetch_deb "$kernel_pkg" "$kernel_version")
busybox_deb=$(fetch_deb "$BUSYBOX_PKG" "$busybox_version")

# --- Unpack --------------------------------------------------------------------
# Work inside $OUT so that the finished files are moved into place atomically.
rm -rf "$OUT"/.build.*      # left by a build that was killed
WORK=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

dpkg-deb -x "$kernel_deb" "$WORK/kernel"
dpkg-deb -x "$busybox_deb" "$WORK/busybox"
BB=$WORK/busybox/bin/busybox       # static: runs on the host too (depmod, --list-full)
[ -x "$BB" ] || die "$busybox_deb has no bin/busybox"

vmlinuz=$(find "$WORK/kernel/boot" -name 'vmlinuz-*' -print -quit)
[ -n "$vmlinuz" ] || die "$kernel_deb has no /boot/vmlinuz-*"
kver=${vmlinuz##*/vmlinuz-}
kmods=
for dir in "$WORK/kernel/lib/modules/$kver" "$WORK/kernel/usr/lib/modules/$kver"; do
    [ -d "$dir" ] && kmods=$dir
done
[ -n "$kmods" ] || die "$kernel_deb has no modules for $kver"

# --- Initramfs: busybox, the guest's scripts, the needed modules -----------------
rootfs=$WORK/rootfs
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc/acpi,etc/onestack,etc/udhcpc} \
    "$rootfs"/{dev,proc,sys,run,tmp,root,srv,var/log,usr/share/onestack,mnt}
chmod 700 "$rootfs/root"
chmod 1777 "$rootfs/tmp"

install -m 755 "$BB" "$rootfs/bin/busybox"
# One symlink per applet, where busybox expects it (bin/sh, sbin/udhcpc, ...).
"$BB" --list-full | while read -r applet; do
    case $applet in */*) ;; *) continue ;; esac     # skips "linuxrc"
    [ -e "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
done

install -m 755 "$GUEST_SRC/init" "$rootfs/init"
install -m 755 "$GUEST_SRC/udhcpc.script" "$rootfs/etc/udhcpc/default.script"
install -m 755 "$GUEST_SRC/power-button" "$rootfs/etc/acpi/power-button"
install -m 644 "$GUEST_SRC/acpid.conf" "$rootfs/etc/acpid.conf"
install -m 644 "$GUEST_SRC/inittab" "$rootfs/etc/inittab"
install -m 644 "$GUEST_SRC/profile" "$rootfs/etc/profile"
install -m 644 "$GUEST_SRC/modules" "$rootfs/etc/onestack/modules"
install -m 644 "$GUEST_SRC/json.awk" "$rootfs/usr/share/onestack/json.awk"
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
echo '/bin/sh' >"$rootfs/etc/shells"

# Debian runs depmod at install time, so the package has no modules.dep: make one
# with busybox's depmod, take the modules listed in guest/modules plus everything
# they depend on, and index that subset again for the guest's modprobe.
"$BB" depmod -b "${kmods%/lib/modules/"$kver"}" "$kver"
wanted=$(sed -e 's/#.*//' "$GUEST_SRC/modules" | awk 'NF { print $1 }' | tr '\n-' ' _')
needed=$(awk -v wanted="$wanted" '
    BEGIN { n = split(wanted, w, " "); for (i = 1; i <= n; i++) want[w[i]] = 1 }
    {
        path = $1; sub(/:$/, "", path)
        name = path; sub(/.*\//, "", name); sub(/\.ko.*$/, "", name); gsub(/-/, "_", name)
        if (name in want) {
            found[name] = 1
            for (i = 1; i <= NF; i++) { f = $i; sub(/:$/, "", f); print f }
        }
    }
    END { for (m in want) if (!(m in found)) print "missing " m }
' "$kmods/modules.dep" | LC_ALL=C sort -u)
for module in $(echo "$needed" | awk '$1 == "missing" { print $2 }'); do
    grep -qE "/${module//_/[-_]}\.ko" "$kmods/modules.builtin" ||
        die "kernel module $module (guest/modules) is not in $kernel_pkg"
    log "note: $module is built into $kver"
done
guest_kmods=$rootfs/lib/modules/$kver
mkdir -p "$guest_kmods"
for file in $(echo "$needed" | grep -v '^missing '); do
    mkdir -p "$guest_kmods/$(dirname "$file")"
    cp "$kmods/$file" "$guest_kmods/$file"
done
cp "$kmods/modules.builtin" "$kmods/modules.order" "$guest_kmods/"
"$BB" depmod -b "$rootfs" "$kver"

# Fixed owners and timestamps: the same inputs give the same initramfs.
find "$rootfs" -exec touch -h -d @0 {} +
(cd "$rootfs" && find . -print0 | LC_ALL=C sort -z |
    cpio --null -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n >"$WORK/initrd"
cp "$vmlinuz" "$WORK/vmlinuz"

# --- Disk: syslinux on a FAT filesystem spanning the whole disk ------------------
# No partition table (a "superfloppy"): the BIOS runs the FAT boot sector that
# syslinux installs, and the guest never looks at its disk (the initramfs is the
# OS). mtools and syslinux work on the image file, so no loop mount is needed.
export MTOOLS_SKIP_CHECK=1
raw=$WORK/disk.raw
mkfs.vfat -C -n ONESTACK -i 0115ac4e "$raw" $((DISK_MIB * 1024)) >/dev/null
syslinux --install "$raw"
mcopy -i "$raw" "$WORK/vmlinuz" ::/vmlinuz
mcopy -i "$raw" "$WORK/initrd" ::/initrd
mcopy -i "$raw" "$GUEST_SRC/syslinux.cfg" ::/syslinux.cfg
qemu-img convert -f raw -O qcow2 "$raw" "$WORK/disk.qcow2"

# --- Install -------------------------------------------------------------------
rm -f "$STAMP"      # a crash between the moves below must not leave a valid stamp
chmod 644 "$WORK/vmlinuz" "$WORK/initrd" "$WORK/disk.qcow2"
mv "$WORK/vmlinuz" "$VMLINUZ"
mv "$WORK/initrd" "$INITRD"
mv "$WORK/disk.qcow2" "$QCOW2"
echo "$new_stamp" >"$STAMP"
log "built in $((SECONDS - started)) s: kernel $kver," \
    "initrd $(($(stat -c %s "$INITRD") / 1024)) KiB, qcow2 $(($(stat -c %s "$QCOW2") / 1024)) KiB"
print_outputs
