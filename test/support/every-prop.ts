import { Duration } from 'cdk8s';
import { ConsulClusterProps, DiscoverableServiceProps, EtcdClusterProps, HealthScheme, HealthSpec, PodPlacement, PortProtocol, VolumeClaimRetention } from '../../lib';

/**
 * A DiscoverableService with every prop set but its namespace and cluster domain: the unit
 * test's snapshot and the e2e tier's representative chart (which keeps its chart's namespace)
 * build the same service from it.
 */
export const EVERY_SERVICE_PROP: DiscoverableServiceProps = {
  name: 'billing',
  image: 'registry.internal:5000/team/billing@sha256:' + 'a'.repeat(64),
  ports: [
    { name: 'https', port: 443, containerPort: 8443, appProtocol: 'https' },
    { name: 'grpc', port: 9000, appProtocol: 'grpc' },
    { name: 'stats', port: 8125, protocol: PortProtocol.UDP, appProtocol: 'udp' },
  ],
  replicas: 4,
  resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } },
  command: ['/app/billing'],
  args: ['--serve'],
  env: { LOG_LEVEL: 'debug' },
  secretEnv: { DB_PASSWORD: { secretName: 'billing-db', key: 'password' } },
  health: HealthSpec.http({
    port: 'https', scheme: HealthScheme.HTTPS,
    liveness: { path: '/livez', period: Duration.seconds(20), timeout: Duration.seconds(5), failureThreshold: 4 },
    readiness: { path: '/readyz', period: Duration.seconds(10), timeout: Duration.seconds(3), failureThreshold: 2 },
    startup: { path: '/startz', period: Duration.seconds(10), maxStartupTime: Duration.minutes(10) },
  }),
  shutdown: { preStopDelay: Duration.seconds(15), terminationGracePeriod: Duration.seconds(60) },
  labels: { team: 'payments' },
  partOf: 'finance-suite',
  version: '3.1.0',
  publishNotReadyAddresses: true,
  runAsUser: 20000,
  tmpSizeLimit: '256Mi',
};

/** Dedicated registry nodes, as both clusters' every-prop variants place their pods. */
const REGISTRY_PLACEMENT: PodPlacement = {
  nodeSelector: { 'node-role.example.com/registry': 'true' },
  tolerations: [{ key: 'registry', operator: 'Exists', effect: 'NoSchedule' }],
  priorityClassName: 'registry-critical',
};

/**
 * A ConsulCluster with every prop set but those that depend on where it is built (gossip
 * key, namespace, cluster domain, DNS ClusterIP): the unit snapshot and the e2e tier's
 * representative chart build the same cluster from it.
 */
export const EVERY_CONSUL_PROP: Omit<ConsulClusterProps, 'gossipEncryption' | 'namespace' | 'clusterDomain' | 'dnsClusterIp'> = {
  name: 'registry',
  image: 'registry.internal:5000/hashicorp/consul@sha256:' + 'b'.repeat(64),
  replicas: 5,
  bootstrapExpect: 5,
  datacenter: 'eu-west-1',
  domain: 'discovery',
  storageSize: '20Gi',
  storageClassName: 'fast-ssd',
  spreadAcrossZones: true,
  serverPlacement: REGISTRY_PLACEMENT,
  serverUpgrade: { updatePartition: 2, volumeClaimRetention: { whenScaled: VolumeClaimRetention.DELETE } },
  serverResources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } },
  agentResources: { limits: { memory: '96Mi' } },
  acl: { tokensSecret: { secretName: 'consul-acl-tokens', key: 'tokens.json' } },
  reconnectTimeout: Duration.hours(24),
  autopilot: { cleanupDeadServers: false, lastContactThreshold: Duration.millis(500), serverStabilizationTime: Duration.seconds(30) },
  ui: false,
  connect: false,
  runAsUser: 10100,
  runAsGroup: 10100,
  labels: { team: 'platform' },
  partOf: 'service-discovery',
};

/** An EtcdCluster with every prop set but its namespace and cluster domain (see EVERY_CONSUL_PROP). */
export const EVERY_ETCD_PROP: Omit<EtcdClusterProps, 'namespace' | 'clusterDomain'> = {
  name: 'registry',
  replicas: 5,
  image: 'registry.k8s.io/etcd:3.5.21-0',
  storageSize: '20Gi',
  storageClassName: 'fast-ssd',
  backendQuota: '4Gi',
  autoCompactionRetention: Duration.minutes(30),
  maxStartupTime: Duration.minutes(10),
  clientTls: { secretName: 'registry-client-tls' },
  peerTls: { secretName: 'registry-peer-tls' },
  resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '4', memory: '4Gi' } },
  runAsUser: 20000,
  labels: { team: 'platform' },
  partOf: 'discovery-kit',
  placement: REGISTRY_PLACEMENT,
  upgrade: { updatePartition: 4, volumeClaimRetention: { whenDeleted: VolumeClaimRetention.DELETE, whenScaled: VolumeClaimRetention.RETAIN } },
  metricsScrapers: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
  prometheusAnnotations: true,
};
