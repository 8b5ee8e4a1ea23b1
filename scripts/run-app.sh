#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is needed (Debian 12), builds, and launches the Fluid desktop app. Arguments go to fluid.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
build=${FLUID_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target fluid
# The root helper for snapshot diffs and its sudoers rule for group libvirt (docs/inspect.md), so the app can
# run as you: installed once, root-owned.
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO cmake --install "$build" --component inspect_helper >/dev/null
exec "$build/app/fluid/fluid" "$@"
