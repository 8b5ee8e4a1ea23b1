#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# as-person.sh PROGRAM [ARG...]
# Runs an e2e program as the test bed's unprivileged person (FLUID_TESTBED_USER, in group libvirt), the way
# the desktop app runs: root only sets it up. Every executable in the command line (absolute paths) is copied
# into a private folder the person can read, since the build tree may sit where they cannot (/root); the
# program gets FLUID_TEST_TMP in that folder and FLUID_TEST_PERSON=1. Run it inside the namespace
# (in-testbed.sh). Exits with the program's status.
set -euo pipefail
env_file=${FLUID_TESTBED_ENV:-/run/fluid-testbed/env}
person=$(sed -n 's/^FLUID_TESTBED_USER=//p' "$env_file" 2>/dev/null || true)
[ -n "$person" ] || { echo "as-person: no FLUID_TESTBED_USER in $env_file" >&2; exit 1; }
id "$person" >/dev/null 2>&1 || { echo "as-person: no user $person (scripts/testbed up makes it)" >&2; exit 1; }
work=$(mktemp -d /tmp/fluid-e2e-person-XXXXXX)
trap 'rm -rf -- "$work"' EXIT
chmod 0755 "$work"
args=()
for a in "$@"; do
    if [[ $a == /* && -f $a && -x $a ]]; then
        cp -- "$a" "$work/"
        a=$work/$(basename -- "$a")
    fi
    args+=("$a")
done
mkdir -p "$work/tmp"
chown "$person" "$work/tmp"
chmod 0700 "$work/tmp"
# The person's environment: only what the tests need, never root's.
set +e
runuser -u "$person" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work/tmp" USER="$person" LANG=C.UTF-8 \
    QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" FLUID_TESTBED_ENV="$env_file" FLUID_TEST_TMP="$work/tmp" \
    QTEST_FUNCTION_TIMEOUT="${QTEST_FUNCTION_TIMEOUT:-}" \
    FLUID_TEST_PERSON=1 "${args[@]}"
rc=$?
set -e
exit $rc
