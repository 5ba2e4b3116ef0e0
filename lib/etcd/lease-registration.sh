#!/bin/sh
# etcd lease registration sidecar of discovery-kit (POSIX sh: dash, busybox ash). Run as
# `sh lease-registration.sh` next to common.sh; lib/etcd/lease-registration.ts renders its
# environment, which is its only input:
#   POD_NAME, POD_IP                  the pod (downward API)
#   ETCDCTL_ENDPOINTS                 etcd client URLs, comma-separated; with ETCDCTL_CACERT,
#                                     ETCDCTL_CERT and ETCDCTL_KEY etcdctl reads them itself
#   ETCD_REGISTRATION_KEY_PREFIX      the key is $ETCD_REGISTRATION_KEY_PREFIX/$POD_NAME
#   ETCD_REGISTRATION_PORT            port published in the value
#   ETCD_REGISTRATION_TAGS            tags published in the value, comma-separated (may be empty)
#   ETCD_LEASE_TTL_SECONDS            lease TTL: a crashed pod's key expires within it
#   ETCD_KEEPALIVE_INTERVAL_SECONDS   how often the lease is refreshed (below the TTL)
#
# It grants a lease, puts the key = {"host":POD_IP,"port":...,"tags":[...],"registered_at":
# "<UTC ISO-8601>"} under it and refreshes it every keep-alive interval. When etcd loses the
# lease (expiry during an outage, a restart without its data) it registers again; while etcd
# is unreachable it retries every second and never exits. On TERM or INT it deletes the key,
# revokes the lease and exits 0; after a SIGKILL the key expires with the lease. Bad input
# exits 2. Events go to stdout, one line each.
set -u
export ETCDCTL_API=3
RETRY=1
DIAL_TIMEOUT=2
COMMAND_TIMEOUT=3
# `lease keep-alive --once` ignores --command-timeout and waits forever for an unreachable
# etcd (seen with etcdctl 3.4), so every call runs under timeout(1) with this limit.
CALL_TIMEOUT=$((DIAL_TIMEOUT + COMMAND_TIMEOUT))
NL='
'

log() { printf 'etcd-lease: %s\n' "$*"; }
die() { printf 'etcd-lease: fatal: %s\n' "$*" >&2; exit 2; }
# The last line of an etcdctl error, or why there is none (killed by timeout).
why() {
  line=${1##*"$NL"}
  printf '%s' "${line:-no answer within ${CALL_TIMEOUT}s}"
}

# shellcheck source=lib/registration/common.sh
. "$(dirname "$0")/common.sh"

for tool in etcdctl sleep date timeout; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found in PATH"
done

check_pod_identity
[ -n "${ETCDCTL_ENDPOINTS:-}" ] || die "ETCDCTL_ENDPOINTS is not set: list the etcd client URLs"
case ${ETCD_REGISTRATION_KEY_PREFIX:-} in
  /*) ;;
  *) die "ETCD_REGISTRATION_KEY_PREFIX='${ETCD_REGISTRATION_KEY_PREFIX:-}' must start with '/'" ;;
esac
require_count ETCD_REGISTRATION_PORT "${ETCD_REGISTRATION_PORT:-}"
require_count ETCD_LEASE_TTL_SECONDS "${ETCD_LEASE_TTL_SECONDS:-}"
require_count ETCD_KEEPALIVE_INTERVAL_SECONDS "${ETCD_KEEPALIVE_INTERVAL_SECONDS:-}"
[ "$ETCD_KEEPALIVE_INTERVAL_SECONDS" -lt "$ETCD_LEASE_TTL_SECONDS" ] || die "ETCD_KEEPALIVE_INTERVAL_SECONDS=$ETCD_KEEPALIVE_INTERVAL_SECONDS must be below ETCD_LEASE_TTL_SECONDS=$ETCD_LEASE_TTL_SECONDS"
TAGS_JSON=$(tags_json ETCD_REGISTRATION_TAGS "${ETCD_REGISTRATION_TAGS:-}") || exit 2
TTL=$ETCD_LEASE_TTL_SECONDS
INTERVAL=$ETCD_KEEPALIVE_INTERVAL_SECONDS
KEY="$ETCD_REGISTRATION_KEY_PREFIX/$POD_NAME"
LEASE=
NAP_PID=

ectl() {
  timeout "$CALL_TIMEOUT" etcdctl --dial-timeout="${DIAL_TIMEOUT}s" --command-timeout="${COMMAND_TIMEOUT}s" "$@"
}

# sh runs traps only between foreground commands: sleep in the background so TERM is handled at once.
nap() {
  sleep "$1" &
  NAP_PID=$!
  wait "$NAP_PID"
  NAP_PID=
}

put_value() {
  value=$(printf '{"host":"%s","port":%s,"tags":%s,"registered_at":"%s"}' "$POD_IP" "$ETCD_REGISTRATION_PORT" "$TAGS_JSON" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
  if out=$(ectl put --lease="$1" "$KEY" "$value" 2>&1); then
    log "registered $KEY with lease $1 (ttl ${TTL}s): $value"
  else
    log "put $KEY failed: $(why "$out")"
    return 1
  fi
}

register() {
  if ! out=$(ectl lease grant "$TTL" 2>&1); then
    log "lease grant failed, retrying in ${RETRY}s: $(why "$out")"
    return 1
  fi
  id=${out##*lease }
  id=${id%% *}
  case $id in
    '' | *[!0-9a-f]*) log "unexpected lease grant output: $(why "$out")"; return 1 ;;
  esac
  # Kept even if the put fails: the next keep-alive round puts the key again, and TERM revokes it.
  LEASE=$id
  put_value "$LEASE"
}

# The key can vanish under a live lease (deleted by hand, etcd restored from a backup).
ensure_key() {
  out=$(ectl get --keys-only "$KEY" 2>&1) || return 0
  case $out in
    *"$KEY"*) ;;
    *) log "key $KEY is missing under live lease $LEASE; putting it back"; put_value "$LEASE" ;;
  esac
  return 0
}

keep_alive() {
  if out=$(ectl lease keep-alive --once "$LEASE" 2>&1); then
    ensure_key
    return 0
  fi
  case $out in
    *"not found"* | *"expired"*)
      log "lease $LEASE is gone (expired during an outage, or etcd lost its data); registering again"
      LEASE=
      register ;;
    *)
      log "keep-alive of lease $LEASE failed, retrying in ${RETRY}s: $(why "$out")"
      return 1 ;;
  esac
}

deregister() {
  trap '' TERM INT
  [ -z "$NAP_PID" ] || kill "$NAP_PID" 2>/dev/null
  if out=$(ectl del "$KEY" 2>&1); then log "deleted $KEY"; else log "delete of $KEY failed: $(why "$out")"; fi
  if [ -n "$LEASE" ]; then
    if out=$(ectl lease revoke "$LEASE" 2>&1); then log "revoked lease $LEASE"; else log "revoke of lease $LEASE failed: $(why "$out")"; fi
  fi
  log "stopped on $1"
  exit 0
}
trap 'deregister TERM' TERM
trap 'deregister INT' INT

log "starting: key $KEY, endpoints $ETCDCTL_ENDPOINTS, ttl ${TTL}s, keep-alive every ${INTERVAL}s"
while :; do
  step=keep_alive
  [ -n "$LEASE" ] || step=register
  if $step; then nap "$INTERVAL"; else nap "$RETRY"; fi
done
