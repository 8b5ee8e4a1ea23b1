#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make-seed.sh OUT.iso HOSTNAME PRINCIPAL HOSTKEY HOSTCERT USERCA
#
# Writes a cloud-init NoCloud seed (ISO 9660, volume label cidata, via cloud-localds) that gives a
# sandbox of the golden image's cloudinit flavour its identity: hostname HOSTNAME; SSH host key HOSTKEY
# (an OpenSSH ed25519 private key file) with its host certificate HOSTCERT (the -cert.pub file); the
# user CA public key USERCA in /etc/ssh/fluid_user_ca.pub; and PRINCIPAL as the only principal that
# may log in as root (/etc/ssh/fluid_principals/root). Attach it as a read-only cdrom, e.g.
#   <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='OUT.iso'/>
#     <target dev='sda' bus='sata'/><readonly/></disk>
# The seed holds a private key: it is written 0600, and the caller deletes it with the sandbox.
set -euo pipefail

die() {
    echo "make-seed: $*" >&2
    exit 1
}
[ $# -eq 6 ] || {
    sed -n '3p' "$0" | sed 's/^# /usage: /' >&2
    exit 2
}
out=$1 hostname=$2 principal=$3 hostkey=$4 hostcert=$5 userca=$6

command -v cloud-localds >/dev/null || die "cloud-localds is missing: run scripts/setup-deps.sh (package cloud-image-utils)"
[[ "$hostname" =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] || die "invalid hostname '$hostname'"
[[ "$principal" =~ ^[A-Za-z0-9._@-]{1,128}$ ]] || die "invalid principal '$principal'"
for f in "$hostkey" "$hostcert" "$userca"; do
    [ -r "$f" ] || die "cannot read $f"
done
hostpub=$(ssh-keygen -y -f "$hostkey" 2>/dev/null) || die "$hostkey is not an OpenSSH private key (or has a passphrase)"
case "$hostpub" in ssh-ed25519\ *) ;; *) die "$hostkey is not an ed25519 key" ;; esac
ssh-keygen -L -f "$hostcert" >/dev/null 2>&1 || die "$hostcert is not an OpenSSH certificate"
ssh-keygen -l -f "$userca" >/dev/null 2>&1 || die "$userca is not an OpenSSH public key"

indent() { sed 's/^/      /' "$1"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077
{
    echo "#cloud-config"
    echo "hostname: $hostname"
    echo "preserve_hostname: false"
    echo "ssh_deletekeys: true"
    echo "ssh_genkeytypes: []"
    echo "ssh_keys:"
    echo "  ed25519_private: |"
    sed 's/^/    /' "$hostkey"
    echo "  ed25519_public: $hostpub"
    echo "  ed25519_certificate: $(head -n 1 "$hostcert")"
    echo "write_files:"
    echo "  - path: /etc/ssh/fluid_user_ca.pub"
    echo "    permissions: '0644'"
    echo "    content: |"
    indent "$userca"
    echo "  - path: /etc/ssh/fluid_principals/root"
    echo "    permissions: '0644'"
    echo "    content: |"
    echo "      $principal"
} >"$tmp/user-data"
{
    echo "instance-id: $hostname-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "local-hostname: $hostname"
} >"$tmp/meta-data"
rm -f "$out"
cloud-localds "$out" "$tmp/user-data" "$tmp/meta-data" || die "cloud-localds failed writing $out"
chmod 0600 "$out"
echo "seed written: $out"
