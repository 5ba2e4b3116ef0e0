import { App, Chart, Duration } from 'cdk8s';
import { DiscoverableService, HealthSpec, RestrictedNamespace } from '../lib';

/**
 * The example discovery setup that `cdk8s synth` writes to dist/: three services in a
 * restricted `production` namespace; order-service discovers payment-service.
 */
export function buildExampleApp(app: App): App {
  const production = new Chart(app, 'production', { namespace: 'production', disableResourceNameHashes: true });
  new RestrictedNamespace(production, 'production');

  const payment = new DiscoverableService(production, 'payment-service', {
    image: 'ghcr.io/acme/payment-service:1.8.2',
    ports: [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9090 }],
    replicas: 3,
    partOf: 'shop',
  });

  const order = new DiscoverableService(production, 'order-service', {
    image: 'ghcr.io/acme/order-service:2.3.0',
    replicas: 2,
    partOf: 'shop',
    env: { LOG_LEVEL: 'info' },
  });
  order.discover(payment);

  new DiscoverableService(production, 'user-service', {
    image: 'ghcr.io/acme/user-service:0.9.4',
    replicas: 2,
    partOf: 'shop',
    health: HealthSpec.http({ startup: { maxStartupTime: Duration.seconds(180) } }),
  });

  return app;
}
