#!/bin/sh
# Builds, once per machine, the real Kubernetes API server the e2e tests apply the synthesized
# YAML to: kube-apiserver and kubectl (Kubernetes v1.36.3) and the etcd 3.6 it stores objects in.
# Prints three paths, one a line: kube-apiserver, kubectl, etcd.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

kube_version=$(dk_module_version "$here/go/kubernetes" k8s.io/kubernetes)
etcd_version=$(dk_module_version "$here/go/etcd" go.etcd.io/etcd/server/v3)

# Clients compare the server's reported version (kubectl warns on skew, some refuse a
# v0.0.0-master server), so stamp the release the way Kubernetes' own build does.
major=${kube_version#v}; major=${major%%.*}
minor=${kube_version#v"$major".}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

dk_go_build kube-apiserver "$kube_version" "$here/go/kubernetes" k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
dk_go_build kubectl "$kube_version" "$here/go/kubernetes" k8s.io/kubernetes/cmd/kubectl "$ldflags"
dk_go_build etcd "$etcd_version" "$here/go/etcd" go.etcd.io/etcd/server/v3 "-s -w"
