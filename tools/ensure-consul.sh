#!/bin/sh
# Puts a real Consul agent binary into the per-machine cache and prints its path.
# Debian bookworm has no consul package; bullseye has 1.8.7 (MPL-2.0), the newest open-source
# build within reach (the Go module proxy refuses Consul 1.17+ modules for their licence).
# It is fetched from the machine's own Debian mirror with a private apt state directory, so
# the machine's sources, lists and installed packages stay as they are: nothing is installed,
# the .deb is only unpacked. apt checks the download against bullseye's signed Release file.
set -eu
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

CONSUL_DEB_VERSION=${CONSUL_DEB_VERSION:-1.8.7}
out_dir="$(dk_cache_dir)/bin/consul-$CONSUL_DEB_VERSION"
out="$out_dir/consul"

if [ -x "$out" ]; then
  printf '%s\n' "$out"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || { dk_log "apt-get is needed to fetch Debian bullseye's consul package"; exit 1; }
command -v dpkg-deb >/dev/null 2>&1 || { dk_log "dpkg-deb is needed to unpack Debian bullseye's consul package"; exit 1; }

# The mirror the machine already uses (deb822 sources first, then the one-line format).
uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /^\[/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || { dk_log "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
printf 'deb %s bullseye main\n' "$uri" >"$work/sources.list"
set -- -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=/nonexistent \
  -o "Dir::State::lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1 \
  -o "APT::Sandbox::User=$(id -un)"

start=$(date +%s)
dk_log "fetching Debian bullseye's consul package from $uri (once per machine; the machine's apt configuration is not touched)"
apt-get "$@" -q update >&2
candidate=$(apt-cache "$@" policy consul | awk '/Candidate:/ { print $2 }')
case $candidate in
  "$CONSUL_DEB_VERSION"*) ;;
  *) dk_log "bullseye offers consul '$candidate', expected $CONSUL_DEB_VERSION"; exit 1 ;;
esac
(cd "$work" && apt-get "$@" -q download "consul=$candidate" >&2)
dpkg-deb -x "$work"/consul_*.deb "$work/x"
"$work/x/usr/bin/consul" version | grep -q "^Consul v$CONSUL_DEB_VERSION\$" || { dk_log "the unpacked binary is not Consul v$CONSUL_DEB_VERSION"; exit 1; }

mkdir -p "$out_dir"
# Renamed into place, so an interrupted run never leaves a half-written binary behind.
cp "$work/x/usr/bin/consul" "$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"
dk_log "installed Consul $candidate in $(( $(date +%s) - start )) s"
printf '%s\n' "$out"
