#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# render-screenshots.sh [BUILD_DIR]
# Renders Fluid's main window, hosts dock and About dialog under Xvfb (a real X server, xcb platform) to
# BUILD_DIR/screenshots/*.png, plus a capture of the whole X screen, so a person can look at them.
set -euo pipefail
build=$(realpath "${1:-build}")
out=$build/screenshots
bin=$build/tests/gui/render_screenshots
[ -x "$bin" ] || { echo "render-screenshots: build first ($bin is missing)"; exit 1; }
command -v xvfb-run >/dev/null || { echo "SKIPPED: xvfb-run is not installed (scripts/setup-deps.sh installs it)"; exit 77; }
rm -rf "$out"
mkdir -p "$out"
# The screen capture runs inside the same X session, right after the program has drawn.
xvfb-run -a -s '-screen 0 1600x1000x24' bash -c '
  set -e
  "$0" "$1" &
  pid=$!
  for _ in $(seq 1 100); do [ -f "$1/main-window.png" ] && break; sleep 0.1; done
  if command -v import >/dev/null; then import -window root "$1/x-screen.png" || true; fi
  wait $pid
' "$bin" "$out"
for f in main-window.png hosts-dock.png about-dialog.png; do
  [ -s "$out/$f" ] || { echo "render-screenshots: $out/$f was not written"; exit 1; }
done
ls -l "$out"
