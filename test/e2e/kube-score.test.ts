import { beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../support/schema';
import { findObject } from '../support/synth';
import { cleanService, distCharts, representativeCharts, SynthesizedChart } from './support/charts';
import { Finding, kubeScore } from './support/kube-score';

/** An accepted kube-score finding: the check, the objects (`Kind namespace/name`, or every object) and why. */
interface Ignore {
  readonly check: string;
  readonly objects: readonly string[] | 'every workload';
  readonly reason: string;
}

const IGNORES: readonly Ignore[] = [
  {
    check: 'container-image-pull-policy',
    objects: 'every workload',
    reason: 'Every image is pinned to a tag or digest (the constructs refuse `latest`), so IfNotPresent always runs the intended '
      + 'image, while Always would make every pod start, reschedules included, depend on the registry. Clusters that rely on '
      + 'pull-time credential checks enforce them for all pods with the AlwaysPullImages admission plugin.',
  },
  {
    check: 'container-ephemeral-storage-request-and-limit',
    objects: 'every workload',
    reason: 'OPEN DEFECT, not a design choice: no container requests or limits ephemeral-storage. The fix needs sizing: the pod-level '
      + 'limit is the sum of the container limits and must cover the emptyDirs (the app /tmp of tmpSizeLimit, the Consul agent data '
      + 'dir, the registration volume) plus rotated logs, or the kubelet evicts the pod.',
  },
  {
    check: 'container-security-context-user-group-id',
    objects: ['StatefulSet rep-consul/consul-server', 'DaemonSet rep-consul/consul-agent', 'StatefulSet rep-consul-dev/consul-server', 'DaemonSet rep-consul-dev/consul-agent'],
    reason: "A ConsulCluster without runAsUser/runAsGroup keeps the hashicorp/consul image's consul user (uid 100, gid 1000), as the "
      + 'official Helm chart does; the props raise both (the example and the TLS and every-prop variants use 10100).',
  },
];

const ignored = (f: Finding) => IGNORES.some((i) => i.check === f.check && (i.objects === 'every workload' || i.objects.includes(f.object)));
const show = (findings: readonly Finding[]) => findings.map((f) => `${f.grade} ${f.check} ${f.object}: ${f.detail}`).join('\n');

const charts: SynthesizedChart[] = [...distCharts(), ...representativeCharts()];
let findings: Map<string, Finding[]>;

beforeAll(() => {
  findings = new Map(charts.map((c) => [c.name, kubeScore(c.objects)]));
});

describe('real kube-score v1.20', () => {
  it.each(charts.map((c) => [c.name]))('finds no WARNING or CRITICAL in %s beyond the documented ignores', (name) => {
    const open = findings.get(name)!.filter((f) => !ignored(f));
    expect(open, show(open)).toEqual([]);
  });

  it('has no stale ignore: each still matches a finding on every object it names', () => {
    const all = [...findings.values()].flat();
    for (const ignore of IGNORES) {
      const objects = ignore.objects === 'every workload' ? [undefined] : ignore.objects;
      for (const object of objects) {
        expect(all.some((f) => f.check === ignore.check && (object === undefined || f.object === object)), `${ignore.check} ${object ?? ''}`).toBe(true);
      }
    }
  });
});

// The in-house quality suite (test/support/quality.ts) dropped these rules because kube-score
// checks them: each mutation breaks one on a clean service, and kube-score must say so.
describe('real kube-score catches, on a clean service', () => {
  const pod = (o: KubeObject[]) => findObject(o, 'Deployment', 'svc').spec.template.spec;
  const app = (o: KubeObject[]) => pod(o).containers[0];
  const remove = (o: KubeObject[], kind: string) => o.splice(o.indexOf(findObject(o, kind, 'svc')), 1);

  it('nothing beyond the library-wide ignores when unbroken', () => {
    const open = kubeScore(cleanService('kube-score')).filter((f) => !ignored(f));
    expect(open, show(open)).toEqual([]);
  });

  it.each<[string, (o: KubeObject[]) => void, string]>([
    ['missing limits', (o) => { delete app(o).resources.limits; }, 'container-resources'],
    ['no readiness probe', (o) => { delete app(o).readinessProbe; }, 'pod-probes'],
    ['identical probes', (o) => { app(o).livenessProbe.httpGet.path = app(o).readinessProbe.httpGet.path; }, 'pod-probes-identical'],
    ['a Service selecting nothing', (o) => { findObject(o, 'Service', 'svc').spec.selector = { app: 'other' }; }, 'service-targets-pod'],
    ['a Deployment selector that misses its template', (o) => { findObject(o, 'Deployment', 'svc').spec.selector.matchLabels.app = 'other'; }, 'deployment-pod-selector-labels-match-template-metadata-labels'],
    ['a single replica behind a Service', (o) => { findObject(o, 'Deployment', 'svc').spec.replicas = 1; }, 'deployment-replicas'],
    ['a Recreate strategy behind a Service', (o) => { findObject(o, 'Deployment', 'svc').spec.strategy = { type: 'Recreate' }; }, 'deployment-strategy'],
    ['no host anti-affinity', (o) => { delete pod(o).affinity; }, 'deployment-has-host-podantiaffinity'],
    ['no PodDisruptionBudget', (o) => { remove(o, 'PodDisruptionBudget'); }, 'deployment-has-poddisruptionbudget'],
    ['no NetworkPolicy', (o) => { remove(o, 'NetworkPolicy'); }, 'pod-networkpolicy'],
    ['a NetworkPolicy without Egress', (o) => { findObject(o, 'NetworkPolicy', 'svc').spec.policyTypes = ['Ingress']; }, 'pod-networkpolicy'],
    ['a writable root filesystem', (o) => { app(o).securityContext.readOnlyRootFilesystem = false; }, 'container-security-context-readonlyrootfilesystem'],
    ['a low uid', (o) => { pod(o).securityContext.runAsUser = 1000; }, 'container-security-context-user-group-id'],
    ['a privileged container', (o) => { app(o).securityContext.privileged = true; }, 'container-security-context-privileged'],
    ['no seccomp profile', (o) => { delete pod(o).securityContext.seccompProfile; delete app(o).securityContext.seccompProfile; }, 'container-seccomp-profile'],
    ['a latest image', (o) => { app(o).image = 'ghcr.io/acme/svc:latest'; }, 'container-image-tag'],
    ['a port name over 15 characters', (o) => { app(o).ports[0].name = 'http-port-number-1'; }, 'container-ports-check'],
  ])('%s', (_title, mutate, check) => {
    const objects = cleanService('kube-score');
    mutate(objects);
    expect(kubeScore(objects).map((f) => f.check)).toContain(check);
  });

  it('a StatefulSet whose serviceName is not a headless Service', () => {
    const objects = cleanService('kube-score');
    const deployment = findObject(objects, 'Deployment', 'svc');
    objects.push({ ...deployment, kind: 'StatefulSet', metadata: { ...deployment.metadata, name: 'db' }, spec: { ...deployment.spec, strategy: undefined, serviceName: 'svc' } });
    expect(kubeScore(objects).filter((f) => f.object === 'StatefulSet kube-score/db').map((f) => f.check)).toContain('statefulset-has-servicename');
  });
});
