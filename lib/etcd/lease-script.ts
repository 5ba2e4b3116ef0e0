import { podIdentityChecks, shellQuote } from '../registration/shell';
import { checkDns1035Label, checkDns1123Label, checkInteger, checkPort, checkServiceUrl, checkUnique, invalid } from '../core/validation';

/**
 * Default image of the etcd registration sidecar. The script needs a POSIX shell, `sleep`,
 * `date`, `timeout` and etcdctl in one image, which no maintained upstream etcd image has:
 * etcd's own images (gcr.io/etcd-development/etcd, quay.io/coreos/etcd) are distroless
 * static without a shell since 3.5.7 (CHANGELOG-3.5, etcd PRs #15016 and #15037), and
 * registry.k8s.io/etcd adds only a static bash as /bin/sh to 3.5.x-N (no coreutils) and
 * nothing to 3.6.x-N. Bitnami's image is Debian 12 minideb (dash, coreutils) with etcdctl on
 * PATH and uid 1001; since Bitnami's 2025 catalog change its versioned tags survive, frozen,
 * under bitnamilegacy. etcdctl 3.5 talks to etcd 3.4 to 3.6. Production clusters should
 * override it with an image they maintain, such as busybox plus etcdctl copied from
 * quay.io/coreos/etcd.
 */
export const DEFAULT_ETCD_SIDECAR_IMAGE = 'docker.io/bitnamilegacy/etcd:3.5.21-debian-12-r5';

/** TLS files for etcdctl, as paths inside the sidecar (for example a mounted Secret). */
export interface EtcdTlsFiles {
  /** CA bundle that verifies the etcd server certificate (`--cacert`). @default - the system roots */
  readonly caFile?: string;
  /** Client certificate for mutual TLS (`--cert`); requires `keyFile`. @default - no client certificate */
  readonly certFile?: string;
  /** Private key of `certFile` (`--key`); requires `certFile`. @default - no client certificate */
  readonly keyFile?: string;
}

/** Settings baked into the etcd lease registration script. */
export interface EtcdLeaseScriptOptions {
  /** etcd client URLs, each `http(s)://host:port`, e.g. `http://etcd-client.etcd.svc:2379`. */
  readonly endpoints: readonly string[];
  /** Prefix of every registration key: `<keyPrefix>/<serviceName>/<pod name>`. @default '/services' */
  readonly keyPrefix?: string;
  /** Name the pods register under: a DNS-1035 label. */
  readonly serviceName: string;
  /** Port published in the registration value. */
  readonly port: number;
  /** Tags published in the registration value, each an RFC 1123 label. @default [] */
  readonly tags?: readonly string[];
  /**
   * Lease TTL: a crashed sidecar's key disappears at most this long after its last
   * keep-alive. Keep it well above etcd's election timeout. @default 15
   */
  readonly ttlSeconds?: number;
  /** How often the lease is refreshed; below `ttlSeconds`. @default a third of `ttlSeconds`, rounded down */
  readonly keepAliveIntervalSeconds?: number;
  /** Pause between attempts while etcd is unreachable; below `ttlSeconds`. @default 1 */
  readonly retryIntervalSeconds?: number;
  /** TLS files passed to etcdctl. @default - none (plain etcdctl defaults) */
  readonly tls?: EtcdTlsFiles;
  /** etcdctl command or path in the sidecar image. @default 'etcdctl' */
  readonly etcdctl?: string;
}

const SCOPE = 'etcd lease registration';
const MIN_TTL_SECONDS = 5;
const MAX_TTL_SECONDS = 9_000_000_000; // etcd's MaxLeaseTTL
const DIAL_TIMEOUT_SECONDS = 2;
const COMMAND_TIMEOUT_SECONDS = 3;
// `lease keep-alive --once` ignores --command-timeout and waits forever for an unreachable
// etcd (seen with etcdctl 3.4), so every call runs under timeout(1) with this limit.
const CALL_TIMEOUT_SECONDS = DIAL_TIMEOUT_SECONDS + COMMAND_TIMEOUT_SECONDS;

const CONTROL_OR_SPACE = /[\s\x00-\x1f\x7f]/;

type ResolvedOptions = Required<EtcdLeaseScriptOptions>;

/**
 * Checks the options and fills in defaults.
 * @throws DiscoveryKitValidationError naming the field, the bad value and what is allowed
 */
export function validateEtcdLeaseScriptOptions(options: EtcdLeaseScriptOptions): void {
  resolve(options);
}

function resolve(options: EtcdLeaseScriptOptions): ResolvedOptions {
  const ttlSeconds = checkInteger(SCOPE, 'ttlSeconds', options.ttlSeconds ?? 15, MIN_TTL_SECONDS, MAX_TTL_SECONDS);
  const keepAliveIntervalSeconds = checkInteger(SCOPE, 'keepAliveIntervalSeconds',
    options.keepAliveIntervalSeconds ?? Math.max(1, Math.floor(ttlSeconds / 3)), 1, ttlSeconds - 1);
  const retryIntervalSeconds = checkInteger(SCOPE, 'retryIntervalSeconds', options.retryIntervalSeconds ?? 1, 1, ttlSeconds - 1);
  const tls = options.tls ?? {};
  const tags = (options.tags ?? []).map((tag, i) => checkDns1123Label(SCOPE, `tags[${i}]`, tag));
  checkUnique(SCOPE, 'tags', tags);
  return {
    endpoints: checkEndpoints(options.endpoints, tls),
    keyPrefix: checkKeyPrefix(options.keyPrefix ?? '/services'),
    serviceName: checkDns1035Label(SCOPE, 'serviceName', options.serviceName),
    port: checkPort(SCOPE, 'port', options.port),
    tags,
    ttlSeconds,
    keepAliveIntervalSeconds,
    retryIntervalSeconds,
    tls: checkTls(tls),
    etcdctl: checkCommand(options.etcdctl ?? 'etcdctl'),
  };
}

function checkEndpoints(endpoints: readonly string[], tls: EtcdTlsFiles): readonly string[] {
  if (!Array.isArray(endpoints) || endpoints.length === 0) {
    invalid(SCOPE, 'endpoints', endpoints, 'must list at least one etcd client URL such as http://etcd-client.etcd.svc:2379');
  }
  endpoints.forEach((endpoint, i) => {
    const { scheme } = checkServiceUrl(SCOPE, `endpoints[${i}]`, endpoint);
    if ((tls.caFile || tls.certFile) && scheme === 'http') {
      invalid(SCOPE, `endpoints[${i}]`, endpoint, 'must use https:// when tls files are given');
    }
  });
  return endpoints;
}

function checkKeyPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !prefix.startsWith('/') || prefix.endsWith('/') || prefix.includes('//') || CONTROL_OR_SPACE.test(prefix)) {
    invalid(SCOPE, 'keyPrefix', prefix, "must start with '/', not end with '/', contain no '//', whitespace or control characters, e.g. '/services'");
  }
  return prefix;
}

function checkTls(tls: EtcdTlsFiles): EtcdTlsFiles {
  for (const field of ['caFile', 'certFile', 'keyFile'] as const) {
    const path = tls[field];
    if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/') || CONTROL_OR_SPACE.test(path))) {
      invalid(SCOPE, `tls.${field}`, path, 'must be an absolute path without whitespace or control characters');
    }
  }
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    invalid(SCOPE, tls.certFile === undefined ? 'tls.certFile' : 'tls.keyFile', undefined, 'must be set: certFile and keyFile go together');
  }
  return tls;
}

function checkCommand(command: string): string {
  if (typeof command !== 'string' || command.length === 0 || CONTROL_OR_SPACE.test(command)) {
    invalid(SCOPE, 'etcdctl', command, 'must be a command name or path without whitespace or control characters');
  }
  return command;
}

/**
 * Renders the registration sidecar's POSIX sh script (dash, busybox ash). It reads the pod's
 * `POD_NAME` and `POD_IP` (downward API) and exits 2 if they are missing or malformed. Then it
 * grants a lease, puts `<keyPrefix>/<serviceName>/<POD_NAME>` =
 * `{"host":POD_IP,"port":port,"tags":[...],"registered_at":"<UTC ISO-8601>"}` under it and
 * refreshes it every `keepAliveIntervalSeconds`. When etcd loses the lease (expiry during an
 * outage, a restart without its data) it registers again; while etcd is unreachable it retries
 * every `retryIntervalSeconds` and never exits. On TERM or INT it deletes the key, revokes the
 * lease and exits 0; after a SIGKILL the key expires with the lease. Events go to stdout, one
 * line each. Every baked-in value goes through {@link shellQuote}.
 *
 * @throws DiscoveryKitValidationError for invalid options (see {@link validateEtcdLeaseScriptOptions})
 */
export function renderEtcdLeaseScript(options: EtcdLeaseScriptOptions): string {
  const o = resolve(options);
  const tlsFlags = [
    o.tls.caFile === undefined ? [] : [`--cacert=${o.tls.caFile}`],
    o.tls.certFile === undefined ? [] : [`--cert=${o.tls.certFile}`, `--key=${o.tls.keyFile}`],
  ].flat().map((flag) => ` ${shellQuote(flag)}`).join('');
  const tagsJson = JSON.stringify(o.tags);
  return `#!/bin/sh
# etcd lease registration sidecar, generated by discovery-kit. POSIX sh: dash, busybox ash.
set -u
export ETCDCTL_API=3
ETCDCTL=${shellQuote(o.etcdctl)}
ENDPOINTS=${shellQuote(o.endpoints.join(','))}
KEY_DIR=${shellQuote(`${o.keyPrefix}/${o.serviceName}`)}
TTL=${shellQuote(String(o.ttlSeconds))}
INTERVAL=${shellQuote(String(o.keepAliveIntervalSeconds))}
RETRY=${shellQuote(String(o.retryIntervalSeconds))}
PORT=${shellQuote(String(o.port))}
TAGS_JSON=${shellQuote(tagsJson)}
NL='
'

log() { printf 'etcd-lease: %s\\n' "$*"; }
die() { printf 'etcd-lease: fatal: %s\\n' "$*" >&2; exit 2; }
# The last line of an etcdctl error, or why there is none (killed by timeout).
why() {
  line=\${1##*"$NL"}
  printf '%s' "\${line:-no answer within ${CALL_TIMEOUT_SECONDS}s}"
}

for tool in "$ETCDCTL" sleep date timeout; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found in PATH"
done

${podIdentityChecks()}
KEY="$KEY_DIR/$POD_NAME"
LEASE=
NAP_PID=

ectl() {
  timeout ${CALL_TIMEOUT_SECONDS} "$ETCDCTL" --endpoints="$ENDPOINTS" --dial-timeout=${DIAL_TIMEOUT_SECONDS}s --command-timeout=${COMMAND_TIMEOUT_SECONDS}s${tlsFlags} "$@"
}

# sh runs traps only between foreground commands: sleep in the background so TERM is handled at once.
nap() {
  sleep "$1" &
  NAP_PID=$!
  wait "$NAP_PID"
  NAP_PID=
}

put_value() {
  value=$(printf '{"host":"%s","port":%s,"tags":%s,"registered_at":"%s"}' "$POD_IP" "$PORT" "$TAGS_JSON" "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
  if out=$(ectl put --lease="$1" "$KEY" "$value" 2>&1); then
    log "registered $KEY with lease $1 (ttl \${TTL}s): $value"
  else
    log "put $KEY failed: $(why "$out")"
    return 1
  fi
}

register() {
  if ! out=$(ectl lease grant "$TTL" 2>&1); then
    log "lease grant failed, retrying in \${RETRY}s: $(why "$out")"
    return 1
  fi
  id=\${out##*lease }
  id=\${id%% *}
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
      log "keep-alive of lease $LEASE failed, retrying in \${RETRY}s: $(why "$out")"
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

log "starting: key $KEY, endpoints $ENDPOINTS, ttl \${TTL}s, keep-alive every \${INTERVAL}s"
while :; do
  step=keep_alive
  [ -n "$LEASE" ] || step=register
  if $step; then nap "$INTERVAL"; else nap "$RETRY"; fi
done
`;
}
