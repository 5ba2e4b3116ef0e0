import { Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { HealthScheme, HealthSpec } from '../lib';
import { testChart } from './support/synth';

describe('HealthSpec', () => {
  it('derives the registry check from the readiness probe, so the two agree', () => {
    const health = HealthSpec.http({
      port: 'admin', scheme: HealthScheme.HTTPS,
      readiness: { path: '/ready', period: Duration.seconds(7), timeout: Duration.seconds(3), failureThreshold: 4 },
    }).resolve(testChart());
    const probe = health.readinessProbe();
    const check = health.registryCheck();
    expect(check).toEqual({ portName: 'admin', scheme: 'HTTPS', path: '/ready', interval: '7s', timeout: '3s', failuresBeforeCritical: 4 });
    expect(probe.httpGet).toEqual({ path: check.path, port: expect.objectContaining({ value: check.portName }), scheme: check.scheme });
    expect(`${probe.periodSeconds}s`).toBe(check.interval);
    expect(`${probe.timeoutSeconds}s`).toBe(check.timeout);
  });

  it('sizes the startup probe to cover the slowest start', () => {
    const health = HealthSpec.http({ startup: { period: Duration.seconds(4), maxStartupTime: Duration.seconds(30) } }).resolve(testChart());
    const probe = health.startupProbe();
    expect(probe.periodSeconds! * probe.failureThreshold!).toBeGreaterThanOrEqual(30);
    expect(probe.failureThreshold).toBe(8);
    expect(probe.timeoutSeconds).toBeLessThan(probe.periodSeconds!);
  });

  it('names the construct that uses it in errors', () => {
    expect(() => HealthSpec.http({ port: 'Web' }).resolve(testChart(), 'props.health')).toThrow(/Chart 'test': props.health.port = "Web"/);
  });
});
