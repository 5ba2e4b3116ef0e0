import { k8s } from 'cdk8s-plus-27';
import { ResolvedConsulCluster, clientPorts } from './cluster-spec';
import { podTemplate } from './pods';
import { servicePort } from './server';

/** One client agent per node, tolerating the configured taints. */
export function agentDaemonSetSpec(spec: ResolvedConsulCluster): k8s.DaemonSetSpec {
  return {
    selector: { matchLabels: spec.podSelectors.agent },
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: k8s.IntOrString.fromNumber(1) } },
    revisionHistoryLimit: 5,
    template: podTemplate(spec, 'agent', {
      tolerations: spec.agentTolerations,
      // Agent state (node ID, checks) is per pod; a replaced agent registers afresh.
      volumes: [{ name: 'data', emptyDir: { sizeLimit: k8s.Quantity.fromString('128Mi') } }],
    }),
  };
}

/** The `<name>-agent` Service: each pod reaches the agent on its own node, like a hostPort would, without one. */
export function agentServiceSpec(spec: ResolvedConsulCluster): k8s.ServiceSpec {
  return {
    type: 'ClusterIP',
    internalTrafficPolicy: 'Local',
    ports: clientPorts(spec).map(servicePort),
    selector: spec.podSelectors.agent,
  };
}
