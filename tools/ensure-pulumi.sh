#!/bin/sh
# Builds, once per machine, the real Pulumi engine the e2e tests deploy the stacks with: the
# Pulumi CLI and the Kubernetes resource provider (pulumi-resource-kubernetes), from the Go
# module proxy. Prints two paths, one a line: pulumi, pulumi-resource-kubernetes.
#
# The Node.js language host (pulumi-language-nodejs) is not here: the proxy serves no version of
# its module, so the tests run the programs through @pulumi/pulumi's own in-process language
# runtime (the Automation API's inline programs), which the CLI reaches with --client.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

# The version of module $2 that the wrapper module $1 requires (in a require block or line).
module_version() { awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"; }

pulumi_version=$(module_version "$here/go/pulumi" github.com/pulumi/pulumi/pkg/v3)
dk_go_build pulumi "$pulumi_version" "$here/go/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_version"

# The engine asks for the provider version the npm package @pulumi/kubernetes names, and would
# try to download any other: the provider is stamped with that version (the module version the
# proxy serves is a pseudo-version of its own, part of the cache key).
provider_module=github.com/pulumi/pulumi-kubernetes/provider/v4
provider_version=$(module_version "$here/go/pulumi-kubernetes" "$provider_module")
npm_version=$(cd "$here/.." && node -p "require('@pulumi/kubernetes/package.json').pulumi.version") || {
  dk_log "cannot read the provider version of @pulumi/kubernetes: run npm ci first"
  exit 1
}
key="$npm_version-${provider_version##*-}"

# main.go embeds the schema and Terraform mapping that upstream's `go generate` writes and the
# module zip lacks: they are generated from the module's own files into a build copy of the
# wrapper module in the cache (the schema stamped with the version, as upstream's generate.go does).
src="$(dk_cache_dir)/src/pulumi-resource-kubernetes-$key"
if [ ! -x "$(dk_cache_dir)/bin/pulumi-resource-kubernetes-$key/pulumi-resource-kubernetes" ]; then
  dk_require_go pulumi-resource-kubernetes
  module_dir=$(cd "$here/go/pulumi-kubernetes" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "$provider_module")
  [ -n "$module_dir" ] || { dk_log "go list found no directory for $provider_module@$provider_version"; exit 1; }
  rm -rf "$src"
  mkdir -p "$src"
  cp "$here/go/pulumi-kubernetes/go.mod" "$here/go/pulumi-kubernetes/go.sum" "$here/go/pulumi-kubernetes/main.go" "$src/"
  node -e '
    const fs = require("node:fs");
    const path = require("node:path");
    const [from, to, version] = process.argv.slice(1);
    const json = (file) => JSON.parse(fs.readFileSync(path.join(from, file + ".json"), "utf8"));
    fs.writeFileSync(path.join(to, "schema-embed.json"), JSON.stringify({ ...json("schema"), version }));
    fs.writeFileSync(path.join(to, "terraform-mapping-embed.json"), JSON.stringify(json("terraform-mapping")));
  ' "$module_dir/cmd/pulumi-resource-kubernetes" "$src" "$npm_version"
fi
dk_go_build pulumi-resource-kubernetes "$key" "$src" . \
  "-s -w -X $provider_module/pkg/version.Version=$npm_version"
