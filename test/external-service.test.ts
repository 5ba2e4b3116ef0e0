import { describe, expect, it } from 'vitest';
import { DiscoverableService, ExternalService, PortProtocol } from '../lib';
import { envOf, findContainer, findObject, synthChart, testChart } from './support/synth';
import { validationErrorOf } from './support/errors';

const IMAGE = 'ghcr.io/acme/order-service:2.3.0';

describe('ExternalService with fixed addresses', () => {
  const chart = testChart();
  const db = new ExternalService(chart, 'payments-db', {
    ports: [{ name: 'postgres', port: 5432, appProtocol: 'postgresql' }],
    addresses: ['203.0.113.10', '203.0.113.11', '2001:db8::10'],
  });
  const order = new DiscoverableService(chart, 'order-service', { image: IMAGE });
  const endpoint = order.discover(db);
  const objects = synthChart(chart);

  it('is a ClusterIP Service without selector and one EndpointSlice per address family, managed by discovery-kit', () => {
    const service = findObject(objects, 'Service', 'payments-db');
    expect(service.spec).toEqual({ type: 'ClusterIP', ports: [{ name: 'postgres', port: 5432, protocol: 'TCP', appProtocol: 'postgresql' }] });
    const v4 = findObject(objects, 'EndpointSlice', 'payments-db-ipv4');
    expect(v4.metadata.labels).toMatchObject({ 'kubernetes.io/service-name': 'payments-db', 'endpointslice.kubernetes.io/managed-by': 'discovery-kit.io' });
    expect(v4.addressType).toBe('IPv4');
    expect(v4.endpoints.map((e: any) => e.addresses)).toEqual([['203.0.113.10'], ['203.0.113.11']]);
    expect(v4.ports).toEqual(service.spec.ports);
    expect(findObject(objects, 'EndpointSlice', 'payments-db-ipv6').endpoints).toEqual([{ addresses: ['2001:db8::10'], conditions: { ready: true } }]);
  });

  it('gives consumers the Service name, port and SRV record', () => {
    const app = findContainer(findObject(objects, 'Deployment', 'order-service'), 'order-service');
    expect(envOf(app, 'PAYMENTS_DB_URL').value).toBe('postgresql://payments-db.production.svc.cluster.local:5432');
    expect(envOf(app, 'PAYMENTS_DB_SRV').value).toBe('_postgres._tcp.payments-db.production.svc.cluster.local');
    expect(endpoint.srv).toBe('_postgres._tcp.payments-db.production.svc.cluster.local');
  });

  it('limits the consumer\'s egress to exactly the addresses, on the port', () => {
    const egress = findObject(objects, 'NetworkPolicy', 'order-service').spec.egress;
    expect(egress).toContainEqual({
      to: [{ ipBlock: { cidr: '203.0.113.10/32' } }, { ipBlock: { cidr: '203.0.113.11/32' } }, { ipBlock: { cidr: '2001:db8::10/128' } }],
      ports: [{ port: 5432, protocol: 'TCP' }],
    });
    expect(egress).toHaveLength(2); // cluster DNS and the database
  });
});

describe('ExternalService with an externalName', () => {
  it('is an ExternalName Service; consumers get no SRV record and egress to the given peers', () => {
    const chart = testChart();
    const api = new ExternalService(chart, 'fraud-api', {
      ports: [{ name: 'https', port: 443, appProtocol: 'https' }],
      externalName: 'fraud.example.com',
      egress: [{ ipBlock: { cidr: '198.51.100.0/24' } }],
    });
    const order = new DiscoverableService(chart, 'order-service', { image: IMAGE });
    expect(order.discover(api).srv).toBeUndefined();
    const objects = synthChart(chart);
    expect(findObject(objects, 'Service', 'fraud-api').spec).toMatchObject({ type: 'ExternalName', externalName: 'fraud.example.com' });
    expect(objects.filter((o) => o.kind === 'EndpointSlice')).toEqual([]);
    const app = findContainer(findObject(objects, 'Deployment', 'order-service'), 'order-service');
    expect(order.envNames).toEqual(['FRAUD_API_URL', 'FRAUD_API_HOST', 'FRAUD_API_PORT', 'POD_NAMESPACE']);
    expect(envOf(app, 'FRAUD_API_HOST').value).toBe('fraud-api.production.svc.cluster.local');
    expect(findObject(objects, 'NetworkPolicy', 'order-service').spec.egress)
      .toContainEqual({ to: [{ ipBlock: { cidr: '198.51.100.0/24' } }], ports: [{ port: 443, protocol: 'TCP' }] });
  });
});

describe('ExternalService validation', () => {
  it('reports every bad prop at once and claims its Service name', () => {
    const chart = testChart();
    const error = validationErrorOf(() => new ExternalService(chart, 'Bad', {
      ports: [{ name: 'dns', port: 70000, protocol: PortProtocol.UDP }],
      addresses: ['db.example.com', '127.0.0.1', '10.0.0.1', '10.0.0.1'],
      egress: [{ ipBlock: { cidr: '10.0.0.0/8' } }],
    }));
    expect(error.problems.map((p) => p.field)).toEqual(['name', 'ports[0].port', 'addresses[0]', 'addresses[1]', 'addresses[3]', 'egress']);
    new ExternalService(chart, 'db', { ports: [{ name: 'pg', port: 5432 }], addresses: ['10.0.0.1'] });
    expect(validationErrorOf(() => new DiscoverableService(chart, 'db-service', { name: 'db', image: IMAGE })).allowed).toMatch(/must be unique per namespace/);
  });

  it('needs exactly one of externalName and addresses, and egress peers with externalName', () => {
    const chart = testChart();
    expect(validationErrorOf(() => new ExternalService(chart, 'none', { ports: [{ name: 'pg', port: 5432 }] })).field).toBe('externalName');
    expect(validationErrorOf(() => new ExternalService(chart, 'both', { ports: [{ name: 'pg', port: 5432 }], externalName: 'db.example.com', addresses: ['10.0.0.1'], egress: [{ ipBlock: { cidr: '10.0.0.1/32' } }] })).field).toBe('externalName');
    expect(validationErrorOf(() => new ExternalService(chart, 'name', { ports: [{ name: 'pg', port: 5432 }], externalName: 'db.example.com' })).message)
      .toContain('egress = undefined is invalid: is required: where externalName resolves to');
  });
});
