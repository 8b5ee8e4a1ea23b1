#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# vm-skip-reason.sh
# Prints why this machine cannot run the test bed's VMs and exits 0, or prints nothing and exits 1 when
# it can. The only accepted reasons: not root, no qemu-system-x86_64, no network namespaces. Anything
# else missing is a broken setup (scripts/setup-deps.sh installs it) and must fail, not skip.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo "not running as root (the test bed needs network namespaces and libvirtd)"
elif ! command -v qemu-system-x86_64 >/dev/null; then
    echo "qemu-system-x86_64 is not installed"
elif ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
    echo "'ip netns' is not available (iproute2 missing or no network namespace support)"
else
    exit 1
fi
