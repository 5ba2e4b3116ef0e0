import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Chart, Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as gw from '../../lib/gateway/imports/gateway.networking.k8s.io';
import type { KubeObject } from '../support/schema';
import { ApiServer, startApiServer } from './support/apiserver';
import { installCrds, serverSideApply } from './support/apply';

/**
 * lib/gateway/imports is build output of the Gateway API CRDs (tools/import-crds.sh: the CRDs
 * from the Go module proxy, through `cdk8s import`), committed so users need no Go. Here it is
 * made again and compared, so a hand edit or a version bump without regenerating fails; and
 * objects built with the classes go to a real kube-apiserver that has the same CRDs installed.
 */
const ROOT = join(__dirname, '..', '..');
const MODULE = 'gateway.networking.k8s.io.ts';

let fresh: string;
let crds: string;
let api: ApiServer;

beforeAll(async () => {
  fresh = mkdtempSync(join(tmpdir(), 'dk-gateway-imports-'));
  const run = spawnSync('sh', [join(ROOT, 'tools', 'import-crds.sh'), fresh], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0) throw new Error(`tools/import-crds.sh failed (${run.error?.message ?? run.status}):\n${run.stderr}`);
  crds = run.stdout.trim();
  api = await startApiServer();
});

afterAll(async () => {
  await api?.stop();
  if (fresh) rmSync(fresh, { recursive: true, force: true });
});

/** The first line where two texts differ, for a readable failure instead of a 600 kB diff. */
function firstDifference(a: string, b: string): string | undefined {
  const [linesA, linesB] = [a.split('\n'), b.split('\n')];
  const at = linesA.findIndex((line, i) => line !== linesB[i]);
  if (at === -1 && linesA.length === linesB.length) return undefined;
  const i = at === -1 ? Math.min(linesA.length, linesB.length) : at;
  return `line ${i + 1}: committed ${JSON.stringify(linesA[i])}, generated ${JSON.stringify(linesB[i])}`;
}

/** The objects of one route through a Gateway, each kind built with its generated class. */
function gatewayChart(backendPort = 8080): KubeObject[] {
  const chart = new Chart(Testing.app(), 'gateway');
  const namespace = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  new gw.GatewayClass(chart, 'class', { metadata: { name: 'example' }, spec: { controllerName: 'example.com/gateway-controller' } });
  new gw.Gateway(chart, 'gateway', {
    metadata: { name: 'edge', namespace: 'gateways' },
    spec: {
      gatewayClassName: 'example',
      listeners: [{
        name: 'http', protocol: 'HTTP', port: 80,
        allowedRoutes: { namespaces: { from: gw.GatewaySpecListenersAllowedRoutesNamespacesFrom.ALL } },
      }],
    },
  });
  const parentRefs = [{ name: 'edge', namespace: 'gateways' }];
  new gw.HttpRoute(chart, 'http', {
    metadata: { name: 'payments', namespace: 'apps' },
    spec: {
      parentRefs,
      hostnames: ['payments.example.com'],
      rules: [{
        matches: [{ path: { type: gw.HttpRouteSpecRulesMatchesPathType.PATH_PREFIX, value: '/api' } }],
        backendRefs: [{ name: 'payments', port: backendPort }],
      }],
    },
  });
  new gw.GrpcRoute(chart, 'grpc', {
    metadata: { name: 'payments-grpc', namespace: 'apps' },
    spec: { parentRefs, rules: [{ matches: [{ method: { service: 'payments.v1.Payments', method: 'Charge' } }], backendRefs: [{ name: 'payments', port: 9090 }] }] },
  });
  new gw.ReferenceGrant(chart, 'grant', {
    metadata: { name: 'routes-from-gateways', namespace: 'apps' },
    spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'gateways' }], to: [{ group: '', kind: 'Service' }] },
  });
  return [namespace('gateways'), namespace('apps'), ...Testing.synth(chart)] as KubeObject[];
}

describe('lib/gateway/imports', () => {
  it('is exactly what tools/import-crds.sh generates from the Gateway API CRDs (regenerate with it, never edit by hand)', () => {
    const committed = readFileSync(join(ROOT, 'lib', 'gateway', 'imports', MODULE), 'utf8');
    const generated = readFileSync(join(fresh, MODULE), 'utf8');
    expect(firstDifference(committed, generated), 'lib/gateway/imports differs from a fresh tools/import-crds.sh').toBeUndefined();
  });

  it('builds objects that a real kube-apiserver with the same CRDs accepts, server-side and strict, without pruning a field', async () => {
    await installCrds(api, crds);
    const objects = gatewayChart();
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}`).slice(2)).toEqual([
      'gateway.networking.k8s.io/v1 GatewayClass', 'gateway.networking.k8s.io/v1 Gateway', 'gateway.networking.k8s.io/v1 HTTPRoute',
      'gateway.networking.k8s.io/v1 GRPCRoute', 'gateway.networking.k8s.io/v1 ReferenceGrant',
    ]);
    expect(await serverSideApply(api, objects)).toHaveLength(objects.length);
    // Stored as sent (the server adds defaults, such as a backendRef's kind and weight, but drops nothing).
    const route = JSON.parse((await api.kubectl(['get', 'httproute', 'payments', '-n', 'apps', '-o', 'json'])).stdout);
    expect(route.spec).toMatchObject(objects.find((o) => o.kind === 'HTTPRoute')!.spec);
  });

  it("leaves to the API server the CRD's own validation, which refuses what the TypeScript types cannot express", async () => {
    // A number type allows port 70000; the CRD's `maximum: 65535` does not.
    await expect(serverSideApply(api, gatewayChart(70_000))).rejects.toThrow(/port: Invalid value: 70000: spec.rules\[0\].backendRefs\[0\].port in body should be less than or equal to 65535/);
  });
});
