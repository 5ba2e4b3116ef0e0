import { k8s } from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { checkInteger } from './validation';

/**
 * The `ndots` the package's pods resolve with. Every in-cluster name it injects or
 * configures (`<svc>.<ns>.svc.cluster.local`, SRV names, registry addresses) has at least
 * four dots: with the kubelet's default of 5, each lookup first walks the three search
 * domains (six wasted A and AAAA queries) before the absolute query succeeds. With 4 the
 * absolute name goes first; names with fewer dots (`payment-service`,
 * `payment-service.production`, `api.example.com`) still walk the search list exactly as before.
 * The trade-off: a name of 4+ dots that exists only under a search suffix costs glibc one
 * extra query pair, and musl (Alpine), which never searches such names, stops resolving it;
 * set `ndots` on the service for such a workload.
 */
export const DEFAULT_NDOTS = 4;

/** The pod `dnsConfig` for an `ndots` value, validated. */
export function podDnsConfig(scope: IConstruct, field: string, ndots: number = DEFAULT_NDOTS): k8s.PodDnsConfig {
  checkInteger(scope, field, ndots, 1, 15);
  return { options: [{ name: 'ndots', value: String(ndots) }] };
}
