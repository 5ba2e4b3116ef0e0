#!/bin/sh
# What test/real/resolver-ndots.test.ts needs besides glibc's getent: ip(8) for the network
# namespace, and tools/musl-lookup/main.c built statically against musl (Debian's musl-tools)
# into the per-machine cache. Installs the missing packages, builds once per source and musl
# version, and prints the musl-lookup binary's path.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/lib.sh
. "$here/lib.sh"

missing=""
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v musl-gcc >/dev/null 2>&1 || missing="$missing musl-tools"
command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086 # $missing is a space-separated package list
  dk_apt_install $missing
fi

source_file="$here/musl-lookup/main.c"
musl_version=$(dpkg-query -W -f '${Version}' musl-dev 2>/dev/null || musl-gcc -dumpversion)
key=$(printf '%s %s' "$musl_version" "$(sha256sum "$source_file")" | sha256sum | cut -c1-16)
out_dir="$(dk_cache_dir)/bin/musl-lookup-$key"
out="$out_dir/musl-lookup"
if [ ! -x "$out" ]; then
  mkdir -p "$out_dir"
  dk_log "building musl-lookup against musl $musl_version into $out_dir"
  # Written under a temporary name and renamed, so a half-written binary is never trusted.
  musl-gcc -static -Os -o "$out.tmp.$$" "$source_file" || { rm -f "$out.tmp.$$"; exit 1; }
  mv -f "$out.tmp.$$" "$out"
fi
printf '%s\n' "$out"
