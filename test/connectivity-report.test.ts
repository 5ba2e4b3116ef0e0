import { App, Chart } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { connectivityReports, DiscoverableService } from '../lib';

const IMAGE = 'ghcr.io/acme/svc:1.0.0';

function report(bind: boolean, networkPolicy = true): string[] {
  const app = new App();
  const chart = new Chart(app, 'shop', { namespace: 'shop', disableResourceNameHashes: true });
  const [a, b] = ['a', 'b'].map((name) => new DiscoverableService(chart, name, { image: IMAGE, networkPolicy }));
  new DiscoverableService(chart, 'c', { image: IMAGE });
  if (bind) a.discover(b);
  return connectivityReports(app)['shop.connectivity.md'].split('\n');
}

describe('connectivityReports', () => {
  it('shows a binding as exactly one added line', () => {
    const [without, withBinding] = [report(false), report(true)];
    expect(withBinding.filter((l) => !without.includes(l))).toEqual(['| shop/a | shop/b | 8080/TCP | binding: a discovers b (http) |']);
    expect(without.filter((l) => !withBinding.includes(l))).toEqual([]);
  });

  it('lists cluster DNS for every isolated workload and nothing between unbound services', () => {
    const lines = report(false);
    expect(lines.filter((l) => l.startsWith('| shop/'))).toEqual(['a', 'b', 'c'].flatMap((s) => [
      `| shop/${s} | kube-system/k8s-app=kube-dns | 53/TCP | DNS: cluster DNS |`, `| shop/${s} | kube-system/k8s-app=kube-dns | 53/UDP | DNS: cluster DNS |`,
    ]));
  });

  it('names workloads no policy isolates instead of listing every flow to them', () => {
    expect(report(false, false)).toContain('Not isolated in both directions (anything may reach them or they anything): shop/a, shop/b.');
  });

  it('is deterministic', () => {
    expect(report(true)).toEqual(report(true));
  });
});
