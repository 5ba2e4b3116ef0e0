import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiObject, JsonPatch, Lazy, Testing } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { describe, expect, it } from 'vitest';
import { kubeObject, toKubeJson } from '../lib/core/kube-object';
import { Field, parseMappings, PLAN_MODULE, renderPlanModule } from '../tools/kube-json/generate-plan';

const MAPPINGS = parseMappings(readFileSync(join(require.resolve('cdk8s-plus-27'), '..', 'imports', 'k8s.js'), 'utf8'));
const mapping = (type: string) => (k8s as unknown as Record<string, (v: unknown) => unknown>)[`toJson_${type}`];

/** A value of L1 type `type` with every field set (nested types to a bounded depth). */
function populated(type: string, depth = 0): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const f of MAPPINGS.get(type)!) {
    const v = fieldValue(f, depth);
    if (v !== undefined) value[f.ts] = v;
  }
  return value;
}

function fieldValue(f: Field, depth: number): unknown {
  const s = `v-${f.json}`;
  switch (f.form) {
    case 'scalar': return s;
    case 'value': return k8s.IntOrString.fromString(s);
    case 'date': return new Date(Date.UTC(2026, 11, 3));
    case 'scalars': return [s, `${s}-2`];
    case 'map': return { [`k-${f.json}`]: s };
    case 'values': return { [`k-${f.json}`]: k8s.Quantity.fromString('1Gi') };
    case 'lists': return { [`k-${f.json}`]: [s] };
    default: return depth >= 4 ? undefined
      : f.form === 'one' ? populated(f.type!, depth + 1)
      : f.form === 'items' ? [populated(f.type!, depth + 1)]
      : { [`k-${f.json}`]: populated(f.type!, depth + 1) };
  }
}

/** Plain JSON, as synthesis writes it (IntOrString and Quantity by value, no undefined). */
const plainJson = (value: unknown) => JSON.parse(JSON.stringify(value));

describe('Kubernetes JSON of L1 props (lib/core/kube-object.ts)', () => {
  it('converts every field of every cdk8s-plus-27 L1 type exactly as its generated toJson_ mapping does', () => {
    expect(MAPPINGS.size).toBeGreaterThan(400);
    for (const type of MAPPINGS.keys()) {
      const value = populated(type);
      expect({ type, json: plainJson(toKubeJson(value, type)) }).toEqual({ type, json: plainJson(mapping(type)(value)) });
    }
  });

  it('renames fields and converts late-bound (Lazy) values with their type', () => {
    const spec = { type: 'ClusterIP', clusterIp: 'None', ports: Lazy.any({ produce: () => [{ port: 80, targetPort: k8s.IntOrString.fromString('http') }] }) };
    const chart = Testing.chart();
    const service = kubeObject(chart, 'svc', k8s.KubeService, { metadata: { name: 'svc' }, spec: spec as k8s.ServiceSpec });
    const json = service.toJson();
    expect(Object.keys(json.spec).sort()).toEqual(['clusterIP', 'ports', 'type']);
    expect(json.spec.ports).toEqual([{ port: 80, targetPort: 'http' }]);
  });

  it('leaves user maps alone: a label key that looks like a renamed field keeps its name', () => {
    const json = toKubeJson({ metadata: { labels: { clusterIp: 'x', hostPid: 'y' } }, spec: { clusterIp: 'None' } }, 'KubeServiceProps');
    expect(json).toEqual({ metadata: { labels: { clusterIp: 'x', hostPid: 'y' } }, spec: { clusterIP: 'None' } });
  });

  it('applies JSON patches to Kubernetes field names, like every ApiObject', () => {
    const chart = Testing.chart();
    const deployment = kubeObject(chart, 'd', k8s.KubeDeployment, {
      metadata: { name: 'd' },
      spec: { selector: {}, template: { spec: { hostPid: false, containers: [{ name: 'c', ports: [{ containerPort: 80, hostIp: '127.0.0.1' }] }] } } },
    });
    expect(deployment).toBeInstanceOf(ApiObject);
    deployment.addJsonPatch(JsonPatch.replace('/spec/template/spec/hostPID', true));
    const pod = deployment.toJson().spec.template.spec;
    expect(pod.hostPID).toBe(true);
    expect(pod.containers[0].ports[0]).toEqual({ containerPort: 80, hostIP: '127.0.0.1' });
  });

  it('uses a plan that is current with the installed cdk8s-plus-27 (tools/kube-json/generate-plan.ts)', () => {
    expect(readFileSync(PLAN_MODULE, 'utf8')).toBe(renderPlanModule());
  });
});
