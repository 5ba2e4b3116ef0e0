#!/bin/sh
# One etcd snapshot, as the EtcdSnapshotSchedule CronJob takes it: `etcdctl snapshot save`
# from one member, verified before it is published and old snapshots are rotated away
# (lib/core/snapshot-lib.sh). Verification is `snapshot status` and a trial `snapshot restore`
# into a scratch directory, which checks the hash etcd appends to every snapshot: a truncated
# or corrupt file fails here, not on the day it is needed.
# Environment: ETCDCTL_ENDPOINTS (exactly one URL), ETCDCTL_CACERT, ETCDCTL_CERT and
# ETCDCTL_KEY with client TLS, ETCDCTL_DIAL_TIMEOUT and ETCDCTL_COMMAND_TIMEOUT (etcdctl reads
# them all), TMPDIR (scratch space as large as a snapshot) and the SNAPSHOT_* settings of
# snapshot-lib.sh.
set -eu
export LC_ALL=C
# etcdctl 3.4 speaks the v2 API unless told otherwise; 3.5 and later ignore this.
export ETCDCTL_API=3
# shellcheck source=lib/core/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

case ${ETCDCTL_ENDPOINTS:-} in
  '') die "ETCDCTL_ENDPOINTS is not set: one member's client URL, such as https://etcd-client.etcd.svc.cluster.local:2379" ;;
  *,*) die "ETCDCTL_ENDPOINTS='$ETCDCTL_ENDPOINTS' lists several URLs: a snapshot is taken from exactly one member" ;;
esac

# etcd 3.5 moved the offline snapshot commands to etcdutl (and 3.6 removed them from etcdctl).
if command -v etcdutl >/dev/null 2>&1; then offline=etcdutl; else offline=etcdctl; fi
scratch=${TMPDIR:-/tmp}/etcd-snapshot-verify

snapshot_save() { etcdctl snapshot save "$1" >&2; }
snapshot_verify() {
  rm -rf -- "$scratch" \
    && "$offline" snapshot status "$1" -w table >&2 \
    && "$offline" snapshot restore "$1" --data-dir "$scratch" >&2 \
    && rm -rf -- "$scratch"
}

snapshot_run etcd .db
