#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# golden-image.sh build [--flavour fwcfg|cloudinit] [--define URI]
# golden-image.sh path  [--flavour fwcfg|cloudinit]
#
# Builds a minimal Debian 12 golden image for Fluid sandboxes (debootstrap --variant=minbase from the
# Debian mirror this machine's apt uses), booted by direct kernel boot:
#   /var/lib/fluid/images/debian12-<flavour>-<hash>/{disk.qcow2,vmlinuz,initrd.img,recipe.sha256}
# <hash> = first 12 hex chars of the sha256 over the recipe (this script, the files under
# scripts/golden/{common,<flavour>}, the package list). A finished image is read-only (0444) and never
# changes: a different recipe gives a different folder; the same recipe reuses it ("cached").
# The image is built in a temporary folder beside it and renamed into place, so a half-built image
# never appears. Flavours: fwcfg (identity from QEMU fw_cfg, see scripts/golden/fwcfg) and cloudinit
# (identity from a NoCloud seed, see scripts/golden/make-seed.sh).
#
# --define URI also defines (idempotently) the shut-off libvirt domain golden-debian12-<flavour> for
# the image, so it can be cloned like any golden VM; that needs a running libvirtd (scripts/testbed up).
# `path` prints the image folder; it exits 0 when the image is complete, 1 when it is not built yet.
# Environment: FLUID_IMAGE_ROOT (default /var/lib/fluid/images), FLUID_DEBIAN_MIRROR (default: read
# from /etc/apt/sources.list and /etc/apt/sources.list.d/ at run time).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
golden_src="$here/golden"
image_root=${FLUID_IMAGE_ROOT:-/var/lib/fluid/images}
deb_cache=/var/cache/fluid/debootstrap
suite=bookworm

usage() {
    sed -n '3,4p' "$self" | sed 's/^# //' >&2
    exit 2
}
die() {
    echo "golden-image: $*" >&2
    exit 1
}
build_start=$(date +%s)
progress() { echo "progress: $1% $2 ($(($(date +%s) - build_start)) s)"; }

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
flavour=fwcfg
define_uri=
while [ $# -gt 0 ]; do
    case "$1" in
    --flavour) flavour=${2:?--flavour needs fwcfg or cloudinit}; shift 2 ;;
    --flavour=*) flavour=${1#*=}; shift ;;
    --define) define_uri=${2:?--define needs a libvirt URI, e.g. qemu:///system}; shift 2 ;;
    --define=*) define_uri=${1#*=}; shift ;;
    -h | --help) usage ;;
    *) echo "golden-image: unknown argument '$1'" >&2; usage ;;
    esac
done
case "$flavour" in
fwcfg | cloudinit) ;;
*) die "unknown flavour '$flavour' (use fwcfg or cloudinit)" ;;
esac

packages=(systemd-sysv udev kmod openssh-server qemu-guest-agent python3 python3-apt sudo linux-image-amd64
    iproute2 dbus procps less)
# debootstrap's resolver skips virtual packages: python3-cffi-backend provides the ABI that
# python3-cryptography (a cloud-init dependency) needs.
[ "$flavour" = cloudinit ] && packages+=(cloud-init python3-cffi-backend)
# Timers and services that only cost boot time or wake a disposable VM up (masking a unit that is not
# installed is harmless). systemd-firstboot: an empty machine-id counts as a first boot, and it must not
# prompt on the console.
masked_units=(apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer
    e2scrub_reap.service fstrim.timer man-db.timer systemd-timesyncd.service
    systemd-networkd-wait-online.service systemd-firstboot.service)

overlay_dirs=("$golden_src/common" "$golden_src/$flavour")

# The recipe: everything that decides the image's content, in a stable order.
recipe() {
    echo "recipe-format 1"
    echo "suite $suite"
    echo "flavour $flavour"
    echo "packages ${packages[*]}"
    echo "masked ${masked_units[*]}"
    echo "builder $(sha256sum <"$self" | cut -d' ' -f1)"
    local d f
    for d in "${overlay_dirs[@]}"; do
        [ -d "$d" ] || die "recipe folder $d is missing (is this a complete checkout?)"
        while IFS= read -r f; do
            local mode=0644
            [ -x "$d/$f" ] && mode=0755
            echo "file ${d#"$golden_src"/}/$f $mode $(sha256sum <"$d/$f" | cut -d' ' -f1)"
        done < <(cd "$d" && find . -type f -printf '%P\n' | LC_ALL=C sort)
    done
}
recipe_text=$(recipe)
full_hash=$(printf '%s\n' "$recipe_text" | sha256sum | cut -d' ' -f1)
name="debian12-$flavour-${full_hash:0:12}"
image_dir="$image_root/$name"

image_complete() {
    local f
    for f in disk.qcow2 vmlinuz initrd.img recipe.sha256; do
        [ -s "$image_dir/$f" ] || return 1
    done
    [ "$(head -n 1 "$image_dir/recipe.sha256" | cut -d' ' -f1)" = "$full_hash" ]
}

# The Debian mirror this machine's apt uses (one-line and deb822 formats). Never hard-coded.
mirror_url() {
    if [ -n "${FLUID_DEBIAN_MIRROR:-}" ]; then
        echo "$FLUID_DEBIAN_MIRROR"
        return
    fi
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite && $i ~ /^https?:\/\//) { print $i; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            BEGIN { RS = ""; FS = "\n" }
            {
                types = ""; uris = ""; suites = ""; enabled = "yes"
                for (n = 1; n <= NF; n++) {
                    line = $n
                    if (line ~ /^#/) continue
                    key = tolower(line); sub(/:.*/, "", key)
                    val = line; sub(/^[^:]*:[ \t]*/, "", val)
                    if (key == "types") types = val
                    else if (key == "uris") uris = val
                    else if (key == "suites") suites = val
                    else if (key == "enabled") enabled = tolower(val)
                }
                if (enabled == "no" || (" " types " ") !~ / deb /) next
                if ((" " suites " ") !~ (" " suite " ")) next
                split(uris, u, /[ \t]+/)
                for (k in u) if (u[k] ~ /^https?:\/\//) { print u[k]; exit }
            }' "$f"
    done
}

# Defines (or redefines with the same UUID) the shut-off golden domain for this image.
define_domain() {
    local uri=$1 dom="golden-debian12-$flavour" uuid_line="" xml state identity=fwcfg
    # Tells Fluid how a clone receives its identity (SourceDomain::identity).
    [ "$flavour" = cloudinit ] && identity=cloud-init
    command -v virsh >/dev/null || die "virsh is missing (scripts/setup-deps.sh installs libvirt-clients)"
    virsh -c "$uri" version >/dev/null 2>&1 ||
        die "cannot reach libvirt at $uri to define $dom: start it first (scripts/testbed up)"
    if virsh -c "$uri" dominfo "$dom" >/dev/null 2>&1; then
        state=$(virsh -c "$uri" domstate "$dom" 2>/dev/null | sed -n 1p)
        [ "$state" = "shut off" ] ||
            die "golden domain $dom is '$state'; a golden VM must stay shut off: virsh -c $uri destroy $dom"
        uuid_line="<uuid>$(virsh -c "$uri" domuuid "$dom" | sed -n 1p)</uuid>"
    fi
    xml=$(mktemp)
    cat >"$xml" <<XML
<domain type='qemu'>
  <name>$dom</name>
  $uuid_line
  <title>Fluid golden image $name</title>
  <description>Golden VM for Fluid sandboxes: never started, only cloned (qcow2 overlay on its read-only disk).</description>
  <metadata>
    <fluid:identity xmlns:fluid="https://fluid.dev/xmlns/sandbox/1">$identity</fluid:identity>
  </metadata>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$image_dir/vmlinuz</kernel>
    <initrd>$image_dir/initrd.img</initrd>
    <cmdline>root=/dev/vda rw console=ttyS0</cmdline>
  </os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$image_dir/disk.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <source network='fluid-sandbox'/>
      <model type='virtio'/>
    </interface>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <serial type='pty'>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
    <controller type='usb' model='none'/>
  </devices>
</domain>
XML
    if ! out=$(virsh -c "$uri" define "$xml" 2>&1); then
        rm -f "$xml"
        die "virsh define $dom failed: $out"
    fi
    rm -f "$xml"
    echo "defined $dom ($uri) for $image_dir"
}

if [ "$cmd" = path ]; then
    echo "$image_dir"
    image_complete
    exit $?
fi
[ "$cmd" = build ] || usage

[ "$(id -u)" -eq 0 ] || die "building an image needs root (debootstrap, chroot): run it as root or with sudo"
for tool in debootstrap mkfs.ext4 qemu-img chroot flock sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup-deps.sh"
done

mkdir -p "$image_root" "$deb_cache"
exec 9>"$image_root/.debian12-$flavour.lock"
flock 9

if image_complete; then
    progress 100 "cached $image_dir"
    echo "cached $image_dir"
    [ -z "$define_uri" ] || define_domain "$define_uri"
    exit 0
fi
[ ! -e "$image_dir" ] || die "$image_dir exists but is incomplete or from another recipe: remove it (rm -rf) and build again"

mirror=$(mirror_url | head -n 1)
[ -n "$mirror" ] || die "no Debian $suite mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/: add one or set FLUID_DEBIAN_MIRROR"

# Removes a build folder: first every mount below it (debootstrap mounts /proc and /sys in the target,
# the work tree may be a tmpfs); never rm -rf across a mount.
remove_build_dir() {
    local dir=$1 m
    while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r)
    mountpoint -q "$dir/work" 2>/dev/null && umount -l "$dir/work"
    rm -rf "$dir"
}
# Leftovers of a build that was killed (we hold this flavour's lock, so none is running).
for old in "$image_root"/.build-debian12-"$flavour"-*; do
    [ -d "$old" ] && remove_build_dir "$old"
done
tmp=$(mktemp -d "$image_root/.build-$name.XXXXXX")
trap 'remove_build_dir "$tmp"' EXIT
trap 'exit 130' INT TERM
# The root tree and the raw disk live in a private tmpfs when there is memory for it (~1.5 GB used):
# dpkg and mkfs.ext4 -d are several times faster there than on a busy disk.
work="$tmp/work"
mkdir "$work"
avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
if [ "${avail_kb:-0}" -gt $((4 * 1024 * 1024)) ] && mount -t tmpfs -o size=6G,mode=0755 fluid-image-build "$work" 2>/dev/null; then
    progress 2 "working in memory (tmpfs)"
fi
rootfs="$work/rootfs"
raw="$work/disk.raw"
progress 5 "building $name (recipe ${full_hash:0:12})"

# debootstrap in two stages: download and extract, then the recipe files go in (the initramfs settings
# must be there before the kernel's postinst builds the initramfs), then the packages are configured.
# Each stage prints progress lines; its full log is printed only when it fails.
debootstrap_progress() {
    local line p last=0
    while IFS= read -r line; do
        case "$line" in
        "I: Retrieving InRelease"* | "I: Retrieving Release"* | "I: Retrieving Packages"*) p="10 fetching package lists" ;;
        "I: Resolving dependencies"*) p="12 resolving dependencies" ;;
        "I: Found additional"*) p="14 resolved" ;;
        "I: Retrieving "* | "I: Validating "*) p="15 fetching packages (cache: $deb_cache)" ;;
        "I: Extracting "*) p="25 extracting" ;;
        "I: Installing core packages"*) p="35 installing core packages" ;;
        "I: Unpacking the base system"*) p="40 unpacking" ;;
        "I: Configuring the base system"*) p="48 configuring" ;;
        *) continue ;;
        esac
        [ "${p%% *}" -gt "$last" ] || continue
        progress "${p%% *}" "debootstrap: ${p#* }"
        last=${p%% *}
    done
}
run_logged() { # LOG COMMAND... -> progress lines; the log's tail and an error when COMMAND fails
    local log=$1 rc
    shift
    set +e
    "$@" 2>&1 | tee -a "$log" | debootstrap_progress
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$log" >&2
        [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 40 "$rootfs/debootstrap/debootstrap.log" >&2
        die "$* failed (exit $rc); see the lines above. Is the mirror reachable (apt-get update works)?"
    fi
}
include=$(IFS=,; echo "${packages[*]}")
log="$tmp/debootstrap.log"
run_logged "$log" debootstrap --foreign --variant=minbase --include="$include" --cache-dir="$deb_cache" \
    "$suite" "$rootfs" "$mirror"

# Recipe files, root-owned, 0755 if executable in the checkout, else 0644. None is a dpkg conffile.
for d in "${overlay_dirs[@]}"; do
    while IFS= read -r f; do
        mode=0644
        [ -x "$d/$f" ] && mode=0755
        install -D -o root -g root -m "$mode" "$d/$f" "$rootfs/$f"
    done < <(cd "$d" && find . -type f -printf '%P\n' | LC_ALL=C sort)
done
# dpkg's fsync per file is most of the configure time; this tree is thrown away if anything fails.
mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
echo force-unsafe-io >"$rootfs/etc/dpkg/dpkg.cfg.d/zz-fluid-build"
run_logged "$log" chroot "$rootfs" /debootstrap/debootstrap --second-stage
rm -f "$rootfs/etc/dpkg/dpkg.cfg.d/zz-fluid-build"
while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(findmnt -rn -o TARGET | grep -F "$rootfs/" | sort -r)
progress 55 "debootstrap done"

# Identity comes per clone: no machine-id, no host keys, no random seed, no hostname of its own.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs/var/lib/systemd/random-seed"
ln -s /etc/machine-id "$rootfs/var/lib/dbus/machine-id"
rm -f "$rootfs"/etc/ssh/ssh_host_*
echo "localhost" >"$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"
# root has no password: the account stays locked ('*'); SSH takes only Fluid's user certificates.
chroot "$rootfs" usermod -p '*' root
# The image is offline: the sandbox's package source is whatever the host offers (the test bed's repo).
: >"$rootfs/etc/apt/sources.list"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/log/bootstrap.log

systemctl --root="$rootfs" enable systemd-networkd.service >/dev/null 2>&1
[ "$flavour" = fwcfg ] && systemctl --root="$rootfs" enable fluid-identity.service >/dev/null 2>&1
systemctl --root="$rootfs" mask "${masked_units[@]}" >/dev/null 2>&1
progress 65 "configured"

# The kernel's postinst built the initramfs with the recipe's MODULES=list; check it has what boots.
kver=$(find "$rootfs/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
if [ -z "$kver" ] || [ ! -s "$rootfs/boot/initrd.img-$kver" ]; then
    die "no kernel or initramfs in the image (linux-image-amd64 did not install)"
fi
contents=$(chroot "$rootfs" lsinitramfs "/boot/initrd.img-$kver")
for m in virtio_blk virtio_pci virtio_net ext4 qemu_fw_cfg; do
    grep -q "/$m\.ko" <<<"$contents" || die "the initramfs lacks $m.ko: check scripts/golden/common/usr/share/initramfs-tools/modules.d/fluid"
done
out="$tmp/out"
mkdir "$out"
cp "$rootfs/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$rootfs/boot/initrd.img-$kver" "$out/initrd.img"
progress 75 "initramfs done ($(du -h "$out/initrd.img" | cut -f1), kernel $kver)"

truncate -s 4G "$raw"
mkfs.ext4 -q -L fluidroot -d "$rootfs" "$raw" || die "mkfs.ext4 -d failed building the disk"
rm -rf "$rootfs"
progress 85 "filesystem done"
qemu-img convert -f raw -O qcow2 "$raw" "$out/disk.qcow2" || die "qemu-img convert to qcow2 failed"
rm -f "$raw"
progress 95 "qcow2 done ($(du -h "$out/disk.qcow2" | cut -f1))"

{
    echo "$full_hash  recipe"
    printf '%s\n' "$recipe_text"
} >"$out/recipe.sha256"
chmod 0444 "$out"/*
chmod 0755 "$out"
mv -T "$out" "$image_dir"
progress 100 "built $image_dir"
[ -z "$define_uri" ] || define_domain "$define_uri"
