#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Proves layering.sh fails on what it must catch: a tiny tree that keeps the rules passes, and each kind of
# violation, added to a copy of it, fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0

make_tree() {
  local root=$1
  mkdir -p "$root"/core/{base,model,store,config,secrets,ssh,virt,inspect,approval,services} "$root"/ui "$root"/app
  echo '#include "base/Result.h"' >"$root/core/virt/Ok.cpp"
  echo '#include "ssh/Exec.h"' >"$root/core/inspect/Ok.cpp"
  echo '#include "virt/SandboxManager.h"' >"$root/core/services/Ok.cpp"
  echo '#include "services/Services.h"' >"$root/ui/Ok.cpp"
  echo 'QString s = QStringLiteral("x");' >"$root/core/store/Ok.cpp"
}

expect() { # expect pass|fail NAME ROOT
  if bash "$here/layering.sh" "$3" >"$work/out" 2>&1; then got=pass; else got=fail; fi
  if [ "$got" != "$1" ]; then
    echo "layering.sh should $1 for: $2"; cat "$work/out"; rc=1
  fi
}

make_tree "$work/clean"
expect pass "a tree that keeps the rules" "$work/clean"

violation() { # violation NAME FILE LINE
  rm -rf "$work/bad"; cp -r "$work/clean" "$work/bad"
  mkdir -p "$(dirname "$work/bad/$2")"
  echo "$3" >>"$work/bad/$2"
  expect fail "$1" "$work/bad"
}
violation "virt including approval (sideways)" core/virt/Bad.cpp '#include "approval/ApprovalBroker.h"'
violation "store including services (upwards)" core/store/Bad.cpp '#include "services/Services.h"'
violation "base including model (upwards)" core/base/Bad.h '#include "model/Model.h"'
violation "a core folder missing from the table" core/newthing/Bad.cpp '#include "base/Result.h"'
violation "core including QtWidgets" core/virt/Bad.cpp '#include <QWidget>'
violation "ui including libvirt" ui/Bad.cpp '#include <libvirt/libvirt.h>'
violation "SQL outside core/store" core/virt/Bad.cpp 'auto q = db.exec(QStringLiteral("SELECT id FROM sandboxes"));'
violation "a literal actor" core/virt/Bad.cpp 'audit(QStringLiteral("person"), kind);'
[ $rc -eq 0 ] && echo "layering.sh catches every kind of violation"
exit $rc
