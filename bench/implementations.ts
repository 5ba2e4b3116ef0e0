import { App, Chart } from 'cdk8s';
import { buildWithCdk8sPlus } from './cdk8s-plus';
import { buildWithDiscoveryKit } from './discovery-kit';
import { ChartOutput } from './manifests';
import { buildRaw } from './raw';
import { Workload } from './workload';

/** The three ways the benchmark builds the same manifests. */
export const IMPLEMENTATIONS = {
  /** The package: `DiscoverableService` + `ConsulAgentRegistration` + `discover()`. */
  'discovery-kit': buildWithDiscoveryKit,
  /** The baseline: hand-written JSON in raw `ApiObject`s. */
  'raw-apiobject': buildRaw,
  /** The peer: hand-assembled cdk8s-plus-27 L2 objects with patches. */
  'cdk8s-plus': buildWithCdk8sPlus,
} satisfies Record<string, (app: App, w: Workload) => Chart[]>;

export type ImplementationName = keyof typeof IMPLEMENTATIONS;

export const IMPLEMENTATION_NAMES = Object.keys(IMPLEMENTATIONS) as ImplementationName[];

/**
 * Builds the workload with one implementation in a fresh app and synthesizes every chart
 * (tests pass their schema-checking `synthChart` as `render`).
 */
export function synthesize(name: ImplementationName, w: Workload, render: (chart: Chart) => readonly any[] = (chart) => chart.toJson()): ChartOutput[] {
  const charts = IMPLEMENTATIONS[name](new App(), w);
  return charts.map((chart) => ({ chart: chart.node.id, objects: render(chart) }));
}
