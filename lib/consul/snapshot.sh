#!/bin/sh
# One Consul snapshot, as the ConsulSnapshotSchedule CronJob takes it: `consul snapshot save`
# from the servers' HTTP(S) API (the leader answers), verified with `consul snapshot inspect`
# before it is published and old snapshots are rotated away (lib/core/snapshot-lib.sh).
# Environment: CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN (a token with CONSUL_SNAPSHOT_POLICY_RULES),
# CONSUL_CACERT with TLS (the consul CLI reads all three), and the SNAPSHOT_* settings of
# snapshot-lib.sh.
set -eu
export LC_ALL=C
# shellcheck source=lib/core/snapshot-lib.sh
. "$(dirname "$0")/snapshot-lib.sh"

[ -n "${CONSUL_HTTP_ADDR:-}" ] || die "CONSUL_HTTP_ADDR is not set: the servers' API, such as https://consul-server.consul.svc.cluster.local:8501"

snapshot_save() { consul snapshot save "$1" >&2; }
snapshot_verify() { consul snapshot inspect "$1" >&2; }

snapshot_run consul .snap
