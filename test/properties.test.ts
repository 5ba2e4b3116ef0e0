import fc from 'fast-check';
import { Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { ConsulAgentRegistration, DiscoverableService, DiscoverableServiceProps, DiscoveryKitValidationError, HealthSpec } from '../lib';
import { qualityViolations } from './support/quality';
import { AGENT, validServiceProps } from './support/service-props';
import { synthChart, testChart } from './support/synth';

const RUNS = 200;

/** Runs a property and reports how many inputs it tried, so a log shows the coverage. */
function check<T>(title: string, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => void): void {
  const details = fc.check(fc.property(arbitrary, predicate), { numRuns: RUNS });
  console.log(`property "${title}": ${details.numRuns} inputs tried${details.failed ? ', FAILED' : ''}`);
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? `property "${title}" failed`);
}


describe('generated valid props', () => {
  it('always synthesize schema-valid, quality-clean manifests', () => {
    check('valid DiscoverableService props synthesize cleanly', validServiceProps, (props) => {
      const chart = testChart();
      new DiscoverableService(chart, 'svc', props);
      const objects = synthChart(chart); // validates every object against the schema
      expect(qualityViolations(objects)).toEqual([]);
    });
  });
});

/** One bad field at a time: the mutation, the field the error must name, and the bad value. */
interface BadInput {
  readonly field: string;
  readonly value: unknown;
  /** How the message shows the value. @default JSON.stringify(value) */
  readonly shown?: string;
  readonly props: Partial<DiscoverableServiceProps>;
}

const badName = fc.oneof(
  fc.stringMatching(/^[A-Z][a-zA-Z0-9]{0,10}$/),
  fc.stringMatching(/^[0-9][a-z0-9]{0,10}$/),
  fc.stringMatching(/^[a-z]{1,5}_[a-z]{1,5}$/),
  fc.stringMatching(/^[a-z]{64,80}$/),
  // A DNS label, but '<name>-headless' would not be one.
  fc.stringMatching(/^[a-z]{55,63}$/),
  fc.constant(''),
  fc.stringMatching(/^[a-z]{1,5}-$/),
);
const badPortName = fc.oneof(
  fc.stringMatching(/^[A-Z][a-zA-Z0-9]{0,10}$/),
  fc.stringMatching(/^[a-z]{1,5}_[a-z]{1,5}$/),
  fc.stringMatching(/^[a-z]{16,30}$/),
  fc.stringMatching(/^[a-z]{1,5}--[a-z]{1,5}$/),
  fc.stringMatching(/^[0-9]{1,10}$/),
  fc.stringMatching(/^-?[a-z]{1,5}-$/),
  fc.constant(''),
);
const badPort = fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 65536 }), fc.double({ min: 1.01, max: 65534.99, noInteger: true, noNaN: true }));
// Under Consul's minute, or a Go duration string from plain JavaScript.
const badDuration = fc.oneof(
  fc.integer({ min: 0, max: 59_999 }).map((ms) => ({ value: Duration.millis(ms) as unknown, shown: `${ms / 1000}s` })),
  fc.stringMatching(/^[0-9]{1,3}(s|m|h)$/).map((value) => ({ value: value as unknown, shown: JSON.stringify(value) })),
);
const badTag = fc.oneof(fc.stringMatching(/^[A-Z][A-Za-z]{0,8}$/), fc.stringMatching(/^[a-z]{1,4}[_.,: ][a-z]{1,4}$/), fc.stringMatching(/^[a-z]{64,70}$/));
const badMetaKey = fc.oneof(fc.stringMatching(/^[a-z]{1,5}[.:/ ][a-z]{1,5}$/), fc.stringMatching(/^[a-z]{129,140}$/), fc.stringMatching(/^consul-[a-z]{1,8}$/));

const badInput: fc.Arbitrary<BadInput> = fc.oneof(
  badName.map((value) => ({ field: 'name', value, props: { name: value } })),
  badPort.map((value) => ({ field: 'ports[0].port', value, props: { ports: [{ name: 'http', port: value }] } })),
  badPortName.map((value) => ({ field: 'ports[0].name', value, props: { ports: [{ name: value, port: 8080 }], health: HealthSpec.http({ port: 'http' }) } })),
  fc.oneof(fc.integer({ max: -1 }), fc.double({ min: 0.01, max: 99.99, noInteger: true, noNaN: true })).map((value) => ({ field: 'replicas', value, props: { replicas: value } })),
  badDuration.map(({ value, shown }) => ({
    field: 'registration.deregisterCriticalServiceAfter', value, shown,
    props: { registration: new ConsulAgentRegistration({ agent: AGENT, deregisterCriticalServiceAfter: value as Duration }) },
  })),
  badTag.map((value) => ({ field: 'registration.tags[0]', value, props: { registration: new ConsulAgentRegistration({ agent: AGENT, tags: [value] }) } })),
  badMetaKey.map((value) => ({ field: 'registration.meta key', value, props: { registration: new ConsulAgentRegistration({ agent: AGENT, meta: { [value]: 'x' } }) } })),
  fc.integer({ min: 63, max: 100 }).map((count) => ({
    field: 'registration.meta', value: `${count} keys`,
    props: { registration: new ConsulAgentRegistration({ agent: AGENT, meta: Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 'v'])) }) },
  })),
);

describe('generated bad props', () => {
  it('always fail at synth with a message naming the construct, the field and the value', () => {
    check('bad props fail with a precise error', badInput, ({ field, value, shown, props }) => {
      const chart = testChart();
      let error: unknown;
      try {
        new DiscoverableService(chart, 'svc', { image: 'ghcr.io/acme/svc:1.0.0', ...props });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DiscoveryKitValidationError);
      const { message, field: reported } = error as DiscoveryKitValidationError;
      expect(reported).toBe(field);
      expect(message).toContain("DiscoverableService 'test/svc'");
      expect(message).toContain(`${field} = ${shown ?? JSON.stringify(value)}`);
    });
  });
});
