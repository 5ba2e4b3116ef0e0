import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Yaml } from 'cdk8s';
import type { KubeObject } from '../../support/schema';
import type { ApiServer } from './apiserver';
import { refOf } from './charts';

/**
 * API groups whose CRDs this API server cannot have, and why. Objects of these groups are
 * left out of every apply, and the tests list them.
 */
export const UNSERVABLE_GROUPS: Readonly<Record<string, string>> = {
  'consul.hashicorp.com': 'consul-k8s CRDs (ServiceDefaults, ServiceResolver, ServiceIntentions): hashicorp/consul-k8s is not served by the Go module proxy '
    + '(every module and version answers 403), so its CRD YAML cannot be fetched here; test/support/consul-crds.ts checks these '
    + 'objects against the transcribed CRD schemas instead',
};

const groupOf = (o: KubeObject) => (o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '');

/** Splits objects into those the API server can store and those of {@link UNSERVABLE_GROUPS}. */
export function servable(objects: readonly KubeObject[]): { applied: KubeObject[]; leftOut: KubeObject[] } {
  return {
    applied: objects.filter((o) => !(groupOf(o) in UNSERVABLE_GROUPS)),
    leftOut: objects.filter((o) => groupOf(o) in UNSERVABLE_GROUPS),
  };
}

/** The field manager of every apply: one owner, as when one pipeline deploys the charts. */
export const FIELD_MANAGER = 'discovery-kit';

/**
 * `kubectl apply --server-side --validate=strict` (the server's fieldValidation=Strict) of `objects`, Namespaces first.
 * Any rejection, and any warning the server sends (Pod Security "would violate", deprecated
 * APIs, unknown or duplicate fields), rejects the promise with kubectl's output. Resolves
 * with the names of the applied objects as kubectl reports them.
 */
export async function serverSideApply(api: ApiServer, objects: readonly KubeObject[]): Promise<string[]> {
  const ordered = [...objects.filter((o) => o.kind === 'Namespace'), ...objects.filter((o) => o.kind !== 'Namespace')];
  const { stdout, stderr } = await api.kubectl([
    'apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '--validate=strict', '--warnings-as-errors', '-f', '-',
  ], Yaml.stringify(...ordered));
  // --warnings-as-errors already fails the command; this also catches output kubectl prints without failing.
  if (stderr.trim() !== '') throw new Error(`kubectl apply printed on stderr:\n${stderr}`);
  const applied = stdout.trim().split('\n').filter((line) => line !== '');
  if (applied.length !== ordered.length) {
    throw new Error(`kubectl applied ${applied.length} of ${ordered.length} objects:\n${stdout}\nsent: ${ordered.map(refOf).join(', ')}`);
  }
  return applied;
}

/**
 * The Pods the workload controllers would create from `objects` (one per Deployment,
 * StatefulSet, DaemonSet and CronJob; StatefulSet pods get the claim volumes of their
 * volumeClaimTemplates, as the StatefulSet controller adds them).
 */
export function podsOf(objects: readonly KubeObject[]): KubeObject[] {
  return objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob'].includes(o.kind)).map((workload) => {
    const name = workload.kind === 'StatefulSet' ? `${workload.metadata.name}-0` : `${workload.metadata.name}-e2e`;
    const template = workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec.template : workload.spec.template;
    const claims = (workload.spec.volumeClaimTemplates ?? []).map((claim: KubeObject) => ({
      name: claim.metadata.name, persistentVolumeClaim: { claimName: `${claim.metadata.name}-${name}` },
    }));
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...template.metadata, name, namespace: workload.metadata.namespace },
      spec: { ...template.spec, volumes: [...(template.spec.volumes ?? []), ...claims] },
    };
  });
}

/**
 * Submits the Pods of {@link podsOf} with `kubectl create --dry-run=server`: admission
 * (Pod Security enforce among it) and validation run as for a real Pod, nothing is stored.
 * A rejection or a warning rejects the promise.
 */
export async function admitPods(api: ApiServer, objects: readonly KubeObject[]): Promise<void> {
  const pods = podsOf(objects);
  if (pods.length === 0) return;
  const { stderr } = await api.kubectl(['create', '--dry-run=server', '--warnings-as-errors', '-f', '-'], Yaml.stringify(...pods));
  if (stderr.trim() !== '') throw new Error(`kubectl create printed on stderr:\n${stderr}`);
}

/** Installs the CustomResourceDefinitions of a YAML file and waits until the API server serves them. */
export async function installCrds(api: ApiServer, crdsFile: string): Promise<void> {
  await api.kubectl(['apply', '--server-side', '--field-manager=discovery-kit-crds', '-f', crdsFile]);
  const names = Yaml.load(crdsFile).filter(Boolean).map((crd: KubeObject) => `crd/${crd.metadata.name}`);
  await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
}

/**
 * The Gateway API CRDs lib/gateway/imports was generated from: tools/import-crds.sh (cached
 * once per machine) prints their path; the classes it regenerates go to a scratch folder.
 */
export function gatewayApiCrds(): string {
  const scratch = mkdtempSync(join(tmpdir(), 'dk-gateway-crds-'));
  try {
    const run = spawnSync('sh', [join(__dirname, '..', '..', '..', 'tools', 'import-crds.sh'), scratch], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (run.status !== 0) throw new Error(`tools/import-crds.sh failed (${run.error?.message ?? run.status}):\n${run.stderr}`);
    return run.stdout.trim();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
