#!/bin/sh
# Makes sure a real etcd server, etcdctl, busybox and openssl are installed for the test suite:
# Debian's etcd-server, etcd-client, busybox and openssl, without letting the package start an
# etcd daemon (the tests run their own members on loopback ports). Also curl and jq (1.6 or
# later: --rawfile, IN), which the generated scripts use in the Consul image and the tests run
# from the host.
set -eu
# shellcheck source=tools/lib.sh
. "$(dirname "$0")/lib.sh"

missing=""
command -v etcd >/dev/null 2>&1 || missing="$missing etcd-server"
command -v etcdctl >/dev/null 2>&1 || missing="$missing etcd-client"
command -v busybox >/dev/null 2>&1 || missing="$missing busybox"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
jq -n --rawfile f /dev/null '1 | IN(1)' >/dev/null 2>&1 || missing="$missing jq"

if [ -z "$missing" ]; then
  dk_log "etcd, etcdctl, busybox, openssl, curl and jq already on PATH; nothing to install"
  exit 0
fi

# invoke-rc.d and deb-systemd-invoke ask policy-rc.d; exit 101 forbids starting services.
# An existing policy (common in container images) is left as it is.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ] && [ "$(id -u)" -eq 0 ]; then
  dk_log "adding a temporary $policy so the package does not start an etcd daemon"
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

# shellcheck disable=SC2086 # $missing is a space-separated package list
dk_apt_install $missing

# On a systemd host the package also enables etcd.service for the next boot; the tests run
# their own members, so switch it off again.
case $missing in
  *etcd-server*)
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      dk_log "disabling the etcd.service the package enabled"
      systemctl disable --now etcd.service || true
    fi ;;
esac

for tool in etcd etcdctl busybox openssl curl jq; do
  command -v "$tool" >/dev/null 2>&1 || { dk_log "$tool still not on PATH after install"; exit 1; }
done
dk_log "installed: $(etcd --version 2>/dev/null | head -n 1); etcdctl $(etcdctl version 2>/dev/null | head -n 1)"
