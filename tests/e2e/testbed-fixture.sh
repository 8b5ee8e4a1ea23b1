#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# testbed-fixture.sh up|down
# The ctest fixture "testbed" for the e2e tests.
#   up:   builds (or reuses, "cached") both golden images, starts the test bed (scripts/testbed up), then
#         defines the golden domains golden-debian12-fwcfg and golden-debian12-cloudinit in the test
#         bed's libvirtd (defining needs libvirtd, so it comes after `up`; the builds are cached by then).
#   down: scripts/testbed down (no-op with FLUID_TESTBED_KEEP=1).
# Where this machine cannot run VMs it prints the reason and exits 0; the e2e tests then skip.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
if reason=$("$root/scripts/testbed.d/vm-skip-reason.sh"); then
    echo "SKIPPED: $reason; the e2e tests will be skipped"
    exit 0
fi
case "${1:-}" in
up)
    start=$(date +%s)
    "$root/scripts/golden-image.sh" build --flavour fwcfg
    "$root/scripts/golden-image.sh" build --flavour cloudinit
    echo "golden images ready in $(($(date +%s) - start)) s"
    "$root/scripts/testbed" up
    "$root/scripts/golden-image.sh" build --flavour fwcfg --define qemu:///system
    "$root/scripts/golden-image.sh" build --flavour cloudinit --define qemu:///system
    "$root/scripts/testbed" status
    echo "testbed_up done in $(($(date +%s) - start)) s"
    ;;
down)
    if [ "${FLUID_TESTBED_KEEP:-0}" = 1 ]; then
        echo "FLUID_TESTBED_KEEP=1: leaving the test bed up (scripts/testbed down stops it)"
        exit 0
    fi
    "$root/scripts/testbed" down
    ;;
*)
    echo "usage: testbed-fixture.sh up|down" >&2
    exit 2
    ;;
esac
