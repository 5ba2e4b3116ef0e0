// The public API of `discovery-kit`: constructs, their props, factories, the interfaces for
// pluggable parts and the error type. Everything else under lib/ is internal and may change
// in any release; the Pulumi layer is its own entry point, `discovery-kit/pulumi`.

// core: errors, health, resources, network and namespace settings shared by every construct
export { DiscoveryKitValidationError } from './core/validation';
export type { ValidationProblem } from './core/validation';
export type { SecretKeyReference, TlsSecretReference } from './core/secret';
export { HealthScheme, HealthSpec } from './core/health';
export type { HealthSpecProps, HttpCheckOptions, StartupCheckOptions, ResolvedHealth, ResolvedHttpCheck, RegistryHealthCheck } from './core/health';
export type { ComputeResources, ResourceRequirements } from './core/resources';
export { VolumeClaimRetention } from './core/placement';
export type { PodPlacement, StatefulUpgradeOptions, VolumeClaimRetentionPolicy } from './core/placement';
export { DEFAULT_NDOTS } from './core/dns-config';
export { CONSUL_CLIENT_LABEL, CONSUL_MESH_LABEL, ETCD_CLIENT_LABEL, KUBE_DNS_PEER, PodNetworkPolicy, setClusterDns } from './core/network-policy';
export type { ClusterDnsOptions, PodNetworkPolicyProps } from './core/network-policy';
export { PodSecurityLevel, RestrictedNamespace } from './core/restricted-namespace';
export { connectivityReports } from './core/connectivity-report';
export type { RestrictedNamespaceProps } from './core/restricted-namespace';
export type { SnapshotScheduleProps, SnapshotSink } from './core/snapshot-schedule';

// service: what app teams instantiate
export { DiscoverableService } from './service/discoverable-service';
export { ExternalService } from './service/external-service';
export type { ExternalPortOptions, ExternalServiceEndpoint, ExternalServiceProps } from './service/external-service';
export { PortProtocol, TrafficDistribution } from './service/props';
export type { DiscoverableServiceProps, DiscoverOptions, ServiceEndpoint, ServicePortOptions, ShutdownOptions } from './service/props';

// gateway: exposure through a Gateway API Gateway (DiscoverableService.exposeVia)
export { Gateway } from './gateway/gateway';
export type { GatewayAttributes, GatewayReference } from './gateway/gateway';
export type { ExposeOptions, HttpMethod, RouteMatch } from './gateway/route';

// registration: the contract every registry hook implements (`bind()`)
export type { IServiceRegistration, RegistrationConfig, RegistrationTarget, RegistryEgress } from './registration/registration';
export type { RegistrationScript } from './registration/scripts';

// consul: the registry, its references and its registration hooks
export { ConsulCluster } from './consul/cluster';
export { GossipEncryption } from './consul/cluster-props';
export type { ConsulAclOptions, ConsulAutopilotOptions, ConsulClusterProps, ConsulTlsOptions } from './consul/cluster-props';
export type { ConsulAgentEndpoint, ConsulClusterAttributes, ConsulClusterReference, ConsulHttpEndpoint } from './consul/endpoints';
export type { ConsulDnsEndpoint } from './consul/dns';
export {
  CONSUL_AGENT_POLICY_RULES, CONSUL_DNS_READ_POLICY_RULES, CONSUL_METRICS_READ_POLICY_RULES, CONSUL_SNAPSHOT_POLICY_RULES, DEFAULT_CONSUL_IMAGE,
} from './consul/config';
export { ConsulAgentRegistration } from './consul/agent-registration';
export type { ConsulAgentAddress, ConsulAgentRegistrationProps } from './consul/agent-registration';
export { ConsulAgentToken } from './consul/agent-token';
export type { ConsulAgentTokenConfig, ConsulAgentTokenTarget } from './consul/agent-token';
export { ConsulCatalogSync } from './consul/catalog-sync';
export { ConsulBootstrap } from './consul/bootstrap/bootstrap';
export { ConsulServiceToken } from './consul/bootstrap/service-token';
export { CONSUL_SERVICE_TOKEN_CA_KEY, CONSUL_SERVICE_TOKEN_LABEL, consulBootstrapSecrets } from './consul/bootstrap/props';
export type {
  ConsulBootstrapCluster, ConsulBootstrapProps, ConsulBootstrapReference, ConsulBootstrapSecrets, ConsulServiceTokenProps,
} from './consul/bootstrap/props';
export type { ConsulCatalogSyncProps } from './consul/catalog-sync';
export { ConsulSnapshotSchedule } from './consul/snapshot-schedule';
export type { ConsulSnapshotCluster, ConsulSnapshotScheduleProps } from './consul/snapshot-schedule';

// mesh: Consul service mesh (consul-k8s) configuration entries
export { CONSUL_CONNECT_INJECT_ANNOTATION, CONSUL_MESH_POD_SECURITY_NOTE, CONSUL_MESH_PUBLIC_LISTENER_PORT, MeshProtocol } from './mesh/circuit-breaker';
export type {
  CircuitBreakerOptions, ConsulMeshControlPlane, FailoverOptions, FailoverTargetOptions, PassiveHealthCheckOptions,
  ServiceDefaultsOptions, ServiceResolverOptions, UpstreamLimitsOptions, UpstreamOverrideOptions, UpstreamPolicyOptions,
} from './mesh/circuit-breaker';
export { ConsulServiceDefaults } from './mesh/service-defaults';
export type { ConsulServiceDefaultsProps } from './mesh/service-defaults';
export { ConsulServiceResolver } from './mesh/service-resolver';
export type { ConsulServiceResolverProps } from './mesh/service-resolver';
export { ConsulServiceIntentions } from './mesh/service-intentions';
export type { ConsulServiceIntentionsProps } from './mesh/service-intentions';
export type { ConsulK8sOptions } from './mesh/consul-k8s';

// etcd: the registry and its lease registration hook
export { EtcdCluster } from './etcd/cluster';
export { DEFAULT_ETCD_IMAGE, MAX_ETCD_REPLICAS } from './etcd/cluster-props';
export type { EtcdClusterProps, EtcdTlsFlags, EtcdTlsOptions } from './etcd/cluster-props';
export { EtcdLeaseRegistration } from './etcd/lease-registration';
export type { EtcdClusterAddress, EtcdLeaseRegistrationProps } from './etcd/lease-registration';
export { EtcdSnapshotSchedule } from './etcd/snapshot-schedule';
export type { EtcdSnapshotScheduleProps } from './etcd/snapshot-schedule';
