#!/bin/sh
# Builds, once per machine, the real kube-score the e2e tests run over every synthesized
# manifest. Prints its path.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

version=$(dk_module_version "$here/go/kube-score" github.com/zegl/kube-score)
dk_go_build kube-score "$version" "$here/go/kube-score" github.com/zegl/kube-score/cmd/kube-score "-s -w -X main.version=$version"
