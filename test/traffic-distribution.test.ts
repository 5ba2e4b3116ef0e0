import { describe, expect, it } from 'vitest';
import { DiscoverableService, DiscoveryKitValidationError, TrafficDistribution } from '../lib';
import { findObject, synthChart, testChart } from './support/synth';

const IMAGE = 'ghcr.io/acme/payment-service:1.8.2';

describe('DiscoverableService trafficDistribution', () => {
  it('is unset by default (Kubernetes spreads over every ready endpoint)', () => {
    const chart = testChart();
    new DiscoverableService(chart, 'payment-service', { image: IMAGE });
    expect(findObject(synthChart(chart), 'Service', 'payment-service').spec).not.toHaveProperty('trafficDistribution');
  });

  it.each(Object.values(TrafficDistribution))('sets %s on the ClusterIP Service only, not on the headless one', (value) => {
    const chart = testChart();
    new DiscoverableService(chart, 'payment-service', { image: IMAGE, trafficDistribution: value });
    const objects = synthChart(chart);
    expect(findObject(objects, 'Service', 'payment-service').spec.trafficDistribution).toBe(value);
    expect(findObject(objects, 'Service', 'payment-service-headless').spec).not.toHaveProperty('trafficDistribution');
  });

  it('warns that PreferClose is deprecated (Kubernetes 1.36 warns on apply)', () => {
    const chart = testChart();
    const service = new DiscoverableService(chart, 'payment-service', { image: IMAGE, trafficDistribution: TrafficDistribution.PREFER_CLOSE });
    expect(service.node.metadata.filter((m) => m.type === 'warning').map((m) => m.data)).toEqual([expect.stringMatching(/PreferClose is deprecated/)]);
  });

  it('refuses other values, together with other bad props', () => {
    let error: unknown;
    try {
      new DiscoverableService(testChart(), 'payment-service', { image: IMAGE, replicas: -1, trafficDistribution: 'PreferCloser' as TrafficDistribution });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    expect((error as DiscoveryKitValidationError).problems.map((p) => p.field)).toEqual(['replicas', 'trafficDistribution']);
  });
});
