import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { Chart } from 'cdk8s';
import { invalid } from '../core/validation';

/** A synthesized Kubernetes object, as `Chart.toJson()` returns it. */
export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

/** Arguments of {@link Cdk8sChartResource}. */
export interface Cdk8sChartResourceArgs {
  /** The chart to deploy. It is synthesized once, when the component is constructed. */
  readonly chart: Chart;
  /**
   * Resources every object of the chart waits for, such as a Secret created in Pulumi that
   * the manifests reference by name. (A component's own `dependsOn` does not reach its
   * children, so it is passed here.)
   * @default - none
   */
  readonly dependsOn?: pulumi.Resource[];
}

type ObjectResourceClass = new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/**
 * Deploys a cdk8s chart as Pulumi resources: exactly one resource per Kubernetes object,
 * a child of this component, named `<namespace>/<Kind>/<name>` (`<Kind>/<name>` for
 * cluster-scoped objects). The name is the object's identity, independent of the component
 * name, so renaming or splitting components never replaces objects; two objects with the
 * same identity are rejected here, as the engine would (mocks would not).
 *
 * Each object becomes the typed `@pulumi/kubernetes` class of its apiVersion and kind — the
 * class `yaml.ConfigGroup` would pick — or a `CustomResource` for custom kinds. Unlike
 * `ConfigGroup`, the resources are created synchronously (not inside an `apply`), so names
 * and dependencies are explicit and `pulumi preview` shows every object: Namespaces of the
 * chart are created first and every object in them depends on them (and they are deleted
 * last).
 */
export class Cdk8sChartResource extends pulumi.ComponentResource {
  /** The Pulumi type token. */
  public static readonly TYPE = 'discovery-kit:cdk8s:Chart';

  /** The deployed chart. */
  public readonly chart: Chart;
  /** Every object's resource, by resource name, Namespaces first. */
  public readonly resources: ReadonlyMap<string, pulumi.CustomResource>;

  constructor(name: string, args: Cdk8sChartResourceArgs, opts?: pulumi.ComponentResourceOptions) {
    // Planned before anything registers: a bad chart must not leave some objects applied.
    const plan = planChart(`Cdk8sChartResource '${name}'`, args.chart);
    super(Cdk8sChartResource.TYPE, name, {}, opts);
    this.chart = args.chart;
    const resources = new Map<string, pulumi.CustomResource>();
    for (const { obj, resourceName, ResourceClass } of plan) {
      const namespace = obj.metadata.namespace && resources.get(`Namespace/${obj.metadata.namespace}`);
      const dependsOn = [...(args.dependsOn ?? []), ...(namespace ? [namespace] : [])];
      resources.set(resourceName, new ResourceClass(resourceName, obj, { parent: this, dependsOn }));
    }
    this.resources = resources;
    this.registerOutputs({ resourceNames: [...resources.keys()] });
  }
}

interface PlannedObject {
  readonly obj: KubernetesObject;
  readonly resourceName: string;
  readonly ResourceClass: ObjectResourceClass;
}

/** Synthesizes the chart and checks every object, Namespaces first. */
function planChart(scope: string, chart: Chart): PlannedObject[] {
  const objects = [...chart.toJson() as KubernetesObject[]]
    .sort((a, b) => Number(isNamespace(b)) - Number(isNamespace(a)));
  checkUniqueIdentities(scope, objects);
  return objects.map((obj) => ({ obj, resourceName: chartObjectResourceName(obj), ResourceClass: resourceClassOf(scope, obj) }));
}

/** The Pulumi resource name of a chart object: `<namespace>/<Kind>/<name>` or `<Kind>/<name>`. */
export function chartObjectResourceName(obj: KubernetesObject): string {
  const { name, namespace } = obj.metadata;
  return namespace ? `${namespace}/${obj.kind}/${name}` : `${obj.kind}/${name}`;
}

/**
 * The Pulumi type token of an object's typed class: `kubernetes:<apiVersion>:<Kind>`, with
 * the core group spelled `core/v1`.
 */
export function kubernetesTypeToken(apiVersion: string, kind: string): string {
  return `kubernetes:${apiVersion.includes('/') ? apiVersion : `core/${apiVersion}`}:${kind}`;
}

function isNamespace(obj: KubernetesObject): boolean {
  return obj.apiVersion === 'v1' && obj.kind === 'Namespace';
}

/**
 * Objects are identified by API group, kind, namespace and name (not version), as the API
 * server does. (cdk8s always sets metadata.name.)
 */
function checkUniqueIdentities(scope: string, objects: readonly KubernetesObject[]): void {
  const seen = new Set<string>();
  for (const obj of objects) {
    const identity = `${groupOf(obj.apiVersion)}/${chartObjectResourceName(obj)}`;
    if (seen.has(identity)) {
      invalid(scope, 'chart objects', chartObjectResourceName(obj),
        'must be unique: the chart synthesizes two objects of this kind with this name and namespace, and the Pulumi engine rejects duplicate resources; rename one');
    }
    seen.add(identity);
  }
}

function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
}

/** The typed class for built-in kinds (verified by its type token), else CustomResource. */
function resourceClassOf(scope: string, obj: KubernetesObject): ObjectResourceClass {
  const group = groupOf(obj.apiVersion);
  const version = obj.apiVersion.split('/').pop()!;
  const module = group === '' ? 'core' : group.split('.')[0];
  const candidate = (k8s as any)[module]?.[version]?.[obj.kind];
  if (candidate?.__pulumiType === kubernetesTypeToken(obj.apiVersion, obj.kind)) return candidate;
  if (group === '') {
    invalid(scope, 'chart object kind', `${obj.apiVersion} ${obj.kind}`, 'must be a core kind that @pulumi/kubernetes knows');
  }
  return k8s.apiextensions.CustomResource as unknown as ObjectResourceClass;
}
