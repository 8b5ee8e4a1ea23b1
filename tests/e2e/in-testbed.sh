#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# in-testbed.sh PROGRAM [ARG...]
# Runs an e2e test inside the test bed's network namespace: `ip netns exec <ns> PROGRAM ARG...`, the
# namespace named in $FLUID_TESTBED_ENV (written by `scripts/testbed up`). Where this machine cannot
# run VMs at all it prints "SKIPPED: <reason>" and exits 77; when it can but the test bed is not up, the
# test fails (testbed_up must have failed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
if reason=$("$root/scripts/testbed.d/vm-skip-reason.sh"); then
    echo "SKIPPED: $reason"
    exit 77
fi
envfile=${FLUID_TESTBED_ENV:-/run/fluid-testbed/env}
if [ ! -s "$envfile" ]; then
    echo "in-testbed: the test bed is not up ($envfile is missing): see testbed_up's output, or run scripts/testbed up" >&2
    exit 1
fi
ns=$(sed -n 's/^FLUID_TESTBED_NS=//p' "$envfile")
[ -n "$ns" ] || { echo "in-testbed: FLUID_TESTBED_NS missing in $envfile" >&2; exit 1; }
export FLUID_TESTBED_ENV=$envfile
exec ip netns exec "$ns" "$@"
