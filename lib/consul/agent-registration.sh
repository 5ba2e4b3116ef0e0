#!/bin/sh
# Consul agent registration sidecar of discovery-kit (POSIX sh: busybox ash of the Consul
# image, dash). Run as `sh agent-registration.sh` next to common.sh;
# lib/consul/agent-registration.ts renders its environment, which is its only input:
#   POD_NAME, POD_IP                  the pod (downward API)
#   CONSUL_HTTP_ADDR                  the node-local agent; with CONSUL_HTTP_TOKEN_FILE and
#                                     CONSUL_CACERT the consul CLI reads them itself
#   CONSUL_HTTP_TOKEN_FILE            the ACL token, a file of an optional Secret volume (may
#                                     be unset: no token); read again before each call
#   CONSUL_REGISTRATION_DIR           a writable directory (an emptyDir) for the definition
#   CONSUL_SERVICE_NAME, CONSUL_SERVICE_PORT   the service the pod registers as
#   CONSUL_SERVICE_TAGS               tags, comma-separated (may be empty)
#   CONSUL_SERVICE_META               service meta as a JSON object; k8s-pod is added here
#   CONSUL_CHECK_SCHEME, CONSUL_CHECK_PORT, CONSUL_CHECK_PATH   the HTTP check of the pod IP
#   CONSUL_CHECK_INTERVAL, CONSUL_CHECK_TIMEOUT, CONSUL_CHECK_FAILURES_BEFORE_CRITICAL
#   CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER   reaps a crashed pod's registration
#   CONSUL_RESYNC_SECONDS             how often it asks the agent whether it still has it
#
# At start it writes the service definition with the pod's own name and IP and registers it
# (`consul services register`); every resync interval it asks the agent whether it still has
# the service (a `curl` GET of the agent's own record, a local read that writes nothing) and
# registers again only if not: an agent replaced with a fresh data dir forgets every service.
# On TERM or INT it deregisters at once. Each call to the agent runs in the background under
# `timeout`, because sh runs traps only between foreground commands: SIGTERM deregisters at
# once even while a call hangs on an unreachable agent. The ACL token goes to curl in a
# header file, not on its command line. The token file may not exist yet (its Secret is
# optional, e.g. ConsulBootstrap writes it on its next run): the sidecar then waits, says so
# once, and registers on the first resync after kubelet projects it; a changed token is used
# from the next call on, without a restart. Bad input exits 2.
set -u
CALL_TIMEOUT=10
# The registration's shutdownSeconds in lib/consul/agent-registration.ts.
DEREGISTER_TIMEOUT=5

log() { printf 'consul-registration: %s\n' "$*"; }
die() { printf 'consul-registration: fatal: %s\n' "$*" >&2; exit 2; }

# shellcheck source=lib/registration/common.sh
. "$(dirname "$0")/common.sh"

for tool in consul curl date sleep timeout tail; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found in PATH"
done

check_pod_identity
case $POD_IP in *:*) POD_IP_URL="[$POD_IP]" ;; *) POD_IP_URL=$POD_IP ;; esac
DIR=${CONSUL_REGISTRATION_DIR:-}
[ -d "$DIR" ] || die "CONSUL_REGISTRATION_DIR='$DIR' is not a directory"
case ${CONSUL_SERVICE_NAME:-} in
  '' | *[!a-z0-9-]*) die "CONSUL_SERVICE_NAME='${CONSUL_SERVICE_NAME:-}' is not a service name (DNS-1035 label)" ;;
esac
require_count CONSUL_SERVICE_PORT "${CONSUL_SERVICE_PORT:-}"
require_count CONSUL_CHECK_PORT "${CONSUL_CHECK_PORT:-}"
require_count CONSUL_CHECK_FAILURES_BEFORE_CRITICAL "${CONSUL_CHECK_FAILURES_BEFORE_CRITICAL:-}"
require_count CONSUL_RESYNC_SECONDS "${CONSUL_RESYNC_SECONDS:-}"
TAGS_JSON=$(tags_json CONSUL_SERVICE_TAGS "${CONSUL_SERVICE_TAGS:-}") || exit 2
# The meta object gains k8s-pod as its first key; the construct always sets k8s-namespace.
case ${CONSUL_SERVICE_META:-} in
  '{"'*'}') ;;
  *) die "CONSUL_SERVICE_META='${CONSUL_SERVICE_META:-}' is not a non-empty JSON object" ;;
esac
case ${CONSUL_CHECK_SCHEME:-} in
  http) TLS_SKIP_VERIFY= ;;
  # The agent checks the pod by IP, which no serving certificate names.
  https) TLS_SKIP_VERIFY=',"tls_skip_verify":true' ;;
  *) die "CONSUL_CHECK_SCHEME='${CONSUL_CHECK_SCHEME:-}' must be http or https" ;;
esac
case ${CONSUL_CHECK_PATH:-} in
  /*) case $CONSUL_CHECK_PATH in *[\"\\]*) die "CONSUL_CHECK_PATH='$CONSUL_CHECK_PATH' is not a URL path" ;; esac ;;
  *) die "CONSUL_CHECK_PATH='${CONSUL_CHECK_PATH:-}' must start with '/'" ;;
esac
require_duration() {
  case $2 in
    '' | *[!0-9a-z.]*) die "$1='$2' is not a Go duration such as 10s or 1m" ;;
  esac
}
require_duration CONSUL_CHECK_INTERVAL "${CONSUL_CHECK_INTERVAL:-}"
require_duration CONSUL_CHECK_TIMEOUT "${CONSUL_CHECK_TIMEOUT:-}"
require_duration CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER "${CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER:-}"

TOKEN_FILE=${CONSUL_HTTP_TOKEN_FILE:-}
case $TOKEN_FILE in '' | /*) ;; *) die "CONSUL_HTTP_TOKEN_FILE='$TOKEN_FILE' must be an absolute path" ;; esac

DEFINITION="$DIR/service.json"
OUT="$DIR/service.json.out"
STATUS="$DIR/status"
HEADERS="$DIR/headers"
RESYNC=$CONSUL_RESYNC_SECONDS

printf '{"service":{"id":"%s","name":"%s","tags":%s,"address":"%s","port":%s,"meta":{"k8s-pod":"%s",%s,"enable_tag_override":false,"check":{"name":"%s readiness","http":"%s://%s:%s%s","method":"GET","interval":"%s","timeout":"%s","failures_before_critical":%s,"deregister_critical_service_after":"%s"%s}}}\n' \
  "$POD_NAME" "$CONSUL_SERVICE_NAME" "$TAGS_JSON" "$POD_IP" "$CONSUL_SERVICE_PORT" "$POD_NAME" "${CONSUL_SERVICE_META#\{}" \
  "$CONSUL_SERVICE_NAME" "$CONSUL_CHECK_SCHEME" "$POD_IP_URL" "$CONSUL_CHECK_PORT" "$CONSUL_CHECK_PATH" \
  "$CONSUL_CHECK_INTERVAL" "$CONSUL_CHECK_TIMEOUT" "$CONSUL_CHECK_FAILURES_BEFORE_CRITICAL" "$CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER" "$TLS_SKIP_VERIFY" \
  > "$DEFINITION" || die "cannot write $DEFINITION"
: > "$HEADERS" || die "cannot write $HEADERS"

PID=
# Runs a command in the background, its stdout to file $1 and stderr to file $2, and waits, so
# a TERM is handled while it runs. The redirections stay on the command: on the call they
# would also capture what the TERM handler logs.
background() {
  out=$1 err=$2
  shift 2
  "$@" >"$out" 2>"$err" &
  PID=$!
  wait "$PID"
  status=$?
  PID=
  return "$status"
}
consul_call() { background /dev/null "$OUT" timeout "$CALL_TIMEOUT" consul "$@"; }
# Asks the agent for its record of this pod; STATUS gets the HTTP status (200 registered,
# 404 not, 000 or nothing: no answer). Not in $(...): a TERM must not wait for a subshell.
lookup() {
  set -- -sS -o /dev/null -w '%{http_code}' -H "@$HEADERS"
  [ -z "${CONSUL_CACERT:-}" ] || set -- "$@" --cacert "$CONSUL_CACERT"
  background "$STATUS" "$OUT" timeout "$CALL_TIMEOUT" curl "$@" "${CONSUL_HTTP_ADDR%/}/v1/agent/service/$POD_NAME"
}
# Why the last call failed, in words an operator can act on.
why() {
  # curl's own message is its first line ("curl: (60) SSL certificate problem: ..."); advice follows it.
  line=$(grep -m 1 '^curl: ' "$OUT" 2>/dev/null) || line=$(tail -n 1 "$OUT" 2>/dev/null)
  case $line in
    *403* | *"Permission denied"* | *"ACL not found"*) printf 'the ACL token was refused (it needs service:write on the service): %s' "$line" ;;
    '') printf 'no answer from the agent at %s within %ss' "${CONSUL_HTTP_ADDR:-?}" "$CALL_TIMEOUT" ;;
    *) printf '%s' "$line" ;;
  esac
}

deregister() {
  trap - TERM INT
  [ -z "$PID" ] || kill "$PID" 2>/dev/null
  if [ -n "$TOKEN_FILE" ] && [ ! -s "$TOKEN_FILE" ]; then
    log "cannot deregister $POD_NAME without the ACL token at $TOKEN_FILE; if it was registered, the agent reaps it once critical"
  elif timeout "$DEREGISTER_TIMEOUT" consul services deregister -id="$POD_NAME" >"$OUT" 2>&1; then
    log "deregistered $POD_NAME"
  else
    log "deregistration of $POD_NAME failed ($(why)); the agent reaps it once critical"
  fi
  exit 0
}
trap deregister TERM INT

token=
waiting=
# Reads the token file into the header file curl sends, before each call: kubelet replaces
# the file when the Secret appears or changes. Fails while there is no token (after saying so
# once), and the loop then checks again after one resync interval.
load_token() {
  [ -n "$TOKEN_FILE" ] || return 0
  next=
  if [ -r "$TOKEN_FILE" ]; then { IFS= read -r next || :; } < "$TOKEN_FILE"; fi
  # Like the consul CLI, ignore trailing whitespace (a newline or CR written with the token).
  next=${next%"${next##*[![:space:]]}"}
  if [ -z "$next" ]; then
    [ -n "$waiting" ] || log "waiting for the ACL token: $TOKEN_FILE is missing or empty (its Secret does not exist yet); registers once it appears, looking every ${RESYNC}s"
    waiting=1
    pause=$RESYNC
    return 1
  fi
  [ "$next" = "$token" ] && return 0
  if [ -n "$waiting" ]; then
    log "found the ACL token at $TOKEN_FILE"
  elif [ -n "$token" ]; then
    log "the ACL token at $TOKEN_FILE changed: using the new one"
    # The agent syncs a service to the catalog, and removes it, with the token it was
    # registered with, which may now be revoked: register again so it holds the new one.
    rotated=1
  fi
  printf 'X-Consul-Token: %s\n' "$next" > "$HEADERS" || die "cannot write $HEADERS"
  token=$next
  waiting=
}

registered=
rotated=
failures=0
since=
# Logs the first failure of a run of failures; the recovery says how long it lasted.
failed() {
  failures=$((failures + 1))
  [ "$failures" -gt 1 ] || { since=$(date +%s); log "$1, retrying every 2s: $(why)"; }
  pause=2
}
recovered() {
  [ "$failures" -eq 0 ] || log "the agent answers again after $failures failed attempts in $(( $(date +%s) - since ))s"
  failures=0
  pause=$RESYNC
}
register() {
  if consul_call services register "$DEFINITION"; then
    if [ -z "$registered" ]; then
      log "registered $POD_NAME at $POD_IP"
    elif [ -n "$rotated" ]; then
      log "registered $POD_NAME again, with the new ACL token"
    else
      log "the agent had lost $POD_NAME (restarted or replaced): registered it again"
    fi
    registered=1
    rotated=
    recovered
  else
    failed "registration failed"
  fi
}
while :; do
  if load_token; then
    lookup
    code=$(cat "$STATUS" 2>/dev/null)
    case $code in
      200) if [ -n "$rotated" ]; then register; else recovered; fi ;;
      # 403: a token the agent does not accept (yet) cannot read the record either; the
      # registration then says why.
      403 | 404) register ;;
      000 | '') failed "cannot look up $POD_NAME at the agent" ;;
      *) printf 'HTTP %s\n' "$code" >"$OUT"; failed "cannot look up $POD_NAME at the agent" ;;
    esac
  fi
  background /dev/null /dev/null sleep "$pause"
done
