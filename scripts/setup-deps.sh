#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian 12 package Fluid's build, app and tests need. Idempotent: quiet and quick when
# everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang-format clang-tidy git
  qt6-base-dev libqt6svg6 qt6-websockets-dev qt6-httpserver-dev libqt6sql6-sqlite libqt6sql6-psql qt6-qpa-plugins
  qtkeychain-qt6-dev libsecret-1-0 gnome-keyring dbus
  libvirt-dev libssh-dev libyaml-cpp-dev libssl-dev libvterm-dev
  postgresql xvfb xauth x11-apps imagemagick fonts-dejavu-core libxkbcommon-dev
  openssh-client openssh-server
  sudo  # the app as a person runs the snapshot inspection helper through sudo (packaging/sudoers.d)
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-daemon-config-network
  qemu-system-x86 qemu-utils dnsmasq-base iptables iproute2 debootstrap e2fsprogs fdisk libdtl-dev
  ansible-core python3 python3-apt netcat-openbsd genisoimage cloud-image-utils dpkg-dev
  libguestfs-tools linux-image-amd64  # virt-diff for the inspect benchmark; its appliance needs a kernel
  rpm  # reads rpm databases of Fedora/RHEL sandboxes for the package layer of snapshot diffs
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

echo "setup-deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-deps: done"
