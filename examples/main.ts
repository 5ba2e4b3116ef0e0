import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'cdk8s';
import { connectivityReports } from '../lib';
import { buildExampleApp, consulClusterOf } from './discovery-setup';
import { writePlatformHandoff } from './handoff';

// `cdk8s synth` runs this file (see cdk8s.yaml); it writes one dist/<chart>.k8s.yaml per chart,
// then the CoreDNS block and the consul-k8s Helm values beside them, and per chart a
// connectivity report (<chart>.connectivity.md) that reviewers diff with the YAML.
const app = buildExampleApp(new App());
app.synth();
writePlatformHandoff(app.outdir, consulClusterOf(app));
for (const [name, content] of Object.entries(connectivityReports(app))) writeFileSync(join(app.outdir, name), content);
