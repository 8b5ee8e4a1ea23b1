#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# with-keyring.sh PROGRAM [ARGS...]
# Runs PROGRAM inside a private D-Bus session with a freshly unlocked gnome-keyring whose data lives in a
# private XDG_DATA_HOME, so tests never touch the person's own keyring.
set -euo pipefail
command -v dbus-run-session >/dev/null || { echo "SKIPPED: dbus-run-session not installed"; exit 77; }
command -v gnome-keyring-daemon >/dev/null || { echo "SKIPPED: gnome-keyring-daemon not installed"; exit 77; }
home=$(mktemp -d /tmp/fluid-keyring-XXXXXX)
trap 'rm -rf "$home"' EXIT
unset DISPLAY WAYLAND_DISPLAY  # a keyring prompt must never reach a developer's screen
export FLUID_TEST_KEYRING=1
export XDG_DATA_HOME=$home/data XDG_CONFIG_HOME=$home/config XDG_RUNTIME_DIR=$home/run HOME=$home
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
dbus-run-session -- sh -c 'echo -n test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"' sh "$@"
