/**
 * The Consul agent configuration-file keys, transcribed from Consul's reference
 * (developer.hashicorp.com/consul/docs/reference/agent/configuration-file: general, acl,
 * address, bootstrap (autopilot), dns, encryption, join, log, node, raft, serf, service-mesh,
 * tls, ui; sources in hashicorp/consul website/content/docs/reference/agent/configuration-file).
 * Deprecated top-level aliases are left out on purpose: generated config must use the
 * current names. Tests walk a generated config against this tree, so a typo such as
 * `bootstrap_expected` or `ui_config.enable` fails, and every key marked `duration` must
 * parse as a Go duration.
 */
import { parseGoDuration } from './go-duration';

/**
 * `value`: any scalar or list; `duration`: a Go duration string; `map`: an object with
 * free-form keys (such as `node_meta`); an object: nested documented keys.
 */
export type KeySpec = 'value' | 'duration' | 'map' | KeyTree;
export interface KeyTree {
  readonly [key: string]: KeySpec;
}

const TLS_INTERFACE: KeyTree = {
  ca_file: 'value', ca_path: 'value', cert_file: 'value', key_file: 'value',
  tls_min_version: 'value', tls_cipher_suites: 'value', verify_incoming: 'value',
};

export const CONSUL_AGENT_CONFIG_KEYS: KeyTree = {
  // general
  addresses: { dns: 'value', http: 'value', https: 'value', grpc: 'value', grpc_tls: 'value' },
  auto_reload_config: 'value',
  bind_addr: 'value',
  cache: { entry_fetch_max_burst: 'value', entry_fetch_rate: 'value' },
  check_update_interval: 'duration',
  client_addr: 'value',
  config_entries: { bootstrap: 'value' },
  datacenter: 'value',
  data_dir: 'value',
  default_query_time: 'duration',
  disable_anonymous_signature: 'value',
  disable_coordinates: 'value',
  disable_http_unprintable_char_filter: 'value',
  disable_keyring_file: 'value',
  disable_kv_key_validation: 'value',
  disable_remote_exec: 'value',
  disable_update_check: 'value',
  discard_check_output: 'value',
  discovery_max_stale: 'duration',
  enable_agent_tls_for_checks: 'value',
  enable_central_service_config: 'value',
  enable_debug: 'value',
  enable_local_script_checks: 'value',
  enable_script_checks: 'value',
  enable_xds_load_balancing: 'value',
  http_config: { block_endpoints: 'value', response_headers: 'map', allow_write_http_from: 'value', use_cache: 'value', max_header_bytes: 'value' },
  leave_on_terminate: 'value',
  license_path: 'value',
  limits: {
    http_max_conns_per_client: 'value', https_handshake_timeout: 'duration',
    request_limits: { mode: 'value', read_rate: 'value', write_rate: 'value' },
    rpc_handshake_timeout: 'duration', rpc_client_timeout: 'duration', rpc_max_conns_per_client: 'value',
    rpc_rate: 'value', rpc_max_burst: 'value', kv_max_value_size: 'value', txn_max_req_len: 'value',
  },
  max_query_time: 'duration',
  partition: 'value',
  peering: { enabled: 'value' },
  performance: {
    leave_drain_time: 'duration', raft_multiplier: 'value', rpc_hold_timeout: 'duration',
    grpc_keepalive_interval: 'duration', grpc_keepalive_timeout: 'duration', enable_xds_load_balancing: 'value',
  },
  pid_file: 'value',
  ports: {
    dns: 'value', http: 'value', https: 'value', grpc: 'value', grpc_tls: 'value', serf_lan: 'value', serf_wan: 'value',
    server: 'value', sidecar_min_port: 'value', sidecar_max_port: 'value', expose_min_port: 'value', expose_max_port: 'value',
  },
  primary_datacenter: 'value',
  primary_gateways: 'value',
  primary_gateways_interval: 'duration',
  protocol: 'value',
  reconnect_timeout: 'duration',
  reconnect_timeout_wan: 'duration',
  rpc: { enable_streaming: 'value' },
  segment: 'value',
  segments: 'value',
  server: 'value',
  server_rejoin_age_max: 'duration',
  read_replica: 'value',
  session_ttl_min: 'duration',
  skip_leave_on_interrupt: 'value',
  translate_wan_addrs: 'value',
  unix_sockets: { user: 'value', group: 'value', mode: 'value' },
  use_streaming_backend: 'value',
  watches: 'value',
  // acl
  acl: {
    enabled: 'value', policy_ttl: 'duration', role_ttl: 'duration', token_ttl: 'duration',
    down_policy: 'value', default_policy: 'value', enable_key_list_policy: 'value',
    enable_token_replication: 'value', enable_token_persistence: 'value',
    tokens: {
      initial_management: 'value', default: 'value', agent: 'value', agent_recovery: 'value',
      config_file_service_registration: 'value', dns: 'value', replication: 'value', managed_service_provider: 'value',
    },
  },
  // address
  advertise_addr: 'value',
  advertise_addr_ipv4: 'value',
  advertise_addr_ipv6: 'value',
  advertise_addr_wan: 'value',
  advertise_addr_wan_ipv4: 'value',
  advertise_addr_wan_ipv6: 'value',
  advertise_reconnect_timeout: 'duration',
  // bootstrap
  bootstrap: 'value',
  bootstrap_expect: 'value',
  autopilot: {
    cleanup_dead_servers: 'value', last_contact_threshold: 'duration', max_trailing_logs: 'value', min_quorum: 'value',
    server_stabilization_time: 'duration', redundancy_zone_tag: 'value', disable_upgrade_migration: 'value', upgrade_version_tag: 'value',
  },
  // dns
  alt_domain: 'value',
  dns_config: {
    allow_stale: 'value', max_stale: 'duration', node_ttl: 'duration', service_ttl: 'map', enable_truncate: 'value',
    only_passing: 'value', recursor_strategy: 'value', recursor_timeout: 'duration', disable_compression: 'value',
    udp_answer_limit: 'value', a_record_limit: 'value', enable_additional_node_meta_txt: 'value',
    soa: { expire: 'value', min_ttl: 'value', refresh: 'value', retry: 'value' },
    use_cache: 'value', cache_max_age: 'duration', prefer_namespace: 'value',
  },
  domain: 'value',
  recursors: 'value',
  // encryption
  auto_encrypt: { allow_tls: 'value', tls: 'value', dns_san: 'value', ip_san: 'value' },
  encrypt: 'value',
  encrypt_verify_incoming: 'value',
  encrypt_verify_outgoing: 'value',
  // join
  rejoin_after_leave: 'value',
  retry_join: 'value',
  retry_interval: 'duration',
  retry_max: 'value',
  retry_join_wan: 'value',
  retry_interval_wan: 'duration',
  // log
  log_file: 'value',
  log_rotate_duration: 'duration',
  log_rotate_bytes: 'value',
  log_rotate_max_files: 'value',
  log_level: 'value',
  log_json: 'value',
  enable_syslog: 'value',
  syslog_facility: 'value',
  // node
  node_id: 'value',
  node_name: 'value',
  node_meta: 'map',
  disable_host_node_id: 'value',
  // raft
  raft_logstore: {
    backend: 'value', disable_log_cache: 'value', verification: { enabled: 'value', interval: 'duration' },
    boltdb: { no_freelist_sync: 'value' }, wal: { segment_size_mb: 'value' },
  },
  raft_protocol: 'value',
  raft_snapshot_threshold: 'value',
  raft_snapshot_interval: 'duration',
  raft_trailing_logs: 'value',
  // serf
  serf_lan: 'value',
  serf_lan_allowed_cidrs: 'value',
  serf_wan: 'value',
  serf_wan_allowed_cidrs: 'value',
  // service mesh
  connect: { enabled: 'value', enable_mesh_gateway_wan_federation: 'value', ca_provider: 'value', ca_config: 'map' },
  locality: { region: 'value', zone: 'value' },
  // tls
  tls: {
    defaults: { ...TLS_INTERFACE, verify_outgoing: 'value', verify_server_hostname: 'value' },
    grpc: { ...TLS_INTERFACE, use_auto_cert: 'value' },
    https: { ...TLS_INTERFACE, verify_outgoing: 'value' },
    internal_rpc: { ...TLS_INTERFACE, verify_outgoing: 'value', verify_server_hostname: 'value' },
  },
  server_name: 'value',
  // ui
  ui_config: {
    enabled: 'value', dir: 'value', content_path: 'value', metrics_provider: 'value', metrics_provider_files: 'value',
    metrics_provider_options_json: 'value',
    metrics_proxy: { base_url: 'value', path_allowlist: 'value', add_headers: 'value' },
    dashboard_url_templates: { service: 'value' },
  },
};

/** Dotted paths of the keys in `config` that the reference does not document. */
export function unknownConfigKeys(config: Record<string, unknown>, tree: KeyTree = CONSUL_AGENT_CONFIG_KEYS, prefix = ''): string[] {
  return Object.entries(config).flatMap(([key, value]) => {
    const spec = tree[key];
    const path = `${prefix}${key}`;
    if (spec === undefined) return [path];
    if (typeof spec === 'object') {
      return isObject(value) ? unknownConfigKeys(value, spec, `${path}.`) : [`${path} (documented as an object)`];
    }
    return [];
  });
}

/** `[path, value]` of every documented duration key in `config`. */
export function durationValues(config: Record<string, unknown>, tree: KeyTree = CONSUL_AGENT_CONFIG_KEYS, prefix = ''): [string, unknown][] {
  return Object.entries(config).flatMap(([key, value]): [string, unknown][] => {
    const spec = tree[key];
    if (spec === 'duration') return [[`${prefix}${key}`, value]];
    return typeof spec === 'object' && isObject(value) ? durationValues(value, spec, `${prefix}${key}.`) : [];
  });
}

/** Paths of duration keys whose value Go's `time.ParseDuration` would reject. */
export function invalidDurations(config: Record<string, unknown>): string[] {
  return durationValues(config)
    .filter(([, value]) => typeof value !== 'string' || parseGoDuration(value) === undefined)
    .map(([path, value]) => `${path} = ${JSON.stringify(value)}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
