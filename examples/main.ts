import { App } from 'cdk8s';
import { buildExampleApp, consulClusterOf } from './discovery-setup';
import { writePlatformHandoff } from './handoff';

// `cdk8s synth` runs this file (see cdk8s.yaml); it writes one dist/<chart>.k8s.yaml per chart,
// then the CoreDNS block and the consul-k8s Helm values beside them.
const app = buildExampleApp(new App());
app.synth();
writePlatformHandoff(app.outdir, consulClusterOf(app));
