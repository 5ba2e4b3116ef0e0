import { Duration } from 'cdk8s';
import { DiscoverableServiceProps, HealthScheme, HealthSpec, PortProtocol } from '../../lib';

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
