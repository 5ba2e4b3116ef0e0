#!/bin/sh
# Runs a command the way a container of a Kubernetes pod with readOnlyRootFilesystem sees the
# world: in a private mount namespace whose root is read-only, with each volume mounted at its
# mountPath (read-only or writable as the pod spec says). The tests run the generated configs,
# scripts and paths unchanged in it (only addresses differ on loopback).
# Must start as root in a fresh mount namespace: `unshare --mount sh pod-root.sh ...`.
#
# Usage: pod-root.sh ROOT BIN_DIR [ro|rw:HOST_DIR:MOUNT_PATH ...] -- COMMAND [ARG ...]
#   ROOT     an empty directory to build the root in (a tmpfs is mounted on it)
#   BIN_DIR  mounted at /opt/discovery-kit/bin (where the tests' consul binary lives)
set -eu

root=$1 bin=$2
shift 2

mount --make-rprivate /
mount -t tmpfs -o mode=755 pod-root "$root"
# The host's programs and libraries stand in for the image's; merged-/usr symlinks are copied.
for entry in /*; do
  name=${entry#/}
  if [ -L "$entry" ]; then
    ln -s "$(readlink "$entry")" "$root/$name"
  fi
done
for name in usr etc dev proc; do
  mkdir "$root/$name"
  mount --rbind "/$name" "$root/$name"
done
mount -o remount,bind,ro "$root/usr"
mount -o remount,bind,ro "$root/etc"
mkdir -p "$root/opt/discovery-kit/bin"
mount --bind "$bin" "$root/opt/discovery-kit/bin"
mount -o remount,bind,ro "$root/opt/discovery-kit/bin"

while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
  mode=${1%%:*} rest=${1#*:}
  host=${rest%%:*} path=${rest#*:}
  # A file (such as /etc/hosts) is mounted over the file the root already has.
  [ -f "$host" ] || mkdir -p "$root$path"
  mount --bind "$host" "$root$path"
  if [ "$mode" = ro ]; then
    mount -o remount,bind,ro "$root$path"
  fi
  shift
done
[ "$#" -gt 0 ] && shift

# The image has an empty /tmp; like everything that is not a volume it is now read-only.
# Debian's consul 1.8.7 links Consul's sdk/testutil, whose init creates /tmp/consul-test and
# prints a warning into every command's output when it cannot: the directory is there.
if [ ! -d "$root/tmp" ]; then
  mkdir -m 1777 "$root/tmp"
  mkdir "$root/tmp/consul-test"
fi
mount -o remount,ro "$root"
cd "$root"
exec chroot "$root" "$@"
