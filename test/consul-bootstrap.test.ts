import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Chart, Duration, Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import {
  CONSUL_SERVICE_TOKEN_LABEL, ConsulBootstrap, ConsulBootstrapProps, ConsulCluster, ConsulServiceToken, GossipEncryption,
  consulBootstrapSecrets,
} from '../lib';
import { findObject, synthChart } from './support/synth';
import { validationErrorOf } from './support/errors';

const API_SERVER = [{ ipBlock: { cidr: '10.0.0.10/32' } }];

function bootstrapped(props: Partial<ConsulBootstrapProps> = {}, cluster: Record<string, unknown> = {}) {
  const chart = new Chart(Testing.app(), 'consul', { namespace: 'consul', disableResourceNameHashes: true });
  const consul = new ConsulCluster(chart, 'consul', { gossipEncryption: GossipEncryption.disabled(), ...cluster });
  const bootstrap = new ConsulBootstrap(chart, 'bootstrap', { cluster: consul, apiServer: API_SERVER, ...props });
  return { bootstrap, objects: synthChart(chart) };
}

const envOf = (objects: any[]) => Object.fromEntries(findObject(objects, 'CronJob', 'consul-bootstrap').spec.jobTemplate.spec.template.spec.containers[0].env
  .map((e: any) => [e.name, e.value]));

describe('ConsulBootstrap', () => {
  const { objects, bootstrap } = bootstrapped();

  it('synthesizes a Job, a CronJob, least-privilege RBAC and NetworkPolicies', () => {
    expect(objects.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'bootstrap').map((o) => `${o.kind}/${o.metadata.name}`.replace(/^(Job\/consul-bootstrap)-[0-9a-f]{8}$/, '$1-<hash>'))).toMatchSnapshot();
  });

  it('lets the job read and update only its own Secrets by name; create is by kind (RBAC cannot name it)', () => {
    const role = findObject(objects, 'Role', 'consul-bootstrap');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['consul-gossip-key', 'consul-bootstrap-token', 'consul-acl-tokens'], verbs: ['get', 'update', 'patch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['list'] },
    ]);
    expect(findObject(objects, 'RoleBinding', 'consul-bootstrap').subjects).toEqual([{ kind: 'ServiceAccount', name: 'consul-bootstrap', namespace: 'consul' }]);
  });

  it('runs Pod Security "restricted" with its service account token and the script from its ConfigMap', () => {
    const job = objects.find((o) => o.kind === 'Job')!;
    expect(job.metadata.name).toMatch(/^consul-bootstrap-[0-9a-f]{8}$/);
    const pod = job.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.containers[0].command).toEqual(['/bin/sh', '/consul-bootstrap/bootstrap.sh']);
    expect(findObject(objects, 'ConfigMap', 'consul-bootstrap-scripts').data['bootstrap.sh']).toMatch(/^#!\/bin\/sh/);
    expect(findObject(objects, 'ServiceAccount', 'consul-bootstrap').automountServiceAccountToken).toBe(false);
  });

  it('renders the script env from the cluster and the default Secret names', () => {
    expect(envOf(objects)).toMatchObject({
      NAMESPACE: 'consul', CLUSTER_NAME: 'consul', GOSSIP_KEY_STORE: 'consul-gossip-key', GOSSIP_KEY: 'key',
      CONSUL_HTTP_ADDR: 'http://consul-server.consul.svc.cluster.local:8500', BOOTSTRAP_STORE: 'consul-bootstrap-token',
      ACL_STORE: 'consul-acl-tokens', ACL_STORE_KEY: 'tokens.json', SERVICE_SELECTOR: `${CONSUL_SERVICE_TOKEN_LABEL}=consul`, ANONYMOUS_DNS: 'false',
    });
    expect(envOf(objects).TLS_CA_STORE).toBeUndefined();
    expect(bootstrap.secrets).toEqual(consulBootstrapSecrets('consul'));
  });

  it('keeps the same Job name while nothing changes, and a new one when the pod changes', () => {
    const name = (o: any[]) => o.find((x) => x.kind === 'Job')!.metadata.name;
    expect(name(bootstrapped().objects)).toBe(name(objects));
    expect(name(bootstrapped({ anonymousDnsRead: true }).objects)).not.toBe(name(objects));
  });

  it('reconciles on the interval', () => {
    expect(findObject(objects, 'CronJob', 'consul-bootstrap').spec).toMatchObject({ schedule: '*/5 * * * *', concurrencyPolicy: 'Forbid' });
    expect(findObject(bootstrapped({ reconcileInterval: Duration.hours(1) }).objects, 'CronJob', 'consul-bootstrap').spec.schedule).toBe('0 * * * *');
  });

  it('lets the job reach only the servers\' API, the API server and DNS, and admits it to the servers\' API port', () => {
    const own = findObject(objects, 'NetworkPolicy', 'consul-bootstrap').spec;
    expect(own.ingress).toEqual([]);
    expect(own.egress.map((r: any) => r.ports)).toEqual([
      [{ port: 8500, protocol: 'TCP' }], [{ port: 6443, protocol: 'TCP' }], [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }],
    ]);
    expect(own.egress[1].to).toEqual(API_SERVER);
    const servers = findObject(objects, 'NetworkPolicy', 'consul-server-from-bootstrap').spec;
    expect(servers.policyTypes).toEqual(['Ingress']);
    expect(servers.ingress).toEqual([{ from: [{ podSelector: { matchLabels: findObject(objects, 'NetworkPolicy', 'consul-bootstrap').spec.podSelector.matchLabels } }], ports: [{ port: 8500, protocol: 'TCP' }] }]);
  });

  it('with tls, generates the CA and server certificate and verifies HTTPS with it', () => {
    const s = consulBootstrapSecrets('consul');
    const tls = bootstrapped({ tls: true }, {
      tls: { ca: s.ca, serverCertificate: s.serverCertificate, agentCertificate: s.serverCertificate },
    }).objects;
    expect(envOf(tls)).toMatchObject({
      CONSUL_HTTP_ADDR: 'https://consul-server.consul.svc.cluster.local:8501', TLS_CA_STORE: 'consul-ca', TLS_CA_KEY_STORE: 'consul-ca-key',
      TLS_SERVER_STORE: 'consul-server-tls', TLS_DATACENTER: 'dc1', TLS_DOMAIN: 'consul', TLS_SERVER_DAYS: '365', TLS_RENEW_DAYS: '30',
    });
    expect(envOf(tls).CONSUL_CACERT).toBeUndefined();
    expect(envOf(tls).TLS_SERVER_DNS_NAMES).toContain('consul-server.consul.svc.cluster.local');
  });

  it('reports every bad prop at once', () => {
    const error = validationErrorOf(() => bootstrapped({
      apiServer: [], tls: true, reconcileInterval: Duration.seconds(90), image: 'consul:latest', renewBefore: Duration.days(400),
      secrets: { aclTokens: { secretName: 'consul-gossip-key', key: 'x' } },
    }));
    expect(error.problems.map((p) => p.field).sort()).toEqual(['apiServer', 'image', 'reconcileInterval', 'renewBefore', 'secrets']);
  });

  it('checks the certificates\' timing only when it makes certificates', () => {
    expect(() => bootstrapped({ serverCertificateValidity: Duration.days(20) })).not.toThrow();
    expect(() => bootstrapped({ tls: true, serverCertificateValidity: Duration.days(20) })).toThrow(/serverCertificateValidity = .* must leave renewBefore \(30 days\) shorter/);
  });

  it('needs the CA when the cluster serves HTTPS and TLS is not generated', () => {
    expect(() => bootstrapped({}, {
      tls: { ca: { secretName: 'ca', key: 'ca.crt' }, serverCertificate: { secretName: 's' }, agentCertificate: { secretName: 'a' } },
    })).toThrow(/caCert = undefined is invalid: must be set/);
  });

  it('ships a shellcheck-clean POSIX sh script', () => {
    const result = spawnSync('shellcheck', ['-s', 'sh', join(__dirname, '..', 'lib', 'consul', 'bootstrap', 'bootstrap.sh')], { encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('ConsulServiceToken', () => {
  const chart = new Chart(Testing.app(), 'shop', { namespace: 'shop', disableResourceNameHashes: true });
  const token = new ConsulServiceToken(chart, 'payment', {
    bootstrap: ConsulBootstrap.fromAttributes({ clusterName: 'consul', namespace: 'consul' }), serviceName: 'payment-service', namespace: 'shop',
  });
  const objects = synthChart(chart);

  it('declares the service in the Consul namespace, labelled for the bootstrap to find', () => {
    const declaration = findObject(objects, 'ConfigMap', 'consul-token-payment-service.shop', 'consul');
    expect(declaration.metadata.labels?.[CONSUL_SERVICE_TOKEN_LABEL]).toBe('consul');
    expect(declaration.data).toEqual({ service: 'payment-service', namespace: 'shop', secretName: 'payment-service-consul-token', key: 'token' });
    expect(token.tokenSecret).toEqual({ secretName: 'payment-service-consul-token', key: 'token' });
  });

  it('lets the bootstrap write exactly that Secret in the service namespace', () => {
    expect(findObject(objects, 'Role', 'consul-token-payment-service', 'shop').rules[0]).toEqual(
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['payment-service-consul-token'], verbs: ['get', 'update', 'patch'] });
    expect(findObject(objects, 'RoleBinding', 'consul-token-payment-service', 'shop').subjects).toEqual([{ kind: 'ServiceAccount', name: 'consul-bootstrap', namespace: 'consul' }]);
  });

  it('reports every bad prop at once', () => {
    const c = new Chart(Testing.app(), 'x', { namespace: 'shop' });
    const error = validationErrorOf(() => new ConsulServiceToken(c, 't', {
      bootstrap: ConsulBootstrap.fromAttributes({ clusterName: 'consul', namespace: 'consul' }), serviceName: 'Bad_Name', namespace: 'Shop',
    }));
    // The default Secret name derives from the bad service name: one complaint, not two.
    expect(error.problems.map((p) => p.field).sort()).toEqual(['namespace', 'serviceName']);
  });
});
