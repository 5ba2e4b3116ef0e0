#!/bin/sh
# Makes sure ShellCheck is installed for the test suite (test/shell-scripts.test.ts lints every
# lib/**/*.sh with it) and prints its path. Debian's shellcheck package, installed with apt
# like the etcd tools (tools/ensure-etcd.sh) when /usr/bin/shellcheck is absent.
set -eu
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

bin=/usr/bin/shellcheck
if [ ! -x "$bin" ]; then
  dk_apt_install shellcheck
  [ -x "$bin" ] || { dk_log "$bin still missing after installing Debian's shellcheck package"; exit 1; }
  dk_log "installed $("$bin" --version | awk '/^version:/ { print "ShellCheck " $2 }')"
fi
printf '%s\n' "$bin"
