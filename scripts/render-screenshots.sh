#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# render-screenshots.sh [BUILD_DIR]
# Renders Fluid's main window, each dock, the dialogs and the wizard under Xvfb (a real X server, xcb
# platform) to BUILD_DIR/screenshots/*.png, plus a capture of the whole X screen, so a person can look at them.
set -euo pipefail
build=$(realpath "${1:-build}")
out=$build/screenshots
bin=$build/tests/gui/render_screenshots
[ -x "$bin" ] || { echo "render-screenshots: build first ($bin is missing)"; exit 1; }
command -v xvfb-run >/dev/null || { echo "SKIPPED: xvfb-run is not installed (scripts/setup-deps.sh installs it)"; exit 77; }
rm -rf "$out"
mkdir -p "$out"
# Every render_* program in tests/gui draws its part (the main window, a dock, a dialog, the wizard) to
# PNG files in the folder it is given, and says which files it wrote, one name per line on stdout
# ("wrote NAME.png"). The screen capture runs inside the same X session, right after the main window has drawn.
renderers=$(find "$build/tests/gui" -maxdepth 1 -type f -name 'render_*' -perm -u+x | sort)
xvfb-run -a -s '-screen 0 1600x1000x24' bash -c '
  set -e
  out=$1; shift
  for bin in "$@"; do
    "$bin" "$out" > "$out/.$(basename "$bin").log" 2>&1 &
    pid=$!
    if [ "$(basename "$bin")" = render_screenshots ]; then
      for _ in $(seq 1 100); do [ -f "$out/main-window.png" ] && break; sleep 0.1; done
      if command -v import >/dev/null; then import -window root "$out/x-screen.png" || true; fi
    fi
    wait $pid || { echo "render-screenshots: $bin failed:"; cat "$out/.$(basename "$bin").log"; exit 1; }
  done
' bash "$out" $renderers
status=0
for log in "$out"/.render_*.log; do
  cat "$log"
  for f in $(sed -n 's/^wrote \([A-Za-z0-9_.-]*\.png\)$/\1/p' "$log"); do
    [ -s "$out/$f" ] || { echo "render-screenshots: $out/$f was not written"; status=1; }
  done
  grep -q '^wrote ' "$log" || { echo "render-screenshots: $log names no image"; status=1; }
done
[ $status -eq 0 ] || exit 1
ls -l "$out"
