import { App } from 'cdk8s';
import { buildExampleApp } from './discovery-setup';

// `cdk8s synth` runs this file (see cdk8s.yaml); it writes one dist/<chart>.k8s.yaml per chart.
buildExampleApp(new App()).synth();
