#!/bin/sh
# Generates lib/gateway/imports/ (typed cdk8s classes) from the upstream Gateway API CRDs, which
# come from the Go module proxy (the module sigs.k8s.io/gateway-api carries them as data).
#
#   tools/import-crds.sh [OUT_DIR]
#
# Writes OUT_DIR/gateway.networking.k8s.io.ts (default: lib/gateway/imports) and prints the path
# of the CRDs it was made from, cached once per machine, so tests can install the same CRDs.
# test/e2e/gateway-imports.test.ts runs it into a temporary folder and fails when the committed
# classes differ: bump the version below, run this script, commit the result.
#
# consul-k8s's CRDs (github.com/hashicorp/consul-k8s/control-plane, config/crd/bases) would be
# imported the same way into lib/mesh/imports, but the module proxy refuses that module (403).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

module=sigs.k8s.io/gateway-api
version=v1.6.3
# The module's go.sum hash: the proxy must serve exactly the CRDs the committed classes came from.
sum=h1:lKpJa5bGlraC/QeACvCpsHLdmO6y0iKfzVl6gzaFEYc=
# The standard channel's kinds that discovery-kit builds on (issue #15).
kinds="gatewayclasses gateways httproutes grpcroutes referencegrants"
out_dir=${1:-$root/lib/gateway/imports}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Keyed by the version and the kinds, so changing either fetches anew.
crds="$(dk_cache_dir)/crds/gateway-api-$version-standard-$(printf '%s' "$kinds" | cksum | cut -d ' ' -f 1).yaml"
if [ ! -f "$crds" ]; then
  dk_require_go "the Gateway API CRDs"
  # Outside any module, so no go.mod of ours takes part; the checksum database checks the zip.
  json=$(cd "$work" && go mod download -json "$module@$version") || {
    dk_log "go mod download $module@$version failed: $json"
    exit 1
  }
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  got=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p')
  if [ "$got" != "$sum" ]; then
    dk_log "$module@$version has sum '$got', expected '$sum'"
    exit 1
  fi
  mkdir -p "$(dirname "$crds")"
  for kind in $kinds; do
    printf -- '---\n'
    cat "$dir/config/crd/standard/gateway.networking.k8s.io_$kind.yaml"
  done >"$crds.tmp.$$"
  # Renamed only when complete, so an interrupted run never leaves CRDs a later run would trust.
  mv -f "$crds.tmp.$$" "$crds"
  dk_log "cached the $module $version standard CRDs ($kinds) in $crds"
fi

# --no-save: cdk8s.yaml keeps no import entry (it would name this machine's cache path).
(cd "$root" && npx --no cdk8s import --no-check-upgrade --no-save --language typescript --output "$work/imports" "$crds") >&2
mkdir -p "$out_dir"
mv -f "$work/imports/gateway.networking.k8s.io.ts" "$out_dir/gateway.networking.k8s.io.ts"
printf '%s\n' "$crds"
