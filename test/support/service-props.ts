import { Duration } from 'cdk8s';
import fc from 'fast-check';
import { ConsulAgentAddress, ConsulAgentRegistration, ConsulCatalogSync, DiscoverableServiceProps, HealthSpec } from '../../lib';

/**
 * Generated valid DiscoverableService props: random names, ports, replicas, tags, health
 * timings, shutdown windows and registrations. test/properties.test.ts checks them with the
 * in-house suite; the e2e tier samples some for the real kube-score and API server.
 */
const letter = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz');
const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789');
const dns1035 = (max: number) => fc.tuple(letter, fc.array(fc.oneof(alnum, fc.constant('-')), { maxLength: max - 2 }), alnum)
  .map(([a, mid, z]) => `${a}${mid.join('')}${z}`);
const ianaName = dns1035(15).filter((n) => !n.includes('--'));
/** A Consul agent address for registrations. */
export const AGENT: ConsulAgentAddress = { url: 'http://consul-agent.consul.svc.cluster.local:8500', port: 8500, clusterName: 'consul', namespace: 'consul', podSelector: { 'app.kubernetes.io/name': 'consul' } };

const ports = fc.uniqueArray(fc.record({ name: ianaName, port: fc.integer({ min: 1, max: 65535 }) }), {
  minLength: 1, maxLength: 4, selector: (p) => p.name,
}).filter((list) => new Set(list.map((p) => p.port)).size === list.length);

const health = fc.record({
  readinessPeriod: fc.integer({ min: 2, max: 30 }),
  readinessFailures: fc.integer({ min: 1, max: 5 }),
  livenessExtra: fc.integer({ min: 0, max: 60 }),
  startup: fc.integer({ min: 10, max: 600 }),
});

/** Props that must synthesize schema-valid, quality-clean manifests. */
export const validServiceProps = fc.record({
  name: dns1035(54),
  ports,
  replicas: fc.integer({ min: 2, max: 20 }),
  tag: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/).filter((t) => t !== 'latest'),
  health,
  preStop: fc.integer({ min: 0, max: 30 }),
  graceExtra: fc.integer({ min: 1, max: 60 }),
  registry: fc.constantFrom('none', 'consul-agent', 'catalog-sync'),
  tags: fc.uniqueArray(dns1035(20), { maxLength: 4 }),
}).map((v): DiscoverableServiceProps => {
  const livenessPeriod = v.health.readinessPeriod + 1;
  // Liveness must tolerate at least as long as readiness: derive its threshold from that window.
  const livenessFailures = Math.ceil((v.health.readinessPeriod * v.health.readinessFailures + v.health.livenessExtra) / livenessPeriod);
  const registration = v.registry === 'consul-agent' ? new ConsulAgentRegistration({ agent: AGENT, tags: v.tags })
    : v.registry === 'catalog-sync' ? new ConsulCatalogSync({ tags: v.tags }) : undefined;
  return {
    name: v.name,
    image: `ghcr.io/acme/${v.name}:${v.tag}`,
    ports: v.ports,
    replicas: v.replicas,
    health: HealthSpec.http({
      port: v.ports[0].name,
      readiness: { period: Duration.seconds(v.health.readinessPeriod), timeout: Duration.seconds(1), failureThreshold: v.health.readinessFailures },
      liveness: { period: Duration.seconds(livenessPeriod), timeout: Duration.seconds(1), failureThreshold: livenessFailures },
      startup: { maxStartupTime: Duration.seconds(v.health.startup) },
    }),
    // Longer than the preStop delay and than the 5 s the Consul hook may need to deregister.
    shutdown: { preStopDelay: Duration.seconds(v.preStop), terminationGracePeriod: Duration.seconds(Math.max(v.preStop, 5) + v.graceExtra) },
    registration,
  };
});
