import { expect } from 'vitest';
import { Cdk8sChartResource, chartObjectResourceName, kubernetesTypeToken } from '../../lib/pulumi';
import { findRegistered, MockRun } from './pulumi-mocks';
import { KubeObject } from './schema';
import { synthChart } from './synth';

/** The chart components a run constructed, by name. */
export function chartComponents(run: MockRun<unknown>): Map<string, Cdk8sChartResource> {
  return new Map(run.constructed
    .filter((c) => c.resource instanceof Cdk8sChartResource)
    .map((c) => [c.name, c.resource as Cdk8sChartResource]));
}

/**
 * Asserts that the component registered exactly one child per object its chart synthesizes
 * (schema-checked through synthChart), of the object's type, under its name, with the
 * object as inputs. Returns the objects.
 */
export function expectOneResourcePerObject(run: MockRun<unknown>, component: Cdk8sChartResource): KubeObject[] {
  const objects = synthChart(component.chart);
  const children = run.constructed.filter((c) => c.opts.parent === component);
  const expected = objects.map((o) => `${kubernetesTypeToken(o.apiVersion, o.kind)} ${chartObjectResourceName(o)}`);
  expect(children.map((c) => `${c.type} ${c.name}`).sort()).toEqual(expected.sort());
  for (const obj of objects) {
    expect(findRegistered(run, kubernetesTypeToken(obj.apiVersion, obj.kind), chartObjectResourceName(obj)).inputs).toEqual(obj);
  }
  return objects;
}

/** Registered `type name` pairs that occur more than once (the engine rejects them; mocks do not). */
export function duplicateRegistrations(run: MockRun<unknown>): string[] {
  const keys = run.registered.map((r) => `${r.type} ${r.name}`);
  return keys.filter((key, i) => keys.indexOf(key) !== i);
}
