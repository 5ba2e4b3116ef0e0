import { App, Chart, Testing } from 'cdk8s';
import { registerConsulCrdValidators } from './consul-crds';
import { registerGatewayValidators } from './gateway-crds';
import { KubeObject, validateSchema } from './schema';

// Custom resources the package emits are checked against their CRD schemas, like built-ins.
registerConsulCrdValidators();
registerGatewayValidators();

/**
 * Synthesizes a chart the way `cdk8s synth` does and validates every object against the
 * Kubernetes schema. Every test synthesizes through here, so no object escapes the check.
 */
export function synthChart(chart: Chart): KubeObject[] {
  const objects = Testing.synth(chart) as KubeObject[];
  objects.forEach(validateSchema);
  return objects;
}

/** All charts of an app, schema-checked, in chart order. */
export function synthApp(app: App): KubeObject[] {
  return app.charts.flatMap(synthChart);
}

/** A fresh app and chart for a test, with stable names like `cdk8s synth` output. */
export function testChart(namespace = 'production'): Chart {
  return new Chart(Testing.app(), 'test', { namespace, disableResourceNameHashes: true });
}

/** The one object of `kind` named `name` (and in `namespace`, when given); throws otherwise. */
export function findObject(objects: readonly KubeObject[], kind: string, name: string, namespace?: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace));
  if (found.length !== 1) {
    throw new Error(`expected one ${kind} named ${name}, found ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  }
  return found[0];
}

/** The container named `name` in a workload's pod template; throws when absent. */
export function findContainer(workload: KubeObject, name: string): any {
  const container = workload.spec.template.spec.containers.find((c: any) => c.name === name);
  if (!container) throw new Error(`${workload.kind}/${workload.metadata.name} has no container ${name}`);
  return container;
}

/** An env var of a container, by name. */
export function envOf(container: any, name: string): any {
  return (container.env ?? []).find((e: any) => e.name === name);
}

/** Host names in an env value: URLs, host:port lists, SRV names and bare FQDNs. */
export function hostNames(value: string): string[] {
  return value.split(',').map((v) => v.replace(/^[a-z]+:\/\//, '').replace(/:\d+$/, '')).filter((h) => /^[_a-z0-9-]+(\.[_a-z0-9-]+)+$/.test(h));
}
