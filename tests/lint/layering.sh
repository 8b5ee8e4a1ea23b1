#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails when an include crosses the layering (README.md, Layout): a folder of core may include only the core
# folders below it in the table, core never includes QtWidgets/QtGui or ui, ui and app never include libvirt
# or libssh, no SQL is written outside core/store, and no actor is written as a literal.
set -u
root=$1
rc=0

# core folder: the core folders it may include (its own is always allowed). Lower layers first.
declare -A allowed=(
  [base]=""
  [model]="base"
  [store]="base model"
  [config]="base model"
  [secrets]="base model"
  [ssh]="base model store config secrets"
  [virt]="base model store config secrets"
  [inspect]="base model store config secrets ssh"
  [approval]="base model store config secrets"
  [egress]="base model store config secrets approval"
  [ansible]="base model store config secrets ssh virt inspect approval egress"
  [agent]="base model store config secrets ssh virt inspect approval egress"
  [services]="base model store config secrets ssh virt inspect approval egress ansible agent"
  [api]="base model store config secrets ssh virt inspect approval egress ansible agent services"
)
core_folders=" ${!allowed[*]} "

fail() {
  echo "FAIL: $1"
  rc=1
}

# Every folder of core must be in the table, so a new one is placed in the layering on purpose.
for dir in "$root"/core/*/; do
  name=$(basename "$dir")
  [[ -n "${allowed[$name]+set}" ]] || fail "core/$name is not in the layering table of tests/lint/layering.sh"
done

# core: only folders below, as the table says.
while IFS= read -r line; do
  file=${line%%:*}
  rest=${line#*:}
  lineno=${rest%%:*}
  target=$(sed -nE 's/.*#include\s*"([a-z]+)\/.*/\1/p' <<<"$rest")
  from=${file#"$root"/core/}
  from=${from%%/*}
  [[ -z "$target" || "$target" == "$from" ]] && continue
  if [[ "$core_folders" != *" $target "* ]]; then
    fail "$file:$lineno includes $target/, which is not a folder of core"
  elif [[ " ${allowed[$from]} " != *" $target "* ]]; then
    fail "$file:$lineno: core/$from may not include core/$target (it is not below it in the layering)"
  fi
done < <(grep -rnE '#include\s*"[a-z]+/' "$root/core" --include='*.h' --include='*.cpp')

if grep -rnE '#include\s*[<"](QtWidgets|QtGui|QWidget|QApplication|QGuiApplication)' "$root/core"; then
  fail "core/ must not include QtWidgets or QtGui"
fi
if grep -rnE '#include\s*[<"](libvirt/|libssh/)' "$root/ui" "$root/app"; then
  fail "ui/ and app/ must not include libvirt or libssh headers"
fi
# ui is a client of core: it never includes the executables' code, and core never includes ui's.
if grep -rnE '#include\s*"(fluid|app)/' "$root/ui"; then
  fail "ui/ must not include app/"
fi
for ui_folder in approvals diff onboarding settings terminal widgets; do
  if grep -rnE "#include\\s*\"$ui_folder/" "$root/core"; then
    fail "core/ must not include ui/$ui_folder"
  fi
done
# SQL lives in core/store only (named queries there).
if grep -rnE '"[^"]*(SELECT |INSERT INTO|DELETE FROM|UPDATE [a-z_]+ SET| = \?|CREATE TABLE)' "$root/core" "$root/ui" \
     "$root/app" --include='*.cpp' --include='*.h' | grep -v "^$root/core/store/"; then
  fail "SQL outside core/store: add a named query to core/store/Queries.h instead"
fi
# No literal actor names outside the actor type: services take a model::Actor.
if grep -rnE 'QStringLiteral\("(person|system)"\)' "$root/core" "$root/ui" "$root/app" --include='*.cpp' --include='*.h' \
     | grep -v "^$root/core/model/Actor"; then
  fail "an actor written as a literal: pass a model::Actor"
fi

[ $rc -eq 0 ] && echo "layering ok"
exit $rc
