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
  const app = findContainer(findObject(synthChart(chart), 'Deployment', 'order-service'), 'order-service');

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
    const paymentApp = findContainer(findObject(synthChart(chart), 'Deployment', 'payment-service'), 'payment-service');
    expect(paymentApp.env).toBeUndefined();
  });
});
