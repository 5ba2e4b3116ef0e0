#!/bin/sh
# Makes sure a real etcd server, etcdctl, busybox and openssl are installed for the test suite.
# Installs Debian's etcd-server, etcd-client, busybox and openssl when any is missing, without
# letting the package start an etcd daemon (the tests run their own on loopback ports).
# Works as root, or as a user with passwordless sudo.
set -eu

log() { printf 'ensure-etcd: %s\n' "$*"; }

missing=""
command -v etcd >/dev/null 2>&1 || missing="$missing etcd-server"
command -v etcdctl >/dev/null 2>&1 || missing="$missing etcd-client"
command -v busybox >/dev/null 2>&1 || missing="$missing busybox"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"

if [ -z "$missing" ]; then
  log "etcd, etcdctl, busybox and openssl already on PATH; nothing to install"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  log "missing:$missing; no apt-get here: install etcd (server and etcdctl) and busybox by hand" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root="sudo -n"
else
  log "missing:$missing; need root or passwordless sudo to apt-get install them" >&2
  exit 1
fi

# invoke-rc.d and deb-systemd-invoke ask policy-rc.d; exit 101 forbids starting services.
# An existing policy (common in container images) is left as it is.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
  log "adding a temporary $policy so the package does not start an etcd daemon"
  printf '#!/bin/sh\nexit 101\n' | $as_root tee "$policy" >/dev/null
  $as_root chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then $as_root rm -f "$policy"; fi; }
trap cleanup EXIT

log "installing:$missing (apt-get update, then apt-get install -y --no-install-recommends)"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086 # $missing is a space-separated package list
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing

# On a systemd host the package also enables etcd.service for the next boot; the tests run
# their own members, so switch it off again.
case $missing in
  *etcd-server*)
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      log "disabling the etcd.service the package enabled"
      $as_root systemctl disable --now etcd.service || true
    fi ;;
esac

for tool in etcd etcdctl busybox openssl; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool still not on PATH after install" >&2; exit 1; }
done
log "installed: $(etcd --version 2>/dev/null | head -n 1); etcdctl $(etcdctl version 2>/dev/null | head -n 1)"
