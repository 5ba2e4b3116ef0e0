import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ApiObject, Chart } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { DiscoverableService, DiscoveryKitValidationError, RestrictedNamespace } from '../lib';
import { Cdk8sChartResource, chartObjectResourceName, kubernetesTypeToken } from '../lib/pulumi';
import { findRegistered, runUnderMocks } from './support/pulumi-mocks';
import { registerCustomValidator } from './support/schema';
import { synthChart, testChart } from './support/synth';

registerCustomValidator('consul.hashicorp.com/v1alpha1', 'ServiceDefaults', (obj) => {
  if (!obj.spec?.protocol) throw new Error('ServiceDefaults needs spec.protocol');
});

/** A chart with a Namespace, a namespaced service and a custom resource. */
function shopChart(): Chart {
  const chart = testChart('shop');
  new RestrictedNamespace(chart, 'shop');
  new DiscoverableService(chart, 'payment-service', { image: 'ghcr.io/acme/payment-service:1.8.2' });
  new ApiObject(chart, 'defaults', {
    apiVersion: 'consul.hashicorp.com/v1alpha1', kind: 'ServiceDefaults',
    metadata: { name: 'payment-service', namespace: 'shop' }, spec: { protocol: 'http' },
  });
  return chart;
}

/** Deploys `chart` under mocks with an explicit provider; `dependsOn` makes resources to wait for. */
async function deploy(chart: Chart, dependsOn: () => pulumi.Resource[] = () => []) {
  let component!: Cdk8sChartResource;
  const run = await runUnderMocks({
    project: 'chart-test',
    program: () => {
      const provider = new k8s.Provider('cluster', { context: 'test' });
      component = new Cdk8sChartResource('shop', { chart, dependsOn: dependsOn() }, { provider });
      return {};
    },
  });
  const children = run.constructed.filter((c) => c.opts.parent === component);
  return { run, component, children };
}

describe('Cdk8sChartResource', () => {
  it('registers every synthesized object as exactly one resource of its typed class, with identical content', async () => {
    const chart = shopChart();
    const objects = synthChart(chart);
    const { run } = await deploy(chart);
    expect(run.registered.filter((r) => r.type.startsWith('kubernetes:'))).toHaveLength(objects.length);
    for (const obj of objects) {
      const resource = findRegistered(run, kubernetesTypeToken(obj.apiVersion, obj.kind), chartObjectResourceName(obj));
      expect(resource.inputs).toEqual(obj);
    }
  });

  it('names resources <namespace>/<Kind>/<name>, or <Kind>/<name> for cluster-scoped objects', async () => {
    const { run } = await deploy(shopChart());
    const names = run.registered.filter((r) => r.type.startsWith('kubernetes:')).map((r) => `${r.type} ${r.name}`);
    expect(names).toEqual(expect.arrayContaining([
      'kubernetes:core/v1:Namespace Namespace/shop',
      'kubernetes:apps/v1:Deployment shop/Deployment/payment-service',
      'kubernetes:core/v1:Service shop/Service/payment-service-headless',
      'kubernetes:consul.hashicorp.com/v1alpha1:ServiceDefaults shop/ServiceDefaults/payment-service',
    ]));
    expect(new Set(names).size).toBe(names.length);
  });

  it('uses the typed @pulumi/kubernetes classes for built-in kinds and CustomResource for custom kinds', async () => {
    const { component } = await deploy(shopChart());
    expect(component.resources.get('shop/Deployment/payment-service')).toBeInstanceOf(k8s.apps.v1.Deployment);
    expect(component.resources.get('Namespace/shop')).toBeInstanceOf(k8s.core.v1.Namespace);
    expect(component.resources.get('shop/ServiceDefaults/payment-service')).toBeInstanceOf(k8s.apiextensions.CustomResource);
  });

  it('parents every object to the component, which carries the discovery-kit type token and passes on its provider', async () => {
    const { run, component, children } = await deploy(shopChart());
    expect(children.map((c) => c.name).sort()).toEqual([...component.resources.keys()].sort());
    expect(run.constructed.find((c) => c.resource === component)?.type).toBe('discovery-kit:cdk8s:Chart');
    const providerRefs = new Set(run.registered.filter((r) => r.type.startsWith('kubernetes:')).map((r) => r.provider));
    expect([...providerRefs]).toEqual([expect.stringMatching(/pulumi:providers:kubernetes::cluster::cluster-id$/)]);
  });

  it('creates Namespaces first: every object in a namespace of the chart depends on it', async () => {
    const { component, children } = await deploy(shopChart());
    const namespace = component.resources.get('Namespace/shop');
    expect([...component.resources.keys()][0]).toBe('Namespace/shop');
    for (const child of children) {
      expect(child.opts.dependsOn, child.name).toEqual(child.resource === namespace ? [] : [namespace]);
    }
  });

  it('makes every object wait for the resources passed as dependsOn', async () => {
    let gossip!: pulumi.Resource;
    const { children } = await deploy(shopChart(), () => [gossip = new k8s.core.v1.Secret('gossip', { metadata: { name: 'gossip' } })]);
    for (const child of children) {
      expect(child.opts.dependsOn, child.name).toContain(gossip);
    }
  });
});

describe('Cdk8sChartResource rejects charts the engine would reject, before registering anything', () => {
  /** The error of deploying `chart`, after checking that no child was registered. */
  async function errorOf(chart: Chart, schemaValid = true): Promise<DiscoveryKitValidationError> {
    if (schemaValid) synthChart(chart);
    const registered: string[] = [];
    const error = await runUnderMocks({
      project: 'chart-test',
      program: () => {
        pulumi.runtime.registerStackTransformation(({ name }) => { registered.push(name); return undefined; });
        new Cdk8sChartResource('broken', { chart });
      },
    }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DiscoveryKitValidationError);
    expect(registered).toEqual([]);
    return error as DiscoveryKitValidationError;
  }

  const configMap = (chart: Chart, id: string, namespace = 'shop') =>
    new ApiObject(chart, id, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace } });
  const autoscaler = (chart: Chart, apiVersion: string) => new ApiObject(chart, apiVersion, {
    apiVersion, kind: 'HorizontalPodAutoscaler', metadata: { name: 'settings', namespace: 'shop' },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'settings' }, maxReplicas: 2 },
  });

  it('two objects of one kind with one name and namespace', async () => {
    const chart = testChart('shop');
    configMap(chart, 'a');
    configMap(chart, 'b');
    const error = await errorOf(chart);
    expect(error.field).toBe('chart objects');
    expect(error.message).toMatch(/Cdk8sChartResource 'broken': chart objects = "shop\/ConfigMap\/settings" is invalid: must be unique/);
  });

  it('one object under two versions of its API group (one object to the API server)', async () => {
    const chart = testChart('shop');
    autoscaler(chart, 'autoscaling/v1');
    autoscaler(chart, 'autoscaling/v2');
    expect((await errorOf(chart)).message).toContain('shop/HorizontalPodAutoscaler/settings');
  });

  it('a core kind @pulumi/kubernetes does not know', async () => {
    const chart = testChart('shop');
    new ApiObject(chart, 'odd', { apiVersion: 'v1', kind: 'Gadget', metadata: { name: 'settings' } });
    // No schema knows the kind either, so the chart skips the schema check.
    expect((await errorOf(chart, false)).message).toMatch(/chart object kind = "v1 Gadget" is invalid/);
  });

  it('accepts the same name under different kinds or namespaces', async () => {
    const chart = testChart('shop');
    configMap(chart, 'config');
    configMap(chart, 'elsewhere', 'other');
    new ApiObject(chart, 'account', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'settings', namespace: 'shop' } });
    synthChart(chart);
    const { component } = await deploy(chart);
    expect([...component.resources.keys()].sort()).toEqual(['other/ConfigMap/settings', 'shop/ConfigMap/settings', 'shop/ServiceAccount/settings']);
  });
});
