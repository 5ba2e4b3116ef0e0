import { App, Chart } from 'cdk8s';
import { ConsulAgentRegistration } from '../lib/consul/agent-registration';
import { DiscoverableService } from '../lib/service/discoverable-service';
import { AGENT, PORTS, SIDECAR_IMAGE, Workload } from './workload';

/** The workload as the package builds it: one `DiscoverableService` per service. */
export function buildWithDiscoveryKit(app: App, w: Workload): Chart[] {
  const registration = new ConsulAgentRegistration({ agent: AGENT, image: SIDECAR_IMAGE });
  const services: DiscoverableService[] = [];
  const charts = w.charts.map((c) => {
    const chart = new Chart(app, c.id, { namespace: c.namespace, disableResourceNameHashes: true });
    for (const s of c.services) {
      services[s.index] = new DiscoverableService(chart, s.name, {
        image: s.image,
        ports: PORTS.map((p) => ({ ...p })),
        registration,
      });
    }
    return chart;
  });
  services.forEach((service, i) => {
    if (i > 0) service.discover(services[i - 1]);
  });
  return charts;
}
