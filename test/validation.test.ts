import { Duration } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { quantityValue } from '../lib/core/resources';
import { checkDuration, checkPinnedImage, formatMs } from '../lib/core/validation';
import { parseGoDuration } from './support/go-duration';

describe('Go durations (Consul syntax, read back by the tests)', () => {
  it.each([
    ['10s', 10_000], ['1m30s', 90_000], ['500ms', 500], ['1.5h', 5_400_000], ['2h45m', 9_900_000],
    ['100us', 0.1], ['100µs', 0.1], ['0', 0], ['.5s', 500], ['1h1m1s1ms', 3_661_001],
  ])('parses %s', (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', '10', '1d', '-5s', '5 s', 's', '1m30', '1.5.5s', '10S', '1e3s'])('rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });

});

describe('cdk8s Durations (every duration prop)', () => {
  it('returns milliseconds within the bounds', () => {
    expect(checkDuration('Thing a', 'ttl', Duration.minutes(2), 1000, 3_600_000)).toBe(120_000);
  });

  it.each([
    [Duration.millis(10.5), /whole number of milliseconds/],
    [Duration.millis(500), /from 1s to 1h/],
    [Duration.hours(2), /from 1s to 1h/],
    ['10s', /must be a cdk8s Duration such as Duration.seconds\(10\)/],
  ])('names the field for %s', (value, message) => {
    expect(() => checkDuration('Thing a', 'ttl', value as Duration, 1000, 3_600_000)).toThrow(message);
    expect(() => checkDuration('Thing a', 'ttl', value as Duration, 1000, 3_600_000)).toThrow(/^Thing a: ttl = /);
  });

  it.each([[259_200_000, '72h'], [60_000, '1m'], [90_000, '90s'], [10_000, '10s'], [200, '200ms'], [0, '0s']])('renders %d ms as %s for Consul', (ms, text) => {
    expect(formatMs(ms)).toBe(text);
    expect(parseGoDuration(text)).toBe(ms);
  });
});

describe('pinned images', () => {
  it.each([
    ['nginx:1.27.2', '1.27.2'],
    ['registry.example.com:5000/team/app:v2', 'v2'],
    ['hashicorp/consul:1.20.1', '1.20.1'],
    [`app@sha256:${'0'.repeat(64)}`, `sha256:${'0'.repeat(64)}`],
    [`app:1.0@sha256:${'f'.repeat(64)}`, '1.0'],
  ])('accepts %s', (image, ref) => {
    expect(checkPinnedImage('x', 'image', image)).toBe(ref);
  });

  it.each(['nginx', 'nginx:latest', 'registry:5000/app', 'app@sha256:abc', 'App:1.0', 'app:', ':1.0', 'a b:1'])('rejects %j', (image) => {
    expect(() => checkPinnedImage('x', 'image', image)).toThrow(/pinned image/);
  });
});

describe('quantities', () => {
  it.each([['100m', 0.1], ['2', 2], ['128Mi', 128 * 2 ** 20], ['1G', 1e9], ['1e3', 1000], ['0.5', 0.5]])('%s', (q, v) => {
    expect(quantityValue(q)).toBeCloseTo(v);
  });

  it('keeps Duration fractions out of whole-second fields', () => {
    expect(Duration.millis(1500).toMilliseconds()).toBe(1500);
  });
});
