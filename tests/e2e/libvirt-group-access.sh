#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# libvirt-group-access.sh: the test bed's libvirtd lets an unprivileged person in group libvirt use
# qemu:///system (as the desktop app does when it runs as that person), and refuses an account outside the
# group. Run by ctest with the "testbed" fixture; exits 77 (skipped) where the test bed cannot run.
set -euo pipefail
env_file=${FLUID_TESTBED_ENV:-/run/fluid-testbed/env}
if [ ! -s "$env_file" ]; then
    echo "SKIPPED: no test bed ($env_file is missing: testbed_up could not run VMs here)"
    exit 77
fi
# shellcheck disable=SC1090
. "$env_file"
uri=${FLUID_TESTBED_LIBVIRT_URI:?}
person=${FLUID_TESTBED_USER:?}
outsider=${FLUID_TESTBED_OUTSIDER:?}
id -nG "$person" | tr ' ' '\n' | grep -qx libvirt || { echo "FAIL: $person is not in group libvirt"; exit 1; }
if id -nG "$outsider" | tr ' ' '\n' | grep -qx libvirt; then
    echo "FAIL: $outsider should not be in group libvirt"; exit 1
fi
# As the person: list domains (the golden domains the fixture defined are there).
if ! listed=$(runuser -u "$person" -- virsh -c "$uri" list --all --name 2>&1); then
    echo "FAIL: $person (group libvirt) cannot use $uri: $listed"; exit 1
fi
grep -qx golden-debian12-fwcfg <<<"$listed" || { echo "FAIL: $person sees no golden domain: $listed"; exit 1; }
echo "ok: $person uses $uri and sees $(grep -c . <<<"$listed") domain(s)"
# As the outsider: refused by the socket's permissions.
if out=$(runuser -u "$outsider" -- virsh -c "$uri" list --all --name 2>&1); then
    echo "FAIL: $outsider (not in group libvirt) could use $uri: $out"; exit 1
fi
grep -qi "permission denied" <<<"$out" || { echo "FAIL: $outsider refused for another reason: $out"; exit 1; }
echo "ok: $outsider is refused ($(head -n 1 <<<"$out"))"
# The snapshot inspection helper through the shipped sudoers rule: the person may run it, the outsider not.
helper=${FLUID_INSPECT_HELPER_PATH:-/usr/local/libexec/fluid/fluid-inspect-helper}
if ! out=$(runuser -u "$person" -- sudo -n -- "$helper" check 2>&1); then
    echo "FAIL: $person cannot run $helper through sudo: $out"; exit 1
fi
echo "ok: $person runs the inspection helper through sudo"
if out=$(runuser -u "$outsider" -- sudo -n -- "$helper" check 2>&1); then
    echo "FAIL: $outsider (not in group libvirt) could run $helper through sudo"; exit 1
fi
echo "ok: $outsider may not run the inspection helper ($(head -n 1 <<<"$out"))"
