import { ApiObject, Chart } from 'cdk8s';
import { expect } from 'vitest';
import { DiscoveryKitValidationError } from '../../lib';
import { testChart } from './synth';

/** The synth-time error `f` throws; any other outcome fails the test. */
export function validationErrorOf(f: () => unknown): DiscoveryKitValidationError {
  try {
    f();
  } catch (error) {
    if (error instanceof DiscoveryKitValidationError) return error;
    throw error;
  }
  throw new Error('expected a DiscoveryKitValidationError');
}

/**
 * Builds something that must be rejected and returns its synth-time error. Also checks that
 * nothing was half-synthesized: the construct the error names left no Kubernetes object behind.
 */
export function rejectionOf(build: (chart: Chart) => void, namespace?: string): DiscoveryKitValidationError {
  const chart = testChart(namespace);
  try {
    build(chart);
  } catch (error) {
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    const { nodePath } = error as DiscoveryKitValidationError;
    expect(nodePath).toBeDefined();
    const leftBehind = chart.node.findAll().filter((c) => c instanceof ApiObject && c.node.path.startsWith(`${nodePath}/`));
    expect(leftBehind.map((c) => c.node.path)).toEqual([]);
    return error as DiscoveryKitValidationError;
  }
  throw new Error('expected the props to be rejected at synth time');
}

/** The error names the construct (kind and path) and the field, and says what is allowed. */
export function expectRejection(error: DiscoveryKitValidationError, construct: string, field: string, message: RegExp): void {
  expect(error.field).toBe(field);
  expect(error.message).toContain(construct);
  expect(error.message).toContain(field);
  expect(error.message).toMatch(message);
}
