import { describe, expect, it } from 'vitest';
import { DiscoverableService } from '../lib';
import { envOf, findContainer, findObject, synthChart, testChart } from './support/synth';

describe('a consumer discovering services', () => {
  const chart = testChart();
  const payment = new DiscoverableService(chart, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    ports: [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090, appProtocol: 'grpc' }],
  });
  const users = new DiscoverableService(chart, 'user-service', { image: 'ghcr.io/acme/user-service:0.9.4' });
  const order = new DiscoverableService(chart, 'order-service', { image: 'ghcr.io/acme/order-service:2.3.0', env: { LOG_LEVEL: 'info' } });
  const endpoint = order.discover(payment, { port: 'grpc' });
  order.discover(users);
  const objects = synthChart(chart);
  const app = findContainer(findObject(objects, 'Deployment', 'order-service'), 'order-service');
  const peer = (name: string) => ({
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'production' } },
    podSelector: { matchLabels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': name } },
  });

  it('injects URL, host, port and SRV name of the chosen port', () => {
    expect(envOf(app, 'PAYMENT_SERVICE_URL').value).toBe('grpc://payment-service.production.svc.cluster.local:9090');
    expect(envOf(app, 'PAYMENT_SERVICE_HOST').value).toBe('payment-service.production.svc.cluster.local');
    expect(envOf(app, 'PAYMENT_SERVICE_PORT').value).toBe('9090');
    expect(envOf(app, 'PAYMENT_SERVICE_SRV').value).toBe('_grpc._tcp.payment-service-headless.production.svc.cluster.local');
    expect(envOf(app, 'PAYMENT_SERVICE_URL').value).toBe(endpoint.url);
    expect(envOf(app, 'USER_SERVICE_URL').value).toBe('http://user-service.production.svc.cluster.local:8080');
  });

  it('adds POD_NAMESPACE once, from the downward API', () => {
    expect(app.env.filter((e: any) => e.name === 'POD_NAMESPACE')).toEqual([
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]);
  });

  it('keeps the props env and lists each variable once, in binding order', () => {
    expect(order.envNames).toEqual([
      'LOG_LEVEL', 'PAYMENT_SERVICE_URL', 'PAYMENT_SERVICE_HOST', 'PAYMENT_SERVICE_PORT', 'PAYMENT_SERVICE_SRV',
      'POD_NAMESPACE', 'USER_SERVICE_URL', 'USER_SERVICE_HOST', 'USER_SERVICE_PORT', 'USER_SERVICE_SRV',
    ]);
    expect(app.env.map((e: any) => e.name)).toEqual(order.envNames);
  });

  it('leaves the discovered services untouched', () => {
    const paymentApp = findContainer(findObject(objects, 'Deployment', 'payment-service'), 'payment-service');
    expect(paymentApp.env).toBeUndefined();
  });

  it('lets the consumer reach exactly the bound ports, and nothing else', () => {
    const egress = findObject(objects, 'NetworkPolicy', 'order-service').spec.egress;
    expect(egress.slice(1)).toEqual([
      { to: [peer('payment-service')], ports: [{ port: 9090, protocol: 'TCP' }] },
      { to: [peer('user-service')], ports: [{ port: 8080, protocol: 'TCP' }] },
    ]);
    expect(findObject(objects, 'NetworkPolicy', 'order-service').spec.ingress).toEqual([]);
  });

  it('lets the discovered services accept the consumer on the bound port only', () => {
    expect(findObject(objects, 'NetworkPolicy', 'payment-service').spec.ingress).toEqual([
      { from: [peer('order-service')], ports: [{ port: 9090, protocol: 'TCP' }] },
    ]);
    expect(findObject(objects, 'NetworkPolicy', 'user-service').spec.ingress).toEqual([
      { from: [peer('order-service')], ports: [{ port: 8080, protocol: 'TCP' }] },
    ]);
  });
});
