#!/bin/sh
# Builds cyclonus (github.com/mattfenwick/cyclonus, a NetworkPolicy analyzer) from the Go
# module proxy into the per-machine cache once, and prints the binary's path. The connectivity
# test (test/e2e/connectivity.test.ts) evaluates the generated NetworkPolicies with its
# `analyze --mode query-traffic`. The version is the one tools/go/cyclonus/go.mod requires.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/lib.sh
. "$here/lib.sh"

module_dir="$here/go/cyclonus"
version=$(awk '$1 == "github.com/mattfenwick/cyclonus" { print $2 }' "$module_dir/go.mod")
if [ -z "$version" ]; then
  dk_log "no github.com/mattfenwick/cyclonus requirement in $module_dir/go.mod"
  exit 1
fi

dk_go_build cyclonus "$version" "$module_dir" github.com/mattfenwick/cyclonus/cmd/cyclonus
