#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails when a file crosses the layering in shared/design/architecture.md.
set -u
root=$1
rc=0
if grep -rnE '#include\s*[<"](QtWidgets|QtGui|QWidget|QApplication|QGuiApplication)' "$root/core"; then
  echo "FAIL: core/ must not include QtWidgets or QtGui"; rc=1
fi
if grep -rnE '#include\s*[<"](libvirt/|libssh/)' "$root/ui"; then
  echo "FAIL: ui/ must not include libvirt or libssh headers"; rc=1
fi
[ $rc -eq 0 ] && echo "layering ok"
exit $rc
