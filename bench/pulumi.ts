import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { Chart } from 'cdk8s';
import { Cdk8sChartResource } from '../lib/pulumi';
import { RegisteredResource, runUnderMocks } from '../test/support/pulumi-mocks';
import { digest } from './manifests';

type DirectClass = new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/** The typed classes for the kinds the workload synthesizes, picked by hand as a user would. */
const DIRECT_CLASSES: Record<string, DirectClass> = {
  'v1/ConfigMap': k8s.core.v1.ConfigMap,
  'v1/ServiceAccount': k8s.core.v1.ServiceAccount,
  'v1/Service': k8s.core.v1.Service,
  'apps/v1/Deployment': k8s.apps.v1.Deployment,
  'policy/v1/PodDisruptionBudget': k8s.policy.v1.PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': k8s.networking.v1.NetworkPolicy,
};

/** The two ways of deploying the charts with Pulumi. */
export const PULUMI_PROGRAMS = {
  /** The package's component: one `Cdk8sChartResource` per chart. */
  component: (charts: readonly Chart[]) => {
    for (const chart of charts) new Cdk8sChartResource(chart.node.id, { chart });
  },
  /** The baseline: every synthesized object as a direct typed resource, under the same name. */
  direct: (charts: readonly Chart[]) => {
    for (const chart of charts) {
      for (const obj of chart.toJson()) {
        const DirectClass = DIRECT_CLASSES[`${obj.apiVersion}/${obj.kind}`];
        if (!DirectClass) throw new Error(`no typed class for ${obj.apiVersion} ${obj.kind}`);
        new DirectClass(`${obj.metadata.namespace}/${obj.kind}/${obj.metadata.name}`, obj);
      }
    }
  },
} satisfies Record<string, (charts: readonly Chart[]) => void>;

export type PulumiProgramName = keyof typeof PULUMI_PROGRAMS;

/**
 * Runs one program under Pulumi's mocks (the same harness as the Pulumi tests) and resolves
 * once every resource has registered. Returns the Kubernetes resources the mock monitor saw.
 */
export async function deployUnderMocks(name: PulumiProgramName, charts: readonly Chart[]): Promise<RegisteredResource[]> {
  const run = await runUnderMocks({
    project: 'bench',
    program: () => {
      PULUMI_PROGRAMS[name](charts);
      return {};
    },
  });
  return run.registered.filter((r) => r.type.startsWith('kubernetes:'));
}

/** A digest of the registrations (type, name and inputs), independent of their order. */
export function registrationsDigest(registered: readonly RegisteredResource[]): string {
  const key = (r: RegisteredResource) => `${r.type} ${r.name}`;
  return digest([...registered].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)).map((r) => [r.type, r.name, r.inputs]));
}
