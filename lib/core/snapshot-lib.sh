# Shared by the snapshot CronJobs' scripts (sourced, never run on its own): save one snapshot,
# verify it, publish it under its final name and rotate old ones away, so that a failed or
# corrupt snapshot never replaces a good one. The sourcing script defines
#   snapshot_save FILE     writes a snapshot to FILE
#   snapshot_verify FILE   fails unless FILE is a complete snapshot its tools can read back
# (each one command, or `&&` chains: they run under `||`, where `set -e` does not apply)
# and then calls `snapshot_run PREFIX SUFFIX`. Settings come from the environment:
#   SNAPSHOT_DIR       the snapshot volume (required)
#   SNAPSHOT_RETAIN    how many snapshots to keep, newest first (required, at least 1)
#   SNAPSHOT_SINK_DIR  a second volume that receives a copy of each verified snapshot and
#                      keeps as many (optional)
# Snapshots are named PREFIX-YYYYMMDDTHHMMSSZ.SUFFIX (UTC), so name order is time order.

log() { printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# Fails unless variable $1 (value $2) names a directory this user can write.
writable_dir() { if [ ! -d "$2" ] || [ ! -w "$2" ]; then die "$1=$2 is not a writable directory"; fi; }

# Deletes all but the newest $SNAPSHOT_RETAIN snapshots in directory $1.
snapshot_prune() {
  set -- "$1"/"$snapshot_prefix"-[0-9]*Z"$snapshot_suffix"
  [ -e "$1" ] || return 0
  excess=$(($# - SNAPSHOT_RETAIN))
  while [ "$excess" -gt 0 ]; do
    log "deleting $1 (keeping the newest $SNAPSHOT_RETAIN)"
    rm -f -- "$1"
    shift
    excess=$((excess - 1))
  done
}

# Copies a published snapshot into directory $1 under the same name, atomically.
snapshot_copy() {
  cp -- "$SNAPSHOT_DIR/$snapshot_name" "$1/.partial-$snapshot_name" \
    && mv -- "$1/.partial-$snapshot_name" "$1/$snapshot_name"
}

snapshot_run() {
  snapshot_prefix=$1 snapshot_suffix=$2
  [ -n "${SNAPSHOT_DIR:-}" ] || die "SNAPSHOT_DIR is not set"
  writable_dir SNAPSHOT_DIR "$SNAPSHOT_DIR"
  case ${SNAPSHOT_RETAIN:-} in
    '' | *[!0-9]* | 0*) die "SNAPSHOT_RETAIN='${SNAPSHOT_RETAIN:-}' is not a positive integer" ;;
  esac
  if [ -n "${SNAPSHOT_SINK_DIR:-}" ]; then writable_dir SNAPSHOT_SINK_DIR "$SNAPSHOT_SINK_DIR"; fi
  # A run killed at its deadline leaves its partial file behind; it never counts as a snapshot.
  rm -f -- "$SNAPSHOT_DIR"/.partial-*
  snapshot_name=$snapshot_prefix-$(date -u +%Y%m%dT%H%M%SZ)$snapshot_suffix
  # Names have whole seconds: a run right after another waits for a name of its own.
  while [ -e "$SNAPSHOT_DIR/$snapshot_name" ]; do
    sleep 1
    snapshot_name=$snapshot_prefix-$(date -u +%Y%m%dT%H%M%SZ)$snapshot_suffix
  done
  partial=$SNAPSHOT_DIR/.partial-$snapshot_name
  trap 'rm -f -- "$partial" "$partial".*' EXIT
  trap 'exit 143' TERM INT

  log "saving $snapshot_name"
  snapshot_save "$partial" || die "saving the snapshot failed; the existing snapshots are kept"
  [ -s "$partial" ] || die "the snapshot is empty; the existing snapshots are kept"
  snapshot_verify "$partial" || die "the snapshot failed verification; the existing snapshots are kept"
  mv -- "$partial" "$SNAPSHOT_DIR/$snapshot_name"
  log "saved $SNAPSHOT_DIR/$snapshot_name ($(wc -c < "$SNAPSHOT_DIR/$snapshot_name") bytes)"
  if [ -n "${SNAPSHOT_SINK_DIR:-}" ]; then
    snapshot_copy "$SNAPSHOT_SINK_DIR" || die "copying $snapshot_name to $SNAPSHOT_SINK_DIR failed"
    log "copied $snapshot_name to $SNAPSHOT_SINK_DIR"
    snapshot_prune "$SNAPSHOT_SINK_DIR"
  fi
  snapshot_prune "$SNAPSHOT_DIR"
}
