# shellcheck shell=sh
# Sourced by tools/ensure-*.sh: where per-machine builds go, and how a real component is built
# from the Go module proxy once per machine. Nothing built here is ever written into the clone.

# The per-machine cache, outside the clone (override with DISCOVERY_KIT_CACHE).
dk_cache_dir() {
  printf '%s\n' "${DISCOVERY_KIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/discovery-kit}"
}

dk_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

dk_require_go() {
  if ! command -v go >/dev/null 2>&1; then
    dk_log "Go (1.26 or newer) is needed to build $1 for the tests: install it (https://go.dev/doc/install; Debian bookworm's golang-go is too old), then run the tests again"
    exit 1
  fi
}

# dk_go_build NAME KEY MODULE_DIR PACKAGE [LDFLAGS]
# Builds PACKAGE inside the wrapper module MODULE_DIR (a directory of tools/go/ with its own
# go.mod and go.sum) into $(dk_cache_dir)/bin/NAME-KEY/NAME, unless that binary already
# exists, and prints its path. KEY names the version, so a version bump builds anew.
# The binary is written under a temporary name and renamed, so an interrupted build never
# leaves a half-written binary that a later run would trust.
dk_go_build() {
  name=$1 key=$2 module_dir=$3 package=$4 ldflags=${5:-}
  out_dir="$(dk_cache_dir)/bin/$name-$key"
  out="$out_dir/$name"
  if [ -x "$out" ]; then
    printf '%s\n' "$out"
    return 0
  fi
  dk_require_go "$name"
  mkdir -p "$out_dir"
  dk_log "building $name ($key) from the Go module proxy into $out_dir (once per machine)"
  start=$(date +%s)
  (cd "$module_dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$out.tmp.$$" "$package") || {
    rm -f "$out.tmp.$$"
    dk_log "building $name failed"
    return 1
  }
  mv -f "$out.tmp.$$" "$out"
  dk_log "built $name in $(( $(date +%s) - start )) s"
  printf '%s\n' "$out"
}

# dk_apt_install PACKAGE...
# Installs Debian packages (apt-get update first), as root or with passwordless sudo; fails
# with a message saying what to install when neither apt-get nor the privilege is there.
dk_apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    dk_log "no apt-get here: install $* by hand, then run the tests again"
    return 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    as_root=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
  else
    dk_log "need root or passwordless sudo to apt-get install $*"
    return 1
  fi
  dk_log "installing $* (apt-get update, then apt-get install -y --no-install-recommends)"
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}

# dk_module_version MODULE_DIR MODULE
# The version of MODULE that the wrapper module MODULE_DIR requires: its go.mod is the one place
# a version is bumped, and the cache key follows it.
dk_module_version() {
  awk -v m="$2" '$1 == m { print $2; exit }' "$1/go.mod"
}
